"""``wait_for``: wait until a check holds (the check runner's polling, within the action's deadline);
``wait``: a fixed observation window on the lab's clock."""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

from pytest_acalab.actions.base import Outcome
from pytest_acalab.context import LabContext
from pytest_acalab.errors import ActionError, ProbeError, ProbeSkipped
from pytest_acalab.labfile.durations import parse_duration
from pytest_acalab.labfile.model import Action
from pytest_acalab.probes.checks import evaluate


def wait_for(ctx: LabContext, args: Mapping[str, Any], deadline: float, act: Action) -> Outcome:
    try:
        outcome = evaluate(ctx, args["check"], default_within=deadline, where=f"action '{act.id}'")
    except ProbeError as exc:
        raise ActionError(str(exc)) from exc
    except ProbeSkipped as exc:
        return Outcome.failed(f"the check cannot be observed here: {exc.reason}")
    data = {"attempts": outcome.attempts, "elapsed": outcome.elapsed, "source": outcome.source}
    if outcome.ok:
        return Outcome.succeeded(f"held after {outcome.attempts} attempt(s) over {outcome.elapsed:.1f}s "
                                 f"({outcome.source})", **data)
    return Outcome.failed(outcome.failure_message(), **data)


def wait(ctx: LabContext, args: Mapping[str, Any], deadline: float, act: Action) -> Outcome:
    """An observation window: ``duration`` on the lab's clock (Azure time: as written on Azure, capped by
    ``--acalab-max-wait``; divided by the emulator clock's speed there). Nothing is checked: rows look at what
    happened meanwhile. The window is the duration itself, whatever the action's deadline."""
    azure_seconds = parse_duration(str(args["duration"]))
    real = ctx.backend.window_seconds(azure_seconds)
    time.sleep(real)  # the window itself, not a stand-in for a condition
    return Outcome.succeeded(f"waited {args['duration']} of lab time ({real:.2f}s here)",
                             azure_seconds=azure_seconds, seconds=round(real, 3))
