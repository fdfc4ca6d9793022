"""Where Python tests in a lab folder run among the lab's items: ``@pytest.mark.lab_phase(...)``.

A lab runs its items in this order (one lab's items stay on one worker, in this order):

1. ``deployment``;
2. tests marked ``lab_phase("trigger")``: after the lab's trigger actions, before the failing checks (a
   Python step can induce or deepen the fault; evidence it causes falls in the failing phase's window);
3. the failing checks (``<row>[failing]``);
4. tests marked ``lab_phase("failing")``: still in the failing state, before any recovery action;
5. tests marked ``lab_phase("recovery")``: after the lab's recovery actions, before the recovered checks;
6. the recovered checks (``<row>[recovered]``);
7. tests marked ``lab_phase("recovered")`` and unmarked tests: last, as before.

Before each marked test runs, the lab is brought to its phase (``LabRun.ensure``): a trigger (recovery) that
failed makes the test error with that failure, as it does the YAML items of the phase.
"""

from __future__ import annotations

from typing import Any

import pytest

__all__ = ["LAB_PHASES", "MARKER", "lab_phase_of", "order_lab_items", "phase_to_ensure"]

MARKER = "lab_phase"
LAB_PHASES = ("trigger", "failing", "recovery", "recovered")
_RANK = {"trigger": 1, "failing": 3, "recovery": 4, "recovered": 6}


def lab_phase_of(item: pytest.Item) -> str | None:
    """The phase a Python test asked for, or None; ``pytest.UsageError`` (with file:line) for a bad one."""
    marker = item.get_closest_marker(MARKER)
    if marker is None:
        return None
    phase = marker.args[0] if len(marker.args) == 1 and not marker.kwargs else None
    if phase not in LAB_PHASES:
        got = ", ".join([*map(repr, marker.args), *(f"{k}={v!r}" for k, v in marker.kwargs.items())]) or "no argument"
        raise pytest.UsageError(f"{_where(item)}: @pytest.mark.{MARKER}: expected one of "
                                f"{', '.join(LAB_PHASES)}; got {got}")
    return str(phase)


def phase_to_ensure(phase: str) -> str:
    """The lab state a phase's tests need: ``failing`` (trigger actions done) or ``recovered``."""
    return "failing" if phase in ("trigger", "failing") else "recovered"


def _rank(item: pytest.Item, lab_item: type) -> int:
    if isinstance(item, lab_item):
        row = getattr(item, "row", None)
        if row is None:
            return 0
        return 2 if getattr(item, "phase", "failing") == "failing" else 5
    phase = lab_phase_of(item)
    return _RANK[phase] if phase else 6


def order_lab_items(items: list[Any], lab_dir: type, lab_item: type) -> None:
    """Reorder, in place, each lab's items as the module docstring says (a stable sort inside each lab)."""
    positions: dict[Any, list[int]] = {}
    for index, item in enumerate(items):
        parent = item.getparent(lab_dir)
        if parent is not None:
            positions.setdefault(parent, []).append(index)
        elif item.get_closest_marker(MARKER) is not None:
            raise pytest.UsageError(f"{_where(item)}: @pytest.mark.{MARKER} works only for tests inside a lab "
                                    "folder (a folder holding lab.yaml)")
    for indexes in positions.values():
        ordered = sorted((items[i] for i in indexes), key=lambda it: _rank(it, lab_item))
        for index, item in zip(indexes, ordered, strict=True):
            items[index] = item


def _where(item: pytest.Item) -> str:
    path, line, _ = item.location
    return f"{path}:{(line or 0) + 1}"
