"""Tolerances: what a probe's value must look like for a check to hold.

A tolerance is written in lab.yaml as a mapping with exactly one key (``equals``, ``one_of``, ``not``,
``regex``, ``contains``, ``count``, ``all_of``, ``any_of``). ``parse_tolerance`` turns that mapping into
an immutable object whose ``evaluate(value)`` returns a ``Verdict`` with human phrases for reports.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pytest_acalab.errors import ToleranceError

__all__ = [
    "ACTUAL_LIMIT",
    "TOLERANCE_KINDS",
    "AllOf",
    "AnyOf",
    "Contains",
    "Count",
    "Equals",
    "Not",
    "OneOf",
    "Regex",
    "Tolerance",
    "ToleranceError",
    "Verdict",
    "parse_tolerance",
    "render",
]

TOLERANCE_KINDS = ("equals", "one_of", "not", "regex", "contains", "count", "all_of", "any_of")
ACTUAL_LIMIT = 300
_KINDS_TEXT = ", ".join(TOLERANCE_KINDS)


@dataclass(frozen=True)
class Verdict:
    """Outcome of one evaluation: ``expected`` is the tolerance phrase, ``actual`` the capped value."""

    ok: bool
    expected: str
    actual: str


def render(value: Any, limit: int = ACTUAL_LIMIT) -> str:
    """Render a value the way a lab author wrote it (YAML-ish), capped at ``limit`` characters."""
    text = _render(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _render(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return _quote(value)
    if isinstance(value, Mapping):
        return "{" + ", ".join(f"{_render_key(k)}: {_render(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_render(v) for v in value) + "]"
    return str(value)


def _quote(text: str) -> str:
    """A string in quotes a reader does not have to unescape: 'a', "it's", or JSON when it holds both."""
    if "'" not in text and "\n" not in text:
        return f"'{text}'"
    if '"' not in text and "\n" not in text:
        return f'"{text}"'
    return json.dumps(text, ensure_ascii=False)


def _render_key(key: Any) -> str:
    return key if isinstance(key, str) and re.fullmatch(r"[A-Za-z_][\w.-]*", key) else _render(key)


def _same(a: Any, b: Any) -> bool:
    """Equality that keeps booleans apart from numbers and treats tuples like lists."""
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a == b
    if isinstance(a, list | tuple) and isinstance(b, list | tuple):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, Mapping) and isinstance(b, Mapping):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    return bool(a == b)


def _texts(value: Any) -> list[str]:
    """Strings a regex is tried on: the value itself, or each element/field of a list or mapping."""
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    if isinstance(value, bool):
        return ["true" if value else "false"]
    if isinstance(value, Mapping):
        return [t for v in value.values() for t in _texts(v)]
    if isinstance(value, list | tuple):
        return [t for v in value for t in _texts(v)]
    return [str(value)]


class Tolerance:
    """Base class: subclasses implement ``holds`` and ``describe``."""

    def holds(self, value: Any) -> bool:
        raise NotImplementedError

    def describe(self) -> str:
        raise NotImplementedError

    def evaluate(self, value: Any) -> Verdict:
        return Verdict(ok=self.holds(value), expected=self.describe(), actual=self.render_actual(value))

    def render_actual(self, value: Any) -> str:
        return render(value)

    def __str__(self) -> str:
        return self.describe()


@dataclass(frozen=True)
class Equals(Tolerance):
    value: Any

    def holds(self, value: Any) -> bool:
        return _same(value, self.value)

    def describe(self) -> str:
        return f"equals {_render(self.value)}"


@dataclass(frozen=True)
class OneOf(Tolerance):
    values: tuple[Any, ...]

    def holds(self, value: Any) -> bool:
        return any(_same(value, v) for v in self.values)

    def describe(self) -> str:
        return "one of " + ", ".join(_render(v) for v in self.values)


@dataclass(frozen=True)
class Not(Tolerance):
    inner: Tolerance

    def holds(self, value: Any) -> bool:
        return not self.inner.holds(value)

    def describe(self) -> str:
        return f"not ({self.inner.describe()})"


@dataclass(frozen=True)
class Regex(Tolerance):
    """``re.search`` on a string; on a list or mapping, on any element or field (recursively)."""

    pattern: str

    def __post_init__(self) -> None:
        object.__setattr__(self, "_compiled", re.compile(self.pattern))

    def holds(self, value: Any) -> bool:
        compiled: re.Pattern[str] = self._compiled  # type: ignore[attr-defined]
        return any(compiled.search(text) for text in _texts(value))

    def describe(self) -> str:
        # /.../ reads well unless the pattern has slashes of its own (an image path): then quote it
        return f"matches regex {_quote(self.pattern)}" if "/" in self.pattern else f"matches /{self.pattern}/"


@dataclass(frozen=True)
class Contains(Tolerance):
    """Substring of a string value, member of a list value, key of a mapping value."""

    value: Any

    def holds(self, value: Any) -> bool:
        if isinstance(value, str):
            return isinstance(self.value, str) and self.value in value
        if isinstance(value, list | tuple):
            return any(_same(item, self.value) for item in value)
        if isinstance(value, Mapping):
            return any(_same(key, self.value) for key in value)
        return False

    def describe(self) -> str:
        return f"contains {_render(self.value)}"


@dataclass(frozen=True)
class Count(Tolerance):
    """Length of a list value within ``[minimum, maximum]`` (either bound may be None)."""

    minimum: int | None = None
    maximum: int | None = None

    def holds(self, value: Any) -> bool:
        if not isinstance(value, list | tuple):
            return False
        size = len(value)
        above = self.minimum is None or size >= self.minimum
        return above and (self.maximum is None or size <= self.maximum)

    def describe(self) -> str:
        lo, hi = self.minimum, self.maximum
        if lo is not None and lo == hi:
            return f"exactly {_items(lo)}"
        if lo is not None and hi is not None:
            return f"between {lo} and {hi} items"
        if lo is not None:
            return f"at least {_items(lo)}"
        return f"at most {_items(hi or 0)}"

    def render_actual(self, value: Any) -> str:
        if isinstance(value, list | tuple):
            return _cap(f"{_items(len(value))}: {_render(value)}")
        return _cap(f"not a list: {_render(value)}")


def _items(n: int) -> str:
    return f"{n} item" if n == 1 else f"{n} items"


def _cap(text: str) -> str:
    return text if len(text) <= ACTUAL_LIMIT else text[: ACTUAL_LIMIT - 1] + "…"


@dataclass(frozen=True)
class AllOf(Tolerance):
    items: tuple[Tolerance, ...]

    def holds(self, value: Any) -> bool:
        return all(t.holds(value) for t in self.items)

    def describe(self) -> str:
        return "all of (" + "; ".join(t.describe() for t in self.items) + ")"


@dataclass(frozen=True)
class AnyOf(Tolerance):
    items: tuple[Tolerance, ...]

    def holds(self, value: Any) -> bool:
        return any(t.holds(value) for t in self.items)

    def describe(self) -> str:
        return "any of (" + "; ".join(t.describe() for t in self.items) + ")"


def parse_tolerance(mapping: Any, where: str = "expect") -> Tolerance:
    """Build a Tolerance from its lab.yaml mapping; raise ToleranceError saying what is wrong and where."""
    return _parse(mapping, where, ())


def _parse(mapping: Any, where: str, sub: tuple[str | int, ...]) -> Tolerance:
    if not isinstance(mapping, Mapping) or len(mapping) != 1:
        if isinstance(mapping, Mapping):
            got = "no key" if not mapping else "keys " + ", ".join(repr(k) for k in mapping)
        else:
            hint = f" (write {{equals: {_render(mapping)}}})" if _is_scalar(mapping) else ""
            got = render(mapping) + hint
        raise ToleranceError(where, sub, f"exactly one of {_KINDS_TEXT}", got)
    ((kind, arg),) = mapping.items()
    here = (*sub, kind)
    if kind == "equals":
        return Equals(arg)
    if kind == "contains":
        return Contains(arg)
    if kind == "one_of":
        if not isinstance(arg, list) or not arg:
            raise ToleranceError(where, here, "a non-empty list of values", render(arg))
        return OneOf(tuple(arg))
    if kind == "not":
        return Not(_parse(arg, where, here))
    if kind == "regex":
        if not isinstance(arg, str):
            raise ToleranceError(where, here, "a regular expression string", render(arg))
        try:
            return Regex(arg)
        except re.error as exc:
            raise ToleranceError(where, here, "a valid regular expression", f"{arg!r} ({exc})") from None
    if kind == "count":
        return _parse_count(arg, where, here)
    if kind in ("all_of", "any_of"):
        if not isinstance(arg, list) or not arg:
            raise ToleranceError(where, here, "a non-empty list of tolerances", render(arg))
        items = tuple(_parse(item, where, (*here, i)) for i, item in enumerate(arg))
        return AllOf(items) if kind == "all_of" else AnyOf(items)
    raise ToleranceError(where, sub, f"exactly one of {_KINDS_TEXT}", repr(kind))


def _is_scalar(value: Any) -> bool:
    return value is None or isinstance(value, str | int | float | bool)


def _is_count(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _parse_count(arg: Any, where: str, here: tuple[str | int, ...]) -> Count:
    if _is_count(arg):
        return Count(arg, arg)
    if not isinstance(arg, Mapping) or not arg or set(arg) - {"min", "max"}:
        raise ToleranceError(where, here, "a number of items N or a mapping {min: N, max: M}", render(arg))
    for bound in ("min", "max"):
        if bound in arg and not _is_count(arg[bound]):
            raise ToleranceError(where, (*here, bound), "an integer >= 0", render(arg[bound]))
    lo, hi = arg.get("min"), arg.get("max")
    if lo is not None and hi is not None and lo > hi:
        raise ToleranceError(where, here, "min <= max", f"min {lo} > max {hi}")
    return Count(lo, hi)
