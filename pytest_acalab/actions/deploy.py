"""``deploy``: redeploy the lab template, with parameter overrides."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pytest_acalab.actions.base import Outcome
from pytest_acalab.context import LabContext
from pytest_acalab.context.deployments import deploy_template
from pytest_acalab.errors import ActionError, LabError
from pytest_acalab.labfile.model import Action


def deploy(ctx: LabContext, args: Mapping[str, Any], deadline: float, act: Action) -> Outcome:
    """Deploy under ``<lab deployment>-<action id>``; the lab's own deployment record stays as it was."""

    name = f"{ctx.deployment_name}-{act.id}"[:64]
    lab_deployment, lab_outputs = dict(ctx.deployment), dict(ctx.outputs)
    try:
        outcome = deploy_template(ctx, dict(args.get("parameters") or {}), name=name)
    except LabError as exc:
        if "was refused" in str(exc):  # Azure answered: the template or its parameters were rejected
            return Outcome.failed(str(exc), deployment=name)
        raise ActionError(str(exc)) from exc
    finally:
        ctx.deployment = lab_deployment
    ctx.outputs = {**lab_outputs, **(outcome.get("outputs") or {})}
    ctx.refresh_resources()
    state = str(getattr(outcome["state"], "value", outcome["state"]))
    error = outcome.get("error") or {}
    detail = f"deployment {name}: {state}"
    if error:
        detail += f" ({error.get('code')}) {error.get('message')}"
    data = {"deployment": name, "state": state, "error": error or None}
    return Outcome("Succeeded" if state == "Succeeded" else "Failed", detail, data)
