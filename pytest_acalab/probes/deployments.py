"""``deployment_errors``: the error messages of a deployment and of its operations.

After a failed deployment the useful message (e.g. MANIFEST_UNKNOWN) is only in the operations'
``statusMessage.error``; the deployment's own error just says an operation failed (live capture:
github.com/yeongseon/azure-container-apps-practical-guide, labs/acr-pull-failure/evidence/).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

from pytest_acalab.context import LabContext
from pytest_acalab.probes.base import Observation, fetch

__all__ = ["error_messages", "operation_errors"]


# ---- parsing (pure) ------------------------------------------------------------------------------------

def error_messages(error: Any) -> list[str]:
    """``"<code>: <message>"`` for an ARM error object and every nested ``details`` entry."""
    if error is None:
        return []
    if isinstance(error, str):
        text = error.strip()
        if text.startswith("{"):
            try:
                return error_messages(json.loads(text))
            except ValueError:
                pass
        return [text] if text else []
    if not isinstance(error, Mapping):
        return [str(error)]
    if "error" in error and isinstance(error["error"], Mapping | str):  # {"error": {...}} envelope
        return error_messages(error["error"])
    out = []
    code, message = error.get("code"), error.get("message")
    if message:
        out.append(f"{code}: {message}" if code else str(message))
    for detail in error.get("details") or []:
        out.extend(error_messages(detail))
    return out


def operation_errors(operations: Iterable[Mapping[str, Any]]) -> list[str]:
    """Error messages of failed operations (REST shape, or the flat ``az --query`` projection)."""
    out: list[str] = []
    for op in operations:
        nested = op.get("properties")
        props: Mapping[str, Any] = nested if isinstance(nested, Mapping) else op
        status = props.get("statusMessage")
        if status is None:
            continue
        if isinstance(status, Mapping) and "error" in status:
            out.extend(error_messages(status["error"]))
        elif props.get("provisioningState") == "Failed" or (isinstance(status, Mapping) and status.get("code")):
            out.extend(error_messages(status))
    return _unique(out)


def _unique(items: Iterable[str]) -> list[str]:
    seen: dict[str, None] = {}
    for item in items:
        seen.setdefault(item, None)
    return list(seen)


# ---- probe ---------------------------------------------------------------------------------------------

def deployment_errors(ctx: LabContext, args: Mapping[str, Any], deadline: float) -> Observation:
    name = args.get("deployment") or ctx.deployment.get("name") or ctx.deployment_name
    client = ctx.clients.deployments

    def ops() -> list[dict[str, Any]]:
        return [op.as_dict() for op in client.deployment_operations.list(ctx.resource_group, name)]

    operations = fetch(ctx, ops, what=f"list operations of deployment '{name}'", deadline=deadline)
    messages = operation_errors(operations)
    if name == (ctx.deployment.get("name") or ctx.deployment_name) and ctx.deployment.get("error"):
        own = error_messages(ctx.deployment["error"])
    else:
        deployment = fetch(ctx, lambda: client.deployments.get(ctx.resource_group, name).as_dict(),
                           what=f"GET deployment '{name}'", deadline=deadline)
        own = error_messages((deployment.get("properties") or {}).get("error"))
    values = _unique([*messages, *own])
    failed = sum(1 for op in operations
                 if ((op.get("properties") or op).get("provisioningState") == "Failed"))
    head = f"deployment '{name}': {len(operations)} operations, {failed} failed"
    return Observation(values, "deployment_operations", head + (": " + " | ".join(values) if values else ""))
