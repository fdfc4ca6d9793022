"""Container app probes: ``app_state`` and ``app_image``."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pytest_acalab.context import LabContext
from pytest_acalab.probes.base import Observation, resource_name
from pytest_acalab.probes.revisions import fetch_app

__all__ = ["app_field", "app_from_cli_projection", "app_summary", "container_image"]


# ---- parsing (pure) ------------------------------------------------------------------------------------

def app_field(app: Mapping[str, Any], path: str) -> Any:
    """A field under ``properties`` by dotted path (``configuration.ingress.fqdn``); None when absent.

    Absent and null are the same answer: after a failed create Azure omits ``eventStreamEndpoint``
    and sends ``latestRevisionName: null`` (captured in tests/contract/data/acr-pull-failure-*.json).
    """
    cur: Any = app.get("properties") or {}
    for part in path.split("."):
        if isinstance(cur, Mapping):
            cur = cur.get(part)
        elif isinstance(cur, list) and part.isdigit() and int(part) < len(cur):
            cur = cur[int(part)]
        else:
            return None
    return cur


def app_from_cli_projection(shown: Mapping[str, Any]) -> dict[str, Any]:
    """The ARM shape of an ``az containerapp show --query "{name: name, image: ..., ingress: ...}"`` projection.

    Lab guides capture that flattened form (``image`` = the first container's image, ``ingress`` =
    ``configuration.ingress``, every other key a ``properties`` field); in the ARM shape the probes'
    own parsers (``container_image``, ``app_field``, ``ingress_host``) read it as they read a GET.
    """
    if not isinstance(shown, Mapping) or "properties" in shown:
        raise ValueError("expected a flattened `az containerapp show --query` projection (no 'properties' key), "
                         f"got {type(shown).__name__} with keys {sorted(shown) if isinstance(shown, Mapping) else []}")
    props: dict[str, Any] = {k: v for k, v in shown.items() if k not in ("name", "image", "ingress")}
    if "ingress" in shown:
        props["configuration"] = {"ingress": shown["ingress"]}
    if "image" in shown:
        props["template"] = {"containers": [{"image": shown["image"]}]}
    return {"name": shown.get("name"), "properties": props}


def app_summary(app: Mapping[str, Any]) -> str:
    props = app.get("properties") or {}
    keys = ("provisioningState", "runningStatus", "latestRevisionName", "latestReadyRevisionName",
            "latestRevisionFqdn")
    shown = ", ".join(f"{k}={props.get(k)}" for k in keys)
    stream = "present" if props.get("eventStreamEndpoint") else "absent"
    return f"app {app.get('name')}: {shown}, eventStreamEndpoint {stream}"


def app_states(app: Mapping[str, Any]) -> dict[str, Any]:
    """The app's states a report's timeline draws as lanes (``Observation.detail["observed"]``)."""
    props = app.get("properties") or {}
    return {"app provisioning": props.get("provisioningState"), "app running": props.get("runningStatus")}


def container_image(app: Mapping[str, Any], container: str | None = None) -> tuple[Any, str]:
    """(image, explanation) of the named container, or of the first one."""
    containers = app_field(app, "template.containers") or []
    if not containers:
        return None, f"app {app.get('name')} has no containers in its template"
    if container is None:
        chosen = containers[0]
    else:
        chosen = next((c for c in containers if c.get("name") == container), None)
        if chosen is None:
            names = ", ".join(str(c.get("name")) for c in containers)
            return None, f"app {app.get('name')} has no container '{container}' (has: {names})"
    return chosen.get("image"), f"container '{chosen.get('name')}' image {chosen.get('image')}"


# ---- probes --------------------------------------------------------------------------------------------

def app_state(ctx: LabContext, args: Mapping[str, Any], deadline: float) -> Observation:
    app = fetch_app(ctx, resource_name(ctx, args["app"]), deadline)
    field = args["field"]
    value = app_field(app, field)
    return Observation(value, "container_app", app_summary(app), {"field": field, "observed": app_states(app)})


def app_image(ctx: LabContext, args: Mapping[str, Any], deadline: float) -> Observation:
    app = fetch_app(ctx, resource_name(ctx, args["app"]), deadline)
    image, why = container_image(app, args.get("container"))
    return Observation(image, "container_app", f"{why}; {app_summary(app)}", {"observed": app_states(app)})
