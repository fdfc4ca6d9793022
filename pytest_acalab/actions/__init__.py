"""Actions: the trigger and recovery steps of a lab (deploy, build, import, update, traffic, restart, wait).

``run_action(ctx, action)`` resolves ``${...}`` in the arguments, runs the action within its deadline,
records it in the journal and stores ``ctx.action_results[action.id]``. An action whose effect Azure
refused is recorded as ``Failed`` (evidence); one that could not run at all raises ``ActionError``.
"""

from __future__ import annotations

import importlib
import time
from typing import TYPE_CHECKING, Any

from pytest_acalab.actions.base import ActionError

if TYPE_CHECKING:
    from pytest_acalab.actions.base import ActionFn
    from pytest_acalab.labfile.model import Action
    from pytest_acalab.lifecycle.context import ActionResult, LabContext

__all__ = ["ACTIONS", "MODULES", "ActionError", "load_actions", "run_action"]

MODULES = ("deploy", "acr", "apps", "wait")
UNRESOLVED = ("check",)
"""Arguments kept as parsed objects (``wait_for``'s check resolves its own references when it runs)."""


def load_actions() -> dict[str, ActionFn]:
    for name in MODULES:
        importlib.import_module(f"pytest_acalab.actions.{name}")
    from pytest_acalab.actions.base import ACTIONS

    return ACTIONS


def run_action(ctx: LabContext, action: Action) -> ActionResult:
    from pytest_acalab.lifecycle.context import ActionResult

    actions = load_actions()
    if action.name not in actions:
        raise ActionError(f"action '{action.id}' (line {action.line}): unknown action '{action.name}' "
                          f"(known: {', '.join(sorted(actions))})")
    deadline = ctx.backend.scale_wait(action.timeout) if action.timeout else ctx.backend.deadlines.action
    try:
        args = {k: (v if k in UNRESOLVED else ctx.resolve(v)) for k, v in action.args.items()}
    except Exception as exc:  # LabError / KeyError: a ${...} that cannot be resolved
        raise ActionError(f"action '{action.id}' (line {action.line}): cannot resolve its arguments: {exc}") from exc
    started = time.monotonic()
    ctx.journal.record("action", action.id, event="start", action=action.name, args=_shown(args))
    try:
        outcome = actions[action.name](ctx, args, deadline, action)
    except ActionError as exc:
        elapsed = round(time.monotonic() - started, 3)
        ctx.journal.record("action", action.id, event="error", action=action.name, error=str(exc), duration=elapsed)
        raise ActionError(f"action '{action.id}' ({action.name}, line {action.line}) could not run: {exc}") from exc
    elapsed = round(time.monotonic() - started, 3)
    detail = ctx.scrubber.text(outcome.detail)
    result = ActionResult(id=action.id, name=action.name, status=outcome.status, detail=detail, duration=elapsed,
                          data=ctx.scrubber.data(outcome.data))
    ctx.action_results[action.id] = result
    ctx.journal.record("action", action.id, event="end", action=action.name, status=result.status,
                       detail=detail, duration=elapsed)
    return result


def _shown(args: dict[str, Any]) -> dict[str, Any]:
    """Arguments as the journal shows them: a parsed check by what it looks at, not its Python repr."""
    return {k: (v.describe() if k in UNRESOLVED and hasattr(v, "describe") else v) for k, v in args.items()}


def __getattr__(attr: str) -> Any:
    if attr == "ACTIONS":
        return load_actions()
    raise AttributeError(f"module 'pytest_acalab.actions' has no attribute '{attr}'")
