"""Message templates: Liquid, compiled and rendered in a sandbox with bounded cost.

Why Liquid (python-liquid) rather than Jinja: it is the language marketers already write in
Shopify, Braze and Customer.io, and it was designed for templates written by people the
server does not trust. A template reaches only the mapping it is given (no Python
attributes, so no `__class__` walk to the interpreter), no other template can be loaded
(`include` and `render` are removed and the loader is empty, so no file system), and the
engine counts loop iterations, bytes written and bytes held by `assign`/`capture`, which
bounds a render's time and memory. Two filters can grow their output quadratically in one
step (`join` of a split string, `replace` of the empty string); they are replaced by
versions that refuse before building anything larger than the output bound.

Problems are reported with a 1-based line and column, so an operator can fix the template
from the error alone.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from liquid import Environment
from liquid.builtin import DictLoader
from liquid.exceptions import LiquidError
from liquid.filter import with_environment
from liquid.span import Span
from liquid.template import BoundTemplate

# The names a template may read (documented on bullseye.campaign.v1.Content).
VARIABLES = frozenset({"person_id", "traits", "tags", "items", "campaign", "message_id", "trigger"})
_REMOVED_TAGS = ("include", "render")  # they load other templates: nothing to load, by design
_MARKUP = re.compile(r"\{\{.*?\}\}|\{%-?\s*(?P<tag>\w+).*?%\}", re.DOTALL)
_BLOCK_TAGS = frozenset({"if", "unless", "for", "case", "capture", "tablerow", "comment", "raw", "ifchanged"})
_INNER_TAGS = frozenset({"else", "elsif", "when", "break", "continue"})


@dataclass(frozen=True, kw_only=True)
class TemplateLimits:
    """What one render may cost (defaults documented in config.py)."""

    max_output: int = 65_536
    max_loop_iterations: int = 2_000
    max_assigned: int = 65_536
    max_source: int = 16_000


@dataclass(frozen=True)
class TemplateProblem:
    """Where a template is wrong (1-based line and column) and what is wrong."""

    line: int
    column: int
    message: str

    def __str__(self) -> str:
        return f"line {self.line}, column {self.column}: {self.message}"


@dataclass(frozen=True)
class CompiledTemplate:
    """A template ready to render, with its source (render errors point into it)."""

    source: str
    bound: BoundTemplate


class TemplateError(Exception):
    """A template that does not compile; `problem` says where and why."""

    def __init__(self, problem: TemplateProblem) -> None:
        super().__init__(str(problem))
        self.problem = problem


class RenderError(Exception):
    """A render that failed for one person's data (a bound exceeded, a filter misused)."""


class Templates:
    """Compiles and renders message templates under one set of limits."""

    def __init__(self, limits: TemplateLimits = TemplateLimits(), *, cached: int = 4096) -> None:
        self._limits = limits
        self._env = _sandbox(limits)
        # Compiled templates by source: a campaign renders the same few sources for every person,
        # and parsing and checking one cost ten times its render (measured with cProfile).
        self._compiled: dict[str, CompiledTemplate] = {}
        self._cached = cached

    def compile(self, source: str) -> CompiledTemplate:
        """Parse `source` and check every variable and filter it names (once per source).

        Raises:
            TemplateError: it is too long, does not parse, or names an unknown variable or filter.
        """
        found = self._compiled.get(source)
        if found is None:
            found = self._compile(source)
            if len(self._compiled) >= self._cached:
                self._compiled.clear()
            self._compiled[source] = found
        return found

    def _compile(self, source: str) -> CompiledTemplate:
        if len(source) > self._limits.max_source:
            raise TemplateError(TemplateProblem(1, 1, f"at most {self._limits.max_source} characters"))
        try:
            template = self._env.from_string(source)
        except LiquidError as error:
            raise TemplateError(_problem(error, source, locate=self._locate)) from None
        if problem := self._unknown_name(template, source):
            raise TemplateError(problem)
        return CompiledTemplate(source, template)

    def names(self, source: str) -> frozenset[str]:
        """The variables `source` reads (of VARIABLES): what a message must fetch before it renders.

        Raises:
            TemplateError: it does not compile.
        """
        analysis = self.compile(source).bound.analyze(include_partials=False)
        return frozenset(analysis.globals) & VARIABLES

    def check(self, source: str) -> TemplateProblem | None:
        """The first problem of `source`, or None when it compiles."""
        try:
            self.compile(source)
        except TemplateError as error:
            return error.problem
        return None

    def render(self, template: CompiledTemplate, context: Mapping[str, object]) -> str:
        """Render for one person.

        Raises:
            RenderError: a bound was exceeded or a filter failed on this person's data.
        """
        if "{" not in template.source and len(template.source) <= self._limits.max_output:  # Liquid writes it as is
            return template.source
        try:
            return template.bound.render(**context)
        except LiquidError as error:
            raise RenderError(str(_problem(error, template.source))) from None

    def _locate(self, source: str) -> int | None:
        """Where a parse error without a position is: the first tag or output statement that
        fails alone (a block tag with its end tag added), or None when each parses alone
        (then the template as a whole is unfinished, e.g. a block never closed)."""
        for markup in _MARKUP.finditer(source):
            tag = markup.group("tag") or ""
            if tag in _INNER_TAGS or tag.startswith("end"):
                continue
            probe = markup.group(0) + (f"{{% end{tag} %}}" if tag in _BLOCK_TAGS else "")
            try:
                self._env.from_string(probe)
            except LiquidError as error:
                if error.context() is None:
                    return markup.end() - 2  # the closing delimiter
        return None

    def _unknown_name(self, template: BoundTemplate, source: str) -> TemplateProblem | None:
        analysis = template.analyze(include_partials=False)
        for name, uses in analysis.globals.items():
            if name not in VARIABLES:
                known = ", ".join(sorted(VARIABLES))
                return _at(uses[0].span, source, f"unknown variable '{name}' (known: {known})")
        for name, spans in analysis.filters.items():
            if name not in self._env.filters:
                return _at(spans[0], source, f"unknown filter '{name}'")
        return None


def _sandbox(limits: TemplateLimits) -> Environment:
    class Sandbox(Environment):
        loop_iteration_limit = limits.max_loop_iterations
        local_namespace_limit = limits.max_assigned
        output_stream_limit = limits.max_output

    env = Sandbox(loader=DictLoader({}), strict_filters=True)
    for tag in _REMOVED_TAGS:
        env.tags.pop(tag, None)
    env.filters["join"] = _bounded_join(env.filters["join"], limits.max_output)
    env.filters["replace"] = _bounded_replace(env.filters["replace"], limits.max_output)
    return env


def _bounded_join(join: Callable[..., str], bound: int) -> Callable[..., str]:
    @with_environment
    def bounded(left: object, separator: object = " ", *, environment: Environment) -> str:
        if isinstance(left, list | tuple):
            size = sum(len(str(item)) for item in left) + len(str(separator)) * max(len(left) - 1, 0)
            _refuse_beyond(size, bound, "join")
        return join(left, separator, environment=environment)

    return bounded


def _bounded_replace(replace: Callable[..., str], bound: int) -> Callable[..., str]:
    def bounded(value: object, seq: object, sub: object = "") -> str:
        text, old, new = str(value or ""), str(seq), str(sub)
        count = len(text) + 1 if not old else text.count(old)
        _refuse_beyond(len(text) + count * (len(new) - len(old)), bound, "replace")
        return replace(value, seq, sub)

    return bounded


def _refuse_beyond(size: int, bound: int, name: str) -> None:
    if size > bound:
        raise LiquidError(f"{name} would produce {size} characters (at most {bound})", token=None)


def _problem(error: LiquidError, source: str, *, locate: Callable[[str], int | None] | None = None) -> TemplateProblem:
    """Liquid gives a position for most errors; one found at the end of an expression has
    none, so `locate` finds the statement (else the template's end is where it is)."""
    message = str(error.message)
    context = error.context()
    if context is not None:
        return TemplateProblem(context[0], context[1] + 1, message)
    index = locate(source) if locate else None
    if index is None:
        lines = source.splitlines() or [""]
        return TemplateProblem(len(lines), len(lines[-1]) + 1, message)
    line = source.count("\n", 0, index) + 1
    return TemplateProblem(line, index - (source.rfind("\n", 0, index) + 1) + 1, message)


def _at(span: Span, source: str, message: str) -> TemplateProblem:
    line, column = span.line_col(source)
    return TemplateProblem(line, column + 1, message)
