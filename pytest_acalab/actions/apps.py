"""Container app actions: ``update_app`` (PATCH, a new revision), ``set_traffic``, ``restart_revision``.

A PATCH whose long-running operation fails (Azure validates the image when the reference changes:
case A on update) is a ``Failed`` result carrying Azure's message, not an exception.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from pytest_acalab.actions.base import Outcome, resource, sdk
from pytest_acalab.context import LabContext
from pytest_acalab.errors import ActionError
from pytest_acalab.labfile.model import Action
from pytest_acalab.probes.revisions import latest_of_app

__all__ = ["traffic_rules", "update_envelope"]


# ---- request bodies (pure) -----------------------------------------------------------------------------

def update_envelope(app: Mapping[str, Any], *, image: str | None = None, env: Mapping[str, Any] | None = None,
                    target_port: int | None = None, probes: list[Any] | None = None,
                    resources: Mapping[str, Any] | None = None,
                    revision_suffix: str | None = None) -> dict[str, Any]:
    """The PATCH body changing the first container (image, env, probes, resources), the revision suffix,
    and/or the ingress target port. ``env`` values are text, or ``{secret_ref: <secret>}`` for a secret
    reference; ``resources`` holds ``cpu`` (cores) and/or ``memory`` (``"1Gi"``), the others kept.

    The whole container list and ingress object are sent, as ``az containerapp update`` does: a PATCH of
    ``template.containers`` replaces the list.
    """
    props = app.get("properties") or {}
    body: dict[str, Any] = {"properties": {}}
    if image is not None or env is not None or probes is not None or resources is not None \
            or revision_suffix is not None:
        template = copy.deepcopy(props.get("template") or {})
        containers = template.get("containers") or []
        if not containers:
            raise ActionError(f"app {app.get('name')} has no container to update")
        first = containers[0]
        if image is not None:
            first["image"] = image
        if env is not None:
            first["env"] = _set_env(first.get("env") or [], env)
        if resources is not None:
            merged = dict(first.get("resources") or {})
            if "cpu" in resources:
                merged["cpu"] = float(resources["cpu"])
            if "memory" in resources:
                merged["memory"] = str(resources["memory"])
            first["resources"] = {k: v for k, v in merged.items() if k in ("cpu", "memory")}
        if probes is not None:
            first["probes"] = list(probes)
        if revision_suffix is not None:
            template["revisionSuffix"] = revision_suffix
        body["properties"]["template"] = {k: v for k, v in template.items() if v is not None}
    if target_port is not None:
        ingress = copy.deepcopy((props.get("configuration") or {}).get("ingress"))
        if not ingress:
            raise ActionError(f"app {app.get('name')} has no ingress: cannot set its target port")
        ingress["targetPort"] = int(target_port)
        body["properties"]["configuration"] = {"ingress": _clean(ingress)}
    return body


def traffic_rules(weights: Any) -> list[dict[str, Any]]:
    """``latest`` or ``{revision|latest: percent}`` -> the ingress ``traffic`` list."""
    if weights == "latest":
        return [{"latestRevision": True, "weight": 100}]
    if not isinstance(weights, Mapping):
        raise ActionError(f"weights: expected 'latest' or a mapping of revision to percent; got {weights!r}")
    rules: list[dict[str, Any]] = []
    for revision, weight in weights.items():
        if revision == "latest":
            rules.append({"latestRevision": True, "weight": int(weight)})
        else:
            rules.append({"revisionName": str(revision), "weight": int(weight)})
    return rules


def _set_env(current: list[dict[str, Any]], env: Mapping[str, Any]) -> list[dict[str, Any]]:
    """``current`` with each variable of ``env`` replaced where it stands (names compared case-insensitively) or
    appended, as ``az containerapp update --set-env-vars`` does: a variable keeps its place in the list, and
    its source switches between a literal ``value`` and a ``secretRef`` without the other key left behind."""
    merged = [dict(e) for e in current]
    for name, value in env.items():
        var = _env_var(str(name), value)
        at = next((i for i, e in enumerate(merged) if str(e.get("name", "")).lower() == var["name"].lower()), None)
        if at is None:
            merged.append(var)
        else:
            merged[at] = {"name": merged[at].get("name", var["name"]), **{k: v for k, v in var.items() if k != "name"}}
    return merged


def _env_var(name: str, value: Any) -> dict[str, Any]:
    if isinstance(value, Mapping):
        return {"name": name, "secretRef": str(value["secret_ref"])}
    return {"name": name, "value": _text(value)}


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _clean(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {k: _clean(v) for k, v in value.items() if v is not None and k != "fqdn"}
    if isinstance(value, list):
        return [_clean(v) for v in value]
    return value


# ---- SDK -----------------------------------------------------------------------------------------------

def _get_app(ctx: LabContext, name: str, deadline: float) -> dict[str, Any]:
    return sdk(ctx, lambda: ctx.clients.apps.container_apps.get(ctx.resource_group, name).as_dict(),
               what=f"GET container app '{name}'", deadline=deadline)


def _patch(ctx: LabContext, name: str, body: dict[str, Any], deadline: float, what: str) -> Outcome:
    # the Azure SDK stack loads when a lab runs, not at collection
    from azure.core.exceptions import HttpResponseError

    try:
        poller = sdk(ctx, lambda: ctx.clients.apps.container_apps.begin_update(ctx.resource_group, name, body),
                     what=f"PATCH container app '{name}'", deadline=deadline, keep=(HttpResponseError,))
        poller.result(timeout=deadline)
    except HttpResponseError as exc:
        if exc.status_code in (401, 403) or (exc.status_code or 0) >= 500 and not _lro_failure(exc):
            raise ActionError(f"PATCH container app '{name}': {exc}") from exc
        return Outcome.failed(f"{what} failed: {_arm_message(exc)}")
    if not poller.done():
        return Outcome.failed(f"{what} did not finish within {deadline:g}s")
    app = _get_app(ctx, name, deadline)
    props = app.get("properties") or {}
    state = props.get("provisioningState")
    data = {"latestRevisionName": props.get("latestRevisionName"), "provisioningState": state}
    if state == "Failed":
        return Outcome.failed(f"{what}: app provisioningState Failed", **data)
    return Outcome.succeeded(f"{what}: latest revision {props.get('latestRevisionName')}", **data)


def _lro_failure(exc: Any) -> bool:
    """The poller reports a failed operation as an HttpResponseError with the operation's error code."""
    return getattr(getattr(exc, "error", None), "code", None) not in (None, "InternalServerError")


def _arm_message(exc: Any) -> str:
    err = getattr(exc, "error", None)
    code, message = getattr(err, "code", None), getattr(err, "message", None)
    if message:
        return f"({code}) {message}" if code else str(message)
    return str(exc).splitlines()[0]


def update_app(ctx: LabContext, args: Mapping[str, Any], deadline: float, act: Action) -> Outcome:
    name = resource(ctx, args["app"]).name
    app = _get_app(ctx, name, deadline)
    body = update_envelope(app, image=args.get("image"), env=args.get("env"), target_port=args.get("target_port"),
                           probes=args.get("probes"), resources=args.get("resources"),
                           revision_suffix=args.get("revision_suffix"))
    changed = ", ".join(k for k in ("image", "env", "target_port", "probes", "resources", "revision_suffix")
                        if args.get(k) is not None)
    return _patch(ctx, name, body, deadline, f"update of app '{name}' ({changed})")


def set_traffic(ctx: LabContext, args: Mapping[str, Any], deadline: float, act: Action) -> Outcome:
    name = resource(ctx, args["app"]).name
    app = _get_app(ctx, name, deadline)
    ingress = copy.deepcopy(((app.get("properties") or {}).get("configuration") or {}).get("ingress"))
    if not ingress:
        return Outcome.failed(f"app '{name}' has no ingress: no traffic to split")
    ingress["traffic"] = traffic_rules(args["weights"])
    body = {"properties": {"configuration": {"ingress": _clean(ingress)}}}
    return _patch(ctx, name, body, deadline, f"traffic of app '{name}'")


def restart_revision(ctx: LabContext, args: Mapping[str, Any], deadline: float, act: Action) -> Outcome:
    # the Azure SDK stack loads when a lab runs, not at collection
    from azure.core.exceptions import HttpResponseError


    name = resource(ctx, args["app"]).name
    revisions_api = ctx.clients.apps.container_apps_revisions
    revision = args.get("revision") or "latest"
    if revision == "latest":
        revisions = sdk(ctx, lambda: [r.as_dict() for r in revisions_api.list_revisions(ctx.resource_group, name)],
                        what=f"list revisions of app '{name}'", deadline=deadline)
        latest = latest_of_app(ctx, name, revisions, deadline)
        if latest is None:
            return Outcome.failed(f"app '{name}' has no revision to restart")
        revision = str(latest.get("name"))
    try:
        sdk(ctx, lambda: revisions_api.restart_revision(ctx.resource_group, name, revision),
            what=f"restart revision '{revision}'", deadline=deadline, keep=(HttpResponseError,))
    except HttpResponseError as exc:
        if exc.status_code in (401, 403) or (exc.status_code or 0) >= 500:
            raise ActionError(f"restart revision '{revision}': {exc}") from exc
        return Outcome.failed(f"restart of revision '{revision}' failed: {_arm_message(exc)}", revision=revision)
    return Outcome.succeeded(f"restarted revision '{revision}'", revision=revision)
