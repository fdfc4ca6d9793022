"""Contract: what the emulator produces for the scaling and metrics labs is what live Azure produced for the
Practical Guide's same labs (replica counts under load, the absence of scale events in the load window,
revision health, KEDA's and the HPA's wording). Same method as ``test_runtime_labs_evidence``: the lab runs
unchanged in pytester with a recorder file that reads, through the lab's own fixtures, the system logs,
the revisions, the Replicas metric of every revision and what each action reported.
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from helpers.guide_labs import run_lab

EVIDENCE = Path(__file__).parent / "data" / "guide_evidence"

RECORDER = '''
import json
from pathlib import Path


def test_record_what_the_emulator_produced(lab_context, lab_probe):
    def value(name, **args):
        return lab_probe(name, **args).value

    revisions = value("revisions", app="app")
    out = {
        # Log Analytics: every row of the lab (the event stream keeps only its last 300 lines)
        "logs": value("system_logs", app="app", since="lab", source="log_analytics"),
        "revisions": revisions,
        "latest": value("app_state", app="app", field="latestRevisionName"),
        "health": {r: value("revision_state", app="app", field="healthState", revision=r) for r in revisions},
        "replicas_max": {r: value("metric", app="app", metric="Replicas", aggregation="Maximum", since="lab",
                                  revision=r) for r in revisions},
        "actions": {k: {"status": r.status, "ended": r.ended, **r.data}
                    for k, r in lab_context.action_results.items()},
    }
    (Path(__file__).parent / "produced.json").write_text(json.dumps(out, default=str))
'''


def _at(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def _scale_events(logs: list[dict[str, Any]], load: dict[str, Any], revision: str) -> list[dict[str, Any]]:
    """The Guide's KQL: rows of the revision in the load window whose reason starts with Scal or KEDA."""
    start, end = _at(load["started"]), _at(load["ended"])
    return [r for r in logs if r.get("revision") == revision and start <= _at(r["time"]) <= end
            and str(r.get("reason") or "").startswith(("Scal", "KEDA"))]


def test_scale_rule_mismatch_matches_the_guide_s_evidence(pytester: pytest.Pytester) -> None:
    azure = EVIDENCE / "scale-rule-mismatch"
    h1 = json.loads((azure / "10-h1-gate.json").read_text())
    h2 = json.loads((azure / "19-h2-gate.json").read_text())
    azure_after = json.loads((azure / "17-replicas-load-90s-after-fix.json").read_text())
    produced, _ = run_lab(pytester, "scale_rule_mismatch", recorder=RECORDER)
    actions = produced["actions"]
    before, after = actions["mismatched-rule"], actions["fix-rule"]
    assert before["state"] == after["state"] == "Succeeded"
    fixed = produced["latest"]
    mismatched = [r for r in produced["revisions"] if r != fixed][-1]

    # H1: one replica for the whole load with the rule at 500, and no scale event in the load window
    assert produced["replicas_max"][mismatched] == h1["replicas_observed"]["max_during_load"] == 1
    assert len(_scale_events(produced["logs"], actions["load-before"], mismatched)) == h1["scale_events_count"]
    # H2: the new revision is Healthy and the same load scales it out, no further than the rule asks
    # (ceil(60 / 10) = 6, what Azure listed: the clients' own gaps can only lower the count)
    assert produced["health"][fixed] == h2["final_revision_health"] == "Healthy"
    assert 2 <= produced["replicas_max"][fixed] <= len(azure_after) == h2["replicas_observed_after_fix"][
        "max_during_load"]
    assert len(_scale_events(produced["logs"], actions["load-after"], fixed)) == h2["scale_events_count_after_fix"]
    # every request of both loads answered 200, as the Guide's curl loops saw
    for load in (actions["load-before"], actions["load-after"]):
        assert set(load["statuses"]) == {"200"} and not load["errors"]
    # KEDA's own lines, worded as Azure's (image-size-startup-delay's capture): the watch on each revision
    keda = {(r["reason"], r["message"]) for r in produced["logs"] if r.get("revision") == fixed}
    assert ("KEDAScalersStarted", "Scaler external-push is built") in keda
    assert ("KEDAScalersStarted", f"KEDA is starting a watch for revision '{fixed}' to monitor scale operations "
                                  "for this revision") in keda
    # the mismatched revision, deactivated by the fix: KEDA stops watching it
    stopped = {(r["reason"], r["message"]) for r in produced["logs"] if r.get("revision") == mismatched}
    assert ("ScaledObjectDeleted", "ScaledObject was removed from KEDA watch and would not be auto-scaled.") in stopped


def _report_lines(report: str, section: str) -> list[str]:
    """The ``Log_s`` column of one section of the Guide's evidence report."""
    lines, inside = [], False
    for line in report.splitlines():
        if line.startswith("=== "):
            inside = line.startswith(f"=== {section}.")
            continue
        if inside and "PrimaryResult" in line:
            lines.append(line.split("  PrimaryResult")[0].rstrip())
    return lines


def test_keda_no_metrics_returned_matches_the_guide_s_evidence(pytester: pytest.Pytester) -> None:
    azure = EVIDENCE / "keda-no-metrics-returned"
    report = (azure / "report-20260620T004905Z.txt").read_text()
    crash_revision = json.loads((azure / "revisions-20260620T004905Z.json").read_text())[0]
    gate = json.loads((azure / "11-h1-crash-not-ready-gate.json").read_text())
    produced, failing = run_lab(pytester, "keda_no_metrics_returned", recorder=RECORDER)
    crashing = produced["actions"]["crash-loop"]
    assert crashing["state"] == "Succeeded"
    healthy = produced["latest"]
    crashed = [r for r in produced["revisions"] if r != healthy][-1]

    def ours(revision: str) -> list[str]:
        return [r["message"] for r in produced["logs"] if r.get("revision") == revision]

    # the HPA's two lines, worded as Azure's (the Guide's container is named after its app, ours 'app')
    azure_errors = {line.replace("'ca-nometrics-crash'", "'app'").replace("get ca-nometrics-crash container",
                                                                          "get app container")
                    for line in _report_lines(report, "5")}
    assert len(azure_errors) == 2 and azure_errors <= set(ours(crashed))
    signal = [m for m in ours(crashed) if gate["signal_substring"] in m]
    assert len(signal) >= 10  # the Guide's gates count 10 lines or more
    # KEDA's lines for a revision with a legacy memory rule
    keda = {line.replace("ca-nometrics-crash--xfn3h34", crashed) for line in _report_lines(report, "8")
            if not line.startswith(("Replica ", "invalid metrics", "failed to get"))}
    assert keda and keda <= set(ours(crashed))
    deprecated = _report_lines((azure / "report-20260620T004905Z.txt").read_text(), "7")
    assert deprecated and set(deprecated) <= set(ours(crashed))
    # the lifecycle line the terminations carry
    assert "Container 'app' was terminated with exit code '1' and reason 'ProcessExited'" in ours(crashed)
    # the crashing revision's health, as Azure showed it, while the errors were logged
    assert crash_revision["healthState"] in {e["value"] for e in failing if e["name"] == "revision_health"}
    # recovered: the healthy revision stops complaining once its metrics flow
    assert produced["health"][healthy] == "Healthy"
    flowing = _at(produced["actions"]["metrics-flowing"]["ended"])
    assert not [r for r in produced["logs"] if r.get("revision") == healthy and _at(r["time"]) > flowing
                and gate["signal_substring"] in r["message"]]


MEMPCT_LINE = (
    '        "mempct_max": {r: value("metric", app="app", metric="MemoryPercentage", aggregation="Maximum",\n'
    '                                since="lab", revision=r) for r in revisions},\n')
MEMPCT_RECORDER = RECORDER.replace('        "actions":', MEMPCT_LINE + '        "actions":')


def test_memory_percentage_vs_keda_utilization_matches_the_guide_s_evidence(pytester: pytest.Pytester) -> None:
    azure = EVIDENCE / "memory-percentage-vs-keda-utilization"
    below = json.loads((azure / "22-h1-scenario-a-gate.json").read_text())
    above = json.loads((azure / "23-h1-scenario-b-gate.json").read_text())
    produced, _ = run_lab(pytester, "memory_percentage_vs_keda_utilization", recorder=MEMPCT_RECORDER)
    at_560 = produced["latest"]
    # the revision the holding-400 deploy made: of the earlier ones (the template's helloworld revision, then
    # the 400 MiB one), the one whose replicas held memory; picked by what it did, not by its place in the list
    earlier = [r for r in produced["revisions"] if r != at_560]
    assert len(earlier) == 2, produced["revisions"]
    at_400 = max(earlier, key=lambda r: produced["mempct_max"][r] or 0.0)
    limit = produced["actions"]  # both deploys succeeded
    assert limit["holding-400"]["state"] == limit["holding-560"]["state"] == "Succeeded"
    # A: the chart shows what Azure's did (40 % within the Guide's 35-45 band), the floor holds
    assert abs(produced["mempct_max"][at_400] - below["memorypercentage_behavior"]["mempct_max"]) <= 5
    assert produced["replicas_max"][at_400] == below["replica_behavior"]["replicas_max_nonzero"] == 2
    # B: 56 % within the Guide's 50-60 band, and the walk up to the maximum (20 there, 4 here)
    assert abs(produced["mempct_max"][at_560] - above["memorypercentage_behavior"]["mempct_max"]) <= 5
    assert above["replica_behavior"]["replicas_max_nonzero"] == above["scale_rule"]["max_replicas_spec"]
    assert produced["replicas_max"][at_560] == 4  # this lab's maxReplicas
    assert produced["health"][at_560] == "Healthy"


RAW_METRICS = '''
    app_id = lab_context.resource("app").id
    client = lab_context.clients.monitor
    raw = {}
    for metric in ("UsageNanoCores", "WorkingSetBytes", "RxBytes", "TxBytes", "Replicas", "RestartCount",
                   "Requests", "ResponseTime", "CpuPercentage", "MemoryPercentage"):
        raw[metric] = client.metrics.list(app_id, timespan="PT2H", interval="PT1M", metricnames=metric,
                                          cls=lambda response, _m, _h: json.loads(response.http_response.text()))
    out["raw"] = raw
'''
WRITE = '    (Path(__file__).parent / "produced.json")'
METRICS_RECORDER = RECORDER.replace(WRITE, RAW_METRICS.strip("\n") + "\n" + WRITE)


def test_metrics_load_test_matches_the_guide_s_evidence(pytester: pytest.Pytester) -> None:
    """Every metric the lab reads answers as Azure's did for the Guide's load-test app: name, unit,
    description, namespace, grain, points at whole minutes; and the counts are what the loads sent."""
    azure = EVIDENCE / "metrics-load-test"
    produced, failing = run_lab(pytester, "metrics_load_test", recorder=METRICS_RECORDER)
    captured = {json.loads(f.read_text())["value"][0]["name"]["value"]: json.loads(f.read_text())
                for f in sorted(azure.glob("metric-*.json"))}
    assert set(captured) == set(produced["raw"])
    for metric, theirs in captured.items():
        ours = produced["raw"][metric]
        for key in ("namespace", "interval"):
            assert ours[key] == theirs[key], (metric, key)
        mine, real = ours["value"][0], theirs["value"][0]
        for key in ("name", "unit", "displayDescription", "errorCode"):
            assert mine[key] == real[key], (metric, key)
        real_point = next(p for p in real["timeseries"][0]["data"] if len(p) > 1)
        aggregation = next(k for k in real_point if k != "timeStamp")
        points = [p for ts in mine["timeseries"] for p in ts["data"]]
        assert points and all(p["timeStamp"].endswith(":00Z") for p in points)
        assert any(aggregation in p for p in points), (metric, aggregation)  # the same primary aggregation
    # the counts are what the loads sent (the evidence's totals are the Guide's hey runs, not comparable)
    sent = produced["actions"]
    assert sent["load-500"]["statuses"] == {"500": 50} and sent["load-404"]["statuses"] == {"404": 20}
    seen = {e["value"] for e in failing if e["name"] == "metric"}
    assert {50.0, 20.0, 140.0} <= seen
