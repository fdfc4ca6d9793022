"""What every action shares: its result (Outcome) and SDK-call helpers."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from pytest_acalab.context import LabContext
from pytest_acalab.errors import ActionError, LabError, RetryExhausted
from pytest_acalab.labfile.model import Action
from pytest_acalab.polling import call, describe_error

__all__ = ["ActionFn", "Outcome", "resource", "sdk"]


@dataclass
class Outcome:
    """What an action implementation returns; ``run_action`` turns it into an ``ActionResult``."""

    status: str
    detail: str = ""
    data: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def succeeded(cls, detail: str = "", **data: Any) -> Outcome:
        return cls("Succeeded", detail, data)

    @classmethod
    def failed(cls, detail: str, **data: Any) -> Outcome:
        return cls("Failed", detail, data)


ActionFn = Callable[["LabContext", Mapping[str, Any], float, "Action"], Outcome]
"""``fn(ctx, args, deadline, action)``: ``args`` resolved, ``deadline`` in seconds."""

def sdk(ctx: LabContext, fn: Callable[[], Any], *, what: str, deadline: float,
        keep: tuple[type[BaseException], ...] = ()) -> Any:
    """One SDK call with transient retry; API failures other than ``keep`` become ``ActionError``."""
    # the Azure SDK stack loads when a lab runs, not at collection
    from azure.core.exceptions import AzureError


    try:
        return call(fn, deadline=deadline, what=what, base_wait=max(ctx.backend.deadlines.poll_interval, 0.05))
    except keep:
        raise
    except RetryExhausted as exc:
        raise ActionError(str(exc)) from exc
    except (AzureError, OSError) as exc:
        raise ActionError(f"{what}: {describe_error(exc)}") from exc


def resource(ctx: LabContext, alias: str) -> Any:
    """The ResourceRef of an alias; ``ActionError`` when the group has none."""
    try:
        return ctx.resource(alias)
    except LabError as exc:
        raise ActionError(str(exc)) from exc
