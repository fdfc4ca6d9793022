"""The lab page's Experiment Log (Step / Action / Expected / Actual / Pass-Fail), filled from a run.

Built on the controller from what items reported, so it is the same with or without pytest-xdist.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pytest_acalab.labfile.model import Lab


@dataclass
class LabResults:
    lab: Lab
    items: dict[str, dict[str, Any]] = field(default_factory=dict)
    """item name → {outcome: passed|failed|error|skipped, expected, actual, source, message}"""
    summary: dict[str, Any] = field(default_factory=dict)
    """LabRun.summary() sent by the worker at the lab's teardown."""

    def record_item(self, name: str, data: dict[str, Any]) -> None:
        prev = self.items.get(name, {})
        # an error in teardown must not hide a failure in call
        if prev.get("outcome") in ("failed", "error") and data.get("outcome") == "passed":
            return
        self.items[name] = {**prev, **data}

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
            return f"{act.get('status')}{detail}"[:160], "Pass" if act.get("status") == "Succeeded" else "Fail"
        item = self.items.get(source)
        if item is None:
            return self._not_run()
        verdict = {"passed": "Pass", "failed": "Fail", "error": "Error", "skipped": "Skipped"}.get(
            item.get("outcome", ""), "—")
        actual = item.get("actual") or item.get("message") or "—"
        return str(actual)[:160], verdict

    def _not_run(self) -> tuple[str, str]:
        if self.summary.get("error"):
            return f"not reached: {self.summary['error']}"[:160], "Error"
        return "not run", "—"

    def table_markdown(self) -> str:
        """The Step / Action / Expected / Actual / Pass-Fail table, filled."""
        def cell(text: str) -> str:
            return str(text).replace("|", "\\|").replace("\n", " ")

        lines = ["| Step | Action | Expected | Actual | Pass/Fail |", "|---|---|---|---|---|"]
        lines += ["| " + " | ".join(cell(c) for c in row) + " |" for row in self.rows()]
        return "\n".join(lines) + "\n"

    def markdown(self) -> str:
        def cell(text: str) -> str:
            return str(text).replace("|", "\\|").replace("\n", " ")

        lines = [f"# Experiment log: {self.lab.title}", ""]
        if self.summary.get("resource_group"):
            lines += [f"Resource group: `{self.summary['resource_group']}`", ""]
        lines += [self.table_markdown().rstrip("\n")]
        lines += ["", "## Hypothesis checks", "", "| Item | Variable | Expected | Actual | Evidence | Result |",
                  "|---|---|---|---|---|---|"]
        for phase in ("failing", "recovered"):
            for row in self.lab.rows:
                item = self.items.get(row.item_id(phase), {})
                lines.append("| " + " | ".join(cell(c) for c in (
                    row.item_id(phase), row.variable, item.get("expected", "—"), item.get("actual", "—"),
                    item.get("source", "—"), item.get("outcome", "not run"))) + " |")
        if self.summary.get("teardown"):
            lines += ["", f"Teardown: {self.summary['teardown']}"]
        return "\n".join(lines) + "\n"

    def terminal(self, width: int = 120) -> list[str]:
        rows = [("Step", "Action", "Expected", "Actual", "Pass/Fail"), *self.rows()]
        caps = (4, 34, 34, 34, 9)
        def fit(text: str, cap: int) -> str:
            text = str(text).replace("\n", " ")
            return text if len(text) <= cap else text[: cap - 1] + "…"
        widths = [min(cap, max(len(fit(r[i], cap)) for r in rows)) for i, cap in enumerate(caps)]
        out = []
        for n, r in enumerate(rows):
            out.append("  ".join(fit(c, caps[i]).ljust(widths[i]) for i, c in enumerate(r)).rstrip())
            if n == 0:
                out.append("  ".join("-" * w for w in widths))
        return out
