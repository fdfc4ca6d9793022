"""``update_ingress``: ``az containerapp ingress update`` / ``ingress traffic set`` / ``ingress traffic label``.

Ingress is application scope (https://learn.microsoft.com/azure/container-apps/ingress-overview): a change
of target port, exposure, transport or traffic never mints a revision, it updates the serving ones in
place. The whole ingress object is sent back, as the CLI does (a PATCH of ``configuration.ingress``
replaces it), with only the fields the lab names changed.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from typing import Any

from pytest_acalab.actions.apps import _clean, _get_app, _patch
from pytest_acalab.actions.base import Outcome, resource
from pytest_acalab.context import LabContext
from pytest_acalab.errors import ActionError
from pytest_acalab.labfile.model import Action

__all__ = ["ingress_body", "traffic_entries", "update_ingress"]

TRANSPORTS = {"auto": "Auto", "http": "Http", "http2": "Http2", "tcp": "Tcp"}
"""The CLI's lower-case transport words -> the ARM enum (``IngressTransportMethod``)."""


def traffic_entries(rules: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """The lab's ``traffic`` list -> ARM ``ingress.traffic``: each rule names ``revision`` (a name or
    ``latest``), a ``weight`` (default 0) and optionally a ``label`` (``<app>---<label>`` host)."""
    out: list[dict[str, Any]] = []
    for rule in rules:
        revision = str(rule.get("revision") or "")
        if not revision:
            raise ActionError(f"traffic rule {dict(rule)!r}: names no revision")
        entry: dict[str, Any] = ({"latestRevision": True} if revision == "latest"
                                 else {"revisionName": revision})
        entry["weight"] = int(rule.get("weight") or 0)
        if rule.get("label"):
            entry["label"] = str(rule["label"])
        out.append(entry)
    return out


def ingress_body(app: Mapping[str, Any], args: Mapping[str, Any]) -> dict[str, Any]:
    """The PATCH body: the app's ingress with ``target_port`` / ``external`` / ``transport`` / ``traffic``."""
    ingress = copy.deepcopy(((app.get("properties") or {}).get("configuration") or {}).get("ingress"))
    if not ingress:
        raise ActionError(f"app '{app.get('name')}' has no ingress to update")
    if args.get("target_port") is not None:
        ingress["targetPort"] = int(args["target_port"])
    if args.get("external") is not None:
        ingress["external"] = bool(args["external"])
    if args.get("transport") is not None:
        ingress["transport"] = TRANSPORTS[str(args["transport"]).lower()]
    if args.get("traffic") is not None:
        ingress["traffic"] = traffic_entries(args["traffic"])
    return {"properties": {"configuration": {"ingress": _clean(ingress)}}}


def update_ingress(ctx: LabContext, args: Mapping[str, Any], deadline: float, act: Action) -> Outcome:
    name = resource(ctx, args["app"]).name
    body = ingress_body(_get_app(ctx, name, deadline), args)
    changed = ", ".join(k for k in ("target_port", "external", "transport", "traffic") if args.get(k) is not None)
    outcome = _patch(ctx, name, body, deadline, f"ingress update of app '{name}' ({changed})")
    outcome.data["ingress"] = body["properties"]["configuration"]["ingress"]
    return outcome
