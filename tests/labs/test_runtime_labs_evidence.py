"""Contract: what the emulator produces for the runtime labs is what live Azure produced for the Practical
Guide's same labs (state names, runningStateDetails wording, system-log reasons and messages, whether a new
revision was minted).

Each lab runs unchanged (in pytester, on the emulator) with one extra test file in its folder that runs after
the lab's items and records, through the lab's own fixtures, the system logs of the whole lab, the revisions
and what each action reported. Values seen while the lab was in its failing state come from the run's
journal (every probe answer, with its time). The Azure side is the Guide's evidence, copied into
``data/guide_evidence`` (MIT, see its README).
"""

from __future__ import annotations

import ast
import json
import re
import shutil
from pathlib import Path
from typing import Any

import pytest

LABS = Path(__file__).resolve().parents[2] / "labs"
EVIDENCE = Path(__file__).parent / "data" / "guide_evidence"

RECORDER = '''
import json
from pathlib import Path


def test_record_what_the_emulator_produced(lab_context, lab_probe):
    import time

    def value(name, **args):
        return lab_probe(name, **args).value

    # the Guide captured the recovered state once the recovery had settled; an in-place rollout that is
    # still starting its new replica already reads Healthy (as on Azure) but still counts the old replicas
    cap = time.monotonic() + 120
    while lab_context.backend.settling(lab_context.resource_group) and time.monotonic() < cap:
        time.sleep(0.1)

    latest = value("app_state", app="app", field="latestRevisionName")
    out = {
        "logs": value("system_logs", app="app", since="lab"),
        "revisions": value("revisions", app="app"),
        "latest": latest,
        "final": {field: value("revision_state", app="app", field=field, revision=latest)
                  for field in ("healthState", "runningState", "provisioningState", "runningStateDetails",
                                "replicas")},
        "actions": {k: {"status": r.status, **r.data} for k, r in lab_context.action_results.items()},
    }
    if Path(__file__).parent.name == "appinsights_connection_string_missing":  # the tables Azure's evidence counts
        out["telemetry"] = {table: len(value("log_rows", workspace="workspace", app="app", table=table))
                            for table in ("AppRequests", "AppTraces")}
    if Path(__file__).parent.name == "diagnostic_settings_missing":  # the configuration Azure's evidence shows
        out["env_logs"] = value("environment_state", environment="environment", field="appLogsConfiguration")
    if Path(__file__).parent.name == "managed_identity_key_vault_failure":  # the answer Azure's evidence shows
        import requests
        fqdn = value("app_state", app="app", field="configuration.ingress.fqdn")
        settings = lab_context.backend.http_settings()
        out["health"] = requests.get(f"https://{fqdn}/health", verify=settings.get("verify", True),
                                     proxies=settings.get("proxies"), timeout=30).text
    (Path(__file__).parent / "produced.json").write_text(json.dumps(out, default=str))
'''


def _value(text: Any) -> Any:
    try:
        return ast.literal_eval(text) if isinstance(text, str) else text
    except (ValueError, SyntaxError):
        return text


def run_lab(pytester: pytest.Pytester, name: str, extra: dict[str, str] | None = None) -> tuple[
        dict[str, Any], list[dict[str, Any]]]:
    """Run the lab (with ``extra`` test files beside the recorder); return what the recorder saw at the end and
    the journal's probe answers seen before the first recovery action started (the failing state). The run's
    terminal output is kept in ``output.txt``."""
    target = pytester.path / "labs" / name
    shutil.copytree(LABS / name, target)
    (target / "test_zz_recorder.py").write_text(RECORDER)
    for file_name, text in (extra or {}).items():
        (target / file_name).write_text(text)
    reports = pytester.path / "reports"
    result = pytester.runpytest("labs", "-q", "-p", "no:cacheprovider", "--acalab-report-dir", str(reports),
                                "--junitxml", str(reports / "junit.xml"))
    (pytester.path / "output.txt").write_text(result.stdout.str() + result.stderr.str())
    result.assert_outcomes(passed=2 + len(extra or {}) + 2 * len(_rows(target)))
    produced = json.loads((target / "produced.json").read_text())
    journal = json.loads((reports / name / "journal.json").read_text())["entries"]
    recovery_ids = _recovery_ids(target)
    first_recovery = min(float(e["t"]) for e in journal
                         if e["kind"] == "action" and e["name"] in recovery_ids and e.get("event") == "start")
    failing = [{**e, "value": _value(e.get("value"))} for e in journal
               if e["kind"] == "probe" and float(e["t"]) < first_recovery]
    return produced, failing


def _rows(folder: Path) -> list[Any]:
    from pytest_acalab.labfile import load_lab

    return list(load_lab(folder).rows)


def _recovery_ids(folder: Path) -> set[str]:
    import yaml

    return {a["id"] for a in yaml.safe_load((folder / "lab.yaml").read_text())["recovery"]}


def _seen_any(failing: list[dict[str, Any]], probe: str) -> list[Any]:
    return [e["value"] for e in failing if e["name"] == probe]


def _seen(failing: list[dict[str, Any]], probe: str) -> set[Any]:
    return {e["value"] for e in failing if e["name"] == probe and isinstance(e["value"], (str, int))}


def _log_pairs(logs: list[dict[str, Any]], revision: str) -> set[tuple[str, str, str]]:
    return {(r["type"], r["reason"], r["message"]) for r in logs if r.get("revision") == revision}


def test_probe_and_port_mismatch_matches_the_guide_s_evidence(pytester: pytest.Pytester) -> None:
    azure = EVIDENCE / "probe-and-port-mismatch"
    failed = json.loads((azure / "08-revision-show-failed.json").read_text())
    fixed = json.loads((azure / "16-revision-post-fix.json").read_text())
    gate = json.loads((azure / "22-h2-gate.json").read_text())
    azure_logs = [json.loads(line) for line in (azure / "10-system-logs-tail.log").read_text().splitlines()]
    produced, failing = run_lab(pytester, "probe_and_port_mismatch")

    # the failing state, in Azure's words
    assert failed["healthState"] in _seen(failing, "revision_health")
    assert {failed["runningState"], failed["runningStateDetails"]} <= _seen(failing, "revision_state")
    # the system logs of the trigger's revision: every (type, reason, message) Azure logged for its revision
    trigger_revision = produced["actions"]["update-image"]["latestRevisionName"]
    azure_pairs = {(r["Type"], r["Reason"], r["Msg"]) for r in azure_logs
                   if r["RevisionName"] == gate["trigger_revision_name"]}
    assert azure_pairs and azure_pairs <= _log_pairs(produced["logs"], trigger_revision)
    assert ("Normal", "Pending:PortMismatch", "The TargetPort 8000 does not match the listening port 3000.") \
        in _log_pairs(produced["logs"], trigger_revision)
    # recovery: the same revision (no new one), in the state Azure showed after the fix
    assert gate["same_revision_proof"]["name_unchanged"] is True
    assert produced["latest"] == trigger_revision == produced["actions"]["fix-port"]["latestRevisionName"]
    assert len(produced["revisions"]) == 2  # the template's baseline revision and the trigger's
    for field in ("healthState", "runningState", "provisioningState", "runningStateDetails", "replicas"):
        assert produced["final"][field] == fixed[field], field


def test_revision_failover_matches_the_guide_s_evidence(pytester: pytest.Pytester) -> None:
    azure = EVIDENCE / "revision-failover"
    broken = json.loads((azure / "07-revision-list-after-break.json").read_text())[0]
    fixed = json.loads((azure / "13-revision-list-after-fix.json").read_text())[0]
    azure_failure_logs = json.loads((azure / "09-system-logs-probe-failures.json").read_text())
    azure_recovery_logs = json.loads((azure / "16-system-logs-recovery.json").read_text())
    produced, failing = run_lab(pytester, "revision_failover")

    # the same revision is broken in place, then fixed in place: no revision minted by either edit
    revision = produced["actions"]["update-image"]["latestRevisionName"]
    assert produced["actions"]["break-port"]["latestRevisionName"] == revision
    assert produced["actions"]["fix-port"]["latestRevisionName"] == revision == produced["latest"]
    assert len(produced["revisions"]) == 2
    assert broken["name"] == fixed["name"]  # what Azure showed too
    # the failing state, in Azure's words
    assert broken["healthState"] in _seen(failing, "revision_health")
    assert broken["runningState"] in _seen(failing, "revision_state")
    # system logs: the probe failure and the in-place update, worded as Azure words them (names swapped)
    ours = {(reason, message.replace(revision, "<revision>"))
            for _, reason, message in _log_pairs(produced["logs"], revision)}
    for row in azure_failure_logs + azure_recovery_logs:
        if row["Reason_s"] in ("ProbeFailed", "RevisionUpdate"):
            assert (row["Reason_s"], row["Log_s"].replace(row["RevisionName_s"], "<revision>")) in ours, row
    updates = [r for r in produced["logs"] if r["reason"] == "RevisionUpdate" and r.get("revision") == revision]
    assert len(updates) >= 2  # the break and the fix, as in Azure's recovery capture
    # recovered: Azure's state after the fix
    for field in ("healthState", "runningState", "replicas"):
        assert produced["final"][field] == fixed[field], field


def test_revision_provisioning_failure_matches_the_guide_s_evidence(pytester: pytest.Pytester) -> None:
    azure = EVIDENCE / "revision-provisioning-failure"
    failed = json.loads((azure / "02-failed-revision-detail.json").read_text())
    recovered = json.loads((azure / "12-revision-list-recovered.json").read_text())[0]
    azure_logs = [json.loads(line) for line in (azure / "04-system-logs.json").read_text().splitlines()]
    produced, failing = run_lab(pytester, "revision_provisioning_failure")

    # the failing state, in Azure's words (the Guide ran nginx; the states and wording do not depend on it)
    props = failed["properties"]
    assert props["healthState"] in _seen(failing, "revision_health")
    assert {props["provisioningState"], props["runningState"], props["runningStateDetails"],
            props["provisioningError"]} <= _seen(failing, "revision_state")
    # the probe failure and the kill, worded as Azure words them, on the failing revision
    failing_revision = produced["actions"]["bad-probe"]["latestRevisionName"]
    ours = _log_pairs(produced["logs"], failing_revision)
    for row in azure_logs:
        if row["RevisionName"] == failed["name"] and row["Reason"] in ("ProbeFailed", "ContainerTerminated"):
            if row["Msg"] == "Probe of StartUp failed with status code: ":
                continue  # nginx's first answer after each restart timed out: the image's, not the platform's
            assert (row["Type"], row["Reason"], row["Msg"]) in ours, row
    assert any(reason == "ProbeFailed" for _, reason, _ in ours)
    # the fix is a new revision, Healthy and Provisioned as Azure showed it
    assert produced["latest"] == produced["actions"]["fix-probe"]["latestRevisionName"] != failing_revision
    assert len(produced["revisions"]) == 3
    for field in ("healthState", "provisioningState", "runningState", "replicas"):
        assert produced["final"][field] == recovered["properties"][field], field
    assert not [r for r in produced["logs"] if r.get("revision") == produced["latest"]
                and r["reason"] in ("ProbeFailed", "ContainerTerminated")]


def test_memory_leak_oomkilled_matches_the_guide_s_evidence(pytester: pytest.Pytester) -> None:
    azure = EVIDENCE / "memory-leak-oomkilled"
    revision = json.loads((azure / "revisions-20260620T041900Z.json").read_text())[0]
    report = (azure / "report-20260620T041900Z.txt").read_text()
    # the report's system-log table: message, then the reason column (the Guide's container is named after its app)
    reasons = {line.split("  ")[0].replace("'ca-oom-hard'", "'app'"): line.split()[-3] for line in report.splitlines()
               if line.startswith("Container 'ca-oom-hard' was terminated")}
    produced, failing = run_lab(pytester, "memory_leak_oomkilled")

    assert revision["healthState"] in _seen(failing, "revision_health")
    assert revision["runningState"] in _seen(failing, "revision_state")
    failing_revision = produced["actions"]["hard-oom"]["latestRevisionName"]
    ours = {(reason, message) for _, reason, message in _log_pairs(produced["logs"], failing_revision)}
    assert reasons and {(reason, message) for message, reason in reasons.items()} <= ours
    assert not [r for r in produced["logs"] if "OOMKilled" in str(r)]  # Azure never says it
    assert produced["latest"] == produced["actions"]["healthy-mode"]["latestRevisionName"] != failing_revision
    assert produced["final"]["healthState"] == "Healthy"


def _last_answer(entry: dict[str, Any]) -> str:
    """The start of the last HTTP answer an ``http_endpoint`` journal entry quotes (``last answer: '...'``)."""
    excerpt = str(entry.get("excerpt") or "")
    quoted = excerpt.split("; last answer: ", 1)[1].split("; ", 1)[0] if "; last answer: " in excerpt else "''"
    return str(ast.literal_eval(quoted))


def test_managed_identity_key_vault_failure_matches_the_guide_s_evidence(pytester: pytest.Pytester) -> None:
    azure = EVIDENCE / "managed-identity-key-vault-failure"
    identity = json.loads((azure / "01-app-identity-pre-fix.json").read_text())
    before_roles = json.loads((azure / "02-role-assignments-pre-fix.json").read_text())
    vault = json.loads((azure / "03-kv-rbac-config.json").read_text())
    broken = json.loads((azure / "04-revision-list-pre-fix.json").read_text())[0]["properties"]
    forbidden = json.loads((azure / "05-http-response-pre-fix.json").read_text())
    after_role = json.loads((azure / "09-role-assignment-post-fix.json").read_text())[0]
    fixed_http = json.loads((azure / "10-http-response-post-fix.json").read_text())
    fixed = json.loads((azure / "11-revision-list-post-fix.json").read_text())[0]["properties"]
    produced, failing = run_lab(pytester, "managed_identity_key_vault_failure")

    assert identity["type"] == "SystemAssigned" and vault["enableRbacAuthorization"] is True
    # the failing state: no role at the vault, the revision as healthy as Azure showed it, /health 500
    assert before_roles == [] and [e["value"] for e in failing if e["name"] == "role_assignments"] == [[]]
    assert {broken["healthState"]} <= _seen(failing, "revision_health")
    assert {broken["runningState"], broken["provisioningState"]} <= _seen(failing, "revision_state")
    answers = [e for e in failing if e["name"] == "http_endpoint" and "; last answer: " in str(e.get("excerpt"))]
    assert answers and forbidden["status_code"] == 500
    ours = _last_answer(answers[-1])
    theirs = forbidden["body"]
    assert len(ours) >= 150 and theirs.startswith(ours)  # the same words, byte for byte, as far as quoted
    assert "ForbiddenByRbac" in theirs  # and the row that found it in our answers passed
    # the fix: the role Azure assigned, a new revision, the answer Azure gave (same JSON)
    assert produced["actions"]["grant-secrets-user"]["status"] == "Succeeded"
    assert after_role["roleDefinitionName"] == "Key Vault Secrets User"
    assert after_role["scope"].endswith("/providers/Microsoft.KeyVault/vaults/kv-labkv-b3erju")
    assert produced["latest"] == produced["actions"]["new-revision"]["latestRevisionName"] \
        != produced["actions"]["deploy-workload"]["latestRevisionName"]
    for field in ("healthState", "runningState", "provisioningState"):
        assert produced["final"][field] == fixed[field], field
    assert json.loads(produced["health"]) == json.loads(fixed_http["body"])
    # no secret in anything the run wrote: the vault's secret value, any token (JWT-shaped)
    written = "\n".join(f.read_text(errors="replace") for f in (pytester.path / "reports").rglob("*") if f.is_file())
    assert "junit.xml" in {f.name for f in (pytester.path / "reports").rglob("*")}
    assert "aca-lab-secret-value" not in written
    assert not re.search(r"eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.", written)


def test_cd_reconnect_rbac_conflict_matches_the_guide_s_evidence(pytester: pytest.Pytester) -> None:
    azure = EVIDENCE / "cd-reconnect-rbac-conflict"
    baseline = json.loads((azure / "03-role-assignment-list-baseline.json").read_text())
    failure = json.loads((azure / "05-deployment-reconnect-failure.json").read_text())
    extraction = json.loads((azure / "06-conflict-guid-extraction.json").read_text())
    after = json.loads((azure / "13-role-assignment-list-cardinality-verify.json").read_text())
    produced, failing = run_lab(pytester, "cd_reconnect_rbac_conflict")

    hex_id = re.compile(extraction["extraction_pattern"])
    reconnect = produced["actions"]["reconnect"]
    assert reconnect["status"] == "Failed" and failure["provisioningState"] == "Failed"
    # the deployment's own error, word for word, and its detail with the existing assignment's id masked
    ours, theirs = reconnect["error"], failure["error"]
    assert ours["code"] == theirs["code"] == "DeploymentFailed" and ours["message"] == theirs["message"]
    exists = re.compile(r"RoleAssignmentExists: The role assignment already exists\. The ID of the existing role "
                        r"assignment is [0-9a-f]{32}\.")
    seen = [m.group(0) for e in failing if e["name"] == "deployment_errors" for m in exists.finditer(str(e["value"]))]
    assert seen
    detail = theirs["details"][0]
    assert hex_id.sub("existing role assignment is <id>", str(seen[-1])) == \
        hex_id.sub("existing role assignment is <id>", f"{detail['code']}: {detail['message']}")
    # the id ARM names is the leftover assignment's name, without hyphens (what the Guide extracted)
    named = hex_id.search(str(seen[-1]))
    assert named is not None
    leftover = produced["actions"]["delete-leftover"]["deleted"]
    assert [n.replace("-", "") for n in leftover] == [named.group(0).rsplit(" ", 1)[1]]
    assert extraction["conflict_guid_hyphenated"].replace("-", "") == extraction["conflict_guid_hex"]
    # before and after: exactly one AcrPush assignment of the CD principal, as Azure listed
    assert [a["roleDefinitionName"] for a in baseline] == [a["roleDefinitionName"] for a in after] == ["AcrPush"]
    assert [e["value"] for e in failing if e["name"] == "role_assignments"][-1] == ["AcrPush"]
    assert produced["actions"]["redeploy"]["status"] == "Succeeded"


def test_diagnostic_settings_missing_matches_the_guide_s_evidence(pytester: pytest.Pytester) -> None:
    azure = EVIDENCE / "diagnostic-settings-missing"
    before = json.loads((azure / "01-env-config-before.json").read_text())
    kql_before = json.loads((azure / "04-kql-before.json").read_text())
    after = json.loads((azure / "06-env-config-after.json").read_text())
    kql_after = json.loads((azure / "09-kql-after.json").read_text())
    by_revision = json.loads((azure / "09-kql-after-system-by-revision.json").read_text())
    produced, failing = run_lab(pytester, "diagnostic_settings_missing")

    # before: the destination Azure showed, and both tables missing (Log Analytics' "Failed to resolve table")
    assert before["destination"] is None and _seen_any(failing, "environment_state") == ["null"]  # journal: None
    for result in (kql_before["console_result"], kql_before["system_result"]):
        assert result["is_table_missing"] and result["rows"] == 0
    notes = [str(e.get("excerpt")) for e in failing if e["name"] == "log_rows"]
    for table in ("ContainerAppConsoleLogs_CL", "ContainerAppSystemLogs_CL"):
        assert any(f"table {table} does not exist" in n for n in notes), table
    # after: the configuration Azure answered (the key hidden), rows in both tables, environment-level
    # system rows (no revision name) beside the new revision's, as Azure's by-revision count shows
    ours = produced["env_logs"]
    assert ours["destination"] == after["destination"] == "log-analytics"
    assert ours["logAnalyticsConfiguration"]["sharedKey"] is after["logAnalyticsConfiguration"]["sharedKey"] is None
    assert set(after["logAnalyticsConfiguration"]) <= set(ours["logAnalyticsConfiguration"])
    assert int(kql_after["console_rows"]) >= 1 and int(kql_after["system_rows"]) >= 1
    assert "" in {r["RevisionName_s"] for r in by_revision}
    assert produced["latest"] == produced["actions"]["new-revision"]["latestRevisionName"]


def test_appinsights_connection_string_missing_matches_the_guide_s_evidence(pytester: pytest.Pytester) -> None:
    azure = EVIDENCE / "appinsights-connection-string-missing"
    env_before = json.loads((azure / "01-env-before-fix.json").read_text())
    counts = {name: json.loads((azure / f"{name}.json").read_text())["tables"][0]["rows"]
              for name in ("03-ai-requests-before-fix", "04-ai-traces-before-fix", "09-ai-requests-after-fix",
                           "10-ai-traces-after-fix")}
    produced, failing = run_lab(pytester, "appinsights_connection_string_missing")

    # before: no env at all, and no telemetry row of the service in either table, as Azure answered
    assert env_before["env"] is None and _seen_any(failing, "app_state") and \
        set(_seen_any(failing, "app_state")) == {"null"}
    assert counts["03-ai-requests-before-fix"] == counts["04-ai-traces-before-fix"] == []
    assert [e["value"] for e in failing if e["name"] == "log_rows"] and \
        all(e["value"] in ([], "0 items: []") for e in failing if e["name"] == "log_rows")  # as the journal shows []
    # after: both tables hold rows of the service Azure named; one trace per request plus the start-up line,
    # as Azure's 20 requests / 21 traces (the lab's own probes sent more requests than the Guide's 20)
    (role, requests_after), = counts["09-ai-requests-after-fix"]
    (_, traces_after), = counts["10-ai-traces-after-fix"]
    assert role == "unknown_service" and traces_after == requests_after + 1
    ours = produced["telemetry"]
    assert ours["AppRequests"] >= 20 and ours["AppTraces"] >= 21
    assert produced["latest"] == produced["actions"]["set-connection-string"]["latestRevisionName"] \
        != produced["actions"]["deploy-workload"]["latestRevisionName"]
    assert produced["final"]["healthState"] == "Healthy"
