"""LogWriter's own HPUB framing must put on the wire exactly what nats-py's publish would."""

from __future__ import annotations

import pytest
from bullseye_platform.eventlog import LogMessage
from bullseye_platform.eventlog.writer import batch_frames
from nats import errors as nats_errors
from nats.aio.client import Client as NATS

TRACE = {"traceparent": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01", " spaced ": " value\r\n"}


async def publish_frames(messages: list[LogMessage], batch_id: str) -> bytes:
    """What `Client.publish` queues for the same messages (an unconnected client only queues)."""
    nc = NATS()
    for number, m in enumerate(messages, start=1):
        headers = m.header_map(**{"Nats-Batch-Id": batch_id, "Nats-Batch-Sequence": str(number)})
        await nc._send_publish(m.subject, "", m.payload, len(m.payload), headers)
    # nats-py writes an empty reply as a second space; the protocol reads both the same.
    return b"".join(nc._pending).replace(b"  ", b" ")


async def test_frames_match_what_nats_py_publishes() -> None:
    messages = [
        LogMessage("events.1.page_viewed", b"one", "id-1", headers=TRACE),
        LogMessage("events.2.searched", b"", "id-2"),
        LogMessage("events.1.page_viewed", b"three", "id-3", headers=TRACE),
        LogMessage("events.3.x", b"four", "id-4", headers={"Nats-Msg-Id": "overridden", "a": "b"}),
    ]

    assert batch_frames(messages, "b1", max_payload=1024) == await publish_frames(messages, "b1")


@pytest.mark.parametrize(
    ("message", "error"),
    [
        (LogMessage("bad subject", b"", "id"), nats_errors.BadSubjectError),
        (LogMessage("s", b"", "id", headers={"bad key": "v"}), nats_errors.BadHeaderError),
        (LogMessage("s", b"x" * 11, "id"), nats_errors.MaxPayloadError),
    ],
)
def test_frames_refuse_what_publish_refuses(message: LogMessage, error: type[Exception]) -> None:
    with pytest.raises(error):
        batch_frames([message], "b1", max_payload=10)
