"""Semantic checks over a schema-valid lab file (references, files, durations, regexes, ``${...}``, probe and
action names and arguments against the vocabulary) and construction of the frozen model."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

from pytest_acalab.errors import LabFileError, ToleranceError, display_path
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
from pytest_acalab.labfile.schema import SchemaErrors, describe_value, did_you_mean, validator
from pytest_acalab.labfile.tolerances import parse_tolerance, render
from pytest_acalab.labfile.vocabulary import Registry, Vocabulary
from pytest_acalab.labfile.yaml_nodes import JsonPath, ParsedYaml, field_name, line_of

__all__ = ["LabBuilder"]

# Which probe/action arguments name a resource alias, and the resource type the alias must have.
ALIAS_ARGS = {"app": "Microsoft.App/containerApps", "registry": "Microsoft.ContainerRegistry/registries",
              "environment": "Microsoft.App/managedEnvironments"}
WINDOWS = ("phase", "lab")
"""``since`` values that are not action ids: the current phase's start, the lab's start."""
REFERENCE_ROOTS = ("parameters", "outputs", "run", "actions")
RUN_FIELDS = ("id",)
_REF = re.compile(r"\$\{([^}]*)\}")
_REF_INNER = re.compile(r"^([A-Za-z_][A-Za-z0-9_]*)\.([A-Za-z0-9_][A-Za-z0-9_.-]*)$")
_FROM = re.compile(r"^(?P<key>[a-z0-9][a-z0-9_-]*)(?:\[(?P<phase>failing|recovered)\])?$")


class LabBuilder:
    """Semantic checks and model construction over schema-valid data."""

    def __init__(self, parsed: ParsedYaml, folder: Path, vocabulary: Vocabulary | None = None) -> None:
        self.parsed = parsed
        self.vocabulary = vocabulary
        self.data: dict[str, Any] = parsed.data
        self.path = parsed.path
        self.folder = folder
        self.template: dict[str, Any] = {}
        self.resources: dict[str, str] = dict(self.data["infra"].get("resources") or {})
        self.row_keys: list[str] = []
        self.trigger_ids: list[str] = []
        self.recovery_ids: list[str] = []

    def fail(self, path: JsonPath, expected: str, got: str) -> LabFileError:
        return LabFileError(self.path, line_of(self.parsed.lines, path), field_name(path), expected, got)

    def line(self, path: JsonPath) -> int:
        return line_of(self.parsed.lines, path)

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
                f"{infra['template']} holding {describe_value(loaded)[:80]}",
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
                    repr(name) + did_you_mean(name, declared),
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
            where = display_path(base / text)
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
        self._word("probe", data["probe"], data, path)
        self._args(data["probe"], args, (*path, "with"))
        if data["probe"] == "system_logs" and "message" in args:
            self._regex(args["message"], (*path, "with", "message"))
        if data["probe"] == "system_logs" and args.get("since") not in (None, *WINDOWS):
            self._since(str(args["since"]), (*path, "with", "since"), phase)
        return ProbeCheck(
            probe=data["probe"],
            args=_frozen(args),
            expect=self._tolerance(data["expect"], (*path, "expect")),
            within=within,
            stable_for=stable_for,
            description=description,
            line=line,
        )

    def _word(self, kind: str, name: str, data: Mapping[str, Any], path: JsonPath) -> None:
        """``name`` must be a probe (action) of the vocabulary, and ``with`` match its arguments schema."""
        if self.vocabulary is None:
            return
        registry: Registry = self.vocabulary.probes if kind == "probe" else self.vocabulary.actions
        if name not in registry:
            known = registry.names()
            raise self.fail((*path, kind), f"one of {', '.join(known)} (the {kind}s registered)",
                            repr(name) + did_you_mean(name, known))
        schema = registry[name].args
        if schema is None:
            return
        args = data.get("with")
        errors = list(validator(schema).iter_errors({} if args is None else args))
        if errors:
            raise SchemaErrors(self.parsed, prefix=(*path, "with")).first(errors)

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
            path, "a known action id: " + ", ".join(known), repr(action_id) + did_you_mean(action_id, known)
        )

    def _action_reference(self, name: str, path: JsonPath, shown: str) -> None:
        """``${actions.<id>.<field>}``: a trigger or recovery action and a field of its result."""
        known = [*self.trigger_ids, *self.recovery_ids]
        match = re.fullmatch(r"([a-z0-9][a-z0-9_-]*)\.([A-Za-z_][A-Za-z0-9_]*)", name)
        if match is None:
            raise self.fail(path, "a reference like ${actions.<action id>.<field>} "
                            "(e.g. ${actions.update-image.latestRevisionName})", repr(shown))
        if match[1] not in known:
            raise self.fail(path, "an action id in ${actions.<id>.<field>}: " + (", ".join(known) or "none declared"),
                            repr(shown) + did_you_mean(match[1], known))

    def _since(self, action_id: str, path: JsonPath, phase: str) -> None:
        """``since: <action id>``: an action that has ended before the check runs (a window from its end)."""
        ran = self.trigger_ids + (self.recovery_ids if phase != "failing" else [])
        if action_id in ran:
            return
        before = "the failing checks" if phase == "failing" else "this check"
        listed = ", ".join(ran) or "none: the trigger is the deployment"
        if phase == "failing" and action_id in self.recovery_ids:
            raise self.fail(path, f"phase, lab, or an action that has run before {before} ({listed})",
                            f"recovery action {action_id!r}")
        raise self.fail(path, f"phase, lab, or an action that has run before {before} ({listed})",
                        repr(action_id) + did_you_mean(action_id, [*ran, *self.recovery_ids]))

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
                    repr(alias) + did_you_mean(alias, self.resources),
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
                path, "a reference like ${registry.loginServer}, ${parameters.name}, ${run.id}, "
                "${actions.<id>.<field>}", repr(shown)
            )
        root, name = match.groups()
        if root not in roots:
            raise self.fail(
                path, "a reference root among " + ", ".join(roots), repr(shown) + did_you_mean(root, roots)
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
        if root == "actions":
            self._action_reference(name, path, shown)
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
        self._word("action", name, item, here)
        if name == "wait_for":
            # a trigger's wait_for runs before any recovery action: it is checked as a failing check
            args["check"] = self._check(args["check"], (*wpath, "check"),
                                        phase="failing" if here[0] == "trigger" else "recovered")
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
            expect=item.get("expect", "Succeeded"),
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
                    repr(source) + did_you_mean(key, self.row_keys),
                )
        elif key not in actions:
            items = [f"{k}[failing]" for k in self.row_keys]
            raise self.fail(
                path,
                "'deploy', an action id ("
                + ", ".join(actions[1:])
                + ") or an item like "
                + ", ".join(items[:2]),
                repr(source) + did_you_mean(key, [*actions, *self.row_keys]),
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

