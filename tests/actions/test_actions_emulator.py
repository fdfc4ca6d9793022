"""Trigger and recovery actions against the emulator, through the same SDK calls as on Azure."""

from __future__ import annotations

from datetime import UTC, datetime
from types import MappingProxyType
from typing import Any

import pytest

from pytest_acalab.actions import run_action
from pytest_acalab.builtins import ACTIONS
from pytest_acalab.context import LabContext
from pytest_acalab.errors import ActionError
from pytest_acalab.labfile.model import Action
from pytest_acalab.labfile.tolerances import parse_tolerance
from pytest_acalab.probes import run_probe
from pytest_acalab.probes.checks import evaluate


def act(action_id: str, name: str, timeout: float | None = 10, **args: Any) -> Action:
    return Action(id=action_id, name=name, args=MappingProxyType(args), description=None, timeout=timeout, line=1)


def start_phase(ctx: LabContext, phase: str) -> None:
    ctx.phase = phase
    ctx.phase_started[phase] = datetime.now(UTC)


def recover(ctx: LabContext) -> None:
    for action in ctx.lab.recovery:
        result = run_action(ctx, action)
        assert result.status == "Succeeded", result.detail
    start_phase(ctx, "recovered")


def test_registry_lists_every_action_of_the_lab_format() -> None:
    assert sorted(ACTIONS) == sorted(["deploy", "acr_build", "acr_import", "update_app", "set_traffic",
                                      "restart_revision", "delete_tag", "wait_for", "update_registry",
                                      "regenerate_registry_credential", "set_app_secret", "set_app_registry",
                                      "update_environment", "update_ingress", "activate_revision",
                                      "deactivate_revision", "scale_app", "wait", "assign_role",
                                      "delete_role_assignment", "set_logs_destination", "load"])


def test_recovery_actions_then_every_recovered_row_holds(case_a) -> None:
    build = run_action(case_a, case_a.lab.action("build"))
    assert build.status == "Succeeded" and build.data["run_id"] and build.data["status"] == "Succeeded"
    assert "Downloading source code" in build.data["log"]
    assert run_probe(case_a, "image_tag", {"registry": "registry", "repository": "labacr", "tag": "v1"}).value == \
        "present"
    update = run_action(case_a, case_a.lab.action("update-image"))
    assert update.status == "Succeeded" and update.data["latestRevisionName"]
    start_phase(case_a, "recovered")
    for row in case_a.lab.rows:
        outcome = evaluate(case_a, row.recovered, default_within=5)
        assert outcome.ok, outcome.failure_message()
    answered = run_probe(case_a, "http_endpoint", {"app": "app"})  # the lab's own workload, really running
    assert answered.value == [200, 200, 200]
    assert "ACR pull-failure lab: the image pulled and the app runs" in answered.excerpt
    kinds = [(e["kind"], e["name"], e.get("event")) for e in case_a.journal.entries if e["kind"] == "action"]
    assert kinds == [("action", "build", "start"), ("action", "build", "end"),
                     ("action", "update-image", "start"), ("action", "update-image", "end")]
    assert case_a.action_results["build"].duration >= 0


def test_update_to_a_missing_tag_is_a_failed_result_with_azures_message(case_a) -> None:
    recover(case_a)
    login = case_a.resource("registry").field("loginServer")
    result = run_action(case_a, act("bad", "update_app", app="app", image=f"{login}/labacr:nope"))
    assert result.status == "Failed"
    assert "MANIFEST_UNKNOWN" in result.detail and "nope" in result.detail
    assert case_a.action_results["bad"] is result


def test_case_b_tag_deleted_then_restart_loops_on_image_pull_failure(case_a) -> None:
    recover(case_a)
    assert run_action(case_a, act("delete", "delete_tag", registry="registry", repository="labacr",
                                  tag="v1")).status == "Succeeded"
    start_phase(case_a, "failing")
    assert run_action(case_a, act("restart", "restart_revision", app="app")).status == "Succeeded"
    check = case_a.lab.row("revision-health").failing
    waited = run_action(case_a, act("wait", "wait_for", check=check))
    assert waited.status == "Succeeded", waited.detail
    assert run_probe(case_a, "revision_health", {"app": "app"}).value == "Unhealthy"
    logs = run_probe(case_a, "system_logs", {"app": "app", "reason": "ContainerTerminated",
                                             "message": "ImagePullFailure", "type": "Warning"}).value
    assert logs and all(r["revision"] and r["source"] == "eventstream" for r in logs)
    details = run_probe(case_a, "revision_state", {"app": "app", "field": "runningStateDetails"}).value
    assert "ImagePullBackOff" in details
    again = run_action(case_a, act("delete2", "delete_tag", registry="registry", repository="labacr", tag="v1"))
    assert again.status == "Succeeded" and "was already absent" in again.detail and not again.data["existed"]


def test_acr_import_then_the_tag_is_present(case_a) -> None:
    result = run_action(case_a, act("import", "acr_import", registry="registry",
                                    source="mcr.microsoft.com/k8se/quickstart:latest", image="quickstart:v1"))
    assert result.status == "Succeeded", result.detail
    tag = run_probe(case_a, "image_tag", {"registry": "registry", "repository": "quickstart", "tag": "v1"})
    assert tag.value == "present"


def test_acr_build_of_a_broken_dockerfile_fails_with_the_run_log(case_a) -> None:
    broken = case_a.lab.folder / "broken"
    broken.mkdir()
    (broken / "Dockerfile").write_text("FROM python:3.11-slim\nCOPY missing.txt /app/\n", encoding="utf-8")
    result = run_action(case_a, act("build-broken", "acr_build", registry="registry", context="broken",
                                    image="labacr:broken"))
    assert result.status == "Failed"
    assert result.detail.startswith(f"run {result.data['run_id']} ended Failed")
    assert "missing.txt" in result.data["log"]


def test_set_traffic_and_env_update(case_a) -> None:
    recover(case_a)
    assert run_action(case_a, act("traffic", "set_traffic", app="app", weights="latest")).status == "Succeeded"
    env = run_action(case_a, act("env", "update_app", app="app", env={"MODE": "debug", "ON": True}))
    assert env.status == "Succeeded"
    containers = run_probe(case_a, "app_state", {"app": "app", "field": "template.containers"}).value
    assert {"name": "MODE", "value": "debug"} in containers[0]["env"] and {"name": "ON", "value": "true"} in \
        containers[0]["env"]
    port = run_action(case_a, act("port", "update_app", app="app", target_port=8080))
    assert port.status == "Succeeded"
    assert run_probe(case_a, "app_state", {"app": "app", "field": "configuration.ingress.targetPort"}).value == 8080


def test_deploy_action_keeps_the_lab_deployment_record(case_a) -> None:
    lab_state = case_a.deployment["state"]
    result = run_action(case_a, act("redeploy", "deploy", parameters={"imageTag": "still-missing"}))
    assert result.status == "Failed" and result.data["deployment"] == "main-redeploy"
    assert case_a.deployment["state"] == lab_state
    errors = run_probe(case_a, "deployment_errors", {"deployment": "main-redeploy"}).value
    assert any("still-missing" in e for e in errors)


def test_references_are_resolved_in_action_arguments(case_a) -> None:
    run_action(case_a, case_a.lab.action("build"))
    result = run_action(case_a, act("ref", "update_app", app="app", image="${registry.loginServer}/labacr:v1"))
    assert result.status == "Succeeded"
    image = run_probe(case_a, "app_image", {"app": "app"}).value
    assert image == f"{case_a.resource('registry').field('loginServer')}/labacr:v1"


def test_wait_for_that_never_holds_is_failed_not_an_error(case_a) -> None:
    from pytest_acalab.labfile.model import ProbeCheck

    check = ProbeCheck(probe="revision_health", args=MappingProxyType({"app": "app"}),
                       expect=parse_tolerance({"equals": "Healthy"}), within=None, stable_for=1, description=None,
                       line=1)
    result = run_action(case_a, act("wait", "wait_for", timeout=0.3, check=check))
    assert result.status == "Failed"
    assert "expected revision_health equals 'Healthy'; actual 'NoRevision'" in result.detail


def test_an_action_that_cannot_run_raises(case_a) -> None:
    with pytest.raises(ActionError, match="no resource 'ghost'"):
        run_action(case_a, act("x", "restart_revision", app="ghost"))
    with pytest.raises(ActionError, match="unknown action 'explode'"):
        run_action(case_a, act("y", "explode"))
    assert "x" not in case_a.action_results
