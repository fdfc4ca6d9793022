"""Revision probes: ``revision_health``, ``revision_state``, ``revisions``.

"Latest" means newest by ``createdTime``: the Revisions - List API documents no order
(https://learn.microsoft.com/rest/api/containerapps/container-apps-revisions/list-revisions).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from pytest_acalab.context import LabContext
from pytest_acalab.probes.base import Observation, fetch, parse_timestamp, resource_name

__all__ = [
    "REVISION_FIELDS",
    "fetch_app",
    "fetch_revisions",
    "latest_revision",
    "no_revision_excerpt",
    "revision_field",
    "revision_summary",
    "sort_revisions",
]

REVISION_FIELDS = ("healthState", "runningState", "provisioningState", "runningStateDetails",
                   "provisioningError", "active", "trafficWeight", "replicas")
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


# ---- parsing (pure) ------------------------------------------------------------------------------------

def _props(item: Mapping[str, Any]) -> Mapping[str, Any]:
    """A revision's fields: under ``properties`` in REST bodies, flat in ``az ... --query`` projections."""
    props = item.get("properties")
    return props if isinstance(props, Mapping) else item


def sort_revisions(revisions: Sequence[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """Oldest first by ``createdTime`` (name breaks ties; a missing time sorts first)."""
    return sorted(revisions, key=lambda r: (parse_timestamp(_props(r).get("createdTime")) or _EPOCH,
                                            str(r.get("name") or "")))


def latest_revision(revisions: Sequence[Mapping[str, Any]], prefer: str | None = None) -> Mapping[str, Any] | None:
    """The newest revision by ``createdTime``, or None when there is none.

    ``createdTime`` has one-second precision, so two revisions made in the same second tie; ``prefer``
    (the app's ``latestRevisionName``) breaks the tie the way Azure itself names the latest one.
    """
    ordered = sorted(revisions, key=lambda r: (parse_timestamp(_props(r).get("createdTime")) or _EPOCH,
                                               prefer is not None and r.get("name") == prefer,
                                               str(r.get("name") or "")))
    return ordered[-1] if ordered else None


def has_tie_at_top(revisions: Sequence[Mapping[str, Any]]) -> bool:
    times = [parse_timestamp(_props(r).get("createdTime")) for r in revisions]
    newest = max((t for t in times if t is not None), default=None)
    return newest is not None and times.count(newest) > 1


def latest_of_app(ctx: LabContext, app_name: str, revisions: Sequence[Mapping[str, Any]],
                  deadline: float) -> Mapping[str, Any] | None:
    """``latest_revision``, asking the app for its latestRevisionName only when createdTime ties."""
    prefer = None
    if has_tie_at_top(revisions):
        app = fetch_app(ctx, app_name, deadline) or {}
        prefer = (app.get("properties") or {}).get("latestRevisionName")
    return latest_revision(revisions, prefer)


def revision_field(revision: Mapping[str, Any], field: str) -> Any:
    return _props(revision).get(field)


def revision_summary(revision: Mapping[str, Any]) -> str:
    props = _props(revision)
    parts = [f"{k}={props[k]}" for k in ("healthState", "runningState", "provisioningState", "active",
                                          "trafficWeight", "replicas") if k in props]
    for k in ("runningStateDetails", "provisioningError"):
        if props.get(k):
            parts.append(f"{k}={props[k]!r}")
    return f"revision {revision.get('name')} (created {props.get('createdTime')}): " + ", ".join(parts)


def revision_states(revision: Mapping[str, Any]) -> dict[str, Any]:
    """The states a report's timeline draws as lanes (``Observation.detail["observed"]``)."""
    props = _props(revision)
    return {"revision health": props.get("healthState"), "running state": props.get("runningState"),
            "revision provisioning": props.get("provisioningState"), "replicas": props.get("replicas")}


def no_revision_excerpt(app_name: str, app: Mapping[str, Any] | None) -> str:
    """Case A evidence: no revision, and what the app itself says."""
    if app is None:
        return f"app '{app_name}' has no revision"
    props = app.get("properties") or {}
    return (f"app '{app_name}' has no revision (app provisioningState: {props.get('provisioningState')}, "
            f"latestRevisionName: {props.get('latestRevisionName')})")


# ---- fetching (SDK) ------------------------------------------------------------------------------------

def fetch_app(ctx: LabContext, app_name: str, deadline: float) -> dict[str, Any]:
    """The container app as Azure sends it (REST JSON, camelCase)."""
    return fetch(ctx, lambda: ctx.clients.apps.container_apps.get(ctx.resource_group, app_name).as_dict(),
                 what=f"GET container app '{app_name}'", deadline=deadline)


def fetch_revisions(ctx: LabContext, app_name: str, deadline: float) -> list[dict[str, Any]]:
    def run() -> list[dict[str, Any]]:
        pager = ctx.clients.apps.container_apps_revisions.list_revisions(ctx.resource_group, app_name)
        return [item.as_dict() for item in pager]

    return fetch(ctx, run, what=f"list revisions of container app '{app_name}'", deadline=deadline)


# ---- probes --------------------------------------------------------------------------------------------

def revision_health(ctx: LabContext, args: Mapping[str, Any], deadline: float) -> Observation:
    app_name = resource_name(ctx, args["app"])
    revisions = fetch_revisions(ctx, app_name, deadline)
    latest = latest_of_app(ctx, app_name, revisions, deadline)
    if latest is None:
        app = fetch_app(ctx, app_name, deadline)
        app_state = (app.get("properties") or {}).get("provisioningState")
        return Observation("NoRevision", "revisions", no_revision_excerpt(app_name, app),
                           {"app_provisioning_state": app_state,
                            "observed": {"revision health": "NoRevision", "app provisioning": app_state}})
    return Observation(revision_field(latest, "healthState"), "revisions", revision_summary(latest),
                       {"revision": latest.get("name"), "revisions": len(revisions),
                        "observed": revision_states(latest)})


def revision_state(ctx: LabContext, args: Mapping[str, Any], deadline: float) -> Observation:
    app_name = resource_name(ctx, args["app"])
    field = args["field"]
    wanted = args.get("revision") or "latest"
    revisions = fetch_revisions(ctx, app_name, deadline)
    if wanted == "latest":
        chosen = latest_of_app(ctx, app_name, revisions, deadline)
        if chosen is None:
            app = fetch_app(ctx, app_name, deadline)
            return Observation(None, "revisions", no_revision_excerpt(app_name, app))
    else:
        chosen = next((r for r in revisions if r.get("name") == wanted), None)
        if chosen is None:
            names = ", ".join(str(r.get("name")) for r in sort_revisions(revisions)) or "none"
            return Observation(None, "revisions", f"app '{app_name}' has no revision '{wanted}' (has: {names})")
    return Observation(revision_field(chosen, field), "revisions", revision_summary(chosen),
                       {"revision": chosen.get("name"), "observed": revision_states(chosen)})


def select_revisions(revisions: Sequence[Mapping[str, Any]], args: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    """The revisions ``active`` (true/false), ``running_state`` and ``health_state`` (a state or a list) keep."""
    def wanted(value: Any, allowed: Any) -> bool:
        return allowed is None or value in (allowed if isinstance(allowed, list) else [allowed])

    return [r for r in sort_revisions(revisions)
            if (args.get("active") is None or bool(revision_field(r, "active")) == args["active"])
            and wanted(revision_field(r, "runningState"), args.get("running_state"))
            and wanted(revision_field(r, "healthState"), args.get("health_state"))]


def revisions_probe(ctx: LabContext, args: Mapping[str, Any], deadline: float) -> Observation:
    app_name = resource_name(ctx, args["app"])
    every = fetch_revisions(ctx, app_name, deadline)
    revisions = select_revisions(every, args)
    names = [str(r.get("name")) for r in revisions]
    kept = {k: args[k] for k in ("active", "running_state", "health_state") if k in args}
    head = f"{len(revisions)} of {len(every)} revisions ({kept}): " if kept else ""
    excerpt = "; ".join(revision_summary(r) for r in revisions[-5:]) or f"app '{app_name}' has no such revision"
    return Observation(names, "revisions", head + excerpt)
