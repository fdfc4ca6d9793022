"""The nightly workflow's drift job compares this night's reports with the last good night's, with the very
command line `acalab compare` accepts, and writes the table to the job summary."""

from __future__ import annotations

import shlex
from pathlib import Path
from typing import Any

import yaml

from pytest_acalab.cli import build_parser

WORKFLOW = Path(__file__).resolve().parents[2] / ".github" / "workflows" / "nightly.yml"


def _job() -> dict[str, Any]:
    return yaml.safe_load(WORKFLOW.read_text(encoding="utf-8"))["jobs"]["drift"]


def test_the_drift_job_runs_after_the_labs_whatever_they_gave() -> None:
    job = _job()
    assert job["needs"] == "labs" and job["if"].startswith("always()")
    assert job["permissions"] == {"actions": "read", "contents": "read"}


def test_the_baseline_is_the_last_successful_nights_reports() -> None:
    steps = _job()["steps"]
    find = next(s for s in steps if s.get("id") == "baseline")
    assert "--status success" in find["run"] and "--limit 1" in find["run"]
    downloads = [s for s in steps if str(s.get("uses", "")).startswith("actions/download-artifact@")]
    assert [d["with"]["path"] for d in downloads] == ["reports/", "baseline/"]
    assert all(d["with"]["name"] == "lab-reports" for d in downloads)
    assert downloads[1]["with"]["run-id"] == "${{ steps.baseline.outputs.run-id }}"


def test_the_compare_command_is_one_acalab_accepts() -> None:
    script = next(s for s in _job()["steps"] if "acalab compare" in str(s.get("run", "")))["run"]
    line = next(x.strip() for x in script.splitlines() if x.strip().startswith("acalab compare"))
    args = build_parser().parse_args(shlex.split(line)[1:])
    assert (args.command, args.old, args.new, args.format, args.github_summary) == (
        "compare", "baseline", "reports", "markdown", True)
