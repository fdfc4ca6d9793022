"""``ingress``: one field of the app's ingress configuration (``az containerapp ingress show``):
``targetPort``, ``external``, ``transport``, ``fqdn``, ``traffic`` (the list of rules, as Azure
returns them), or ``weights`` (``{revision name | "latest": weight}``, labels left out)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from pytest_acalab.context import LabContext
from pytest_acalab.probes.base import Observation, resource_name
from pytest_acalab.probes.revisions import fetch_app

__all__ = ["ingress", "traffic_weights"]


def traffic_weights(traffic: Sequence[Mapping[str, Any]]) -> dict[str, int]:
    """``{revision | "latest": weight}`` summed over the rules (a label's rule counts toward its revision)."""
    out: dict[str, int] = {}
    for rule in traffic:
        key = "latest" if rule.get("latestRevision") else str(rule.get("revisionName"))
        out[key] = out.get(key, 0) + int(rule.get("weight") or 0)
    return out


def ingress(ctx: LabContext, args: Mapping[str, Any], deadline: float) -> Observation:
    app_name = resource_name(ctx, args["app"])
    app = fetch_app(ctx, app_name, deadline)
    config = ((app.get("properties") or {}).get("configuration") or {}).get("ingress")
    if not config:
        return Observation(None, "ingress", f"app '{app_name}' has no ingress")
    field = str(args["field"])
    value = traffic_weights(config.get("traffic") or []) if field == "weights" else config.get(field)
    shown = {k: config.get(k) for k in ("external", "targetPort", "transport")}
    return Observation(value, "ingress", f"app '{app_name}' ingress {shown}, traffic {config.get('traffic')}",
                       {"observed": {f"ingress {field}": value}})
