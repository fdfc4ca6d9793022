"""The check runner: evaluate a lab CHECK, polling until its tolerance holds or its deadline passes.

* A deviation (the probes ran; the answer was wrong) is ``CheckOutcome.ok == False``: a test FAILURE.
* An error (a probe could not run) raises ``ProbeError``: a test ERROR. Inside ``any_of`` a probe that
  cannot run counts as "does not hold" (recorded in the evidence), unless none of them could run.
* ``ProbeSkipped`` (nothing observable from here) propagates for the plugin to turn into a skip.

Polling uses tenacity (Chaos Toolkit users' "retry the probe until it holds within N seconds");
``stable_for`` N asks for N consecutive holds (terraform's answer to eventual consistency). The whole
check is polled as one: nested checks are evaluated once per attempt. Action results never change, so
a check decided by them stops polling at once.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from pytest_acalab.context import LabContext
from pytest_acalab.errors import ProbeError, ProbeSkipped
from pytest_acalab.labfile.model import ActionCheck, AllOfCheck, AnyOfCheck, Check, ProbeCheck
from pytest_acalab.probes import run_probe
from pytest_acalab.reports.scrub import excerpt as cap

__all__ = ["EXCERPT_LIMIT", "CheckOutcome", "Evidence", "check_deadline", "evaluate"]

EXCERPT_LIMIT = 600
SETTLING_CAP = 120.0
"""Real seconds a check may run past its deadline while a workload process is still starting."""


@dataclass
class Evidence:
    """What one probe (or action result) said in the last attempt."""

    name: str
    """Probe name, or ``action:<id>``."""
    source: str
    ok: bool
    expected: str
    actual: str
    excerpt: str
    line: int
    error: str | None = None
    skipped: str | None = None

    def summary(self) -> str:
        state = "held" if self.ok else ("could not run" if self.error else "skipped" if self.skipped
                                        else "did not hold")
        why = self.error or self.skipped or self.actual
        return f"{self.name} ({self.source}) {state}: expected {self.expected}; actual {why}"


@dataclass
class CheckOutcome:
    ok: bool
    expected: str
    actual: str
    source: str
    excerpt: str
    attempts: int
    elapsed: float
    evidence: list[Evidence] = field(default_factory=list)
    label: str = ""
    deadline: float = 0.0
    stable_for: int = 1
    streak: int = 0
    first_held: float | None = None
    """Seconds from the start of the check to the end of the first attempt that held (None: never held)."""
    held_after: float | None = None
    """Seconds from the start of the lab's phase (trigger or recovery) until the check first held (set by the
    lab run): how long the transition took, compared night over night."""

    def failure_message(self) -> str:
        """The message CI shows: expected vs actual, where the evidence came from, and an excerpt."""
        stable = f", {self.streak}/{self.stable_for} consecutive holds" if self.stable_for > 1 else ""
        return (f"{self.label}: expected {self.expected}; actual {self.actual}\n"
                f"source: {self.source}; {self.attempts} attempt(s) over {self.elapsed:.1f}s "
                f"(deadline {self.deadline:g}s{stable})\n"
                f"evidence: {self.excerpt}")


@dataclass
class _Pass:
    """One evaluation of a (possibly composite) check."""

    ok: bool
    final: bool
    expected: str
    actual: str
    source: str
    excerpt: str
    evidence: list[Evidence]


def check_deadline(check: Check, default: float) -> float:
    """``within`` of the check, else the largest nested ``within``, else ``default``."""
    within = getattr(check, "within", None)
    if within is not None:
        return within
    nested = [check_deadline(c, -1.0) for c in getattr(check, "checks", ())]
    nested = [n for n in nested if n >= 0]
    return max(nested) if nested else default


def evaluate(ctx: LabContext, check: Check, *, default_within: float | None = None,
             where: str | None = None) -> CheckOutcome:
    """Evaluate ``check``, polling until it holds ``stable_for`` times in a row or the deadline passes.

    ``default_within``: deadline when the check has no ``within`` (default: the backend's probe deadline).
    ``where``: how to name the check in messages (default ``lab.yaml:<line>``).
    """
    # tenacity costs ~30 ms to import: only when a lab runs, not at `pytest --version` or collection
    from tenacity import RetryCallState, Retrying, retry_if_result

    label = where or f"{ctx.lab.path.name}:{check.line}"
    stated = check_deadline(check, -1.0)
    deadline = (ctx.backend.scale_wait(stated) if stated >= 0
                else ctx.backend.deadlines.probe if default_within is None else default_within)
    stable_for = max(int(getattr(check, "stable_for", 1) or 1), 1)
    poll = max(ctx.backend.deadlines.poll_interval, 0.0)
    started = time.monotonic()
    state = {"attempt": 0, "streak": 0, "settled": 0, "waited": 0}
    first_held: list[float] = []

    def attempt() -> _Pass:
        state["attempt"] += 1
        remaining = max(deadline - (time.monotonic() - started), 0.5)
        if ctx.backend.settling(ctx.resource_group):
            # an observation begun while something still starts may see only the start (requests timing out
            # on a booting workload) and end past the deadline: it earns the observations after settling
            state["settled"], state["waited"] = 0, 1
        result = _once(ctx, check, remaining, state["attempt"], started, label)
        state["streak"] = state["streak"] + 1 if result.ok else 0
        if result.ok and not first_held:
            first_held.append(round(time.monotonic() - started, 3))
        if ctx.on_wait is not None and not result.final and state["streak"] < stable_for:
            ctx.on_wait(label, time.monotonic() - started, deadline, state["attempt"],
                        f"expected {result.expected}, now {result.actual}")
        return result

    def more(result: _Pass) -> bool:
        if result.final:
            return False
        return not result.ok or state["streak"] < stable_for

    def wait(rs: RetryCallState) -> float:
        return max(min(poll, deadline - (rs.seconds_since_start or 0.0)), min(poll, 0.05), 0.0)

    def stop(rs: RetryCallState) -> bool:
        """The deadline, extended while the backend says something still starts in real time (a workload
        process on the emulator: its start-up is not the clock's to compress), up to SETTLING_CAP more."""
        since = rs.seconds_since_start or 0.0
        if since < deadline:
            return False
        if since >= deadline + SETTLING_CAP:
            return True
        if ctx.backend.settling(ctx.resource_group):
            state["settled"], state["waited"] = 0, 1
            return False
        state["settled"] += 1  # settled now: observe again (what settled may have changed the state)
        return not state["waited"] or state["settled"] > stable_for

    retrying = Retrying(stop=stop, wait=wait, retry=retry_if_result(more),
                        retry_error_callback=lambda rs: rs.outcome.result() if rs.outcome else None)
    result: _Pass = retrying(attempt)
    held = result.ok and (result.final or state["streak"] >= stable_for)
    actual = result.actual
    if result.ok and not held:
        actual = f"{actual} (held {state['streak']} of {stable_for} consecutive times required)"
    return CheckOutcome(
        ok=held, expected=result.expected, actual=actual, source=result.source,
        excerpt=cap(ctx.scrubber.text(result.excerpt), EXCERPT_LIMIT), attempts=state["attempt"],
        elapsed=round(time.monotonic() - started, 3), evidence=result.evidence, label=label,
        deadline=deadline, stable_for=stable_for, streak=state["streak"],
        first_held=first_held[0] if first_held else None)


# ---- one pass ------------------------------------------------------------------------------------------

def _once(ctx: LabContext, check: Check, remaining: float, attempt: int, started: float, label: str) -> _Pass:
    if isinstance(check, ProbeCheck):
        return _probe(ctx, check, remaining, attempt, started, label)
    if isinstance(check, ActionCheck):
        return _action(ctx, check, attempt, started)
    if isinstance(check, AllOfCheck):
        return _all_of(ctx, check, remaining, attempt, started, label)
    if isinstance(check, AnyOfCheck):
        return _any_of(ctx, check, remaining, attempt, started, label)
    raise TypeError(f"not a check: {check!r}")


def _probe(ctx: LabContext, check: ProbeCheck, remaining: float, attempt: int, started: float,
           label: str) -> _Pass:
    try:
        obs = run_probe(ctx, check.probe, check.args, deadline=remaining)
    except ProbeSkipped as exc:
        ctx.journal.record("probe", check.probe, attempt=attempt, ok=None, skipped=exc.reason, line=check.line,
                           elapsed=round(time.monotonic() - started, 3))
        raise
    except ProbeError as exc:
        ctx.journal.record("probe", check.probe, attempt=attempt, ok=None, error=str(exc), line=check.line,
                           elapsed=round(time.monotonic() - started, 3))
        raise ProbeError(f"probe '{check.probe}' ({label}, line {check.line}) could not run: {exc}") from exc
    unmodelled = ctx.backend.unmodelled(ctx.resource_group)
    if unmodelled:  # whatever was observed, it is not what Azure would show: an error, never a verdict
        ctx.journal.record("probe", check.probe, attempt=attempt, ok=None, error="unmodelled", line=check.line,
                           reasons=unmodelled, elapsed=round(time.monotonic() - started, 3))
        raise ProbeError(f"probe '{check.probe}' ({label}, line {check.line}): the {ctx.backend.name} cannot model "
                         f"this lab, so no verdict is given: " + "; ".join(unmodelled))
    verdict = check.expect.evaluate(obs.value)
    expected = check.describe()
    text = cap(ctx.scrubber.text(obs.excerpt or verdict.actual), EXCERPT_LIMIT)
    ctx.journal.record("probe", check.probe, attempt=attempt, ok=verdict.ok, expected=expected, value=verdict.actual,
                       source=obs.source, excerpt=text, line=check.line, observed=obs.detail.get("observed"),
                       elapsed=round(time.monotonic() - started, 3))
    ev = Evidence(check.probe, obs.source, verdict.ok, expected, verdict.actual, text, check.line)
    return _Pass(verdict.ok, False, expected, verdict.actual, obs.source, text, [ev])


def _action(ctx: LabContext, check: ActionCheck, attempt: int, started: float) -> _Pass:
    if check.action_id == "deploy":
        state: Any = ctx.deployment.get("state")
        state = getattr(state, "value", state)  # the SDK's ProvisioningState enum -> "Failed"
        if state is None:
            raise ProbeError(f"check on line {check.line}: the lab deployment has no recorded outcome yet")
        error = ctx.deployment.get("error")
        detail = "" if not error else str(error.get("message") if isinstance(error, dict) else error)
        source = "deployment"
    else:
        result = ctx.action_results.get(check.action_id)
        if result is None:
            raise ProbeError(f"check on line {check.line}: action '{check.action_id}' has no recorded result "
                             "(it has not run)")
        state, detail, source = result.status, result.detail, f"action:{check.action_id}"
    verdict = check.expect.evaluate(state)
    verdict = type(verdict)(verdict.ok, check.describe(), verdict.actual)
    text = cap(ctx.scrubber.text(f"{source} {state}" + (f": {detail}" if detail else "")), EXCERPT_LIMIT)
    ctx.journal.record("check", f"action:{check.action_id}", attempt=attempt, ok=verdict.ok, value=verdict.actual,
                       line=check.line, elapsed=round(time.monotonic() - started, 3))
    ev = Evidence(f"action:{check.action_id}", source, verdict.ok, verdict.expected, verdict.actual, text,
                  check.line)
    return _Pass(verdict.ok, True, verdict.expected, verdict.actual, source, text, [ev])


def _all_of(ctx: LabContext, check: AllOfCheck, remaining: float, attempt: int, started: float,
            label: str) -> _Pass:
    parts = [_once(ctx, c, remaining, attempt, started, label) for c in check.checks]
    ok = all(p.ok for p in parts)
    failing = [p for p in parts if not p.ok]
    final = all(p.final for p in parts) if ok else any(p.final for p in failing)
    expected = check.describe()
    shown = failing or parts
    actual = "; ".join(f"{e.name}: {e.actual}" for p in shown for e in p.evidence if not e.ok or ok)
    source = ", ".join(dict.fromkeys(p.source for p in shown))
    text = " | ".join(p.excerpt for p in shown)
    return _Pass(ok, final, expected, actual, source, text, [e for p in parts for e in p.evidence])


def _any_of(ctx: LabContext, check: AnyOfCheck, remaining: float, attempt: int, started: float,
            label: str) -> _Pass:
    evidence: list[Evidence] = []
    parts: list[_Pass] = []
    errors: list[str] = []
    skips: list[str] = []
    for child in check.checks:
        try:
            part = _once(ctx, child, remaining, attempt, started, label)
        except ProbeSkipped as exc:
            skips.append(exc.reason)
            evidence.append(_unavailable(child, skipped=exc.reason))
            continue
        except ProbeError as exc:
            errors.append(str(exc))
            evidence.append(_unavailable(child, error=str(exc)))
            continue
        parts.append(part)
        evidence.extend(part.evidence)
    if not parts:
        if errors:
            raise ProbeError("no check of any_of could run: " + " | ".join(errors + skips))
        raise ProbeSkipped("no check of any_of can observe anything here: " + " | ".join(skips))
    held = [p for p in parts if p.ok]
    ok = bool(held)
    final = any(p.final for p in held) if ok else (all(p.final for p in parts) and len(parts) == len(check.checks))
    expected = check.describe()
    actual = "; ".join(f"{e.name} ({e.source}): {e.error or e.skipped or e.actual}" for e in evidence)
    tried = ", ".join(dict.fromkeys(e.source for e in evidence))
    if ok:
        source = held[0].source
        text = f"held: {held[0].source} (tried: {tried}): {held[0].excerpt}"
    else:
        source = tried
        text = "none held; " + " || ".join(f"{e.source}: {e.error or e.skipped or e.excerpt}" for e in evidence)
    return _Pass(ok, final, expected, actual, source, text, evidence)


def _unavailable(check: Check, *, error: str | None = None, skipped: str | None = None) -> Evidence:
    name = check.probe if isinstance(check, ProbeCheck) else (
        f"action:{check.action_id}" if isinstance(check, ActionCheck) else "nested")
    return Evidence(name, name, False, check.describe(), "",
                    error or skipped or "", check.line, error=error, skipped=skipped)
