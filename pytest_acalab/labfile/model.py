"""Typed, immutable view of a loaded lab.yaml.

Every object that maps to a place in lab.yaml carries ``line`` (1-based) so pytest items and reports can
point the author at it. Argument mappings are ``FrozenMap`` (read-only dict) copies.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pytest_acalab.labfile.tolerances import Tolerance, render

__all__ = [
    "PHASES",
    "Action",
    "ActionCheck",
    "AllOfCheck",
    "AnyOfCheck",
    "Check",
    "FrozenMap",
    "Hypothesis",
    "Infra",
    "Lab",
    "Metadata",
    "ProbeCheck",
    "Row",
    "Step",
    "Trigger",
]



class FrozenMap(dict[str, Any]):
    """A read-only dict: still JSON-serialisable and picklable (pytest-xdist), but not changeable."""

    def _readonly(self, *args: Any, **kwargs: Any) -> None:
        raise TypeError("lab arguments are read-only")

    __setitem__ = __delitem__ = clear = pop = popitem = setdefault = update = __ior__ = _readonly  # type: ignore

    def __reduce__(self) -> tuple[Any, ...]:
        return (FrozenMap, (dict(self),))

    def __repr__(self) -> str:
        return f"FrozenMap({dict.__repr__(self)})"


Phase = Literal["failing", "recovered"]
PHASES: tuple[Phase, ...] = ("failing", "recovered")


@dataclass(frozen=True)
class ProbeCheck:
    """Run ``probe`` with ``args`` and hold it to ``expect`` (polling up to ``within`` seconds if set)."""

    probe: str
    args: Mapping[str, Any]
    expect: Tolerance
    within: float | None
    stable_for: int
    description: str | None
    line: int

    def describe(self) -> str:
        """What the check looks at and what it wants: ``system_logs(reason=ImagePullFailure) at least 1 item``.

        Arguments that only name the resource by its usual alias (``app: app``) are left out.
        """
        shown = ", ".join(f"{k}={_arg(v)}" for k, v in self.args.items() if not (isinstance(v, str) and k == v))
        return f"{self.probe}({shown}) {self.expect.describe()}" if shown else f"{self.probe} {self.expect.describe()}"


def _arg(value: Any) -> str:
    """A probe argument as written in lab.yaml: bare when it is one simple word, else quoted."""
    if isinstance(value, str) and value and all(c.isalnum() or c in "_-.:/$={}@" for c in value):
        return value
    return render(value, 120)


@dataclass(frozen=True)
class _CombinedCheck:
    checks: tuple[Check, ...]
    within: float | None
    stable_for: int
    description: str | None
    line: int

    def describe(self) -> str:
        kind = "all of" if isinstance(self, AllOfCheck) else "any of"
        return f"{kind} (" + "; ".join(c.describe() for c in self.checks) + ")"


@dataclass(frozen=True)
class AllOfCheck(_CombinedCheck):
    """Holds when every check holds."""


@dataclass(frozen=True)
class AnyOfCheck(_CombinedCheck):
    """Holds when one check holds (a check that cannot run counts as not holding)."""


@dataclass(frozen=True)
class ActionCheck:
    """The recorded outcome of an action ("Succeeded"/"Failed"); action "deploy" is the lab deployment."""

    action_id: str
    expect: Tolerance
    line: int
    description: str | None = None

    def describe(self) -> str:
        what = "deployment" if self.action_id == "deploy" else f"action:{self.action_id}"
        return f"{what} {self.expect.describe()}"


Check = ProbeCheck | AllOfCheck | AnyOfCheck | ActionCheck


@dataclass(frozen=True)
class Action:
    """One action; for ``wait_for`` the ``check`` argument is already a parsed Check. ``expect`` is the
    outcome the lab needs from it (``Succeeded`` unless the refusal is the fault the lab induces)."""

    id: str
    name: str
    args: Mapping[str, Any]
    description: str | None
    timeout: float | None
    line: int
    expect: str = "Succeeded"


@dataclass(frozen=True)
class Row:
    key: str
    variable: str
    control: str
    experimental: str
    failing: Check
    recovered: Check
    line: int

    def check(self, phase: Phase) -> Check:
        return self.failing if phase == "failing" else self.recovered

    def item_id(self, phase: Phase) -> str:
        """The pytest item name for this row and phase, e.g. ``revision-health[failing]``."""
        return f"{self.key}[{phase}]"


@dataclass(frozen=True)
class Hypothesis:
    statement: str
    rows: tuple[Row, ...]
    line: int


@dataclass(frozen=True)
class Metadata:
    difficulty: str
    duration: str
    tier: str
    failure_mode: str
    skills: tuple[str, ...] = ()


@dataclass(frozen=True)
class Infra:
    template: Path
    bicep: Path | None
    parameters: Mapping[str, Any]
    expect: Literal["Succeeded", "Failed"]
    resources: Mapping[str, str]
    line: int


@dataclass(frozen=True)
class Trigger:
    """``kind`` "deployment": the deployment itself is the fault (``actions`` empty); else the actions run."""

    kind: Literal["deployment", "actions"]
    actions: tuple[Action, ...]
    line: int


@dataclass(frozen=True)
class Step:
    number: int
    action: str
    expected: str
    source: str | None
    line: int


@dataclass(frozen=True)
class Lab:
    id: str
    title: str
    folder: Path
    path: Path
    metadata: Metadata
    location: str | None
    markers: tuple[str, ...]
    infra: Infra
    hypothesis: Hypothesis
    trigger: Trigger
    recovery: tuple[Action, ...]
    experiment_log: tuple[Step, ...]
    cleanup: Literal["delete", "keep"] = "delete"

    @property
    def rows(self) -> tuple[Row, ...]:
        return self.hypothesis.rows

    def row(self, key: str) -> Row:
        for row in self.hypothesis.rows:
            if row.key == key:
                return row
        raise KeyError(key)

    def action(self, action_id: str) -> Action:
        """A trigger or recovery action by id."""
        for action in (*self.trigger.actions, *self.recovery):
            if action.id == action_id:
                return action
        raise KeyError(action_id)
