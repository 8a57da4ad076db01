"""Requests are parsed by us: bytes in, a clean message or a precise INVALID_ARGUMENT out.

gRPC calls a method's deserializer before its handler, and an exception there ends the
call UNKNOWN with the exception's class and text ("Unexpected <class
'google.protobuf.message.DecodeError'>: ...") and a traceback in the log. The envelope
gives every method a `RequestParser` instead, which never raises: it returns the message,
with the fields this server does not know dropped (an email in an unknown field would
otherwise ride along into EVENTS, RESOLVED and PostgreSQL, past sealing; a megabyte of
them would be stored with a segment's rule) and checked against the input rules
(`bullseye_platform.inputs`), or a `Refused` holding the error to answer. The envelope
raises that error inside the call (`checked`), once the guard admitted the caller, so a refused
request is traced, counted and logged in one line like any other failed call.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

from google.protobuf.message import DecodeError, Message

from bullseye_platform import inputs
from bullseye_platform.grpc.errors import InvalidArgument

# What python-protobuf (upb) parses: kUpb_WireFormat_DefaultDepthLimit, message levels.
MAX_PARSE_DEPTH = 100
_SUMMARIZED = 3


@dataclass(frozen=True, slots=True)
class Refused:
    """A request that did not parse or broke the input rules: what to answer instead."""

    error: InvalidArgument


def checked(request: Any) -> Any:
    """The request, or its refusal raised."""
    if type(request) is Refused:
        raise request.error
    return request


async def checked_each(requests: AsyncIterator[Any]) -> AsyncIterator[Any]:
    """A stream of requests, the first refused one raised where the servicer reads it."""
    async for request in requests:
        yield checked(request)


class RequestParser:
    """The deserializer of one method's requests (see the module)."""

    def __init__(self, message_type: type[Message]) -> None:
        self._parse = message_type.FromString
        self._name = message_type.DESCRIPTOR.full_name

    def __call__(self, data: bytes) -> Message | Refused:
        try:
            message = self._parse(data)
        except DecodeError as exc:
            return Refused(self._undecodable(exc))
        message.DiscardUnknownFields()
        found = inputs.violations(message, skip_items=True, serialized=data)
        if found:
            summary = "; ".join(f"{v.field} {v.description}" for v in found[:_SUMMARIZED])
            more = f" (and {len(found) - _SUMMARIZED} more)" if len(found) > _SUMMARIZED else ""
            return Refused(InvalidArgument(f"invalid {self._name}: {summary}{more}", found))
        return message

    def _undecodable(self, exc: DecodeError) -> InvalidArgument:
        """What was wrong with bytes that did not parse, said without protobuf's internals."""
        cause = str(exc).lower()
        if "depth" in cause or "deep" in cause:
            return InvalidArgument(
                f"the request nests messages more than {MAX_PARSE_DEPTH} levels deep, the most this server parses",
                reason="REQUEST_TOO_DEEP",
                metadata={"limit": str(MAX_PARSE_DEPTH)},
            )
        if "utf-8" in cause:
            return InvalidArgument(
                f"a string field of the request is not valid UTF-8; send {self._name} with UTF-8 text",
                reason="MALFORMED_REQUEST",
            )
        return InvalidArgument(
            f"the request is not a valid {self._name}: its bytes are corrupt or truncated",
            reason="MALFORMED_REQUEST",
        )


def parser_for(deserializer: Callable[[bytes], Any] | None) -> RequestParser | None:
    """The parser that replaces a generated deserializer (`SomeRequest.FromString`); None for
    any other (a handler that takes raw bytes, or parses them its own way)."""
    owner = getattr(deserializer, "__self__", None)
    if isinstance(owner, type) and issubclass(owner, Message):
        return RequestParser(owner)
    return None
