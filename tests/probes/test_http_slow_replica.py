"""A replica that answers slowly is an answer, however short the check's window: ``http_endpoint`` waits for each
request as long as the client's own timeout says, so a loaded machine never reads as "no answer" (which a row
expecting silence would pass on). Run as a user runs a lab: the scale_rule_mismatch workload, built and run
for real, holding each ``/load`` request 1.5 real seconds."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

LAB = Path(__file__).resolve().parents[2] / "labs" / "scale_rule_mismatch"
HOLD_MS = 1500
"""Longer than the one real second that used to cap a request when the check's window was nearly over."""


def _slow_lab(root: Path) -> None:
    target = root / "labs" / "slow_replica"
    shutil.copytree(LAB, target)
    app = target / "workload" / "app.py"
    source = app.read_text()
    assert '"LOAD_HOLD_MS", "200"' in source  # the workload's default hold, which the copy lengthens
    app.write_text(source.replace('"LOAD_HOLD_MS", "200"', f'"LOAD_HOLD_MS", "{HOLD_MS}"'))
    data = yaml.safe_load((target / "lab.yaml").read_text())
    data["id"] = "slow_replica"
    answered = {"probe": "http_endpoint", "with": {"app": "app", "via": "app", "path": "/load", "requests": 1},
                "expect": {"equals": [200]}, "within": "200ms"}
    data["hypothesis"]["rows"] = [{"key": "slow-answer", "variable": "A slow replica's answer",
                                   "control": "200", "experimental": "200",
                                   "failing": answered, "recovered": answered}]
    data["trigger"]["actions"] = [a for a in data["trigger"]["actions"] if a["id"] != "load-before"]
    data["recovery"] = [a for a in data["recovery"] if a["id"] == "wait-healthy-after"]
    data["experiment_log"] = [{"step": 1, "action": "Request /load once", "expected": "200 after 1.5 s",
                               "from": "slow-answer[failing]"}]
    (target / "lab.yaml").write_text(yaml.safe_dump(data, sort_keys=False))


def test_a_slow_answer_within_a_short_window_is_an_answer(pytester: pytest.Pytester) -> None:
    _slow_lab(pytester.path)
    result = pytester.runpytest("labs", "-v", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=3)  # the deployment and both phases of the row
    result.stdout.fnmatch_lines(["*slow-answer?failing? PASSED*", "*slow-answer?recovered? PASSED*"])
