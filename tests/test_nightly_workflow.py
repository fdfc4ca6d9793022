"""The nightly workflow parses and has the steps a live run needs, each where it must be."""

from __future__ import annotations

import re
from typing import Any

import yaml

from helpers.livekit import ROOT

WORKFLOW = ROOT / ".github" / "workflows" / "nightly.yml"


def _load() -> dict[str, Any]:
    return yaml.safe_load(WORKFLOW.read_text(encoding="utf-8"))


def _steps() -> list[dict[str, Any]]:
    return _load()["jobs"]["labs"]["steps"]


def _step(predicate: Any) -> tuple[int, dict[str, Any]]:
    found = [(i, s) for i, s in enumerate(_steps()) if predicate(s)]
    assert len(found) == 1, found
    return found[0]


def test_triggers_and_permissions() -> None:
    doc = _load()
    triggers = doc.get("on", doc.get(True))  # YAML 1.1 reads a bare `on` key as the boolean true
    assert set(triggers) == {"schedule", "workflow_dispatch"}
    assert re.fullmatch(r"[\d*/,\- ]+", triggers["schedule"][0]["cron"])
    assert doc["permissions"] == {"id-token": "write", "contents": "read"}


def test_oidc_login_from_secrets() -> None:
    _, login = _step(lambda s: str(s.get("uses", "")).startswith("azure/login@"))
    assert login["with"] == {"client-id": "${{ secrets.AZURE_CLIENT_ID }}",
                             "tenant-id": "${{ secrets.AZURE_TENANT_ID }}",
                             "subscription-id": "${{ secrets.AZURE_SUBSCRIPTION_ID }}"}
    assert "client-secret" not in str(login) and "creds" not in login["with"]


def test_install_and_run_as_documented() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    i_install, install = _step(lambda s: str(s.get("run", "")).startswith("pip install"))
    assert install["run"].strip() == "pip install -e ."
    assert "pip install -e ." in readme
    i_run, run = _step(lambda s: "pytest labs" in str(s.get("run", "")))
    assert run["run"].split() == ["pytest", "labs", "-n", "auto", "--acalab-backend", "azure", "--junitxml",
                                  "reports/junit.xml", "--acalab-report-dir", "reports"]
    i_login, _ = _step(lambda s: str(s.get("uses", "")).startswith("azure/login@"))
    assert i_login < i_install < i_run


def test_reports_summary_and_sweep_always_run_after_the_labs() -> None:
    i_run, _ = _step(lambda s: "pytest labs" in str(s.get("run", "")))
    i_upload, upload = _step(lambda s: str(s.get("uses", "")).startswith("actions/upload-artifact@"))
    i_summary, summary = _step(lambda s: "GITHUB_STEP_SUMMARY" in str(s.get("run", "")))
    i_sweep, sweep = _step(lambda s: "acalab sweep" in str(s.get("run", "")))
    for index, step in ((i_upload, upload), (i_summary, summary), (i_sweep, sweep)):
        assert index > i_run and step.get("if") == "always()", step
    assert "reports" in upload["with"]["path"]  # junit.xml and every lab's experiment-log.md / journal.json
    assert "experiment-log.md" in summary["run"]
    assert sweep["run"].strip() == "acalab sweep --older-than 2h"
    assert _step(lambda s: "acalab sweep" in str(s.get("run", "")))[0] == len(_steps()) - 1
