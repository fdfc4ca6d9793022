"""What a run leaves in ``--acalab-report-dir`` and in the GitHub job summary (controller side, after the run)."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from pytest_acalab.reports.drift import Drift, DriftInputError, compare, format_markdown, load_run, record_from_results
from pytest_acalab.reports.experiment_log import LabResults
from pytest_acalab.reports.scrub import Scrubber

RESULTS_FORMAT = "acalab-results/1"


def results_document(res: LabResults, run: dict[str, Any]) -> dict[str, Any]:
    """``results.json``: which run produced it (backend first), which lab, and every item's result."""
    return {"format": RESULTS_FORMAT, "backend": run.get("backend"), "run": run,
            "lab": {"id": res.lab.id, "title": res.lab.title, "path": str(res.lab.path)},
            "items": res.items, "summary": res.summary}


def compare_with_baseline(baseline: Path, results: list[LabResults], run: dict[str, Any],
                          scrubber: Scrubber) -> Drift | str:
    """This run against ``--acalab-baseline``; a one-line reason instead when the baseline cannot be read.

    With ``GITHUB_STEP_SUMMARY`` set (GitHub Actions), the comparison is appended there as Markdown.
    """
    try:
        old = load_run(baseline)
    except DriftInputError as exc:
        return f"no comparison with the baseline: {exc}"
    drift = compare(old, record_from_results(results, run))
    summary = os.environ.get("GITHUB_STEP_SUMMARY")
    if summary:
        try:
            with open(summary, "a", encoding="utf-8") as fh:
                fh.write(scrubber.text(format_markdown(drift)))
        except OSError:
            pass  # the job summary is a courtesy: the terminal and the report still say it
    return drift


def write_reports(report_dir: Path, results: list[LabResults], run: dict[str, Any], drift: Drift | str | None,
                  scrubber: Scrubber) -> None:
    # loaded only on this path (a command or report most runs never reach)
    # loaded only on this path, keeping pytest --version and collection light
    from pytest_acalab.reports.drift import as_json
    from pytest_acalab.reports.html import write_html

    report_dir = Path(report_dir)
    report_dir.mkdir(parents=True, exist_ok=True)
    for res in results:
        out = report_dir / res.lab.id
        out.mkdir(parents=True, exist_ok=True)
        (out / "experiment-log.md").write_text(scrubber.text(res.markdown()), encoding="utf-8")
        (out / "results.json").write_text(json.dumps(scrubber.data(results_document(res, run)), indent=2,
                                                     default=str), encoding="utf-8")
    comparison = drift if isinstance(drift, Drift) else None
    if comparison is not None:
        (report_dir / "drift.md").write_text(scrubber.text(format_markdown(comparison)), encoding="utf-8")
        (report_dir / "drift.json").write_text(scrubber.text(as_json(comparison)), encoding="utf-8")
    write_html(report_dir, results, run, comparison, scrubber.text)
