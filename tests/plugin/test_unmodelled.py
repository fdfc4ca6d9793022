"""What the emulator cannot run is an error with the reason, never a pass (issue: no silent wrong Healthy)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
# No cache files in the temporary lab folder. The default floor of real seconds per wait is kept on purpose:
# under load the real lab's recovery update took over 1 s, which a 1 s floor turned into a timeout error.
PYTEST_ARGS = ("-p", "no:cacheprovider")


def test_a_workload_the_emulator_cannot_run_errors_its_items_with_the_reason(pytester: pytest.Pytester) -> None:
    lab = pytester.path / "labs" / "node_lab"
    shutil.copytree(REPO / "labs" / "acr_pull_failure", lab)
    (lab / "workload" / "Dockerfile").write_text(
        "FROM node:20-alpine\nWORKDIR /app\nCOPY app.py .\nEXPOSE 8000\nCMD [\"node\", \"server.js\"]\n")
    result = pytester.runpytest("labs", "-v", "-k", "recovered", *PYTEST_ARGS)
    outcomes = result.parseoutcomes()
    assert outcomes.get("errors") == 4 and "passed" not in outcomes and "failed" not in outcomes
    result.stdout.fnmatch_lines(["*revision-health?recovered? ERROR*"])
    result.stdout.fnmatch_lines(["*cannot model this lab, so no verdict is given*node:20-alpine*"])
    assert "revision-health[recovered] PASSED" not in result.stdout.str()
