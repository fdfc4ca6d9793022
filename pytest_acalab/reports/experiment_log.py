"""The lab page's Experiment Log (Step / Action / Expected / Actual / Pass-Fail), filled from a run.

Built on the controller from what items reported, so it is the same with or without pytest-xdist.
"""

from __future__ import annotations

import textwrap
from dataclasses import dataclass, field
from typing import Any

from pytest_acalab.labfile.model import Lab
from pytest_acalab.reports.runinfo import backend_line
from pytest_acalab.reports.scrub import excerpt

VERDICTS = {"passed": "Pass", "failed": "Fail", "error": "Error", "skipped": "Skipped"}
CELL_LIMIT = 600
"""Longest Actual a table cell shows (the terminal wraps it; the Markdown table keeps it on one line)."""


@dataclass
class LabResults:
    lab: Lab
    items: dict[str, dict[str, Any]] = field(default_factory=dict)
    """item name → {outcome: passed|failed|error|skipped, expected, actual, source, message, excerpt, ...}"""
    summary: dict[str, Any] = field(default_factory=dict)
    """LabRun.summary() sent by the worker at the lab's teardown."""
    run: dict[str, Any] = field(default_factory=dict)
    """The run's identity (``runinfo.run_info``): backend, location, run id, versions."""

    def record_item(self, name: str, data: dict[str, Any]) -> None:
        prev = self.items.get(name, {})
        # an error in teardown must not hide a failure in call
        if prev.get("outcome") in ("failed", "error") and data.get("outcome") == "passed":
            return
        self.items[name] = {**prev, **{k: v for k, v in data.items() if v is not None or k not in prev}}

    def rows(self) -> list[tuple[str, str, str, str, str]]:
        out = []
        for step in self.lab.experiment_log:
            actual, verdict = self._fill(step.source)
            out.append((str(step.number), step.action, step.expected, actual, verdict))
        return out

    def _fill(self, source: str | None) -> tuple[str, str]:
        if not source:
            return "—", "—"
        if source == "deploy":
            dep = self.summary.get("deployment") or {}
            if not dep:
                return self._not_run()
            err = dep.get("error") or {}
            actual = f"provisioningState {dep.get('state')}" + (f" ({err.get('code')})" if err.get("code") else "")
            ok = dep.get("state") == self.lab.infra.expect
            return actual, "Pass" if ok else "Fail"
        if source in (self.summary.get("actions") or {}):
            act = self.summary["actions"][source]
            detail = f": {act.get('detail')}" if act.get("detail") else ""
            return excerpt(f"{act.get('status')}{detail}", CELL_LIMIT), "Pass" if act.get("status") == "Succeeded" \
                else "Fail"
        item = self.items.get(source)
        if item is None:
            return self._not_run()
        return excerpt(item_actual(item), CELL_LIMIT), VERDICTS.get(item.get("outcome", ""), "—")

    def _not_run(self) -> tuple[str, str]:
        if self.summary.get("error"):
            return excerpt(f"not reached: {self.summary['error']}", CELL_LIMIT), "Error"
        return "not run", "—"

    def table_markdown(self) -> str:
        """The Step / Action / Expected / Actual / Pass-Fail table, filled."""
        lines = ["| Step | Action | Expected | Actual | Pass/Fail |", "|---|---|---|---|---|"]
        lines += ["| " + " | ".join(md_cell(c) for c in row) + " |" for row in self.rows()]
        return "\n".join(lines) + "\n"

    def markdown(self) -> str:
        lines = [f"# Experiment log: {self.lab.title}", ""]
        lines += [f"- Backend: {backend_line(self.run)}" if self.run else "- Backend: unknown"]
        lines += [f"- Lab file: `{self.lab.path}`"]
        if self.summary.get("resource_group"):
            lines += [f"- Resource group: `{self.summary['resource_group']}`"]
        lines += ["", self.table_markdown().rstrip("\n")]
        lines += ["", "## Hypothesis checks", "",
                  "| Item | Variable | Expected | Actual | Evidence | Held after | Result |",
                  "|---|---|---|---|---|---|---|"]
        for phase in ("failing", "recovered"):
            for row in self.lab.rows:
                item = self.items.get(row.item_id(phase), {})
                lines.append("| " + " | ".join(md_cell(c) for c in (
                    row.item_id(phase), row.variable, item.get("expected") or row.check(phase).describe(),
                    item_actual(item) if item else "—", item.get("source") or "—", held_text(item.get("held_after")),
                    item.get("outcome") or "not run")) + " |")
        if self.summary.get("teardown"):
            lines += ["", f"Teardown: {self.summary['teardown']}"]
        return "\n".join(lines) + "\n"

    def terminal(self, width: int = 120) -> list[str]:
        """The experiment log for the terminal: every cell wraps within its column, nothing is cut."""
        rows = [("Step", "Action", "Expected", "Actual", "Pass/Fail"), *self.rows()]
        gap = 2
        free = max(width - 1 - 4 - 9 - 4 * gap, 36)
        action_w, expected_w = max(free * 22 // 100, 14), max(free * 26 // 100, 14)
        widths = [4, action_w, expected_w, free - action_w - expected_w, 9]
        out = textwrap.wrap(f"backend: {backend_line(self.run)}", width - 1, subsequent_indent="  ") if self.run else []
        for n, row in enumerate(rows):
            cells = [textwrap.wrap(str(c).replace("\n", " "), w, break_long_words=True, break_on_hyphens=False)
                     or [""] for c, w in zip(row, widths, strict=True)]
            for i in range(max(len(c) for c in cells)):
                out.append((" " * gap).join((c[i] if i < len(c) else "").ljust(w)
                                            for c, w in zip(cells, widths, strict=True)).rstrip())
            if n == 0:
                out.append((" " * gap).join("-" * w for w in widths))
        return out


def item_actual(item: dict[str, Any]) -> str:
    """What an item saw, or why it saw nothing (skipped, could not run)."""
    outcome = item.get("outcome")
    if outcome == "skipped":
        return f"skipped: {item.get('message') or 'no reason given'}"
    if item.get("actual"):
        return str(item["actual"])
    if outcome == "error":
        return f"could not run: {item.get('message') or 'no message'}"
    return str(item.get("message") or "—")


def held_text(seconds: Any) -> str:
    return "—" if seconds is None else f"{float(seconds):.1f} s"


def md_cell(text: object) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")
