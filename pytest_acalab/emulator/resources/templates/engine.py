"""ARM template deployment engine: validate a template, then deploy it through a ResourceHost.

The engine is pure logic. Every resource read or write goes through the host, so the emulator's real
resource providers serve deployments too (no second implementation of any resource).
"""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

from . import functions
from .errors import ExpressionError, ResourceLookupError, TemplateError, invalid_template
from .evaluator import Evaluator, UserFunction, calls_in, iter_expressions
from .expressions import iter_calls
from .functions import build_resource_path, get_property, type_name

DEPLOYMENT_FAILED_MESSAGE = (
    "At least one resource deployment operation failed. Please list deployment operations for details. "
    "Please see https://aka.ms/arm-deployment-operations for usage details."
)
TERMINAL_STATE_MESSAGE = (
    "The resource write operation failed to complete successfully, because it reached terminal "
    "provisioning state '{state}'."
)
# Keys of a template resource that describe the deployment, not the resource body sent to the provider.
NON_BODY_KEYS = frozenset(
    {"name", "type", "apiVersion", "dependsOn", "condition", "existing", "scope", "copy", "comments",
     "metadata", "resources", "import", "asserts", "id", "resourceGroup", "subscriptionId"}
)  # fmt: skip
OUTPUT_TYPES = {
    "string": "String", "securestring": "SecureString", "int": "Int", "bool": "Bool",
    "object": "Object", "secureobject": "SecureObject", "array": "Array",
}  # fmt: skip
HTTP_STATUS_NAMES = {
    200: "OK", 201: "Created", 202: "Accepted", 204: "NoContent", 400: "BadRequest", 401: "Unauthorized",
    403: "Forbidden", 404: "NotFound", 405: "MethodNotAllowed", 409: "Conflict", 412: "PreconditionFailed",
    422: "UnprocessableEntity", 429: "TooManyRequests", 500: "InternalServerError", 501: "NotImplemented",
    502: "BadGateway", 503: "ServiceUnavailable", 504: "GatewayTimeout",
}  # fmt: skip


# ---------------------------------------------------------------- host boundary


@dataclass
class ResourceOutcome:
    """What the host reports for one PUT, after its long-running operation (if any) ended.

    ``provisioning_state``: the terminal state ("Failed", "Canceled") when the PUT was accepted but its
    long-running operation failed; None when the provider refused the PUT outright (then ``error`` is
    the provider's own error and ARM reports it as is).
    """

    succeeded: bool
    status_code: int
    resource: dict[str, Any] | None = None
    error: dict[str, Any] | None = None
    provisioning_state: str | None = None
    service_request_id: str | None = None


class ResourceHost(Protocol):
    def put_resource(self, resource_id: str, api_version: str, body: dict[str, Any]) -> ResourceOutcome: ...

    def get_resource(self, resource_id: str, api_version: str | None) -> dict[str, Any]: ...

    def invoke_action(
        self, resource_id: str, action: str, api_version: str, body: dict[str, Any] | None
    ) -> Any: ...


def _utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass
class DeploymentContext:
    subscription_id: str
    tenant_id: str
    resource_group_name: str
    resource_group_location: str
    resource_group_tags: dict[str, str] = field(default_factory=dict)
    deployment_name: str = "deployment"
    now: Callable[[], datetime] = _utc_now
    subscription_display_name: str = "Azure subscription 1"

    @property
    def resource_group_id(self) -> str:
        return f"/subscriptions/{self.subscription_id}/resourceGroups/{self.resource_group_name}"

    @property
    def deployment_id(self) -> str:
        return f"{self.resource_group_id}/providers/Microsoft.Resources/deployments/{self.deployment_name}"


# ---------------------------------------------------------------- validated template


@dataclass
class ResourcePlan:
    """One resource instance of the template (a copy loop gives one plan per index)."""

    key: str  # unique: symbolic name, or "resources[i]" (+ "[n]" for copy instances)
    symbolic_name: str | None
    definition: dict[str, Any]
    type: str
    name: str
    api_version: str | None
    id: str
    condition: bool
    existing: bool
    copy_name: str | None = None
    copy_index: int | None = None
    depends_on: list[str] = field(default_factory=list)  # keys of other plans

    def target_resource(self) -> dict[str, Any]:
        out = {"id": self.id, "resourceType": self.type, "resourceName": self.name}
        if self.api_version:
            out["apiVersion"] = self.api_version
        if self.symbolic_name:
            out["symbolicName"] = self.symbolic_name
        return out


@dataclass
class ValidatedTemplate:
    template: dict[str, Any]
    parameters: dict[str, Any]  # resolved values by name
    parameter_types: dict[str, str]  # declared type by name
    resources: list[ResourcePlan]  # topological order
    outputs: dict[str, Any]
    evaluator: Evaluator

    @property
    def deployment_parameters(self) -> dict[str, Any]:
        """The ``properties.parameters`` ARM echoes back: ``{name: {"type": "String", "value": ...}}``."""
        out: dict[str, Any] = {}
        for name, value in self.parameters.items():
            ptype = OUTPUT_TYPES.get(self.parameter_types.get(name, "").lower(), "String")
            entry: dict[str, Any] = {"type": ptype}
            if not ptype.startswith("Secure"):
                entry["value"] = value
            out[name] = entry
        return out

    @property
    def validated_resources(self) -> list[dict[str, Any]]:
        return [{"id": p.id} for p in self.resources if p.condition and not p.existing]


@dataclass
class DeploymentResult:
    provisioning_state: str  # "Succeeded" | "Failed"
    outputs: dict[str, Any] | None
    error: dict[str, Any] | None
    operations: list[dict[str, Any]]
    duration: str  # ISO 8601, e.g. "PT1.23S"
    timestamp: str  # ISO 8601 UTC
    output_resources: list[dict[str, Any]] = field(default_factory=list)


# ---------------------------------------------------------------- helpers


def iso_duration(seconds: float) -> str:
    """Seconds as an ISO 8601 duration the way ARM prints it (``PT1M2.5S``, ``PT0S``)."""
    seconds = max(0.0, seconds)
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    text = "PT"
    if hours:
        text += f"{int(hours)}H"
    if minutes:
        text += f"{int(minutes)}M"
    if secs or text == "PT":
        text += f"{secs:.7f}".rstrip("0").rstrip(".") + "S"
    return text


def iso_timestamp(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def status_name(code: int) -> str:
    return HTTP_STATUS_NAMES.get(code, str(code))


def _wrap(exc: ExpressionError, where: str) -> TemplateError:
    return invalid_template(f"The template {where} is not valid: {exc.message}")


_TYPE_CHECKS: dict[str, tuple[str, Callable[[Any], bool]]] = {
    "string": ("String", lambda v: isinstance(v, str)),
    "securestring": ("String", lambda v: isinstance(v, str)),
    "int": ("Integer", lambda v: isinstance(v, int) and not isinstance(v, bool)),
    "bool": ("Boolean", lambda v: isinstance(v, bool)),
    "object": ("Object", lambda v: isinstance(v, dict)),
    "secureobject": ("Object", lambda v: isinstance(v, dict)),
    "array": ("Array", lambda v: isinstance(v, list)),
}


def _declared_type(spec: dict[str, Any], template: dict[str, Any]) -> str | None:
    ptype = spec.get("type")
    ref = spec.get("$ref")
    if ptype is None and isinstance(ref, str) and ref.startswith("#/definitions/"):
        definition = (template.get("definitions") or {}).get(ref.split("/")[-1], {})
        ptype = definition.get("type") if isinstance(definition, dict) else None
    return ptype.lower() if isinstance(ptype, str) else None


def _check_parameter(name: str, spec: dict[str, Any], value: Any, ptype: str | None) -> None:
    if value is None and spec.get("nullable"):
        return
    if ptype is not None:
        if ptype not in _TYPE_CHECKS:
            raise invalid_template(
                f"The template parameter '{name}' has the type '{spec.get('type')}' which is not valid."
            )
        expected, check = _TYPE_CHECKS[ptype]
        if not check(value):
            raise invalid_template(
                f"The provided value for the template parameter '{name}' is not valid. Expected a value of type "
                f"'{expected}', but received a value of type '{type_name(value)}'. Please see "
                "https://aka.ms/arm-create-parameter-file for usage details."
            )
    allowed = spec.get("allowedValues")
    if isinstance(allowed, list):
        values = value if isinstance(value, list) and ptype == "array" else [value]
        for item in values:
            if not any(functions.json_equal(item, a) for a in allowed):
                shown = ",".join(functions.to_text(a) for a in allowed)
                raise invalid_template(
                    f"The provided value '{functions.to_text(item)}' for the template parameter '{name}' is not "
                    f"valid. The parameter value is not part of the allowed value(s): '{shown}'."
                )
    if isinstance(value, (str, list)):
        if isinstance(spec.get("minLength"), int) and len(value) < spec["minLength"]:
            raise invalid_template(
                f"The provided value for the template parameter '{name}' is not valid. Length of the value "
                f"should be greater than or equal to '{spec['minLength']}'."
            )
        if isinstance(spec.get("maxLength"), int) and len(value) > spec["maxLength"]:
            raise invalid_template(
                f"The provided value for the template parameter '{name}' is not valid. Length of the value "
                f"should be less than or equal to '{spec['maxLength']}'."
            )
    if isinstance(value, int) and not isinstance(value, bool):
        if isinstance(spec.get("minValue"), int) and value < spec["minValue"]:
            raise invalid_template(
                f"The provided value '{value}' for the template parameter '{name}' is not valid. The value "
                f"should be greater than or equal to '{spec['minValue']}'."
            )
        if isinstance(spec.get("maxValue"), int) and value > spec["maxValue"]:
            raise invalid_template(
                f"The provided value '{value}' for the template parameter '{name}' is not valid. The value "
                f"should be less than or equal to '{spec['maxValue']}'."
            )


# ---------------------------------------------------------------- validation


def _user_functions(template: dict[str, Any]) -> dict[str, UserFunction]:
    out: dict[str, UserFunction] = {}
    for ns in template.get("functions") or []:
        if not isinstance(ns, dict) or not isinstance(ns.get("members"), dict):
            raise invalid_template("The template 'functions' entries must be objects with 'namespace' and 'members'.")
        for member, spec in ns["members"].items():
            full = f"{ns.get('namespace', '')}.{member}"
            out[full.lower()] = UserFunction(full, list(spec.get("parameters") or []), dict(spec.get("output") or {}))
    return out


def _is_inner_deployment(defn: dict[str, Any]) -> bool:
    """A nested deployment (Bicep module) whose template is evaluated in its own scope, not this one."""
    props = defn.get("properties")
    options = props.get("expressionEvaluationOptions") if isinstance(props, dict) else None
    return (
        str(defn.get("type", "")).lower() == "microsoft.resources/deployments"
        and isinstance(options, dict)
        and str(options.get("scope", "")).lower() == "inner"
    )


def _outer_view(defn: dict[str, Any]) -> dict[str, Any]:
    """A resource definition without the parts this template does not evaluate (inner templates, children)."""
    view = {k: v for k, v in defn.items() if k != "resources"}
    if _is_inner_deployment(defn):
        view["properties"] = {k: v for k, v in defn["properties"].items() if k != "template"}
    return view


def _outer_resources(resources: Any) -> Any:
    if isinstance(resources, dict):
        return {k: _outer_resources_one(v) for k, v in resources.items()}
    if isinstance(resources, list):
        return [_outer_resources_one(v) for v in resources]
    return resources


def _outer_resources_one(defn: Any) -> Any:
    if not isinstance(defn, dict):
        return defn
    view = _outer_view(defn)
    if isinstance(defn.get("resources"), list):
        view["resources"] = _outer_resources(defn["resources"])
    return view


TEMPLATE_LIMITS = {"parameters": 256, "variables": 256, "resources": 800, "outputs": 64}
"""ARM's template limits (https://learn.microsoft.com/azure/azure-resource-manager/templates/best-practices
#template-limits); resources are counted as declared (copy loops are checked when they expand)."""


def _check_limits(template: dict[str, Any]) -> None:
    for section, limit in TEMPLATE_LIMITS.items():
        content = template.get(section)
        if isinstance(content, dict | list) and len(content) > limit:
            raise invalid_template(f"The template has {len(content)} {section}; a template may declare at most "
                                   f"{limit} {section}.")


def _check_expressions(template: dict[str, Any], user_fns: dict[str, UserFunction]) -> None:
    """Every expression parses and names only functions that exist (before anything is evaluated)."""
    _check_limits(template)
    for section in ("parameters", "variables", "functions", "resources", "outputs"):
        content = template.get(section)
        if section == "resources":
            content = _outer_resources(content)
        for path, node in iter_expressions(content, section):
            if isinstance(node, ExpressionError):
                raise invalid_template(f"The template language expression at '{path}' is not valid: {node.message}")
            for call in calls_in_node(node):
                if call.name.lower() not in user_fns and not functions.is_known(call.name):
                    raise invalid_template(
                        f"The template function '{call.name}' at '{path}' is not valid. Please see "
                        "https://aka.ms/arm-functions for usage details."
                    )


def calls_in_node(node: Any) -> list[Any]:
    return list(iter_calls(node))


def _resolve_parameters(
    template: dict[str, Any], supplied: dict[str, Any], ev: Evaluator
) -> tuple[dict[str, Any], dict[str, str]]:
    specs = template.get("parameters") or {}
    if not isinstance(specs, dict):
        raise invalid_template("The template 'parameters' property must be an object.")
    if not isinstance(supplied, dict):
        raise invalid_template("The deployment parameters must be an object of the form {name: {value: ...}}.")
    unknown = [n for n in supplied if not get_property(specs, n)[0]]
    if unknown:
        raise invalid_template(
            f"The template parameters '{', '.join(unknown)}' in the parameters file are not valid; they are not "
            "present in the original template and can therefore not be provided at deployment time. The only "
            f"supported parameters for this template are '{', '.join(specs)}'. Please see "
            "https://aka.ms/arm-pass-parameter-values for usage details."
        )
    values: dict[str, Any] = {}
    types: dict[str, str] = {}
    ev.parameter_values = values
    for name, spec in specs.items():
        if not isinstance(spec, dict):
            raise invalid_template(f"The template parameter '{name}' must be an object.")
        ptype = _declared_type(spec, template)
        types[name] = ptype or ""
        found, given = get_property(supplied, name)
        if found:
            if not isinstance(given, dict) or "value" not in given:
                raise invalid_template(
                    f"The value for the template parameter '{name}' must be given as {{\"value\": ...}}; "
                    "Key Vault references are not supported by the emulator."
                )
            value = given["value"]
        elif "defaultValue" in spec:
            ev.in_parameter_default = True
            try:
                value = ev.evaluate(spec["defaultValue"])
            except ExpressionError as exc:
                raise _wrap(exc, f"parameter '{name}' default value") from exc
            finally:
                ev.in_parameter_default = False
        elif spec.get("nullable"):
            value = None
        else:
            raise invalid_template(
                f"The value for the template parameter '{name}' is not provided. Please see "
                "https://aka.ms/arm-create-parameter-file for usage details."
            )
        _check_parameter(name, spec, value, ptype)
        values[name] = value
    return values, types


def _variable_defs(template: dict[str, Any], ev: Evaluator) -> dict[str, Any]:
    variables = template.get("variables") or {}
    if not isinstance(variables, dict):
        raise invalid_template("The template 'variables' property must be an object.")
    defs: dict[str, Any] = {}
    for key, value in variables.items():
        if key == "copy" and isinstance(value, list):
            for loop in value:  # variable loops: {"name", "count", "input"}
                if isinstance(loop, dict) and "name" in loop:
                    defs[str(loop["name"])] = {"copy": [loop]}
            continue
        defs[key] = value
    return defs


@dataclass
class _RawResource:
    key: str
    symbolic_name: str | None
    definition: dict[str, Any]
    parent: _RawResource | None = None


def _raw_resources(template: dict[str, Any]) -> list[_RawResource]:
    resources = template.get("resources")
    out: list[_RawResource] = []

    def add(defn: Any, key: str, symbolic: str | None, parent: _RawResource | None) -> None:
        if not isinstance(defn, dict):
            raise invalid_template(f"The template resource '{key}' must be an object.")
        for required in ("type", "name"):
            if required not in defn:
                raise invalid_template(f"The template resource '{key}' is missing the required property '{required}'.")
        raw = _RawResource(key, symbolic, defn, parent)
        out.append(raw)
        for i, child in enumerate(defn.get("resources") or []):
            add(child, f"{key}.resources[{i}]", None, raw)

    if isinstance(resources, list):
        for i, defn in enumerate(resources):
            add(defn, f"resources[{i}]", None, None)
    elif isinstance(resources, dict):
        for symbolic, defn in resources.items():
            add(defn, symbolic, symbolic, None)
    else:
        raise invalid_template(
            "Required property 'resources' not found in the template, or it is neither an array nor an object."
        )
    return out


class _Index:
    """Lookup of template resources by the many ways a template names them."""

    def __init__(self, plans: list[ResourcePlan]) -> None:
        self.plans = {p.key: p for p in plans}
        self.by_symbol: dict[str, list[ResourcePlan]] = {}
        self.by_id: dict[str, list[ResourcePlan]] = {}
        self.by_name: dict[str, list[ResourcePlan]] = {}
        for p in plans:
            if p.symbolic_name:
                self.by_symbol.setdefault(p.symbolic_name.lower(), []).append(p)
            if p.copy_name:
                self.by_symbol.setdefault(p.copy_name.lower(), []).append(p)
            self.by_id.setdefault(p.id.lower(), []).append(p)
            self.by_name.setdefault(p.name.lower(), []).append(p)
            self.by_name.setdefault(f"{p.type}/{p.name}".lower(), []).append(p)

    def find(self, ref: str) -> list[ResourcePlan]:
        key = ref.lower().rstrip("/")
        return self.by_symbol.get(key) or self.by_id.get(key) or self.by_name.get(key) or []


def _plan_resources(raws: list[_RawResource], ev: Evaluator, ctx: DeploymentContext) -> list[ResourcePlan]:
    plans: list[ResourcePlan] = []
    evaluated_names: dict[str, tuple[str, str]] = {}  # raw key -> (type, name) of its first instance

    for raw in raws:
        defn = raw.definition
        copy = defn.get("copy")
        instances: list[tuple[Evaluator, str | None, int | None]] = [(ev, None, None)]
        if isinstance(copy, dict):
            try:
                loop = ev.evaluate(copy.get("name"))
                count = ev.evaluate(copy.get("count"))
            except ExpressionError as exc:
                raise _wrap(exc, f"resource '{raw.key}' copy loop") from exc
            if not isinstance(loop, str) or not isinstance(count, int) or isinstance(count, bool) or count < 0:
                raise invalid_template(f"The copy loop of the template resource '{raw.key}' needs a name and a count.")
            instances = [(ev.with_copy_index(loop, i).with_copy_index(None, i), loop, i) for i in range(count)]
        for iev, loop, idx in instances:
            key = raw.key if idx is None else f"{raw.key}[{idx}]"
            try:
                condition = iev.evaluate(defn.get("condition", True))
                rtype = iev.evaluate(defn["type"])
                name = iev.evaluate(defn["name"])
                api_version = iev.evaluate(defn.get("apiVersion"))
                existing = iev.evaluate(defn.get("existing", False))
                scope = iev.evaluate(defn.get("scope"))
                sub = iev.evaluate(defn.get("subscriptionId", ctx.subscription_id))
                group = iev.evaluate(defn.get("resourceGroup", ctx.resource_group_name))
            except ExpressionError as exc:
                raise _wrap(exc, f"resource '{raw.key}'") from exc
            if not isinstance(rtype, str) or not isinstance(name, str):
                raise invalid_template(f"The template resource '{key}' must have a string 'type' and 'name'.")
            if not isinstance(condition, bool):
                raise invalid_template(f"The condition of the template resource '{key}' is not a Boolean.")
            if raw.parent is not None and "/" not in rtype:
                ptype, pname = evaluated_names[raw.parent.key]
                rtype, name = f"{ptype}/{rtype}", f"{pname}/{name}"
            if len(name.split("/")) != len(rtype.split("/")) - 1:
                raise invalid_template(
                    f"The template resource '{name}' for type '{rtype}' at '{key}' has incorrect segment lengths. "
                    "A nested resource type must have identical number of segments as its resource name. A root "
                    "resource type must have segment length one greater than its resource name."
                )
            path = build_resource_path("resourceId", rtype, [name])
            if isinstance(scope, str) and scope:
                if scope.startswith("/"):
                    scope_id = scope.rstrip("/")
                else:
                    scope_id = f"{ctx.resource_group_id}/providers/{scope.strip('/')}"
                rid = f"{scope_id}/providers/{path}"
            else:
                rid = f"/subscriptions/{sub}/resourceGroups/{group}/providers/{path}"
            evaluated_names.setdefault(raw.key, (rtype, name))
            plans.append(
                ResourcePlan(
                    key=key,
                    symbolic_name=raw.symbolic_name,
                    definition=defn,
                    type=rtype,
                    name=name,
                    api_version=api_version if isinstance(api_version, str) else None,
                    id=rid,
                    condition=condition,
                    existing=bool(existing),
                    copy_name=loop,
                    copy_index=idx,
                )
            )
            if raw.parent is not None:
                parent_plans = [p for p in plans if p.key == raw.parent.key or p.key.startswith(raw.parent.key + "[")]
                plans[-1].depends_on.extend(p.key for p in parent_plans)
    seen: dict[str, ResourcePlan] = {}
    for p in plans:
        if p.condition and not p.existing:
            if p.id.lower() in seen:
                raise invalid_template(
                    f"The resource '{p.id}' is defined multiple times in a template (at '{seen[p.id.lower()].key}' "
                    f"and '{p.key}')."
                )
            seen[p.id.lower()] = p
    return plans


def _instance_evaluator(ev: Evaluator, plan: ResourcePlan) -> Evaluator:
    if plan.copy_name is None:
        return ev
    return ev.with_copy_index(plan.copy_name, plan.copy_index or 0).with_copy_index(None, plan.copy_index or 0)


def _resolve_dependencies(plans: list[ResourcePlan], index: _Index, ev: Evaluator) -> None:
    for plan in plans:
        iev = _instance_evaluator(ev, plan)
        try:
            depends = iev.evaluate(plan.definition.get("dependsOn") or [])
        except ExpressionError as exc:
            raise _wrap(exc, f"resource '{plan.key}' dependsOn") from exc
        if not isinstance(depends, list):
            raise invalid_template(f"The 'dependsOn' of the template resource '{plan.key}' must be an array.")
        for entry in depends:
            if not isinstance(entry, str):
                raise invalid_template(
                    f"The 'dependsOn' entries of the template resource '{plan.key}' must be strings."
                )
            targets = index.find(entry)
            if not targets:
                raise invalid_template(
                    f"The resource '{entry}' is not defined in the template (dependsOn of '{plan.key}'). "
                    "Please see https://aka.ms/arm-syntax for usage details."
                )
            plan.depends_on.extend(t.key for t in targets if t.key != plan.key)
        # implicit dependencies: reference()/list*()/resourceInfo() of another resource in the template
        body = {k: v for k, v in _outer_view(plan.definition).items() if k != "dependsOn"}
        for call in calls_in(body):
            lowered = call.name.lower()
            if not call.args or not (functions.is_runtime_function(lowered) or lowered == "resourceinfo"):
                continue
            try:
                target = iev.eval_node(call.args[0])
            except ExpressionError:
                continue
            if isinstance(target, str):
                plan.depends_on.extend(t.key for t in index.find(target) if t.key != plan.key)
        scope = plan.definition.get("scope")
        if scope is not None:
            scope_id = plan.id.rsplit("/providers/", 1)[0]
            plan.depends_on.extend(t.key for t in index.find(scope_id) if t.key != plan.key)
        plan.depends_on = list(dict.fromkeys(plan.depends_on))


def _topological(plans: list[ResourcePlan]) -> list[ResourcePlan]:
    by_key = {p.key: p for p in plans}
    order: list[ResourcePlan] = []
    state: dict[str, int] = {}  # 1 visiting, 2 done

    def visit(p: ResourcePlan, stack: list[ResourcePlan]) -> None:
        mark = state.get(p.key)
        if mark == 2:
            return
        if mark == 1:
            cycle = stack[[s.key for s in stack].index(p.key) :] + [p]
            chain = " -> ".join(s.id for s in cycle)
            raise invalid_template(
                f"Circular dependency detected on resource: '{p.id}'. The cycle is: {chain}. Please see "
                "https://aka.ms/arm-syntax-resources for usage details."
            )
        state[p.key] = 1
        for dep in p.depends_on:
            visit(by_key[dep], [*stack, p])
        state[p.key] = 2
        order.append(p)

    for p in plans:
        visit(p, [])
    return order


def validate(template: Any, parameters: dict[str, Any] | None, ctx: DeploymentContext) -> ValidatedTemplate:
    """Check a template and its parameter values; nothing is touched. Raises TemplateError."""
    if not isinstance(template, dict):
        raise invalid_template(f"The template must be a JSON object, not '{type_name(template)}'.")
    if "resources" not in template:
        raise invalid_template("Required property 'resources' not found in the template.")
    user_fns = _user_functions(template)
    _check_expressions(template, user_fns)
    ev = Evaluator(ctx=ctx, template=template, parameter_values={}, user_functions=user_fns)
    values, types = _resolve_parameters(template, parameters or {}, ev)
    ev.variable_defs = _variable_defs(template, ev)
    for name in ev.variable_defs:
        try:
            ev.variable(name)
        except ExpressionError as exc:
            raise _wrap(exc, f"variable '{name}'") from exc
    raws = _raw_resources(template)
    plans = _plan_resources(raws, ev, ctx)
    index = _Index(plans)
    ev.resource_info_lookup = _resource_info_lookup(index)
    _resolve_dependencies(plans, index, ev)
    ordered = _topological(plans)
    outputs = template.get("outputs") or {}
    if not isinstance(outputs, dict):
        raise invalid_template("The template 'outputs' property must be an object.")
    for name, spec in outputs.items():
        otype = spec.get("type") if isinstance(spec, dict) else None
        if not isinstance(otype, str) or otype.lower() not in OUTPUT_TYPES:
            raise invalid_template(f"The template output '{name}' has the type '{otype}' which is not valid.")
    return ValidatedTemplate(template, values, types, ordered, outputs, ev)


def _resource_info_lookup(index: _Index) -> Callable[[str], dict[str, Any]]:
    def lookup(symbol: str) -> dict[str, Any]:
        found = index.find(symbol)
        if len(found) != 1:
            raise ExpressionError(f"The resource '{symbol}' is not defined in the template.")
        p = found[0]
        return {"id": p.id, "name": p.name, "type": p.type, "apiVersion": p.api_version}

    return lookup


# ---------------------------------------------------------------- execution


class _Runtime:
    def __init__(self, host: ResourceHost, index: _Index) -> None:
        self.host = host
        self.index = index

    def _target(self, target: str, api_version: str | None) -> tuple[str, str | None]:
        found = self.index.find(target)
        if len(found) == 1:
            return found[0].id, api_version or found[0].api_version
        if len(found) > 1:
            raise ExpressionError(f"The resource reference '{target}' is ambiguous in the template.")
        if not target.startswith("/"):
            raise ExpressionError(
                f"The resource '{target}' is not defined in the template. Please see "
                "https://aka.ms/arm-function-reference for usage details."
            )
        return target, api_version

    def read_resource(self, target: str, api_version: str | None) -> dict[str, Any]:
        rid, api = self._target(target, api_version)
        return self.host.get_resource(rid, api)

    def invoke_action(self, action: str, target: str, api_version: str, body: Any) -> Any:
        rid, api = self._target(target, api_version)
        return self.host.invoke_action(rid, action, api or api_version, body)


def _new_operation(
    ctx: DeploymentContext,
    plan: ResourcePlan,
    outcome: ResourceOutcome,
    started: datetime,
    ended: datetime,
) -> dict[str, Any]:
    op_id = secrets.token_hex(8).upper()
    props: dict[str, Any] = {
        "provisioningOperation": "Create",
        "provisioningState": "Succeeded" if outcome.succeeded else "Failed",
        "timestamp": iso_timestamp(ended),
        "duration": iso_duration((ended - started).total_seconds()),
        "trackingId": str(uuid.uuid4()),
        "serviceRequestId": outcome.service_request_id or str(uuid.uuid4()),
        "statusCode": status_name(outcome.status_code),
        "targetResource": plan.target_resource(),
    }
    if not outcome.succeeded:
        props["statusMessage"] = {"status": "Failed", "error": dict(outcome.error or {})}
    return {"id": f"{ctx.deployment_id}/operations/{op_id}", "operationId": op_id, "properties": props}


def _failure_detail(plan: ResourcePlan, outcome: ResourceOutcome) -> dict[str, Any]:
    if outcome.provisioning_state:
        return {
            "code": "ResourceDeploymentFailure",
            "target": plan.id,
            "message": TERMINAL_STATE_MESSAGE.format(state=outcome.provisioning_state),
        }
    detail = dict(outcome.error or {"code": status_name(outcome.status_code), "message": "The request failed."})
    return detail


def _check_output(name: str, otype: str, value: Any) -> None:
    key = otype.lower()
    expected, check = _TYPE_CHECKS[key]
    if value is not None and not check(value):
        raise ExpressionError(
            f"The template output '{name}' is not valid: expected a value of type '{expected}' but the "
            f"value is of type '{type_name(value)}'."
        )


def run(validated: ValidatedTemplate, ctx: DeploymentContext, host: ResourceHost) -> DeploymentResult:
    """Deploy a validated template through the host, resources in dependency order."""
    started = ctx.now()
    index = _Index(validated.resources)
    ev = validated.evaluator.with_runtime(_Runtime(host, index))
    state: dict[str, str] = {}
    operations: list[dict[str, Any]] = []
    details: list[dict[str, Any]] = []
    written: list[ResourcePlan] = []
    for plan in validated.resources:
        if not plan.condition:
            state[plan.key] = "skipped"
            continue
        if any(state.get(dep) in ("failed", "blocked") for dep in plan.depends_on):
            state[plan.key] = "blocked"
            continue
        if plan.existing:
            state[plan.key] = "succeeded"
            continue
        iev = _instance_evaluator(ev, plan)
        try:
            view = _outer_view(plan.definition)
            body = iev.evaluate({k: v for k, v in view.items() if k not in NON_BODY_KEYS})
            if _is_inner_deployment(plan.definition) and "template" in plan.definition["properties"]:
                body["properties"]["template"] = plan.definition["properties"]["template"]
        except ExpressionError as exc:
            state[plan.key] = "failed"
            details.append(
                {
                    "code": exc.code,
                    "target": plan.id,
                    "message": f"Unable to process template language expressions for resource '{plan.id}'. "
                    f"'{exc.message}'",
                }
            )
            continue
        except ResourceLookupError as exc:
            state[plan.key] = "failed"
            details.append({**exc.to_dict(), "target": plan.id})
            continue
        op_started = ctx.now()
        outcome = host.put_resource(plan.id, plan.api_version or "", body)
        operations.append(_new_operation(ctx, plan, outcome, op_started, ctx.now()))
        if outcome.succeeded:
            state[plan.key] = "succeeded"
            written.append(plan)
        else:
            state[plan.key] = "failed"
            details.append(_failure_detail(plan, outcome))

    def result(state_name: str, outputs: Any, error: Any) -> DeploymentResult:
        ended = ctx.now()
        return DeploymentResult(
            provisioning_state=state_name,
            outputs=outputs,
            error=error,
            operations=operations,
            duration=iso_duration((ended - started).total_seconds()),
            timestamp=iso_timestamp(ended),
            output_resources=[{"id": p.id} for p in written] if state_name == "Succeeded" else [],
        )

    if details:
        return result(
            "Failed",
            None,
            {"code": "DeploymentFailed", "target": ctx.deployment_id, "message": DEPLOYMENT_FAILED_MESSAGE,
             "details": details},
        )  # fmt: skip
    outputs: dict[str, Any] = {}
    for name, spec in validated.outputs.items():
        try:
            if not ev.evaluate(spec.get("condition", True)):
                continue
            if isinstance(spec.get("copy"), dict):
                value: Any = ev.expand_copy({"name": name, **spec["copy"]})[1]
            else:
                value = ev.evaluate(spec.get("value"))
            _check_output(name, spec["type"], value)
        except (ExpressionError, ResourceLookupError) as exc:
            message = exc.message
            return result(
                "Failed",
                None,
                {
                    "code": "DeploymentOutputEvaluationFailed",
                    "target": ctx.deployment_id,
                    "message": f"Unable to evaluate template outputs: '{name}'. Please see error details and "
                    "deployment operations. Please see https://aka.ms/arm-common-errors for usage details.",
                    "details": [
                        {
                            "code": "DeploymentOutputEvaluationFailed",
                            "target": name,
                            "message": f"The template output '{name}' is not valid: {message}.",
                        }
                    ],
                },
            )
        otype = OUTPUT_TYPES[spec["type"].lower()]
        outputs[name] = {"type": otype} if otype.startswith("Secure") else {"type": otype, "value": value}
    return result("Succeeded", outputs, None)


def deploy(
    template: Any, parameters: dict[str, Any] | None, ctx: DeploymentContext, host: ResourceHost
) -> DeploymentResult:
    """``validate`` then ``run``; a validation error raises TemplateError before any resource is touched."""
    return run(validate(template, parameters, ctx), ctx, host)
