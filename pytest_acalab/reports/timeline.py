"""A lab run as a picture: actions as spans, observed states as lanes over time, when each expectation held.

Built from the lab's journal (``journal.json``): ``action`` start/end entries and the ``deploy`` entry give
the spans; the ``observed`` states probes report (provisioning, health, running state, replicas, HTTP codes)
give the lanes, each value lasting until the next observation of that lane; ``verdict`` entries give the
expectations (waiting from the check's start, a mark where it first held, or a cross where it gave up);
``phase`` entries give the failing and recovered bands. Geometry is computed here; the SVG itself is
written by the report template.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

LANES = ("deployment", "app provisioning", "app running", "revision provisioning", "revision health",
         "running state", "replicas", "HTTP")
"""Lane order, top to bottom: from the deployment down to what a client sees."""

GOOD = {"healthy", "succeeded", "running", "runningatmaxscale", "provisioned", "present", "true"}
BAD = {"unhealthy", "failed", "norevision", "degraded", "activationfailed", "absent", "canceled", "stopped"}
BUSY = {"provisioning", "inprogress", "activating", "deprovisioning", "updating", "pending", "processing",
        "accepted", "running (starting)", "deleting", "scaling"}

WIDTH = 1040
LABEL_W = 200
RIGHT_PAD = 24
ROW_H = 22
BAR_H = 14
HEADER_H = 24
AXIS_H = 30


def tone(value: Any, lane: str = "") -> str:
    """The colour class of an observed value: good, bad, busy or neutral (CSS classes in the template)."""
    text = str(value).strip().lower()
    if lane == "replicas":
        return "neutral" if text not in ("0", "none") else "busy"
    if text in GOOD:
        return "good"
    if text in BAD:
        return "bad"
    if text in BUSY:
        return "busy"
    codes = [c for c in text.split() if c.isdigit()]
    if lane == "HTTP" and codes and all(c.isdigit() for c in text.split()):
        if all(200 <= int(c) < 400 for c in codes):
            return "good"
        return "bad"
    if lane == "HTTP" and "timeout" in text.split():
        return "bad"
    return "neutral"


@dataclass
class Bar:
    x: float
    width: float
    label: str
    tone: str
    title: str
    """Tooltip: the full text."""


@dataclass
class Mark:
    x: float
    kind: str
    """``held`` (diamond), ``missed`` (cross), ``skipped`` or ``error`` (circle)."""
    title: str


@dataclass
class Row:
    label: str
    y: float
    bars: list[Bar] = field(default_factory=list)
    marks: list[Mark] = field(default_factory=list)
    note: str = ""


@dataclass
class Section:
    title: str
    y: float
    rows: list[Row] = field(default_factory=list)


@dataclass
class Band:
    x: float
    width: float
    label: str
    phase: str


@dataclass
class Tick:
    x: float
    label: str


@dataclass
class Timeline:
    width: int
    height: float
    plot_left: float
    plot_right: float
    top: float
    bottom: float
    sections: list[Section]
    bands: list[Band]
    ticks: list[Tick]
    span: float
    """Seconds from the journal's first entry to its last."""
    empty: bool = False

    @property
    def lanes(self) -> list[str]:
        return [row.label for section in self.sections if section.title == "Observed states" for row in section.rows]


def _nice_step(span: float, target: int = 8) -> float:
    raw = max(span / target, 1e-3)
    base = 10 ** math.floor(math.log10(raw))
    for mult in (1, 2, 5, 10):
        if raw <= mult * base:
            return mult * base
    return 10 * base


def _seconds(t: float, step: float) -> str:
    if step >= 60 and t >= 60:
        minutes, seconds = divmod(int(round(t)), 60)
        return f"{minutes}m{seconds:02d}s" if seconds else f"{minutes}m"
    digits = 0 if step >= 1 else (1 if step >= 0.1 else (2 if step >= 0.01 else 3))
    return f"{t:.{digits}f} s"


def build(entries: list[dict[str, Any]]) -> Timeline:
    """The timeline of one lab run from its journal entries."""
    times = [float(e.get("t") or 0.0) for e in entries]
    span = max(times, default=0.0) or 1.0
    right = WIDTH - RIGHT_PAD
    left = LABEL_W
    scale = (right - left) / span

    def x_of(t: float) -> float:
        return round(left + max(min(t, span), 0.0) * scale, 2)

    def width_of(t0: float, t1: float) -> float:
        return round(max((min(t1, span) - max(t0, 0.0)) * scale, 2.0), 2)

    sections: list[Section] = []
    y = HEADER_H + 4

    # actions (and the deployment) as spans, one row each, in the order they started
    action_rows: dict[str, Row] = {}
    starts: dict[str, dict[str, Any]] = {}
    for e in entries:
        kind, name = e.get("kind"), str(e.get("name"))
        t = float(e.get("t") or 0.0)
        if kind == "deploy":
            t0 = max(t - float(e.get("duration") or 0.0), 0.0)
            row = action_rows.setdefault("deploy", Row(f"deploy ({name})"[:34], 0))
            state = str(e.get("state"))
            err = e.get("error") or {}
            why = f": {err.get('code')}" if isinstance(err, dict) and err.get("code") else ""
            row.bars.append(Bar(x_of(t0), width_of(t0, t), f"{state}{why}", tone(state),
                                f"deployment {name}: {state}{why} ({t - t0:.2f} s)"))
        elif kind == "action" and e.get("event") == "start":
            starts[name] = e
            action_rows.setdefault(name, Row(f"{name} ({e.get('action')})"[:34], 0))
        elif kind == "action" and e.get("event") in ("end", "error"):
            begun = starts.pop(name, None)
            t0 = float(begun.get("t") or 0.0) if begun else t - float(e.get("duration") or 0.0)
            status = str(e.get("status") or "could not run")
            detail = str(e.get("detail") or e.get("error") or "")
            row = action_rows.setdefault(name, Row(f"{name} ({e.get('action')})"[:34], 0))
            row.bars.append(Bar(x_of(t0), width_of(t0, t), status, tone(status) if e.get("event") == "end" else "bad",
                                f"{name}: {status} ({t - t0:.2f} s){': ' + detail if detail else ''}"))
    for name, begun in starts.items():  # started, never ended (interrupted)
        t0 = float(begun.get("t") or 0.0)
        action_rows[name].bars.append(Bar(x_of(t0), width_of(t0, span), "did not finish", "bad",
                                          f"{name}: started, no end recorded"))
    if action_rows:
        section = Section("Actions", y)
        y += ROW_H
        for row in action_rows.values():
            row.y = y
            section.rows.append(row)
            y += ROW_H
        sections.append(section)
        y += 8

    # observed states: one lane per state, each value lasting until the next observation of that lane
    samples: dict[str, list[tuple[float, str]]] = {}
    for e in entries:
        t = float(e.get("t") or 0.0)
        if e.get("kind") == "deploy" and e.get("state"):
            samples.setdefault("deployment", []).append((t, str(e["state"])))
        observed = e.get("observed") if e.get("kind") == "probe" else None
        if isinstance(observed, dict):
            for lane, value in observed.items():
                if value is not None:
                    samples.setdefault(str(lane), []).append((t, str(value)))
    lane_names = [n for n in LANES if n in samples] + sorted(n for n in samples if n not in LANES)
    if lane_names:
        section = Section("Observed states", y)
        y += ROW_H
        for lane in lane_names:
            row = Row(lane, y)
            points = sorted(samples[lane], key=lambda p: p[0])
            runs: list[tuple[float, float, str, int]] = []  # start, last seen, value, observations
            for t, value in points:
                if runs and runs[-1][2] == value:
                    runs[-1] = (runs[-1][0], t, value, runs[-1][3] + 1)
                else:
                    runs.append((t, t, value, 1))
            for i, (t0, last, value, count) in enumerate(runs):
                t1 = runs[i + 1][0] if i + 1 < len(runs) else max(last, span)
                seen = f"seen {count} time(s) from {t0:.2f} s to {last:.2f} s"
                row.bars.append(Bar(x_of(t0), width_of(t0, t1), value, tone(value, lane), f"{lane}: {value} ({seen})"))
            section.rows.append(row)
            y += ROW_H
        sections.append(section)
        y += 8

    # expectations: from the check's start to the moment it first held (or gave up)
    verdicts = [e for e in entries if e.get("kind") == "verdict"]
    if verdicts:
        section = Section("Expectations (first held)", y)
        y += ROW_H
        for e in verdicts:
            row = Row(str(e.get("name")), y)
            began = float(e.get("began") or e.get("t") or 0.0)
            end = float(e.get("t") or began)
            expected = str(e.get("expected") or "")
            if e.get("ok") is None:
                why = e.get("skipped") or e.get("error") or ""
                kind = "skipped" if e.get("skipped") else "error"
                row.bars.append(Bar(x_of(began), width_of(began, end), "", "neutral", f"{kind}: {why}"))
                row.marks.append(Mark(x_of(end), kind, f"{row.label} {kind}: {why}"))
                row.note = kind
            elif e.get("first_held") is not None:
                held = float(e["first_held"])
                after = e.get("held_after")
                when = (f"{after:.2f} s after the {e.get('phase')} phase began" if after is not None
                        else f"at {held:.2f} s")
                row.bars.append(Bar(x_of(began), width_of(began, held), "", "wait",
                                    f"{row.label}: waiting for {expected}"))
                row.marks.append(Mark(x_of(held), "held" if e.get("ok") else "unstable",
                                      f"{row.label} first held {when}: {expected}; saw {e.get('actual')}"))
                row.note = f"+{after:.1f} s" if after is not None else ""
            else:
                row.bars.append(Bar(x_of(began), width_of(began, end), "", "wait",
                                    f"{row.label}: waiting for {expected}"))
                row.marks.append(Mark(x_of(end), "missed", f"{row.label} never held: expected {expected}; "
                                                          f"saw {e.get('actual')}"))
                row.note = "never held"
            section.rows.append(row)
            y += ROW_H
        sections.append(section)
        y += 8

    top = HEADER_H
    bottom = y
    # phases as background bands
    phase_t = {str(e.get("name")): float(e.get("t") or 0.0) for e in entries if e.get("kind") == "phase"}
    bands: list[Band] = []
    if phase_t:
        order = sorted(phase_t.items(), key=lambda p: p[1])
        first = order[0][1]
        if first > 0:
            bands.append(Band(x_of(0), width_of(0, first), "setup", "setup"))
        for i, (phase, t0) in enumerate(order):
            t1 = order[i + 1][1] if i + 1 < len(order) else span
            bands.append(Band(x_of(t0), width_of(t0, t1), f"{phase} phase", phase))

    step = _nice_step(span)
    ticks = [Tick(x_of(i * step), _seconds(i * step, step)) for i in range(int(span / step) + 1)]
    return Timeline(width=WIDTH, height=bottom + AXIS_H, plot_left=left, plot_right=right, top=top, bottom=bottom,
                    sections=sections, bands=bands, ticks=ticks, span=span, empty=not entries)
