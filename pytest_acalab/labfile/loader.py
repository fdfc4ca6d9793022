"""Load lab.yaml into the typed model, or fail with ONE LabFileError naming file, line, field and fix.

Pipeline: YAML nodes (line numbers, duplicate keys) -> JSON Schema (shape) -> semantic checks
(references, files, durations, regexes, ``${...}``) -> frozen model. Never touches Azure or the network.
"""

from __future__ import annotations

import difflib
import json
import os
import re
from collections.abc import Callable, Iterable, Mapping
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from pytest_acalab.labfile.durations import DURATION_HINT, parse_duration
from pytest_acalab.labfile.model import (
    Action,
    ActionCheck,
    AllOfCheck,
    AnyOfCheck,
    Check,
    FrozenMap,
    Hypothesis,
    Infra,
    Lab,
    Metadata,
    ProbeCheck,
    Row,
    Step,
    Trigger,
)
from pytest_acalab.probes.tolerances import ToleranceError, parse_tolerance, render

if TYPE_CHECKING:  # jsonschema costs ~40 ms to import: only when a lab is loaded
    import jsonschema

__all__ = ["LAB_FILE", "SCHEMA_PATH", "LabFileError", "load_lab", "schema"]

LAB_FILE = "lab.yaml"
SCHEMA_PATH = Path(__file__).with_name("lab.schema.json")

JsonPath = tuple[str | int, ...]

# Which probe/action arguments name a resource alias, and the resource type the alias must have.
ALIAS_ARGS = {"app": "Microsoft.App/containerApps", "registry": "Microsoft.ContainerRegistry/registries"}
REFERENCE_ROOTS = ("parameters", "outputs", "run")
RUN_FIELDS = ("id",)
_REF = re.compile(r"\$\{([^}]*)\}")
_REF_INNER = re.compile(r"^([A-Za-z_][A-Za-z0-9_]*)\.([A-Za-z0-9_][A-Za-z0-9_.-]*)$")
_FROM = re.compile(r"^(?P<key>[a-z0-9][a-z0-9_-]*)(?:\[(?P<phase>failing|recovered)\])?$")


class LabFileError(Exception):
    """A lab file is invalid. ``str()`` is one line: ``<file>:<line>: <field>: expected <x>; got <y>``."""

    def __init__(self, path: Path | str, line: int | None, field: str, expected: str, got: str) -> None:
        super().__init__(path, line, field, expected, got)
        self.path = Path(path)
        self.line = line
        self.field = field
        self.expected = expected
        self.got = got

    def __str__(self) -> str:
        where = _display(self.path) + (f":{self.line}" if self.line else "")
        return f"{where}: {self.field}: expected {self.expected}; got {self.got}"


def _display(path: Path) -> str:
    try:
        return os.path.relpath(path) if path.is_absolute() and Path.cwd() in path.parents else str(path)
    except ValueError:  # another drive on Windows
        return str(path)


@cache
def schema() -> dict[str, Any]:
    """The lab file JSON Schema (draft 2020-12)."""
    return json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))


@cache
def _validator() -> jsonschema.Draft202012Validator:
    import jsonschema

    return jsonschema.Draft202012Validator(schema())


def field_name(path: Iterable[str | int]) -> str:
    """``("hypothesis", "rows", 1, "failing")`` -> ``hypothesis.rows[1].failing``."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        elif re.fullmatch(r"[A-Za-z_$][\w$-]*", part):
            out += f".{part}" if out else part
        else:
            out += f"[{part!r}]"
    return out or "<top level>"


# --------------------------------------------------------------------------------------------------- YAML


class _LabYamlLoader(yaml.SafeLoader):
    """SafeLoader with YAML 1.2 booleans (only true/false), no timestamps: ``control: No`` stays text."""


_BOOL = "tag:yaml.org,2002:bool"
_TIMESTAMP = "tag:yaml.org,2002:timestamp"
_LabYamlLoader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag not in (_BOOL, _TIMESTAMP)]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_LabYamlLoader.add_implicit_resolver(
    _BOOL, re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
)
_MERGE = "tag:yaml.org,2002:merge"


class _Parsed:
    """Plain data built from YAML nodes plus the line of every JSON path."""

    def __init__(self, path: Path, text: str) -> None:
        self.path = path
        self.lines: dict[JsonPath, int] = {}
        loader = _LabYamlLoader(text)
        try:
            try:
                root = loader.get_single_node()
            except yaml.MarkedYAMLError as exc:
                raise self._yaml_error(exc) from None
            except yaml.YAMLError as exc:
                raise LabFileError(path, None, "<file>", "valid YAML", str(exc).replace("\n", " ")) from None
            if root is None:
                raise LabFileError(
                    path,
                    1,
                    "<top level>",
                    "a mapping of lab keys (title, metadata, infra, ...)",
                    "an empty file",
                )
            self.lines[()] = root.start_mark.line + 1
            self._in_progress: set[int] = set()
            self.data = self._convert(root, (), loader)
        finally:
            loader.dispose()

    def _yaml_error(self, exc: yaml.MarkedYAMLError) -> LabFileError:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else None
        problem = (exc.problem or "invalid YAML").strip()
        tab = _tab_position(mark) if mark else None
        if tab == "indent":
            return LabFileError(
                self.path, line, "<yaml>", "spaces for indentation (YAML forbids tabs)", "a tab character"
            )
        if tab == "text":
            return LabFileError(
                self.path,
                line,
                "<yaml>",
                "no tab outside quotes (quote the text or use spaces)",
                "a tab character",
            )
        if problem == "mapping values are not allowed here":
            return LabFileError(
                self.path,
                line,
                "<yaml>",
                "valid YAML (quote text that contains ': ', and check the indentation)",
                "a ':' where no mapping can start",
            )
        context = exc.context or ""
        if context.startswith("expected ") and problem.startswith("but "):
            # e.g. context "expected a single document in the stream", problem "but found another document"
            expected, found = context[len("expected ") :], problem.split(" ", 2)[-1]
            return LabFileError(self.path, line, "<yaml>", expected, found)
        if context and exc.context_mark and exc.context_mark.line + 1 != line:
            context = f" ({context} that starts at line {exc.context_mark.line + 1})"
        elif context:
            context = f" ({context})"
        expected, found = "valid YAML", problem
        if problem.startswith("expected ") and ", but " in problem:
            what, _, found = problem[len("expected ") :].partition(", but ")
            expected, found = _token(what), _token(found.removeprefix("got ").removeprefix("found "))
            if what == "<block end>":
                context = ""
        return LabFileError(self.path, line, "<yaml>", expected + context, found)

    def _convert(self, node: Node, path: JsonPath, loader: _LabYamlLoader) -> Any:
        if isinstance(node, ScalarNode):
            return loader.construct_object(node)
        if id(node) in self._in_progress:
            raise LabFileError(
                self.path,
                node.start_mark.line + 1,
                field_name(path),
                "no recursive YAML aliases",
                "an alias that contains itself",
            )
        self._in_progress.add(id(node))
        try:
            if isinstance(node, SequenceNode):
                out_list = []
                for index, child in enumerate(node.value):
                    self.lines.setdefault((*path, index), child.start_mark.line + 1)
                    out_list.append(self._convert(child, (*path, index), loader))
                return out_list
            assert isinstance(node, MappingNode)
            return self._convert_mapping(node, path, loader)
        finally:
            self._in_progress.discard(id(node))

    def _convert_mapping(self, node: MappingNode, path: JsonPath, loader: _LabYamlLoader) -> dict[str, Any]:
        first_seen: dict[str, int] = {}
        for key_node, _ in node.value:
            if key_node.tag == _MERGE:
                continue
            key = self._key(key_node, path)
            line = key_node.start_mark.line + 1
            if key in first_seen:
                raise LabFileError(
                    self.path,
                    line,
                    field_name((*path, key)),
                    f"each key once per mapping (first '{key}' is at line {first_seen[key]})",
                    f"'{key}' again",
                )
            first_seen[key] = line
        if any(key_node.tag == _MERGE for key_node, _ in node.value):
            loader.flatten_mapping(node)  # merged pairs first, explicit ones after (they win)
        out: dict[str, Any] = {}
        for key_node, value_node in node.value:
            key = self._key(key_node, path)
            self.lines[(*path, key)] = key_node.start_mark.line + 1
            out[key] = self._convert(value_node, (*path, key), loader)
        return out

    def _key(self, key_node: Node, path: JsonPath) -> str:
        if not isinstance(key_node, ScalarNode):
            raise LabFileError(
                self.path,
                key_node.start_mark.line + 1,
                field_name(path),
                "a plain text key",
                "a list or mapping used as a key",
            )
        return str(key_node.value)


_TOKENS = {
    "<block end>": "lines of one block at the same indentation (check the indentation and unclosed quotes)",
    "<block mapping start>": "a line indented differently",
    "<block sequence start>": "a list item indented differently",
    "<scalar>": "a value",
}


def _token(text: str) -> str:
    """PyYAML token names in words."""
    return _TOKENS.get(text.strip("'"), text)


def _tab_position(mark: yaml.Mark) -> str | None:
    """Where the line of a YAML error holds a tab: in its indentation ("indent"), elsewhere ("text"), none."""
    buffer = mark.buffer or ""
    start = buffer.rfind("\n", 0, mark.index) + 1
    end = buffer.find("\n", mark.index)
    text = buffer[start : end if end >= 0 else None]
    if "\t" not in text:
        return None
    return "indent" if "\t" in text[: len(text) - len(text.lstrip(" \t"))] else "text"


# ------------------------------------------------------------------------------------ schema error mapping

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


class _SchemaErrors:
    def __init__(self, parsed: _Parsed) -> None:
        self.parsed = parsed

    def first(self, errors: list[jsonschema.ValidationError]) -> LabFileError:
        flat = [leaf for error in errors for leaf in self._leaves(error)]
        # A typo in a key shows up twice: the unknown key and the missing required one. Keep the typo.
        typo_objects = {tuple(e.absolute_path) for e in flat if e.validator == "additionalProperties"}
        kept = [e for e in flat if not (e.validator == "required" and tuple(e.absolute_path) in typo_objects)]
        mapped = [self._map(e) for e in kept or flat]
        mapped.sort(key=lambda item: (item[0].line or 0, item[1]))
        return mapped[0][0]

    def _leaves(self, error: jsonschema.ValidationError) -> list[jsonschema.ValidationError]:
        if error.validator in ("anyOf", "oneOf") and error.context and not error.schema.get("x-expected"):
            from jsonschema.exceptions import best_match

            best = best_match(error.context)
            return self._leaves(best) if best is not None else [error]
        return [error]

    def _line(self, path: JsonPath) -> int:
        return _line_of(self.parsed.lines, path)

    def _map(self, e: jsonschema.ValidationError) -> tuple[LabFileError, int]:
        path: JsonPath = tuple(e.absolute_path)
        sch = e.schema if isinstance(e.schema, Mapping) else {}
        hint = sch.get("x-expected")
        inst = e.instance
        got = _got(inst)
        line = self._line(path)
        field = path
        v = e.validator
        if v == "additionalProperties" and isinstance(inst, Mapping):
            allowed = list(sch.get("properties", {}))
            extras = [k for k in inst if k not in allowed]
            extra = min(extras, key=lambda k: self._line((*path, k))) if extras else "?"
            line = self._line((*path, extra))
            suggestion = _did_you_mean(extra, allowed)
            if hint and sch.get("maxProperties") == 1:  # a one-key union such as a tolerance
                expected, got = hint, f"{extra!r}{suggestion}"
            else:
                field = (*path, extra)
                expected = "one of the keys " + ", ".join(allowed) if allowed else "no keys here"
                got = f"unknown key {extra!r}{suggestion}"
        elif v == "required":
            missing = [k for k in e.validator_value if not (isinstance(inst, Mapping) and k in inst)]
            key = missing[0] if missing else "?"
            field = (*path, key)
            described = sch.get("properties", {}).get(key, {}).get("description")
            expected = f"required key '{key}'" + (f" ({described.rstrip('.')})" if described else "")
            got = f"no '{key}' key " + (f"in {field_name(path)}" if path else "at the top level")
        elif "propertyNames" in e.relative_schema_path and isinstance(inst, str):
            field = (*path, inst)
            line = self._line(field)
            expected = hint or f"a key matching /{e.validator_value}/"
        elif v == "enum":
            expected = "one of " + ", ".join(str(x) for x in e.validator_value)
            got = got + (
                _did_you_mean(inst, [str(x) for x in e.validator_value]) if isinstance(inst, str) else ""
            )
        elif v == "const":
            expected = hint or repr(e.validator_value)
        elif v == "type":
            types = e.validator_value if isinstance(e.validator_value, list) else [e.validator_value]
            expected = hint or " or ".join(_TYPE_WORDS.get(t, t) for t in types)
            if hint and hint.startswith("exactly one of equals") and _is_scalar(inst):
                got = f"{got} (write {{equals: {render(inst)}}})"
        elif v in ("anyOf", "oneOf"):
            expected = hint or e.message
            if isinstance(inst, Mapping):
                keys = [k for b in e.validator_value for k in b.get("required", [])]
                got = _keys(inst) + next((s for k in inst if (s := _did_you_mean(k, keys))), "")
        elif v == "pattern":
            expected = hint or f"a text matching /{e.validator_value}/"
        elif v in ("minItems", "minLength", "minProperties", "maxProperties"):
            expected = hint or _count_phrase(v, e.validator_value)
            if isinstance(inst, Mapping):
                got = _keys(inst)
        elif v in ("minimum", "maximum"):
            sign = ">=" if v == "minimum" else "<="
            expected = hint or f"a number {sign} {e.validator_value}"
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


def _got(value: Any) -> str:
    text = render(value, 120)
    if isinstance(value, Mapping):
        return f"a mapping {text}"
    if isinstance(value, list):
        return f"a list {text}"
    return text


def _did_you_mean(word: Any, candidates: Iterable[str]) -> str:
    if not isinstance(word, str):
        return ""
    close = difflib.get_close_matches(word, list(candidates), n=1, cutoff=0.6)
    return f" (did you mean '{close[0]}'?)" if close else ""


def _line_of(lines: Mapping[JsonPath, int], path: JsonPath) -> int:
    while path not in lines and path:
        path = path[:-1]
    return lines.get(path, 1)


# ------------------------------------------------------------------------------------- semantic checks


class _Builder:
    """Semantic checks and model construction over schema-valid data."""

    def __init__(self, parsed: _Parsed, folder: Path) -> None:
        self.parsed = parsed
        self.data: dict[str, Any] = parsed.data
        self.path = parsed.path
        self.folder = folder
        self.template: dict[str, Any] = {}
        self.resources: dict[str, str] = dict(self.data["infra"].get("resources") or {})
        self.row_keys: list[str] = []
        self.trigger_ids: list[str] = []
        self.recovery_ids: list[str] = []

    def fail(self, path: JsonPath, expected: str, got: str) -> LabFileError:
        return LabFileError(self.path, _line_of(self.parsed.lines, path), field_name(path), expected, got)

    def line(self, path: JsonPath) -> int:
        return _line_of(self.parsed.lines, path)

    # ---- top level
    def build(self) -> Lab:
        data = self.data
        self._collect_action_ids()
        self.row_keys = list(dict.fromkeys(row["key"] for row in data["hypothesis"]["rows"]))
        # Infra first (references need the template), then sections in the order the author wrote them,
        # so the error reported is the first one in the file.
        handlers: dict[str, Callable[[], Any]] = {
            "id": self._lab_id,
            "hypothesis": self._hypothesis,
            "trigger": self._trigger,
            "recovery": self._recovery,
            "experiment_log": self._experiment_log,
        }
        built: dict[str, Any] = {"infra": self._infra()}
        for key in sorted(data, key=lambda k: self.line((k,))):
            if key in handlers:
                built[key] = handlers[key]()
        built.setdefault("id", self._lab_id())
        meta = data["metadata"]
        return Lab(
            id=built["id"],
            title=data["title"],
            folder=self.folder,
            path=self.path.resolve(),
            metadata=Metadata(
                meta["difficulty"],
                meta["duration"],
                meta["tier"],
                meta["failure_mode"],
                tuple(meta.get("skills", ())),
            ),
            location=data.get("location"),
            markers=tuple(data.get("markers", ())),
            infra=built["infra"],
            hypothesis=built["hypothesis"],
            trigger=built["trigger"],
            recovery=built["recovery"],
            experiment_log=built["experiment_log"],
            cleanup=data.get("cleanup", "delete"),
        )

    def _collect_action_ids(self) -> None:
        """Action ids are what every reference points at, so their problems are reported first."""
        trigger = self.data["trigger"]
        groups: list[tuple[JsonPath, list[dict[str, Any]]]] = [(("recovery",), self.data["recovery"])]
        if isinstance(trigger, dict):
            groups.insert(0, (("trigger", "actions"), trigger["actions"]))
        seen: dict[str, JsonPath] = {}
        for base, items in sorted(groups, key=lambda group: self.line(group[0])):
            for index, item in enumerate(items):
                here: JsonPath = (*base, index, "id")
                action_id = item["id"]
                if action_id == "deploy":
                    raise self.fail(
                        here, "an action id other than 'deploy' (it names the lab deployment)", "'deploy'"
                    )
                if action_id in seen:
                    raise self.fail(
                        here,
                        f"a unique action id (line {self.line(seen[action_id])} already uses it)",
                        repr(action_id),
                    )
                seen[action_id] = here
        self.trigger_ids = [a["id"] for a in trigger["actions"]] if isinstance(trigger, dict) else []
        self.recovery_ids = [a["id"] for a in self.data["recovery"]]

    def _lab_id(self) -> str:
        if "id" in self.data:
            return str(self.data["id"])
        name = self.folder.name
        if not re.fullmatch(r"[a-z0-9_-]+", name):
            raise LabFileError(
                self.path,
                1,
                "id",
                "an explicit id: the folder name is not a valid lab id "
                "(lowercase letters, digits, '_' and '-')",
                repr(name),
            )
        return name

    # ---- infra
    def _infra(self) -> Infra:
        infra = self.data["infra"]
        base: JsonPath = ("infra",)
        template = self._lab_path((*base, "template"), infra["template"], want_dir=False)
        try:
            loaded = json.loads(template.read_text(encoding="utf-8"))
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise self.fail(
                (*base, "template"),
                "an ARM template in JSON (compile Bicep with 'az bicep build')",
                f"{infra['template']} is not valid JSON ({exc})",
            ) from None
        if not isinstance(loaded, dict) or "resources" not in loaded:
            raise self.fail(
                (*base, "template"),
                "an ARM template (a JSON object with 'resources')",
                f"{infra['template']} holding {_got(loaded)[:80]}",
            )
        self.template = loaded
        bicep = self._lab_path((*base, "bicep"), infra["bicep"], want_dir=False) if "bicep" in infra else None
        parameters = infra.get("parameters") or {}
        self._template_parameters(parameters, (*base, "parameters"), overrides=False)
        self._references(parameters, (*base, "parameters"), roots=("run",))
        return Infra(
            template=template,
            bicep=bicep,
            parameters=_frozen(parameters),
            expect=infra.get("expect", "Succeeded"),
            resources=FrozenMap(self.resources),
            line=self.line(base),
        )

    def _template_parameters(self, values: Mapping[str, Any], path: JsonPath, *, overrides: bool) -> None:
        """Names must be parameters of the template; without overrides, every parameter needs a value."""
        declared = self.template.get("parameters") or {}
        for name in values:
            if name not in declared:
                raise self.fail(
                    (*path, name),
                    "a parameter of the template (" + (", ".join(declared) or "it declares none") + ")",
                    repr(name) + _did_you_mean(name, declared),
                )
        if overrides:
            return
        missing = [
            name
            for name, spec in declared.items()
            if name not in values and not (isinstance(spec, Mapping) and "defaultValue" in spec)
        ]
        if missing:
            raise self.fail(
                path,
                "a value for every template parameter without a defaultValue",
                "no value for " + ", ".join(repr(name) for name in missing),
            )

    def _lab_path(self, path: JsonPath, text: str, *, want_dir: bool, base: Path | None = None) -> Path:
        base = base or self.folder
        kind = "folder" if want_dir else "file"
        if Path(text).is_absolute():
            raise self.fail(path, f"a {kind} path relative to the lab folder", repr(text))
        target = (base / text).resolve()
        if not target.is_relative_to(self.folder.resolve()):
            raise self.fail(path, f"a {kind} inside the lab folder", f"{text!r}, which leaves it")
        exists = target.is_dir() if want_dir else target.is_file()
        if not exists:
            where = _display(base / text)
            raise self.fail(
                path, f"an existing {kind} relative to the lab folder", f"{text!r} ({where} not found)"
            )
        return target

    # ---- hypothesis
    def _hypothesis(self) -> Hypothesis:
        hyp = self.data["hypothesis"]
        rows: list[Row] = []
        seen: dict[str, int] = {}
        for index, row in enumerate(hyp["rows"]):
            here: JsonPath = ("hypothesis", "rows", index)
            key = row["key"]
            if key in seen:
                raise self.fail(
                    (*here, "key"), f"a unique row key (rows[{seen[key]}] already uses it)", repr(key)
                )
            seen[key] = index
            failing = self._check(row["failing"], (*here, "failing"), phase="failing")
            recovered = self._check(row["recovered"], (*here, "recovered"), phase="recovered")
            rows.append(
                Row(
                    key=key,
                    variable=str(row["variable"]),
                    control=_text(row["control"]),
                    experimental=_text(row["experimental"]),
                    failing=failing,
                    recovered=recovered,
                    line=self.line(here),
                )
            )
        return Hypothesis(statement=hyp["statement"], rows=tuple(rows), line=self.line(("hypothesis",)))

    def _check(self, data: dict[str, Any], path: JsonPath, phase: str) -> Check:
        line = self.line(path)
        if "action" in data:
            return ActionCheck(
                action_id=self._action_ref(data["action"], (*path, "action"), phase),
                expect=self._tolerance(data["expect"], (*path, "expect")),
                line=line,
                description=data.get("description"),
            )
        within = self._duration(data["within"], (*path, "within")) if "within" in data else None
        stable_for = int(data.get("stable_for", 1))
        description = data.get("description")
        for kind, cls in (("all_of", AllOfCheck), ("any_of", AnyOfCheck)):
            if kind in data:
                checks = tuple(self._check(c, (*path, kind, i), phase) for i, c in enumerate(data[kind]))
                return cls(
                    checks=checks, within=within, stable_for=stable_for, description=description, line=line
                )
        args = data.get("with") or {}
        self._args(data["probe"], args, (*path, "with"))
        if data["probe"] == "system_logs" and "message" in args:
            self._regex(args["message"], (*path, "with", "message"))
        return ProbeCheck(
            probe=data["probe"],
            args=_frozen(args),
            expect=self._tolerance(data["expect"], (*path, "expect")),
            within=within,
            stable_for=stable_for,
            description=description,
            line=line,
        )

    def _action_ref(self, action_id: str, path: JsonPath, phase: str) -> str:
        known = ["deploy", *self.trigger_ids] + (self.recovery_ids if phase != "failing" else [])
        if action_id in known:
            return action_id
        if phase == "failing" and action_id in self.recovery_ids:
            raise self.fail(
                path,
                "an action that has run before the failing checks: " + ", ".join(known),
                f"recovery action {action_id!r}",
            )
        raise self.fail(
            path, "a known action id: " + ", ".join(known), repr(action_id) + _did_you_mean(action_id, known)
        )

    def _tolerance(self, data: Any, path: JsonPath) -> Any:
        try:
            return parse_tolerance(data, field_name(path))
        except ToleranceError as exc:
            raise self.fail((*path, *exc.subpath), exc.expected, exc.got) from None

    def _duration(self, text: Any, path: JsonPath) -> float:
        try:
            return parse_duration(text)
        except ValueError:
            raise self.fail(path, DURATION_HINT, render(text)) from None

    def _regex(self, pattern: str, path: JsonPath) -> None:
        try:
            re.compile(pattern)
        except re.error as exc:
            raise self.fail(path, "a valid regular expression", f"{pattern!r} ({exc})") from None

    def _args(self, name: str, args: Mapping[str, Any], path: JsonPath) -> None:
        """Resource aliases must be declared with the right type; ``${...}`` references must resolve."""
        for arg, resource_type in ALIAS_ARGS.items():
            if arg not in args:
                continue
            alias = args[arg]
            declared = self.resources.get(alias)
            if declared is None:
                names = ", ".join(self.resources) or "none"
                raise self.fail(
                    (*path, arg),
                    f"a resource alias declared in infra.resources (declared: {names})",
                    repr(alias) + _did_you_mean(alias, self.resources),
                )
            if declared.lower() != resource_type.lower():
                raise self.fail(
                    (*path, arg),
                    f"an alias of a {resource_type} resource",
                    f"{alias!r}, which is a {declared}",
                )
        self._references(args, path, roots=(*self.resources, *REFERENCE_ROOTS))

    def _references(self, value: Any, path: JsonPath, roots: Iterable[str]) -> None:
        roots = list(roots)
        if isinstance(value, Mapping):
            for key, item in value.items():
                self._references(item, (*path, key), roots)
        elif isinstance(value, list):
            for index, item in enumerate(value):
                self._references(item, (*path, index), roots)
        elif isinstance(value, str) and "${" in value:
            if value.count("${") != len(_REF.findall(value)):
                raise self.fail(path, "a closed reference ${root.field}", repr(value))
            for inner in _REF.findall(value):
                self._reference(inner, path, roots)

    def _reference(self, inner: str, path: JsonPath, roots: list[str]) -> None:
        shown = "${" + inner + "}"
        match = _REF_INNER.match(inner.strip())
        if not match:
            raise self.fail(
                path, "a reference like ${registry.loginServer}, ${parameters.name}, ${run.id}", repr(shown)
            )
        root, name = match.groups()
        if root not in roots:
            raise self.fail(
                path, "a reference root among " + ", ".join(roots), repr(shown) + _did_you_mean(root, roots)
            )
        if root == "run" and name not in RUN_FIELDS:
            raise self.fail(path, "a run field among " + ", ".join(RUN_FIELDS), repr(shown))
        if root == "parameters":
            known = set(self.data["infra"].get("parameters") or {}) | set(
                self.template.get("parameters") or {}
            )
            if name.split(".")[0] not in known:
                raise self.fail(
                    path,
                    "a parameter of the template or infra.parameters: " + ", ".join(sorted(known)),
                    repr(shown),
                )
        if root == "outputs" and name.split(".")[0] not in (self.template.get("outputs") or {}):
            outputs = ", ".join(self.template.get("outputs") or {}) or "none"
            raise self.fail(path, f"an output of the template (declared: {outputs})", repr(shown))

    # ---- actions
    def _trigger(self) -> Trigger:
        data = self.data["trigger"]
        if data == "deployment":
            return Trigger(kind="deployment", actions=(), line=self.line(("trigger",)))
        actions = tuple(self._action(a, ("trigger", "actions", i)) for i, a in enumerate(data["actions"]))
        return Trigger(kind="actions", actions=actions, line=self.line(("trigger",)))

    def _recovery(self) -> tuple[Action, ...]:
        return tuple(self._action(a, ("recovery", i)) for i, a in enumerate(self.data["recovery"]))

    def _action(self, item: dict[str, Any], here: JsonPath) -> Action:
        name = item["action"]
        args = dict(item.get("with") or {})
        wpath: JsonPath = (*here, "with")
        timeout = self._duration(item["timeout"], (*here, "timeout")) if "timeout" in item else None
        if timeout is not None and timeout <= 0:
            raise self.fail((*here, "timeout"), "a positive duration", render(item["timeout"]))
        if name == "wait_for":
            args["check"] = self._check(args["check"], (*wpath, "check"), phase="any")
        else:
            self._args(name, args, wpath)
        if name == "acr_build":
            context = self._lab_path((*wpath, "context"), args["context"], want_dir=True)
            if "dockerfile" in args:
                self._lab_path((*wpath, "dockerfile"), args["dockerfile"], want_dir=False, base=context)
        if name == "deploy" and "parameters" in args:
            self._template_parameters(args["parameters"], (*wpath, "parameters"), overrides=True)
        if name == "set_traffic" and isinstance(args["weights"], Mapping):
            total = sum(args["weights"].values())
            if total != 100:
                raise self.fail((*wpath, "weights"), "percentages adding up to 100", f"a total of {total}")
        return Action(
            id=item["id"],
            name=name,
            args=_frozen(args),
            description=item.get("description"),
            timeout=timeout,
            line=self.line(here),
        )

    # ---- experiment log
    def _experiment_log(self) -> tuple[Step, ...]:
        steps: list[Step] = []
        seen: dict[int, int] = {}
        actions = ["deploy", *self.trigger_ids, *self.recovery_ids]
        for index, item in enumerate(self.data["experiment_log"]):
            here: JsonPath = ("experiment_log", index)
            number = item["step"]
            if number in seen:
                raise self.fail(
                    (*here, "step"),
                    f"a unique step number (line {seen[number]} already uses it)",
                    str(number),
                )
            seen[number] = self.line(here)
            source = item.get("from")
            if source is not None:
                self._source(source, (*here, "from"), actions)
            steps.append(
                Step(
                    number=number,
                    action=item["action"],
                    expected=item["expected"],
                    source=source,
                    line=self.line(here),
                )
            )
        return tuple(steps)

    def _source(self, source: str, path: JsonPath, actions: list[str]) -> None:
        match = _FROM.match(source)
        assert match is not None  # the schema pattern guarantees it
        key, phase = match["key"], match["phase"]
        if phase:
            if key not in self.row_keys:
                raise self.fail(
                    path,
                    "an item '<row-key>[failing|recovered]' with a row key among " + ", ".join(self.row_keys),
                    repr(source) + _did_you_mean(key, self.row_keys),
                )
        elif key not in actions:
            items = [f"{k}[failing]" for k in self.row_keys]
            raise self.fail(
                path,
                "'deploy', an action id ("
                + ", ".join(actions[1:])
                + ") or an item like "
                + ", ".join(items[:2]),
                repr(source) + _did_you_mean(key, [*actions, *self.row_keys]),
            )


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _frozen(args: Mapping[str, Any]) -> Mapping[str, Any]:
    """A read-only copy (nested plain values are copied, Check objects kept)."""
    return FrozenMap({k: _copy(v) for k, v in args.items()})


def _copy(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {k: _copy(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_copy(v) for v in value]
    return value


# ------------------------------------------------------------------------------------------ entry point


def load_lab(path: Path | str) -> Lab:
    """Load ``lab.yaml`` (or its folder) into a ``Lab``; raise one ``LabFileError`` on any problem."""
    path = Path(path)
    file = path / LAB_FILE if path.is_dir() else path
    if not file.is_file():
        raise LabFileError(
            file, None, "<file>", f"a lab folder holding {LAB_FILE} or a lab.yaml file", "no such file"
        )
    try:
        text = file.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise LabFileError(file, None, "<file>", "UTF-8 text", f"undecodable bytes ({exc.reason})") from None
    parsed = _Parsed(file, text)
    if not isinstance(parsed.data, dict):
        raise LabFileError(
            file,
            parsed.lines[()],
            "<top level>",
            "a mapping of lab keys (title, metadata, infra, hypothesis, trigger, recovery, experiment_log)",
            _got(parsed.data),
        )
    errors = list(_validator().iter_errors(parsed.data))
    if errors:
        raise _SchemaErrors(parsed).first(errors)
    return _Builder(parsed, file.parent.resolve()).build()
