"""What every action shares: the error for "could not run at all" and the registry."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pytest_acalab.labfile.model import Action
    from pytest_acalab.lifecycle.context import LabContext

__all__ = ["ACTIONS", "ActionError", "Outcome", "action", "sdk"]


class ActionError(Exception):
    """The action could not run at all (auth, 5xx past the retries, unknown alias, bad arguments).

    An action that ran and whose effect Azure refused (a failed LRO, a failed build) is not an error: it
    is recorded as an ``ActionResult`` with status ``Failed``.
    """


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

ACTIONS: dict[str, ActionFn] = {}


def action(name: str) -> Callable[[ActionFn], ActionFn]:
    def register(fn: ActionFn) -> ActionFn:
        ACTIONS[name] = fn
        return fn

    return register


def sdk(ctx: LabContext, fn: Callable[[], Any], *, what: str, deadline: float,
        keep: tuple[type[BaseException], ...] = ()) -> Any:
    """One SDK call with transient retry; API failures other than ``keep`` become ``ActionError``."""
    from azure.core.exceptions import AzureError

    from pytest_acalab.probes.retry import RetryExhausted, call, describe_error

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
    from pytest_acalab.lifecycle.context import LabError

    try:
        return ctx.resource(alias)
    except LabError as exc:
        raise ActionError(str(exc)) from exc
