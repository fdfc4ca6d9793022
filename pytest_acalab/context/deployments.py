"""Deploying a lab's ARM template, and reading back what Azure reports about it."""

from __future__ import annotations

import json
import time
from typing import Any

from pytest_acalab.context.lab import LabContext, retried
from pytest_acalab.errors import LabError
from pytest_acalab.polling import is_transient, poll


def template_body(ctx: LabContext, overrides: dict[str, Any] | None = None) -> dict[str, Any]:
    path = ctx.lab.infra.template
    template = ctx.template
    if template is None:
        try:
            template = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise LabError(f"{path}: cannot read the ARM template: {exc}") from None
    params = {**ctx.parameters, **(overrides or {})}
    declared = template.get("parameters") or {}
    values = {k: {"value": v} for k, v in params.items() if k in declared}
    if "location" in declared and "location" not in params:
        values["location"] = {"value": ctx.location}
    return {"properties": {"mode": "Incremental", "template": template, "parameters": values}}


def deploy_template(ctx: LabContext, overrides: dict[str, Any] | None = None,
                    name: str | None = None) -> dict[str, Any]:
    """Deploy and wait; never raises for a *failed deployment* (that is evidence), only when it cannot run.

    Returns ``{"state", "error", "outputs", "duration", "name"}`` and stores it on the context.
    """
    # the Azure SDK stack loads when a lab runs, not at collection
    from azure.core.exceptions import HttpResponseError


    name = name or ctx.deployment_name
    body = template_body(ctx, overrides)
    started = time.monotonic()
    client = ctx.clients.deployments.deployments
    limit = ctx.backend.deadlines.deployment
    try:  # a PUT: safe to send again after throttling or a dropped connection
        poller = retried(ctx.backend, lambda: client.begin_create_or_update(ctx.resource_group, name, body),
                         what=f"PUT deployment '{name}'")
    except HttpResponseError as exc:
        # refused up front (invalid template, validation): the lab cannot run as written
        code = getattr(getattr(exc, "error", None), "code", None) or exc.status_code
        raise LabError(f"{ctx.lab.infra.template}: the deployment was refused: ({code}) "
                       f"{getattr(getattr(exc, 'error', None), 'message', None) or exc}") from None
    error: dict[str, Any] | None = None
    done = False
    try:
        poller.result(timeout=limit)
        done = poller.done()
    except Exception as exc:
        if is_transient(exc):  # the *polling* failed, not the deployment: read its state from now on
            done = False
        elif isinstance(exc, HttpResponseError):
            err = getattr(exc, "error", None)
            error = {"code": getattr(err, "code", None) or str(exc.status_code),
                     "message": getattr(err, "message", None) or str(exc)}
            done = True
        else:
            raise
    if not done:
        done = _wait_terminal(ctx, name, limit - (time.monotonic() - started))
    if not done:
        raise LabError(f"deployment '{name}' did not finish within {limit:.0f}s")
    deployment = retried(ctx.backend, lambda: client.get(ctx.resource_group, name), what=f"GET deployment '{name}'")
    props = deployment.properties
    outcome = {
        "name": name,
        "state": str(getattr(props.provisioning_state, "value", props.provisioning_state)),
        "error": error or (props.error.as_dict() if props.error else None),
        "outputs": props.outputs or {},
        "duration": round(time.monotonic() - started, 3),
    }
    ctx.deployment = outcome
    ctx.outputs = dict(props.outputs or {})
    ctx.journal.record("deploy", name, state=outcome["state"], duration=outcome["duration"],
                       error=outcome["error"])
    return outcome


TERMINAL = {"succeeded", "failed", "canceled"}


def _wait_terminal(ctx: LabContext, name: str, remaining: float) -> bool:
    """Poll the deployment itself until it is Succeeded, Failed or Canceled; False when time runs out."""

    client = ctx.clients.deployments.deployments
    ends = time.monotonic() + max(remaining, 0.0)

    def terminal() -> bool:
        dep = retried(ctx.backend, lambda: client.get(ctx.resource_group, name),
                      deadline=max(ends - time.monotonic(), 0.5), what=f"GET deployment '{name}'")
        state = getattr(dep.properties.provisioning_state, "value", dep.properties.provisioning_state)
        return str(state).lower() in TERMINAL

    return bool(poll(terminal, until=bool, deadline=remaining,
                     interval=max(ctx.backend.deadlines.poll_interval, 0.02)))
