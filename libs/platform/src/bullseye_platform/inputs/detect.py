"""A fast yes/no: does a message hold anything the input rules refuse in its bounded text,
timestamps and durations? Compiled per type. (Free text is not read: its one rule, no NUL,
is decided on the serialized bytes, walk.py.)

Every event ingestion accepts goes through this, so it has to be cheap: on upb each field
read costs ~0.1 us, and a generic loop over a plan adds as much again in tuple unpacking,
`getattr` by name and calls (the field-by-field walk took ~17 us for an event with its
device, page and attribution on a busy machine; its text format alone, printed in C, ~6
us). So, as `dataclasses` and `namedtuple` do for their methods, the check of each message
type is written as Python source from its descriptor once and compiled: straight-line
attribute reads, `str.isprintable()` (one C call that clears a string of every control
character) and length comparisons, with singular sub-messages checked inline rather than
called, returning False at the first doubt. The generated source only names fields
(protobuf identifiers), limits (integers) and the functions it generates.

It only decides: a message it doubts is walked (`walk.py`), which says what is wrong and
where, and lets through what merely looked odd here (a review's line breaks, a no-break
space: not printable, yet allowed).
"""

from __future__ import annotations

import itertools
import keyword
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from google.protobuf.descriptor import Descriptor, FieldDescriptor
from google.protobuf.message import Message

from bullseye_platform.inputs import rules

Detector = Callable[[Message], bool]
_STRING = FieldDescriptor.TYPE_STRING
# Every compiled function and oneof table, by name, and each type's function name; filled
# on first use of a type (nothing is compiled at import).
_NAMESPACE: dict[str, Any] = {}
_NAMES: dict[str, str] = {}
_DETECTORS: dict[Descriptor, Detector] = {}
_TABLES = itertools.count()
_INDENT = "    "


def detector(descriptor: Descriptor) -> Detector:
    """The compiled check of messages of `descriptor`: True when certainly clean."""
    found = _DETECTORS.get(descriptor)
    if found is None:
        name = _name(descriptor)
        if name not in _NAMESPACE:
            _Writer().compile(descriptor)
        found = _DETECTORS[descriptor] = _NAMESPACE[name]
    return found


def _name(descriptor: Descriptor) -> str:
    """The name of a type's check, given before it is compiled (checks call each other)."""
    return _NAMES.setdefault(descriptor.full_name, f"_check_{len(_NAMES)}")


def _duration_ok(seconds: int, nanos: int) -> bool:
    return rules.duration_problem(seconds, nanos) is None


def _guarded(descriptor: Descriptor) -> bool:
    """Whether a sub-message is worth a HasField() before its reads: several single-line
    strings and nothing else that needs checking."""
    texts = [f for f in descriptor.fields if f.type == _STRING and not rules.text_rule(f).free]
    others = [f for f in descriptor.fields if f.message_type is not None]
    single = all(not f.is_repeated and not rules.text_rule(f).multiline for f in texts)
    return len(texts) >= 3 and not others and single


_CHECKED: dict[str, bool] = {}


def _checked(descriptor: Descriptor, within: frozenset[str] = frozenset()) -> bool:
    """Whether messages of `descriptor` hold anything the check reads (bounded text, a map's
    keys, a timestamp or a duration), here or below: a sub-message of free text only (a
    device, a page) is not even read. A type met again inside itself counts as checked,
    which only ever errs towards reading."""
    name = descriptor.full_name
    if name in _CHECKED or name in within:
        return _CHECKED.get(name, True)
    if name in (rules.TIMESTAMP, rules.DURATION):
        return True
    inside = within | {name}
    found = any(_field_checked(fd, inside) for fd in descriptor.fields if not rules.left_to_service(fd))
    _CHECKED[name] = found
    return found


def _field_checked(fd: FieldDescriptor, within: frozenset[str]) -> bool:
    if fd.type == _STRING:
        return not rules.text_rule(fd).free
    child = fd.message_type
    if child is None:
        return False
    if child.GetOptions().map_entry:  # a map's text rule is its field's, for its values
        key, value = child.fields_by_name["key"], child.fields_by_name["value"]
        if key.type == _STRING:
            return True
        if value.type == _STRING:
            return not rules.text_rule(fd).free
        return value.message_type is not None and _checked(value.message_type, within)
    return _checked(child, within)


def _read(var: str, field: FieldDescriptor) -> str:
    return f"getattr({var}, {field.name!r})" if keyword.iskeyword(field.name) else f"{var}.{field.name}"


@dataclass
class _Block:
    """The check of one compiled function: reads first, then one test of all its text."""

    reads: list[str] = field(default_factory=list)
    texts: list[tuple[str, int]] = field(default_factory=list)  # (local, most characters)
    multiline: list[tuple[str, int]] = field(default_factory=list)
    checks: list[str] = field(default_factory=list)
    locals: itertools.count[int] = field(default_factory=itertools.count)

    def local(self) -> str:
        return f"v{next(self.locals)}"

    def lines(self) -> list[str]:
        """Every string read into a local, then all of them tested at once: one f-string and
        one `isprintable()` for their control characters; for their lengths, one f-string per
        limit (texts that together fit a limit each fit it), each text only past that."""
        tests = []
        if self.texts:
            tests.append(f"if not {_joined(name for name, _ in self.texts)}.isprintable(): return False")
        for most in sorted({most for _, most in self.texts}):
            names = [name for name, limit in self.texts if limit == most]
            each = " or ".join(f"len({name}) > {most}" for name in names)
            tests.append(f"if len({_joined(names)}) > {most} and ({each}): return False")
        for name, most in self.multiline:
            tests.append(
                f"if len({name}) > {most} or (not {name}.isprintable() and _MULTI.search({name})): return False"
            )
        return [*self.reads, *tests, *self.checks, "return True"]


def _joined(names: Iterable[str]) -> str:
    return 'f"' + "".join(f"{{{name}}}" for name in names) + '"'


class _Writer:
    """Writes the checks of one type and of the types it calls, then compiles them together."""

    def __init__(self) -> None:
        self.functions: list[str] = []
        self.tables: list[str] = []
        self.called: list[Descriptor] = []

    def compile(self, root: Descriptor) -> None:
        _NAMESPACE.setdefault("_duration_ok", _duration_ok)
        _NAMESPACE.setdefault("_MULTI", rules.TextRule(0, multiline=True).forbidden)
        pending, written = [root], set()
        while pending:
            descriptor = pending.pop()
            name = _name(descriptor)
            if name in _NAMESPACE or name in written:
                continue
            written.add(name)
            block = _Block()
            self.message(descriptor, "m", (descriptor.full_name,), block)
            self.functions.append(f"def {name}(m):\n" + "\n".join(_INDENT + line for line in block.lines()))
            pending.extend(self.called)
            self.called.clear()
        source = "\n\n".join(self.functions + self.tables)
        exec(compile(source, "<bullseye input rules>", "exec"), _NAMESPACE)

    def message(self, descriptor: Descriptor, var: str, chain: tuple[str, ...], block: _Block) -> None:
        """Adds to `block` what tells whether the message in `var` may break a rule. Singular
        sub-messages are read without HasField(): an unset one reads as its empty default."""
        if descriptor.full_name == rules.TIMESTAMP:
            bounds = (
                f"{rules.MIN_SECONDS} <= {var}.seconds <= {rules.MAX_SECONDS} and 0 <= {var}.nanos <= {rules.MAX_NANOS}"
            )
            block.checks.append(f"if not ({bounds}): return False")
            return
        if descriptor.full_name == rules.DURATION:
            block.checks.append(f"if not _duration_ok({var}.seconds, {var}.nanos): return False")
            return
        oneofs: dict[str, dict[str, Descriptor]] = {}
        for fd in descriptor.fields:
            child = fd.message_type
            if rules.left_to_service(fd):
                continue
            if child is not None and fd.containing_oneof is not None and not fd.is_repeated:
                if _checked(child):
                    oneofs.setdefault(fd.containing_oneof.name, {})[fd.name] = child
            else:
                self.field(fd, var, chain, block)
        for oneof, members in oneofs.items():
            block.checks += self.oneof(oneof, members, var)

    def field(self, fd: FieldDescriptor, var: str, chain: tuple[str, ...], block: _Block) -> None:
        read, child = _read(var, fd), fd.message_type
        if fd.type == _STRING:
            rule = rules.text_rule(fd)
            if rule.free:
                return  # its only rule, no NUL, is the serialized bytes' to screen (walk.py)
            if fd.is_repeated:
                block.checks += [
                    f"for v in {read}:",
                    f"{_INDENT}if len(v) > {rule.max_length} or not v.isprintable(): return False",
                ]
                return
            local = block.local()
            block.reads.append(f"{local} = {read}")
            (block.multiline if rule.multiline else block.texts).append((local, rule.max_length))
        elif child is None or not _field_checked(fd, frozenset(chain)):
            return  # a number, an enum, bytes, free text only: nothing to read here
        elif child.GetOptions().map_entry:
            block.checks += self.map(fd, child, read)
        elif fd.is_repeated:
            block.checks += [f"for x in {read}:", f"{_INDENT}if not {self.call(child)}(x): return False"]
        elif child.full_name in chain:  # a type that holds itself: called, not inlined forever
            block.checks.append(f"if {var}.HasField({fd.name!r}) and not {self.call(child)}({read}): return False")
        elif _guarded(child):
            self.guarded(fd, child, var, block)
        else:
            inner = block.local()
            block.reads.append(f"{inner} = {read}")
            self.message(child, inner, (*chain, child.full_name), block)

    def guarded(self, fd: FieldDescriptor, child: Descriptor, var: str, block: _Block) -> None:
        """A sub-message of text fields only, read when set: an unset one (the attribution of
        most events) costs one HasField() instead of a read per field."""
        inner, first = block.local(), len(block.texts)
        branch = _Block(locals=block.locals)
        branch.reads.append(f"{inner} = {_read(var, fd)}")
        self.message(child, inner, (), branch)
        names = [name for name, _ in branch.texts]
        block.reads += [f"if {var}.HasField({fd.name!r}):", *(_INDENT + r for r in branch.reads), "else:"]
        block.reads.append(f"{_INDENT}{' = '.join(names)} = ''")
        block.texts[first:first] = branch.texts

    def oneof(self, oneof: str, members: dict[str, Descriptor], var: str) -> list[str]:
        """A oneof's strings and numbers are read as fields; its messages through a table."""
        table = f"_oneof_{next(_TABLES)}"
        self.tables.append(f"{table} = {{{', '.join(f'{n!r}: {self.call(d)}' for n, d in members.items())}}}")
        return [
            f"k = {var}.WhichOneof({oneof!r})",
            f"f = {table}.get(k)",
            f"if f and not f(getattr({var}, k)): return False",
        ]

    def map(self, fd: FieldDescriptor, entry: Descriptor, read: str) -> list[str]:
        key, value = entry.fields_by_name["key"], entry.fields_by_name["value"]
        checks = []
        if key.type == _STRING:
            checks.append(f"len(k) > {rules.DEFAULT_MAX_LENGTH} or not k.isprintable()")
        if value.type == _STRING and not rules.text_rule(fd).free:
            checks.append(f"len(v) > {rules.text_rule(fd).max_length} or not v.isprintable()")
        elif value.message_type is not None:
            checks.append(f"not {self.call(value.message_type)}(v)")
        if not checks:
            return []
        return [f"for k, v in {read}.items():", f"{_INDENT}if {' or '.join(checks)}: return False"]

    def call(self, descriptor: Descriptor) -> str:
        """The name of a type's check, which this batch compiles unless it exists."""
        self.called.append(descriptor)
        return _name(descriptor)
