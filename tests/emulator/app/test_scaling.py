"""Scale rules as Azure applies them: replicas added under load and removed after it, real processes each.

Load goes through the emulator's loopback proxy and edge to real replicas (``actions.load.run_load``), the
app is driven and read through ``azure-mgmt-appcontainers``. No test waits for time: each waits for a
condition (replicas listed, autoscaler syncs that saw the load), with generous bounds for a loaded machine.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from app_helpers import Lab, python_image, wait_until

from pytest_acalab.actions.load import LoadPlan, LoadReport, run_load
from pytest_acalab.emulator.app.scaling import Autoscaler

CONCURRENCY = 50


def http_scaled(lab: Lab, name: str, concurrent: int, *, min_replicas: int = 1) -> Any:
    scale = {"minReplicas": min_replicas, "maxReplicas": 10,
             "rules": [{"name": "http-rule", "http": {"metadata": {"concurrentRequests": str(concurrent)}}}]}
    body = lab.app_body("acrlab.azurecr.io/web:v1")
    body["properties"]["template"]["scale"] = scale
    return lab.client.container_apps.begin_create_or_update(lab.rg, name, body).result()


def replica_count(lab: Lab, app: str, revision: str) -> int:
    return len(list(lab.client.container_apps_revision_replicas.list_replicas(lab.rg, app, revision).value))


def scaler(lab: Lab) -> Autoscaler:
    return lab.emu.platform.services.extra["app"].scaler


def the_watch(lab: Lab, app: str, revision: str) -> Any:
    svc = lab.emu.platform.services.extra["app"]
    rev = next(a for a in svc.apps.values() if a.name == app).revisions[revision]
    return scaler(lab).watch_of(rev)


@contextmanager
def loading(lab: Lab, fqdn: str) -> Iterator[LoadReport]:
    """50 clients sending GETs to the app's fqdn until the block ends (at most 10 minutes)."""
    stop = threading.Event()
    box: dict[str, LoadReport] = {}
    plan = LoadPlan(concurrency=CONCURRENCY, seconds=600)

    def run() -> None:
        box["report"] = run_load(f"https://{fqdn}/", plan, verify=lab.emu.ca_bundle,
                                 proxies={"https": lab.emu.proxy_url}, stop=stop)
    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    report = LoadReport(f"https://{fqdn}/", datetime.now(UTC), datetime.now(UTC))
    try:
        yield report
    finally:
        stop.set()
        thread.join(60)
        got = box.get("report")
        if got is not None:
            report.statuses, report.errors, report.latencies = got.statuses, got.errors, got.latencies


def running(lab: Lab, app: str) -> tuple[str, str]:
    created = lab.client.container_apps.get(lab.rg, app)
    revision = created.latest_revision_name
    lab.revision_when(app, revision, lambda r: r.health_state == "Healthy", f"{revision} healthy")
    return revision, created.configuration.ingress.fqdn


def test_http_rule_of_10_scales_out_under_50_concurrent_requests_and_back_after_the_cooldown(lab: Lab) -> None:
    http_scaled(lab, "web", 10)
    revision, fqdn = running(lab, "web")
    assert replica_count(lab, "web", revision) == 1
    with loading(lab, fqdn) as report:
        grown = wait_until(lambda: (n := replica_count(lab, "web", revision)) >= 2 and n, "scale out", 120)
    assert report.statuses and set(report.statuses) == {200}, (report.statuses, report.errors)
    assert 2 <= grown <= 10
    wait_until(lambda: replica_count(lab, "web", revision) == 1, "scale back to minReplicas", 120)
    # the revision stayed healthy meanwhile, and KEDA said it was watching it
    assert lab.client.container_apps_revisions.get_revision(lab.rg, "web", revision).health_state == "Healthy"
    keda = [line for line in lab.system_lines("web") if line.get("EventSource") == "KEDA"]
    assert [line["Msg"] for line in keda] == [
        "Scaler external-push is built",
        f"KEDA is starting a watch for revision '{revision}' to monitor scale operations for this revision"]


def test_the_same_rule_at_500_never_scales_under_the_same_load(lab: Lab) -> None:
    http_scaled(lab, "web", 500)
    revision, fqdn = running(lab, "web")
    watch = the_watch(lab, "web", revision)
    before = watch.loaded_syncs
    with loading(lab, fqdn) as report:
        # the autoscaler judged the load many times, and saw it heavy: never enough for a second replica
        wait_until(lambda: watch.loaded_syncs - before >= 10 and watch.peak_concurrency >= 10, "syncs under load",
                   120)
        assert replica_count(lab, "web", revision) == 1
    assert report.statuses and set(report.statuses) == {200}
    app_id = lab.client.container_apps.get(lab.rg, "web").id
    recorded = [s.value for s in lab.emu.platform.services.extra["app"].metrics.apps[app_id.lower()].samples[
        "replicas"]]
    assert recorded and max(recorded) == 1


def test_min_zero_scales_to_zero_after_the_cooldown_and_a_request_brings_a_replica_back(lab: Lab) -> None:
    http_scaled(lab, "web", 10, min_replicas=0)
    revision, fqdn = running(lab, "web")
    wait_until(lambda: replica_count(lab, "web", revision) == 0, "scale to zero", 60)
    rev = lab.client.container_apps_revisions.get_revision(lab.rg, "web", revision)
    assert rev.running_state == "ScaledToZero"
    with lab.session as session:
        session.trust_env = False
        answer = session.get(f"https://{fqdn}/", proxies={"https": lab.emu.proxy_url}, verify=lab.emu.ca_bundle,
                             timeout=60)
    assert answer.status_code == 200
    assert replica_count(lab, "web", revision) >= 1


# KEDA's teardown of the revision an update replaces ----------------------------------------------------------
EVIDENCE = Path(__file__).parents[2] / "labs" / "data" / "guide_evidence"
WHOLE_SECOND = r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d \+0000 UTC"
TEARDOWN = ("KEDAScalersStopped", "FailedGetScale", "ScaledObjectDeleted")
SHAPE = ("Type", "ReplicaName", "Msg", "Reason", "EventSource", "Count")


def azure_teardown(capture: str, revision: str) -> tuple[str, list[tuple[Any, ...]]]:
    """The teardown lines of ``revision`` in a captured ``az containerapp logs show --type system``, in order."""
    lines = [json.loads(x) for x in (EVIDENCE / capture).read_text().splitlines() if x.strip()]
    ours = [x for x in lines if x["RevisionName"] == revision and x["Reason"] in TEARDOWN]
    assert all(re.fullmatch(WHOLE_SECOND, x["TimeStamp"]) for x in ours)
    return revision, [tuple(x[k] for k in SHAPE) for x in ours]


def shaped(lines: list[dict[str, Any]], old: str, azure_revision: str) -> list[tuple[Any, ...]]:
    """Our lines in the capture's terms: the revision's name replaced by Azure's."""
    return [tuple(str(x[k]).replace(old, azure_revision) if k == "Msg" else x[k] for k in SHAPE) for x in lines]


def updated_rule(lab: Lab, app: str, concurrent: int) -> tuple[str, str]:
    """``az containerapp update --scale-rule-metadata concurrentRequests=<n>``: a new revision, the old one goes.
    Returns (old, new) once the old revision is deactivated."""
    old = lab.client.container_apps.get(lab.rg, app).latest_revision_name
    new = http_scaled(lab, app, concurrent).latest_revision_name
    assert new != old
    lab.revision_when(app, new, lambda r: r.health_state == "Healthy", f"{new} healthy")
    lab.revision_when(app, old, lambda r: not r.active, f"{old} deactivated")
    return old, new


def revision_lines(lab: Lab, app: str, revision: str) -> list[dict[str, Any]]:
    return [line for line in lab.system_lines(app) if line["RevisionName"] == revision]


def test_an_update_tears_the_old_revision_s_scaled_object_down_in_azure_s_words(lab: Lab) -> None:
    http_scaled(lab, "web", 500)
    running(lab, "web")
    old, new = updated_rule(lab, "web", 10)
    lines = revision_lines(lab, "web", old)
    teardown = [line for line in lines if line["Reason"] in TEARDOWN]
    # what most of the Guide's teardowns show (here acr-network-path-pe-direct's): Stopped, then Deleted
    azure_revision, azure = azure_teardown("acr-network-path-pe-direct/06-system-logs-pre-fix.json",
                                           "ca-acrpedir-nadfay--kloikn5")
    assert [x[3] for x in azure] == ["KEDAScalersStopped", "ScaledObjectDeleted"]
    assert shaped(teardown, old, azure_revision) == azure
    assert all(re.fullmatch(WHOLE_SECOND, x["TimeStamp"]) and x["ContainerAppName"] == "web" for x in teardown)
    # before the old replica's container is stopped
    reasons = [x["Reason"] for x in lines]
    assert reasons.index("ScaledObjectDeleted") < reasons.index("ContainerTerminated")
    assert next(x for x in lines if x["Reason"] == "ContainerTerminated")["Msg"].endswith("reason 'ManuallyStopped'")
    # the new revision: started, never torn down
    assert not [x for x in revision_lines(lab, "web", new) if x["Reason"] in TEARDOWN]
    # Log Analytics gets the same rows (ContainerAppSystemLogs_CL, what the Guide's KQL reads)
    rows = [r[2] for r in lab.logs.rows if r[1] == "ContainerAppSystemLogs_CL" and r[2]["Reason_s"] in TEARDOWN]
    assert [(r["RevisionName_s"], r["Reason_s"], r["EventSource_s"], r["ReplicaName_s"], r["Count_d"]) for r in rows] \
        == [(old, "KEDAScalersStopped", "KEDA", "", 1.0), (old, "ScaledObjectDeleted", "KEDA", "", 1.0)]


def test_the_teardown_race_logs_the_hpa_s_failed_get_scale_for_the_old_revision_only(lab: Lab) -> None:
    http_scaled(lab, "web", 500)
    running(lab, "web")
    lab.emu.platform.faults.configure(0.0, teardown_scale_race=1.0)
    old, new = updated_rule(lab, "web", 10)
    teardown = [line for line in revision_lines(lab, "web", old) if line["Reason"] in TEARDOWN]
    # the managed-identity-key-vault-failure capture, line for line
    azure_revision, azure = azure_teardown("managed-identity-key-vault-failure/06-system-logs-pre-fix.json",
                                           "ca-labkv-b3erju--nczenoj")
    assert [x[3] for x in azure] == ["KEDAScalersStopped", "FailedGetScale", "ScaledObjectDeleted"]
    assert shaped(teardown, old, azure_revision) == azure
    assert teardown[1]["Msg"] == f'deployments.apps "{old}" not found'
    assert lab.emu.platform.faults.as_dict()["injected"] == {"teardown_scale_race": 1}
    # the Guide's strict per-revision filter on the active revision stays empty
    assert not [x for x in revision_lines(lab, "web", new) if x["Reason"] in TEARDOWN]
    rows = [r[2] for r in lab.logs.rows if r[1] == "ContainerAppSystemLogs_CL" and r[2]["Reason_s"] == "FailedGetScale"]
    assert [(r["RevisionName_s"], r["Log_s"], r["Type_s"]) for r in rows] == [
        (old, f'deployments.apps "{old}" not found', "Warning")]


def test_the_hpa_s_no_metrics_warning_has_azure_s_shape_and_a_growing_count(lab: Lab) -> None:
    """keda-no-metrics-returned's CLI line: EventSource Scaling, no replica, whole second, Count aggregated."""
    report = (EVIDENCE / "keda-no-metrics-returned" / "report-20260620T004905Z.txt").read_text()
    azure = next(json.loads(x) for x in report.splitlines()
                 if x.startswith("{") and '"Reason": "FailedGetContainerResourceMetric"' in x)
    lab.registry.content["acrlab.azurecr.io/crash:v1"] = python_image(["python", "-c", "raise SystemExit(1)"])
    body = lab.app_body("acrlab.azurecr.io/crash:v1")
    body["properties"]["template"]["scale"] = {"minReplicas": 1, "maxReplicas": 2, "rules": [
        {"name": "mem", "custom": {"type": "memory", "metadata": {"type": "Utilization", "value": "50"}}}]}
    lab.client.container_apps.begin_create_or_update(lab.rg, "crash", body).result()

    def warnings() -> list[dict[str, Any]]:
        return [x for x in lab.system_lines("crash") if x["Reason"] == "FailedGetContainerResourceMetric"]
    seen = wait_until(lambda: (w := warnings()) and len(w) >= 3 and w, "three syncs without metrics")
    assert {(x["Type"], x["EventSource"], x["ReplicaName"], x["Msg"]) for x in seen} == {
        (azure["Type"], azure["EventSource"], azure["ReplicaName"], azure["Msg"])}
    assert all(re.fullmatch(WHOLE_SECOND, x["TimeStamp"]) for x in [azure, *seen])
    assert [x["Count"] for x in seen] == list(range(1, len(seen) + 1))  # Azure's line: Count 41
