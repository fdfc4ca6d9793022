"""The actions and probes of issue 13 (update_ingress, activate/deactivate_revision, scale_app, wait; replicas,
console_logs, ingress, revisions filters, http_endpoint by label) against the emulator, through the SDK calls
they make on Azure. The app is the ingress_target_port_mismatch lab's: helloworld on :80, one replica."""

from __future__ import annotations

import shutil
import time
from pathlib import Path
from types import MappingProxyType
from typing import Any

import pytest

from helpers.probekit import context
from pytest_acalab.actions import run_action
from pytest_acalab.context import LabContext
from pytest_acalab.context.deployments import deploy_template
from pytest_acalab.labfile import load_lab
from pytest_acalab.labfile.model import Action, ProbeCheck
from pytest_acalab.labfile.tolerances import parse_tolerance
from pytest_acalab.probes import run_probe
from pytest_acalab.probes.checks import evaluate

LAB = Path(__file__).resolve().parents[2] / "labs" / "ingress_target_port_mismatch"


def act(action_id: str, name: str, timeout: float | None = 10, **args: Any) -> Action:
    return Action(id=action_id, name=name, args=MappingProxyType(args), description=None, timeout=timeout, line=1)


def value(ctx: LabContext, probe: str, **args: Any) -> Any:
    return run_probe(ctx, probe, args).value


def until(ctx: LabContext, probe: str, expect: dict[str, Any], **args: Any) -> None:
    """Poll ``probe`` until ``expect`` holds (the check runner's polling, not a sleep)."""
    check = ProbeCheck(probe=probe, args=args, expect=parse_tolerance(expect), within=600, stable_for=1,
                       description=None, line=1)
    outcome = evaluate(ctx, check, default_within=60)
    assert outcome.ok, outcome.failure_message()


@pytest.fixture
def healthy(backend, tmp_path) -> LabContext:
    target = tmp_path / "ingress_target_port_mismatch"
    shutil.copytree(LAB, target)
    ctx = context(load_lab(target), backend, create_group=True)
    deploy_template(ctx)
    ctx.refresh_resources()
    until(ctx, "revision_health", {"equals": "Healthy"}, app="app")
    return ctx


def test_update_ingress_changes_the_port_in_place_and_the_edge_answers_503(healthy: LabContext) -> None:
    revision = value(healthy, "app_state", app="app", field="latestRevisionName")
    result = run_action(healthy, act("break", "update_ingress", app="app", target_port=8081))
    assert result.status == "Succeeded" and result.data["latestRevisionName"] == revision
    assert result.data["ingress"]["targetPort"] == 8081 and result.data["ingress"]["external"] is True
    assert value(healthy, "ingress", app="app", field="targetPort") == 8081
    assert value(healthy, "ingress", app="app", field="transport") == "Auto"
    assert value(healthy, "http_endpoint", app="app", via="app", requests=3) == [503, 503, 503]
    assert value(healthy, "revisions", app="app") == [revision]
    until(healthy, "replicas", {"equals": 2}, app="app", field="count")
    assert run_action(healthy, act("fix", "update_ingress", app="app", target_port=80)).status == "Succeeded"
    until(healthy, "http_endpoint", {"equals": [200, 200]}, app="app", via="app", requests=2)
    until(healthy, "replicas", {"equals": ["Running"]}, app="app", field="runningState")
    assert value(healthy, "replicas", app="app", field="restartCount") == [0]
    assert value(healthy, "replicas", app="app", field="exitCode") == [None]


def test_update_ingress_external_and_transport(healthy: LabContext) -> None:
    result = run_action(healthy, act("int", "update_ingress", app="app", external=False, transport="http2"))
    assert result.status == "Succeeded", result.detail
    assert value(healthy, "ingress", app="app", field="external") is False
    assert value(healthy, "ingress", app="app", field="transport") == "Http2"


def test_traffic_by_revision_and_label_and_revision_activation(healthy: LabContext) -> None:
    first = value(healthy, "app_state", app="app", field="latestRevisionName")
    app = healthy.resource("app").name
    # Single mode keeps one active revision: Multiple lets the lab split and label
    body = {"properties": {"configuration": {"activeRevisionsMode": "Multiple"}}}
    healthy.clients.apps.container_apps.begin_update(healthy.resource_group, app, body).result()
    scaled = run_action(healthy, act("scale", "scale_app", app="app", min_replicas=1, max_replicas=2))
    assert scaled.status == "Succeeded", scaled.detail
    second = scaled.data["latestRevisionName"]
    assert second != first  # scale is revision scope: a new revision
    assert value(healthy, "app_state", app="app", field="template.scale.maxReplicas") == 2
    until(healthy, "revision_health", {"equals": "Healthy"}, app="app")
    split = run_action(healthy, act("split", "update_ingress", app="app", traffic=[
        {"revision": first, "weight": 50, "label": "blue"}, {"revision": second, "weight": 50, "label": "green"}]))
    assert split.status == "Succeeded", split.detail
    assert value(healthy, "ingress", app="app", field="weights") == {first: 50, second: 50}
    assert [r.get("label") for r in value(healthy, "ingress", app="app", field="traffic")] == ["blue", "green"]
    assert value(healthy, "http_endpoint", app="app", label="blue", requests=2) == [200, 200]
    assert value(healthy, "http_endpoint", app="app", via="app", requests=4, status=200) == [200] * 4
    assert sorted(value(healthy, "revisions", app="app", active=True)) == sorted([first, second])
    # the whole traffic goes to the second revision; then the first is deactivated and activated again
    assert run_action(healthy, act("all", "update_ingress", app="app",
                                   traffic=[{"revision": "latest", "weight": 100}])).status == "Succeeded"
    off = run_action(healthy, act("off", "deactivate_revision", app="app", revision=first))
    assert off.status == "Succeeded" and off.data["revision"] == first
    assert value(healthy, "revisions", app="app", active=False) == [first]
    assert value(healthy, "revisions", app="app", active=False, running_state="Stopped") == [first]
    assert value(healthy, "revisions", app="app", health_state=["Healthy"], active=True) == [second]
    on = run_action(healthy, act("on", "activate_revision", app="app", revision=first))
    assert on.status == "Succeeded", on.detail
    until(healthy, "revisions", {"count": 2}, app="app", active=True)


def test_activating_an_unknown_revision_is_a_failed_result(healthy: LabContext) -> None:
    result = run_action(healthy, act("on", "activate_revision", app="app", revision="no-such-revision"))
    assert result.status == "Failed" and "no-such-revision" in result.detail


def test_scale_bounds_below_each_other_cannot_run(healthy: LabContext) -> None:
    from pytest_acalab.errors import ActionError

    with pytest.raises(ActionError, match="min_replicas 3 is above max_replicas 1"):
        run_action(healthy, act("bad", "scale_app", app="app", min_replicas=3))


def test_console_logs_from_the_log_stream_and_log_analytics(healthy: LabContext) -> None:
    assert value(healthy, "http_endpoint", app="app", via="app", requests=2) == [200, 200]
    lines = value(healthy, "console_logs", app="app", since="lab")
    assert lines and all(r["source"] == "logstream" and r["revision"] for r in lines)
    assert not [r for r in lines if r["log"].startswith(("Connecting to the container", "Successfully Connected"))]
    until(healthy, "console_logs", {"count": {"min": 1}}, app="app", since="lab", source="log_analytics",
          message="GET / ")
    none = value(healthy, "console_logs", app="app", since="lab", message="^no such line$")
    assert none == []


def test_wait_lasts_its_duration_on_the_lab_clock(healthy: LabContext) -> None:
    divisor = healthy.backend.clock_divisor
    started = time.monotonic()
    result = run_action(healthy, act("window", "wait", duration="60s"))
    elapsed = time.monotonic() - started
    assert result.status == "Succeeded" and result.data["azure_seconds"] == 60.0
    assert result.data["seconds"] == pytest.approx(60.0 / divisor, abs=1e-3)
    assert elapsed >= 60.0 / divisor  # a lower bound only: a sleep is never shorter
