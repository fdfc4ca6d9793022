"""Contract: the guide labs of issue 13 (ingress target port mismatch, traffic routing canary, image size
startup delay) produce on the emulator what live Azure produced for the Practical Guide's same labs: state
names, runningStateDetails wording, system-log reasons and messages, HTTP codes, replicas, and whether a
revision was minted.

Each lab runs unchanged (in pytester, on the emulator) with a recorder beside it (``helpers.guide_labs``).
The Azure side is the Guide's evidence, copied into ``data/guide_evidence`` (MIT, see its README).
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import pytest

from helpers.guide_labs import EVIDENCE, log_pairs, run_lab


def _answers(failing: list[dict[str, Any]], probe: str) -> list[Any]:
    return [e["value"] for e in failing if e["name"] == probe]


def _action_time(produced: dict[str, Any], action: str, event: str = "start") -> datetime:
    return _when(next(e["at"] for e in produced["journal"]
                      if e["kind"] == "action" and e["name"] == action and e.get("event") == event))


def _when(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def _load(folder: str, name: str) -> Any:
    return json.loads((EVIDENCE / folder / name).read_text())


def test_ingress_target_port_mismatch_matches_the_guide_s_evidence(pytester: pytest.Pytester) -> None:
    folder = "ingress-target-port-mismatch"
    before, after_trigger, after_fix = (_load(folder, f) for f in (
        "01-ingress-config-before.json", "05-ingress-config-after-trigger.json", "11-ingress-config-after-fix.json"))
    curl_before, curl_broken, curl_fixed = (_load(folder, f) for f in (
        "03-curl-before.json", "08-curl-after-trigger.json", "14-curl-after-fix.json"))
    replicas_broken, replicas_fixed = _load(folder, "06-replicas-after-trigger.json"), _load(
        folder, "12-replicas-after-fix.json")
    revision_fixed = _load(folder, "13-revision-status-after-fix.json")
    azure_rows = _load(folder, "09-kql-after-trigger-portmismatch-sample-raw.txt")
    kql_after_fix = _load(folder, "15-kql-after-fix.json")
    produced, failing = run_lab(pytester, "ingress_target_port_mismatch")
    revision = produced["latest"]

    # the HTTP codes at the edge: Azure's before, after the trigger, after the fix
    azure_codes = [{s["status"] for s in c["samples"]} for c in (curl_before, curl_broken, curl_fixed)]
    assert azure_codes == [{200}, {503}, {200}]
    statuses = _answers(failing, "http_endpoint")
    assert [200] * 10 in statuses and [503] * curl_broken["requests_sent"] in statuses
    assert curl_fixed["requests_ok"] == 10 and produced["final"]["healthState"] == revision_fixed["healthState"]
    # Azure's words for the mismatch, on the revision the update changed in place
    assert azure_rows and {(r["Type_s"], r["Reason_s"], r["Log_s"]) for r in azure_rows} <= log_pairs(
        produced["logs"], revision)
    assert {r["RevisionName_s"] for r in azure_rows} == {after_trigger["latestRevisionName"]}
    # no revision minted by the trigger or the fix, in Azure or here
    assert before["latestRevisionName"] == after_trigger["latestRevisionName"] == after_fix["latestRevisionName"]
    assert produced["actions"]["break-port"]["latestRevisionName"] == revision
    assert produced["actions"]["fix-port"]["latestRevisionName"] == revision
    assert len(produced["revisions"]) == 1
    # the ingress the trigger changed and the fix restored (its traffic rule unchanged)
    assert produced["actions"]["break-port"]["ingress"]["targetPort"] == after_trigger["ingress"]["targetPort"]
    assert produced["actions"]["fix-port"]["ingress"]["targetPort"] == after_fix["ingress"]["targetPort"]
    assert produced["ingress"] == after_fix["ingress"]["traffic"]
    # replicas: a rolling update (the old one Running beside the new one) then one again
    assert [r["runningState"] for r in replicas_broken] == ["Running", "Running"]
    assert len(replicas_broken) in _answers(failing, "replicas")
    assert [r["runningState"] for r in replicas_broken] in _answers(failing, "replicas")
    assert produced["replicas"]["count"] == len(replicas_fixed) == revision_fixed["replicas"]
    assert produced["replicas"]["runningState"] == [r["runningState"] for r in replicas_fixed]
    for field in ("healthState", "runningState", "replicas"):
        assert produced["final"][field] == revision_fixed[field], field
    # after the fix: no PortMismatch attribution (the strict post-fix window of the Guide's KQL)
    assert kql_after_fix["portmismatch_rows"] == "0"
    fixed_at = _action_time(produced, "fix-port")
    assert not [r for r in produced["logs"] if r["reason"] == "Pending:PortMismatch" and _when(r["time"]) > fixed_at]
