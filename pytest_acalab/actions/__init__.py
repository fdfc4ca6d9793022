"""Actions: the trigger and recovery steps of a lab (deploy, build, import, update, traffic, restart, wait).

``run_action(ctx, action)`` resolves ``${...}`` in the arguments, runs the action of the lab's vocabulary
within its deadline, records it in the journal and stores ``ctx.action_results[action.id]``. An action
whose effect Azure refused is recorded as ``Failed`` (evidence); one that could not run at all raises
``ActionError``. The built-ins join the vocabulary through the ``pytest_acalab_register_actions`` hook
(``pytest_acalab.builtins``), as a conftest.py or a plugin adds its own.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from pytest_acalab.actions.base import Outcome
from pytest_acalab.context import ActionResult, LabContext
from pytest_acalab.errors import ActionError
from pytest_acalab.labfile.model import Action, FrozenMap
from pytest_acalab.labfile.schema import schema

__all__ = ["run_action", "run_named_action"]

UNRESOLVED = ("check",)
"""Arguments kept as parsed objects (``wait_for``'s check resolves its own references when it runs)."""


def run_action(ctx: LabContext, action: Action) -> ActionResult:
    actions = ctx.vocabulary.actions
    if action.name not in actions:
        raise ActionError(f"action '{action.id}' (line {action.line}): unknown action '{action.name}' "
                          f"(known: {', '.join(actions.names())})")
    deadline = ctx.backend.scale_wait(action.timeout) if action.timeout else ctx.backend.deadlines.action
    try:
        args = {k: (v if k in UNRESOLVED else ctx.resolve(v)) for k, v in action.args.items()}
    except Exception as exc:  # LabError / KeyError: a ${...} that cannot be resolved
        raise ActionError(f"action '{action.id}' (line {action.line}): cannot resolve its arguments: {exc}") from exc
    for name in secret_args(actions[action.name].args):  # known to the scrubber before anything records them
        if args.get(name):
            ctx.scrubber.add(str(args[name]))
    started = time.monotonic()
    ctx.journal.record("action", action.id, event="start", action=action.name, args=_shown(args))
    try:
        outcome: Outcome = actions[action.name].run(ctx, args, deadline, action)
    except ActionError as exc:
        elapsed = round(time.monotonic() - started, 3)
        ctx.journal.record("action", action.id, event="error", action=action.name, error=str(exc), duration=elapsed)
        raise ActionError(f"action '{action.id}' ({action.name}, line {action.line}) could not run: {exc}") from exc
    elapsed = round(time.monotonic() - started, 3)
    detail = ctx.scrubber.text(outcome.detail)
    result = ActionResult(id=action.id, name=action.name, status=outcome.status, detail=detail, duration=elapsed,
                          data=ctx.scrubber.data(outcome.data), ended=datetime.now(UTC).isoformat())
    ctx.action_results[action.id] = result
    ctx.journal.record("action", action.id, event="end", action=action.name, status=result.status,
                       detail=detail, duration=elapsed)
    return result


def run_named_action(ctx: LabContext, name: str, args: Mapping[str, Any], *, action_id: str | None = None,
                     timeout: float | None = None) -> ActionResult:
    """Run the action ``name`` with ``args`` from Python (the ``lab_action`` fixture), as if a lab file had
    listed it under ``action_id`` (default: ``<name>-<n>``, unique within the lab run)."""
    if action_id is None:
        taken = sum(1 for key in ctx.action_results if key.startswith(f"{name}-"))
        action_id = f"{name}-{taken + 1}"
    action = Action(id=action_id, name=name, args=FrozenMap(args), description=None, timeout=timeout, line=0)
    return run_action(ctx, action)


def secret_args(args_schema: Mapping[str, Any] | None) -> list[str]:
    """The arguments an action's schema marks ``"x-secret": true`` (its own properties, or those of the lab
    schema definition it refers to): their values are scrubbed from everything recorded."""
    if not args_schema:
        return []
    ref = str(args_schema.get("$ref", ""))
    if ref.startswith("#/$defs/"):
        args_schema = schema()["$defs"].get(ref.removeprefix("#/$defs/"), {})
    props = args_schema.get("properties") or {}
    return [name for name, spec in props.items() if isinstance(spec, Mapping) and spec.get("x-secret")]


def _shown(args: dict[str, Any]) -> dict[str, Any]:
    """Arguments as the journal shows them: a parsed check by what it looks at, not its Python repr."""
    return {k: (v.describe() if k in UNRESOLVED and hasattr(v, "describe") else v) for k, v in args.items()}

