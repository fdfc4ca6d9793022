"""``scale_app``: ``az containerapp update --min-replicas/--max-replicas``.

Scale lives in the revision template (``template.scale``), so Azure mints a new revision for it
(https://learn.microsoft.com/azure/container-apps/revisions#revision-scope-changes). The rules
(``scale.rules``) are kept as they are; only the bounds the lab names change.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from pytest_acalab.actions.apps import _get_app, _patch
from pytest_acalab.actions.base import Outcome, resource
from pytest_acalab.context import LabContext
from pytest_acalab.errors import ActionError
from pytest_acalab.labfile.model import Action

__all__ = ["scale_app", "scale_body"]


def scale_body(app: Mapping[str, Any], min_replicas: int | None, max_replicas: int | None) -> dict[str, Any]:
    """The PATCH body: the app's template with new ``scale`` bounds (the whole template, as the CLI sends)."""
    template = copy.deepcopy(((app.get("properties") or {}).get("template")) or {})
    if not template.get("containers"):
        raise ActionError(f"app '{app.get('name')}' has no template to scale")
    scale = dict(template.get("scale") or {})
    if min_replicas is not None:
        scale["minReplicas"] = int(min_replicas)
    if max_replicas is not None:
        scale["maxReplicas"] = int(max_replicas)
    low, high = scale.get("minReplicas"), scale.get("maxReplicas")
    if low is not None and high is not None and low > high:
        raise ActionError(f"min_replicas {low} is above max_replicas {high}")
    template["scale"] = scale
    return {"properties": {"template": {k: v for k, v in template.items() if v is not None}}}


def scale_app(ctx: LabContext, args: Mapping[str, Any], deadline: float, act: Action) -> Outcome:
    name = resource(ctx, args["app"]).name
    body = scale_body(_get_app(ctx, name, deadline), args.get("min_replicas"), args.get("max_replicas"))
    scale = body["properties"]["template"]["scale"]
    return _patch(ctx, name, body, deadline, f"scale of app '{name}' (min {scale.get('minReplicas')}, "
                                            f"max {scale.get('maxReplicas')})")
