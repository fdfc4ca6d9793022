"""The HTML report of a run: ``index.html`` and a page per lab, self-contained (inline CSS and SVG, no script,
nothing fetched: a Content-Security-Policy says so to the browser), rendered with Jinja2 templates.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pytest_acalab.reports.drift import Drift
from pytest_acalab.reports.experiment_log import VERDICTS, LabResults, item_actual
from pytest_acalab.reports.runinfo import backend_label
from pytest_acalab.reports.timeline import build

LAB_PAGE = "report.html"
"""Each lab's page, beside its experiment-log.md, results.json and journal.json."""


def _environment() -> Any:
    # Jinja2 loads only when a page is rendered, not at pytest --version or collection
    from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

    return Environment(loader=PackageLoader("pytest_acalab.reports", "templates"),
                       autoescape=select_autoescape(["html", "j2"], default_for_string=True, default=True),
                       undefined=StrictUndefined, trim_blocks=False, lstrip_blocks=False)


def read_journal(path: Path) -> list[dict[str, Any]]:
    """The journal's entries, or none when the lab wrote no journal (it never ran on this machine)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return []
    entries = data.get("entries") if isinstance(data, dict) else None
    return [e for e in entries if isinstance(e, dict)] if isinstance(entries, list) else []


def _item_view(res: LabResults, name: str, expected: str) -> dict[str, Any]:
    item = res.items.get(name)
    if item is None:
        return {"name": name, "verdict": "not run", "expected": expected,
                "actual": "not reached: " + res.summary["error"] if res.summary.get("error") else "not run",
                "source": None, "excerpt": None, "held_after": None, "attempts": None, "elapsed": None}
    return {"name": name, "verdict": VERDICTS.get(str(item.get("outcome")), "not run"),
            "expected": item.get("expected") or expected, "actual": item_actual(item), "source": item.get("source"),
            "excerpt": item.get("excerpt"), "held_after": item.get("held_after"), "attempts": item.get("attempts"),
            "elapsed": item.get("elapsed")}


def _counts(items: list[dict[str, Any]]) -> dict[str, int]:
    out = {"passed": 0, "failed": 0, "error": 0, "skipped": 0}
    for item in items:
        key = {"Pass": "passed", "Fail": "failed", "Error": "error", "Skipped": "skipped"}.get(item["verdict"])
        if key:
            out[key] += 1
    return out


def lab_view(res: LabResults, entries: list[dict[str, Any]], drift: Drift | None) -> dict[str, Any]:
    """What a lab's page and its index card show."""
    # loaded only on this path, keeping pytest --version and collection light
    from pytest_acalab.reports.runinfo import bicep_line

    lab = res.lab
    deployment = _item_view(res, "deployment", f"deployment ends {lab.infra.expect}")
    dep = res.summary.get("deployment") or {}
    if dep:
        err = dep.get("error") or {}
        deployment["actual"] = f"provisioningState {dep.get('state')}" + (f" ({err.get('code')})"
                                                                         if err.get("code") else "")
    rows: list[dict[str, Any]] = []
    for row in lab.rows:
        rows.append({"key": row.key, "variable": row.variable, "control": row.control,
                     "experimental": row.experimental,
                     "failing": _item_view(res, row.item_id("failing"), row.failing.describe()),
                     "recovered": _item_view(res, row.item_id("recovered"), row.recovered.describe())})
    items_flat: list[dict[str, Any]] = [deployment, *(r["failing"] for r in rows), *(r["recovered"] for r in rows)]
    extra = [n for n in res.items if n not in {i["name"] for i in items_flat}]  # Python tests in the lab folder
    items_flat += [_item_view(res, n, "") for n in extra]
    bicep = res.summary.get("bicep") or {}
    elapsed = res.summary.get("elapsed")
    return {
        "id": lab.id, "title": lab.title, "path": str(lab.path), "statement": lab.hypothesis.statement,
        "href": f"{lab.id}/{LAB_PAGE}", "rows": rows, "items_flat": items_flat, "counts": _counts(items_flat),
        "deployment": deployment, "experiment_log": res.rows(), "resource_group": res.summary.get("resource_group"),
        "location": res.summary.get("location"), "teardown": res.summary.get("teardown"),
        "error": res.summary.get("error"), "elapsed": f"{elapsed:.1f} s" if isinstance(elapsed, int | float) else "—",
        "bicep_warning": bicep_line(bicep) if bicep and (bicep.get("drift") or bicep.get("error")) else None,
        "timeline": build(entries), "changes": drift.for_lab(lab.id) if drift is not None else None,
    }


def write_html(report_dir: Path, results: list[LabResults], run: dict[str, Any], drift: Drift | None,
               scrub: Callable[[str], str]) -> Path:
    """Write ``index.html`` and ``<lab>/report.html`` for each lab; returns the index's path."""
    # loaded only on this path, keeping pytest --version and collection light
    from pytest_acalab.reports.drift import headline

    env = _environment()
    run_view = {**run, "backend_text": backend_label(run)}
    labs = []
    for res in sorted(results, key=lambda r: r.lab.id):
        out = report_dir / res.lab.id
        out.mkdir(parents=True, exist_ok=True)
        view = lab_view(res, read_journal(out / "journal.json"), drift)
        page = env.get_template("lab.html.j2").render(lab=view, run=run_view)
        (out / LAB_PAGE).write_text(scrub(page), encoding="utf-8")
        labs.append(view)
    totals = {k: sum(lab["counts"][k] for lab in labs) for k in ("passed", "failed", "error", "skipped")}
    index = env.get_template("index.html.j2").render(
        labs=labs, run=run_view, totals=totals, drift=drift,
        drift_headline=headline(drift) if drift is not None else "")
    path = report_dir / "index.html"
    path.write_text(scrub(index), encoding="utf-8")
    return path
