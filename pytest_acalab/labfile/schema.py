"""The lab file's JSON Schema, and its validation errors turned into one ``LabFileError`` in words."""

from __future__ import annotations

import difflib
import json
from collections.abc import Iterable, Mapping
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pytest_acalab.errors import LabFileError
from pytest_acalab.labfile.tolerances import render
from pytest_acalab.labfile.yaml_nodes import JsonPath, ParsedYaml, field_name, line_of

if TYPE_CHECKING:  # jsonschema costs ~40 ms to import: only when a lab is loaded
    import jsonschema

__all__ = ["SCHEMA_PATH", "SchemaErrors", "did_you_mean", "describe_value", "schema", "validator"]

SCHEMA_PATH = Path(__file__).with_name("lab.schema.json")


@cache
def schema() -> dict[str, Any]:
    """The lab file JSON Schema (draft 2020-12)."""
    return json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))


def validator(part: Mapping[str, Any] | None = None) -> jsonschema.Draft202012Validator:
    """A validator for the whole lab file, or for ``part`` (a probe's or action's arguments schema), which
    may refer to the lab schema's ``$defs``."""
    return _validator(None if part is None else json.dumps(part, sort_keys=True))


@cache
def _validator(part: str | None) -> jsonschema.Draft202012Validator:
    import jsonschema  # ~40 ms: only when a lab is loaded, never at `pytest --version`

    root = schema()
    if part is None:
        return jsonschema.Draft202012Validator(root)
    loaded = json.loads(part)
    return jsonschema.Draft202012Validator({**loaded, "$defs": {**root["$defs"], **loaded.get("$defs", {})}})



_TYPE_WORDS = {
    "object": "a mapping",
    "array": "a list",
    "string": "a text",
    "integer": "an integer",
    "number": "a number",
    "boolean": "true or false",
    "null": "null",
}
_PRIORITY = {"additionalProperties": 0, "enum": 1, "const": 1, "type": 2, "required": 9}


class SchemaErrors:
    """The first schema error in file order, in words. ``prefix``: where the validated value sits in the file
    (for a probe's or action's ``with``, validated on its own)."""

    def __init__(self, parsed: ParsedYaml, prefix: JsonPath = ()) -> None:
        self.parsed = parsed
        self.prefix = prefix

    def first(self, errors: list[jsonschema.ValidationError]) -> LabFileError:
        flat = [leaf for error in errors for leaf in self._leaves(error)]
        # A typo in a key shows up twice: the unknown key and the missing required one. Keep the typo.
        typo_objects = {tuple(e.absolute_path) for e in flat if e.validator == "additionalProperties"}
        kept = [e for e in flat if not (e.validator == "required" and tuple(e.absolute_path) in typo_objects)]
        mapped = [self._map(e) for e in kept or flat]
        mapped.sort(key=lambda item: (item[0].line or 0, item[1]))
        return mapped[0][0]

    def _leaves(self, error: jsonschema.ValidationError) -> list[jsonschema.ValidationError]:
        schema = error.schema if isinstance(error.schema, Mapping) else {}
        if error.validator in ("anyOf", "oneOf") and error.context and not schema.get("x-expected"):
            # ~40 ms: only when a lab is loaded, not at `pytest --version`
            from jsonschema.exceptions import best_match

            best = best_match(error.context)
            return self._leaves(best) if best is not None else [error]
        return [error]

    def _line(self, path: JsonPath) -> int:
        return line_of(self.parsed.lines, path)

    def _map(self, e: jsonschema.ValidationError) -> tuple[LabFileError, int]:
        path: JsonPath = (*self.prefix, *e.absolute_path)
        sch = e.schema if isinstance(e.schema, Mapping) else {}
        hint = sch.get("x-expected")
        inst = e.instance
        got = describe_value(inst)
        line = self._line(path)
        field = path
        v = str(e.validator)
        value: Any = e.validator_value
        if v == "additionalProperties" and isinstance(inst, Mapping):
            allowed = list(sch.get("properties", {}))
            extras = [k for k in inst if k not in allowed]
            extra = min(extras, key=lambda k: self._line((*path, k))) if extras else "?"
            line = self._line((*path, extra))
            suggestion = did_you_mean(extra, allowed)
            if hint and sch.get("maxProperties") == 1:  # a one-key union such as a tolerance
                expected, got = hint, f"{extra!r}{suggestion}"
            else:
                field = (*path, extra)
                expected = "one of the keys " + ", ".join(allowed) if allowed else "no keys here"
                got = f"unknown key {extra!r}{suggestion}"
        elif v == "required":
            missing = [k for k in value if not (isinstance(inst, Mapping) and k in inst)]
            key = missing[0] if missing else "?"
            field = (*path, key)
            described = sch.get("properties", {}).get(key, {}).get("description")
            expected = f"required key '{key}'" + (f" ({described.rstrip('.')})" if described else "")
            got = f"no '{key}' key " + (f"in {field_name(path)}" if path else "at the top level")
        elif "propertyNames" in e.relative_schema_path and isinstance(inst, str):
            field = (*path, inst)
            line = self._line(field)
            expected = hint or f"a key matching /{value}/"
        elif v == "enum":
            expected = "one of " + ", ".join(str(x) for x in value)
            got = got + (
                did_you_mean(inst, [str(x) for x in value]) if isinstance(inst, str) else ""
            )
        elif v == "const":
            expected = hint or repr(value)
        elif v == "type":
            types = value if isinstance(value, list) else [value]
            expected = hint or " or ".join(_TYPE_WORDS.get(str(t), str(t)) for t in types)
            if hint and hint.startswith("exactly one of equals") and _is_scalar(inst):
                got = f"{got} (write {{equals: {render(inst)}}})"
        elif v in ("anyOf", "oneOf"):
            expected = hint or e.message
            if isinstance(inst, Mapping):
                keys = [k for b in value for k in b.get("required", [])]
                got = _keys(inst) + next((s for k in inst if (s := did_you_mean(k, keys))), "")
        elif v == "pattern":
            expected = hint or f"a text matching /{value}/"
        elif v in ("minItems", "minLength", "minProperties", "maxProperties"):
            expected = hint or _count_phrase(v, value)
            if isinstance(inst, Mapping):
                got = _keys(inst)
        elif v in ("minimum", "maximum"):
            sign = ">=" if v == "minimum" else "<="
            expected = hint or f"a number {sign} {value}"
        elif v == "uniqueItems":
            expected = "no repeated items"
        else:
            expected = hint or e.message
        return LabFileError(self.parsed.path, line, field_name(field), expected, got), _PRIORITY.get(v, 5)


def _count_phrase(validator: str, n: int) -> str:
    return {
        "minItems": f"at least {n} item(s)",
        "minLength": "a non-empty text",
        "minProperties": f"at least {n} key(s)",
        "maxProperties": f"at most {n} key(s)",
    }[validator]


def _keys(mapping: Mapping[str, Any]) -> str:
    if not mapping:
        return "an empty mapping"
    return ("key " if len(mapping) == 1 else "keys ") + ", ".join(repr(k) for k in mapping)


def _is_scalar(value: Any) -> bool:
    return value is None or isinstance(value, str | int | float | bool)


def describe_value(value: Any) -> str:
    text = render(value, 120)
    if isinstance(value, Mapping):
        return f"a mapping {text}"
    if isinstance(value, list):
        return f"a list {text}"
    return text


def did_you_mean(word: Any, candidates: Iterable[str]) -> str:
    if not isinstance(word, str):
        return ""
    close = difflib.get_close_matches(word, list(candidates), n=1, cutoff=0.6)
    return f" (did you mean '{close[0]}'?)" if close else ""

