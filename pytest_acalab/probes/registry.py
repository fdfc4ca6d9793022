"""``image_tag``: whether a tag exists in a registry repository ("present" / "absent")."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pytest_acalab.context import LabContext
from pytest_acalab.errors import LabError, ProbeError
from pytest_acalab.probes.base import Observation, fetch

__all__ = ["login_server", "registry_field"]


def login_server(ctx: LabContext, alias: str) -> str:
    try:
        return str(ctx.resource(alias).field("loginServer"))
    except (LabError, KeyError) as exc:
        raise ProbeError(f"registry '{alias}': {exc}") from exc


def image_tag(ctx: LabContext, args: Mapping[str, Any], deadline: float) -> Observation:
    # the Azure SDK stack loads when a lab runs, not at collection
    from azure.core.exceptions import ResourceNotFoundError

    server = login_server(ctx, args["registry"])
    repository, tag = str(args["repository"]), str(args["tag"])
    client = ctx.clients.registry_data(server)
    try:
        props = fetch(ctx, lambda: client.get_tag_properties(repository, tag),
                      what=f"GET tag {server}/{repository}:{tag}", deadline=deadline,
                      keep=(ResourceNotFoundError,), absent_ok=True)
    except ResourceNotFoundError as exc:
        said = (getattr(exc, "message", None) or str(exc)).strip().splitlines()
        return Observation("absent", "registry", f"{server}/{repository}:{tag} not found (404: "
                           f"{said[0] if said else 'no body'})")
    digest = getattr(props, "digest", None)
    return Observation("present", "registry", f"{server}/{repository}:{tag} present ({digest})",
                       {"digest": digest})


def registry_field(body: Mapping[str, Any], path: str) -> Any:
    """A registry field by dotted path, under ``properties`` first (``adminUserEnabled``), else from the top
    (``sku.name``); None when absent."""
    for root in (body.get("properties") or {}, body):
        cur: Any = root
        for part in path.split("."):
            if isinstance(cur, Mapping) and part in cur:
                cur = cur[part]
            elif isinstance(cur, list) and part.isdigit() and int(part) < len(cur):
                cur = cur[int(part)]
            else:
                break
        else:
            return cur
    return None


def registry_state(ctx: LabContext, args: Mapping[str, Any], deadline: float) -> Observation:
    """A registry property read now (``registries.get``): ``adminUserEnabled``, ``sku.name``, ..."""
    alias = args["registry"]
    try:
        name = ctx.resource(alias).name
    except LabError as exc:
        raise ProbeError(f"registry '{alias}': {exc}") from exc
    body = fetch(ctx, lambda: ctx.clients.registries.registries.get(ctx.resource_group, name).as_dict(),
                 what=f"GET registry '{name}'", deadline=deadline)
    field = str(args["field"])
    value = registry_field(body, field)
    props = body.get("properties") or {}
    summary = (f"registry {name}: adminUserEnabled={props.get('adminUserEnabled')}, "
               f"sku={(body.get('sku') or {}).get('name')}, provisioningState={props.get('provisioningState')}")
    return Observation(value, "registry (ARM)", summary, {"field": field})

