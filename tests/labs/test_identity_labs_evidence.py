"""Contract: the identity, secrets and observability labs produce what live Azure produced for the Practical
Guide's same labs (managed-identity-key-vault-failure, cd-reconnect-rbac-conflict, diagnostic-settings-missing,
appinsights-connection-string-missing); the runner and the recorder are in ``helpers.guide_labs``."""

from __future__ import annotations

import ast
import json
import re
from typing import Any

import pytest
import yaml

from helpers.guide_labs import EVIDENCE, run_lab
from helpers.guide_labs import seen as _seen


def _seen_any(failing: list[dict[str, Any]], probe: str) -> list[Any]:
    return [e["value"] for e in failing if e["name"] == probe]


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


def _redacted(secrets: list[dict[str, Any]] | None) -> list[dict[str, Any]]:
    """The Guide's redaction of ``az containerapp show --query properties.configuration.secrets`` (trigger.sh
    Phase 5): name, whether a value came back, keyVaultUrl and identity; never the value."""
    return [{"name": s.get("name"), "value_present": "value" in s and bool(s.get("value")),
             "keyVaultUrl": s.get("keyVaultUrl"), "identity": s.get("identity")} for s in secrets or []]


def _shown(text: Any) -> Any:
    """A journal value back as data: the journal writes mappings in YAML's flow style (``{name: 'X', value: 'Y'}``)
    and lists as ``N items: [...]``."""
    if not isinstance(text, str):
        return text
    return yaml.safe_load(re.sub(r"^\d+ items?: ", "", text))


def _guide_secrets(snapshot: dict[str, Any]) -> list[dict[str, Any]]:
    return [{k: v for k, v in s.items() if k != "value_redacted_placeholder"} for s in snapshot["secrets"]]


def test_observability_tracing_matches_the_guide_s_evidence(pytester: pytest.Pytester) -> None:
    azure = EVIDENCE / "observability-tracing"

    def load(name: str) -> Any:
        return json.loads((azure / f"{name}.json").read_text())

    h1, h2 = load("12-h1-gate"), load("24-h2-gate")
    literal = h1["trigger_window"]["expected_literal_value"]
    produced, failing = run_lab(pytester, "observability_tracing")
    journal = produced["journal"]
    trigger_start = min(float(e["t"]) for e in journal if e["kind"] == "action" and e["name"] == "set-invalid-literal"
                        and e.get("event") == "start")
    env_reads = [(float(e["t"]), _shown(e.get("value"))) for e in journal
                 if e["kind"] == "probe" and e["name"] == "app_state" and "'APPLICATIONINSIGHTS_CONNECTION_STRING'"
                 in str(e.get("value"))]

    # baseline: the variable exactly as Azure showed it (secretRef, no value key at all)
    baseline = [v for t, v in env_reads if t < trigger_start]
    assert baseline and baseline[-1] == load("04-baseline-env-var")
    # after the trigger: the literal Azure answered, no secretRef key, in a second revision
    assert load("08-post-trigger-env-var") == {"name": "APPLICATIONINSIGHTS_CONNECTION_STRING", "value": literal}
    assert [v for t, v in env_reads if t > trigger_start and v in (load("08-post-trigger-env-var"),)]
    assert all(v != load("08-post-trigger-env-var") for t, v in env_reads if t < trigger_start)
    # after the fix: secretRef again, as Azure showed it, and the other variable where it was
    assert produced["app"]["env"][0] == load("17-post-fix-env-var")
    assert [e["name"] for e in produced["app"]["env"]] == ["APPLICATIONINSIGHTS_CONNECTION_STRING",
                                                           "OTEL_SERVICE_NAME"]
    # the secret store: the Guide's own redaction of our answers equals its snapshots of all three states
    for snapshot in ("05-baseline-secrets", "10-post-trigger-secrets", "19-post-fix-secrets"):
        assert _guide_secrets(load(snapshot)) == _redacted(produced["app"]["secrets"]), snapshot
    listed = [_shown(v) for v in _seen_any(failing, "app_state") if str(v).startswith(("[", "1 item"))]
    assert listed and all(_redacted(v) == _guide_secrets(load("10-post-trigger-secrets")) for v in listed)
    # revisions: one, then a new one per update (the update's own answer names it), three distinct names with
    # createdTime strictly increasing, the newest taking all the traffic, as Azure's lists show
    assert len(load("02-baseline-revisions")) == 1 and len(load("09-post-trigger-revisions")) == 2
    progression = h2["revision_progression"]
    assert h2["fix_window"]["three_distinct_revisions"] and progression["createdTime_strictly_increasing"]
    ours = produced["revision_list"]
    assert set(ours[0]) == set(load("18-post-fix-revisions")[0])  # the Guide's projection, field for field
    names = [r["name"] for r in sorted(ours, key=lambda r: r["createdTime"])]
    times = [r["createdTime"] for r in sorted(ours, key=lambda r: r["createdTime"])]
    assert len(set(names)) == 3 and times == sorted(set(times))
    assert names == produced["revisions"]
    trigger, fix = produced["actions"]["set-invalid-literal"], produced["actions"]["restore-secretref"]
    assert names[1:] == [trigger["latestRevisionName"], fix["latestRevisionName"]]
    assert produced["latest"] == fix["latestRevisionName"] != trigger["latestRevisionName"] != names[0]
    newest = next(r for r in ours if r["name"] == produced["latest"])
    assert newest["trafficWeight"] == load("18-post-fix-revisions")[-1]["trafficWeight"] == 100
    assert produced["final"]["healthState"] == "Healthy"
    # the data plane: 5 of 5 answered 200 in every state, as Azure's curls did
    for curl in ("03-baseline-curl", "11-curl-after-trigger", "20-curl-post-fix"):
        assert load(curl)["success_count_200"] == load(curl)["attempts"] == 5, curl
    answered = [_shown(e["value"]) for e in failing if e["name"] == "http_endpoint"]
    assert answered and answered[-1] == [200] * 5
    recovered = [_shown(e.get("value")) for e in journal if e["kind"] == "probe" and e["name"] == "http_endpoint"
                 and float(e["t"]) > trigger_start]
    assert recovered[-1] == [200] * 5
    # the component's real connection string lives only in the app secret: no report holds its key (the only
    # instrumentation key anywhere is the trigger's zero GUID)
    written = "\n".join(f.read_text(errors="replace") for f in (pytester.path / "reports").rglob("*") if f.is_file())
    assert "junit.xml" in {f.name for f in (pytester.path / "reports").rglob("*")}
    keys = set(re.findall(r"InstrumentationKey=([0-9a-fA-F-]{36})", written))
    assert keys == {"00000000-0000-0000-0000-000000000000"}
    # both gates passed on Azure; the telemetry half stays unproven there and here (no SDK in helloworld)
    assert h1["h1_all_subgates_pass"] and h2["h2_all_subgates_pass"]
    assert h1["telemetry_caveat"]["ships_application_insights_sdk"] is False
