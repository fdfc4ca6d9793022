"""``image_tag``: whether a tag exists in a registry repository ("present" / "absent")."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pytest_acalab.context import LabContext
from pytest_acalab.errors import LabError, ProbeError
from pytest_acalab.probes.base import Observation, fetch

__all__ = ["login_server"]


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
