"""Drift between two runs: per lab and row, what changed (verdict, expectation, observed value, error wording,
how long a transition took). Read from report directories (``results.json`` per lab) or junit files.

Values are compared after the parts that differ on every run are masked (resource and group names derived
from the run id, revision suffixes, timestamps, digests, how many log records a list held), so a change
means Azure (or the lab) changed, not the dice. A transition time counts as changed when it moved by at least
``TRANSITION_MIN`` seconds and ``TRANSITION_RATIO`` of the earlier time: night-to-night jitter is not news.
"""

from __future__ import annotations

import json
import re
import textwrap
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pytest_acalab.errors import DriftInputError
from pytest_acalab.reports.runinfo import backend_line

TRANSITION_MIN = 10.0
TRANSITION_RATIO = 0.25
VERDICTS = {"passed": "Pass", "failed": "Fail", "error": "Error", "skipped": "Skipped"}


@dataclass
class LabRecord:
    id: str
    title: str = ""
    items: dict[str, dict[str, Any]] = field(default_factory=dict)
    names: dict[str, str] = field(default_factory=dict)
    """Run-specific names to mask (resource names by alias, the resource group)."""


@dataclass
class RunRecord:
    source: str
    run: dict[str, Any] = field(default_factory=dict)
    labs: dict[str, LabRecord] = field(default_factory=dict)

    def describe(self) -> str:
        return f"{self.source} ({backend_line(self.run)})" if self.run else self.source


@dataclass
class Change:
    lab: str
    item: str
    what: str
    before: str
    now: str

    def as_dict(self) -> dict[str, str]:
        return {"lab": self.lab, "item": self.item, "what": self.what, "before": self.before, "now": self.now}


@dataclass
class Drift:
    old: RunRecord
    new: RunRecord
    changes: list[Change]
    compared: int
    """How many (lab, item) pairs were compared."""

    def for_lab(self, lab: str) -> list[Change]:
        return [c for c in self.changes if c.lab == lab]


# ---- loading -------------------------------------------------------------------------------------------

def load_run(path: str | Path) -> RunRecord:
    """A run from a report directory (``*/results.json``), a junit file, or a directory of junit files."""
    p = Path(path)
    if p.is_file():
        return _from_junit([p], str(p))
    if not p.is_dir():
        raise DriftInputError(f"{p}: no such report directory or junit file")
    results = sorted(p.rglob("results.json"))
    if results:
        return _from_results(results, str(p))
    junits = sorted(x for x in p.rglob("*.xml") if _is_junit(x))
    if junits:
        return _from_junit(junits, str(p))
    raise DriftInputError(f"{p}: holds no lab results (<lab>/results.json from --acalab-report-dir) and no junit "
                          "file (--junitxml)")


def _from_results(files: list[Path], source: str) -> RunRecord:
    record = RunRecord(source)
    for f in files:
        try:
            data = json.loads(f.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise DriftInputError(f"{f}: not a results file ({exc})") from None
        if not isinstance(data, dict) or "items" not in data:
            raise DriftInputError(f"{f}: not a results file written by --acalab-report-dir (no 'items')")
        lab_info = data.get("lab") or {}
        lab_id = str(lab_info.get("id") or f.parent.name)
        record.run = record.run or dict(data.get("run") or {})
        summary = data.get("summary") or {}
        names = {alias: str(name) for alias, name in (summary.get("resources") or {}).items() if name}
        if summary.get("resource_group"):
            names["group"] = str(summary["resource_group"])
        record.labs[lab_id] = LabRecord(lab_id, str(lab_info.get("title") or ""), dict(data["items"]), names)
    return record


def _is_junit(path: Path) -> bool:
    try:
        with path.open("rb") as fh:
            head = fh.read(2048)
    except OSError:
        return False
    return b"<testsuite" in head


def _from_junit(files: list[Path], source: str) -> RunRecord:
    record = RunRecord(source)
    for f in files:
        try:
            root = ET.parse(f).getroot()
        except (ET.ParseError, OSError) as exc:
            raise DriftInputError(f"{f}: not a junit file ({exc})") from None
        suites = [root] if root.tag == "testsuite" else root.findall("testsuite")
        if root.tag not in ("testsuite", "testsuites"):
            raise DriftInputError(f"{f}: not a junit file (root element <{root.tag}>)")
        for suite in suites:
            props = {p.get("name"): p.get("value") for p in suite.findall("properties/property")}
            if props.get("acalab.backend") and not record.run:
                record.run = {"backend": props.get("acalab.backend"), "run_id": props.get("acalab.run_id"),
                              "location": props.get("acalab.location"),
                              "emulator_profile": props.get("acalab.emulator_profile")}
            for name, value in props.items():
                if name and name.startswith("acalab.resources.") and value:
                    try:
                        names = {k: str(v) for k, v in json.loads(value).items() if v}
                    except (ValueError, AttributeError):
                        continue
                    lab_id = name.removeprefix("acalab.resources.")
                    record.labs.setdefault(lab_id, LabRecord(lab_id)).names.update(names)
            for case in suite.findall("testcase"):
                cprops = {p.get("name"): p.get("value") for p in case.findall("properties/property")}
                case_lab = cprops.get("acalab.lab") or _lab_from_classname(case.get("classname") or "")
                if not case_lab:
                    continue
                outcome, message = "passed", None
                for tag in ("failure", "error", "skipped"):
                    el = case.find(tag)
                    if el is not None:
                        outcome = {"failure": "failed", "error": "error", "skipped": "skipped"}[tag]
                        lines = (el.get("message") or el.text or "").strip().splitlines()
                        message = lines[0] if lines else None
                        break
                if outcome == "skipped" and message:
                    message = message.removeprefix("Skipped: ")
                held = cprops.get("acalab.held_after")
                lab = record.labs.setdefault(case_lab, LabRecord(case_lab))
                lab.items[case.get("name") or "?"] = {
                    "outcome": outcome, "expected": cprops.get("acalab.expected"),
                    "actual": cprops.get("acalab.actual"), "source": cprops.get("acalab.evidence_source"),
                    "message": re.sub(r"^\S+:\d+: ", "", message) if message else None,
                    "held_after": float(held.rstrip("s")) if held else None,
                }
    return record


def _lab_from_classname(classname: str) -> str | None:
    parts = classname.split(".")
    return parts[1] if len(parts) >= 2 and parts[0] == "labs" else None


def record_from_results(results: list[Any], run: dict[str, Any], source: str = "this run") -> RunRecord:
    """The current run (``LabResults`` of the plugin) as a record to compare."""
    record = RunRecord(source, dict(run))
    for res in results:
        names = {alias: str(name) for alias, name in (res.summary.get("resources") or {}).items() if name}
        if res.summary.get("resource_group"):
            names["group"] = str(res.summary["resource_group"])
        record.labs[res.lab.id] = LabRecord(res.lab.id, res.lab.title, dict(res.items), names)
    return record


# ---- comparing -----------------------------------------------------------------------------------------

_TIME = re.compile(r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|[+-]\d{2}:?\d{2})?(?: \+0000 UTC)?")
_DIGEST = re.compile(r"sha256:[0-9a-f]{12,}")
_GUID = re.compile(r"\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b", re.I)
_GROUP = re.compile(r"acalab-[\w.-]+?-[0-9a-f]{8}-(?:main|gw\d+)")
_REVISION = re.compile(r"(<app>|\bca-[a-z0-9-]+?)--[a-z0-9]+(?:-[a-z0-9]+)*")
_LIST = re.compile(r"\b(\d+) items?: \[.*?(?:\]|…)(?=$|;| \|)", re.S)
_SPACE = re.compile(r"\s+")


def normalise(text: Any, names: dict[str, str] | None = None) -> str:
    """``text`` with what differs on every run masked (see the module docstring)."""
    if text is None:
        return ""
    out = str(text)
    for alias, name in sorted((names or {}).items(), key=lambda kv: -len(kv[1])):
        if len(name) >= 4:
            out = out.replace(name, f"<{alias}>")
    out = _GROUP.sub("<group>", out)
    out = _TIME.sub("<time>", out)
    out = _DIGEST.sub("sha256:<digest>", out)
    out = _GUID.sub("<guid>", out)
    out = _REVISION.sub(lambda m: f"{m.group(1)}--<revision>", out)
    out = _LIST.sub(lambda m: "0 items" if m.group(1) == "0" else ("1 item" if m.group(1) == "1" else "2+ items"), out)
    return _SPACE.sub(" ", out).strip()


def _held(item: dict[str, Any]) -> float | None:
    value = item.get("held_after")
    try:
        return None if value is None else float(value)
    except (TypeError, ValueError):
        return None


def _short(text: str, limit: int = 160) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def compare(old: RunRecord, new: RunRecord) -> Drift:
    changes: list[Change] = []
    compared = 0
    for lab_id in sorted(set(old.labs) | set(new.labs)):
        before_lab, now_lab = old.labs.get(lab_id), new.labs.get(lab_id)
        if before_lab is None:
            changes.append(Change(lab_id, "(lab)", "lab", "not in the baseline", "ran"))
            continue
        if now_lab is None:
            changes.append(Change(lab_id, "(lab)", "lab", "ran", "not run"))
            continue
        names_old, names_new = before_lab.names, now_lab.names
        for item in _ordered(set(before_lab.items) | set(now_lab.items)):
            b, n = before_lab.items.get(item), now_lab.items.get(item)
            if b is None or n is None:
                changes.append(Change(lab_id, item, "item", "absent" if b is None else _verdict(b),
                                      "absent" if n is None else _verdict(n)))
                continue
            compared += 1
            changes.extend(_item_changes(lab_id, item, b, n, names_old, names_new))
    return Drift(old, new, changes, compared)


def _ordered(items: set[str]) -> list[str]:
    """deployment first, then failing rows, then recovered rows, each by name."""
    def key(name: str) -> tuple[int, str]:
        return (0 if name == "deployment" else 1 if name.endswith("[failing]") else
                2 if name.endswith("[recovered]") else 3, name)
    return sorted(items, key=key)


def _verdict(item: dict[str, Any]) -> str:
    return VERDICTS.get(str(item.get("outcome")), str(item.get("outcome") or "not run"))


def _item_changes(lab: str, item: str, b: dict[str, Any], n: dict[str, Any], names_old: dict[str, str],
                  names_new: dict[str, str]) -> list[Change]:
    out = []
    if b.get("outcome") != n.get("outcome"):
        def why(x: dict[str, Any], names: dict[str, str]) -> str:
            reason = normalise(x.get("message"), names) if x.get("outcome") in ("error", "skipped") else ""
            return f"{_verdict(x)}: {_short(reason, 120)}" if reason else _verdict(x)
        out.append(Change(lab, item, "verdict", why(b, names_old), why(n, names_new)))
    exp_b, exp_n = normalise(b.get("expected"), names_old), normalise(n.get("expected"), names_new)
    if exp_b and exp_n and exp_b != exp_n:
        out.append(Change(lab, item, "expectation", _short(exp_b), _short(exp_n)))
    act_b, act_n = normalise(b.get("actual"), names_old), normalise(n.get("actual"), names_new)
    if (act_b or act_n) and act_b != act_n:
        out.append(Change(lab, item, "observed value", _short(act_b) or "—", _short(act_n) or "—"))
    if b.get("outcome") == n.get("outcome") and b.get("outcome") in ("failed", "error", "skipped"):
        msg_b, msg_n = normalise(b.get("message"), names_old), normalise(n.get("message"), names_new)
        if msg_b != msg_n and not (act_b != act_n and n.get("outcome") == "failed"):
            what = "skip reason" if "skipped" in (b.get("outcome"), n.get("outcome")) else "error wording"
            out.append(Change(lab, item, what, _short(msg_b) or "—", _short(msg_n) or "—"))
    held_b, held_n = _held(b), _held(n)
    if held_b is not None and held_n is not None:
        moved = abs(held_n - held_b)
        if moved >= TRANSITION_MIN and moved >= TRANSITION_RATIO * max(held_b, 1e-9):
            value = _short(act_n, 40) if act_n and len(act_n) <= 40 else "held"
            out.append(Change(lab, item, "transition time", f"{value} after {held_b:.0f} s",
                              f"{value} after {held_n:.0f} s"))
    elif (held_b is None) != (held_n is None) and b.get("outcome") == n.get("outcome") == "passed":
        pass  # one run did not record timings (an older report): nothing to say
    return out


# ---- formats -------------------------------------------------------------------------------------------

HEADER = ("Lab", "Row", "What", "Before", "Now")


def headline(drift: Drift) -> str:
    labs = len(set(drift.old.labs) | set(drift.new.labs))
    if not drift.changes:
        return f"no drift: {drift.compared} rows in {labs} labs behave as in the baseline"
    rows = len({(c.lab, c.item) for c in drift.changes})
    return f"{len(drift.changes)} change(s) in {rows} row(s) of {labs} labs since the baseline"


def _backend_note(drift: Drift) -> str | None:
    b, n = drift.old.run.get("backend"), drift.new.run.get("backend")
    if b and n and b != n:
        return f"note: the baseline ran on {b}, this run on {n}: differences may be the backend's, not Azure's"
    return None


def format_text(drift: Drift, width: int = 120) -> list[str]:
    lines = [f"baseline: {drift.old.describe()}", f"now:      {drift.new.describe()}"]
    note = _backend_note(drift)
    if note:
        lines.append(note)
    lines.append(headline(drift))
    if not drift.changes:
        return lines
    gap = 2
    rows = [HEADER, *[(c.lab, c.item, c.what, c.before, c.now) for c in drift.changes]]
    free = max(width - 1 - 4 * gap, 60)
    widths = [min(max(len(r[i]) for r in rows), cap) for i, cap in ((0, 22), (1, 34), (2, 15))]
    rest = max(free - sum(widths), 32)
    widths += [rest // 2, rest - rest // 2]
    for i, row in enumerate(rows):
        cells = [textwrap.wrap(str(v), w, break_long_words=True, break_on_hyphens=False) or [""]
                 for v, w in zip(row, widths, strict=True)]
        for k in range(max(len(c) for c in cells)):
            lines.append((" " * gap).join((c[k] if k < len(c) else "").ljust(w)
                                          for c, w in zip(cells, widths, strict=True)).rstrip())
        if i == 0:
            lines.append((" " * gap).join("-" * w for w in widths))
    return lines


def _md(text: str) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def format_markdown(drift: Drift) -> str:
    """GitHub-flavoured Markdown, for the job summary ($GITHUB_STEP_SUMMARY)."""
    lines = ["### acalab: drift from the baseline", "",
             f"- baseline: {_md(drift.old.describe())}", f"- now: {_md(drift.new.describe())}"]
    note = _backend_note(drift)
    if note:
        lines.append(f"- {note}")
    lines += ["", f"**{headline(drift)}**", ""]
    if drift.changes:
        lines += ["| " + " | ".join(HEADER) + " |", "|---|---|---|---|---|"]
        lines += [f"| {_md(c.lab)} | `{_md(c.item)}` | {_md(c.what)} | {_md(c.before)} | {_md(c.now)} |"
                  for c in drift.changes]
        lines.append("")
    return "\n".join(lines) + "\n"


def as_json(drift: Drift) -> str:
    return json.dumps({"baseline": {"source": drift.old.source, "run": drift.old.run},
                       "now": {"source": drift.new.source, "run": drift.new.run},
                       "compared": drift.compared, "changes": [c.as_dict() for c in drift.changes]}, indent=2)
