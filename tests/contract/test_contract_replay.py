"""Azure's recorded bytes through the real SDK clients into the probes' fetching code.

The Container Apps client is the real ``ContainerAppsAPIClient`` with a replaying transport, so the SDK's
own deserialisation runs on what Azure sent (tests/contract/data/SOURCES.md).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from acalab_replay import ARM, SUBSCRIPTION, cassette, data, interaction, replay_context

from pytest_acalab.labfile.model import ProbeCheck
from pytest_acalab.labfile.tolerances import parse_tolerance
from pytest_acalab.probes import run_probe
from pytest_acalab.probes.checks import evaluate

RG = "clitest.rg000001"


def _revisions_list(app: str, items: list[dict]) -> dict:
    """A list answer around recorded revision bodies (no list call was recorded; the items are Azure's)."""
    url = (f"{ARM}/subscriptions/{SUBSCRIPTION}/resourceGroups/{RG}/providers/Microsoft.App/containerApps/{app}"
           "/revisions")
    return interaction("GET", url, {"value": items})


def test_revision_health_on_the_recorded_crashing_revision(lab, monkeypatch) -> None:
    recorded = cassette("cassette-2025-debug.yaml")
    app = "containerapp-debug2000003"
    unhealthy = json.loads(recorded[2]["response"]["body"]["string"])
    ctx, adapter = replay_context(lab, [*recorded, _revisions_list(app, [unhealthy])], resource_group=RG, app=app)
    obs = run_probe(ctx, "revision_health", {"app": "app"}, deadline=2)
    assert obs.value == "Unhealthy" and obs.source == "revisions"
    assert "The TargetPort 8080 does not match the listening port 80." in obs.excerpt
    state = run_probe(ctx, "revision_state", {"app": "app", "field": "provisioningError"}, deadline=2)
    assert state.value == "Container crashing: containerapp-debug2000003"
    assert any(path.endswith("/revisions?api-version=2026-07-01") or "/revisions?" in path
               for _, path in adapter.requests)


def test_revision_health_picks_newest_from_an_unordered_azure_list(lab) -> None:
    app = "ca-acrfw33-xi7y5a"
    items = list(reversed(data("firewall-02-revision-list-pre-fix.json")))
    items = items[2:] + items[:2]  # not in createdTime order
    ctx, _ = replay_context(lab, [_revisions_list(app, items)], resource_group=RG, app=app)
    assert run_probe(ctx, "revision_health", {"app": "app"}, deadline=2).value == "Unhealthy"
    names = run_probe(ctx, "revisions", {"app": "app"}, deadline=2).value
    assert names[-1] == "ca-acrfw33-xi7y5a--0000005" and len(names) == 6


def test_no_revision_reports_the_failed_app(lab) -> None:
    app = "ca-labacr-rnnljl"
    shown = data("acr-pull-failure-02-containerapp-show-baseline.json")
    body = {"id": f"/subscriptions/{SUBSCRIPTION}/resourceGroups/{RG}/providers/Microsoft.App/containerApps/{app}",
            "name": app, "type": "Microsoft.App/containerApps", "location": "Korea Central",
            "properties": {"provisioningState": shown["provisioningState"],
                           "latestRevisionName": shown["latestRevisionName"],
                           "configuration": {"ingress": shown["ingress"]}}}
    app_url = f"{ARM}/subscriptions/{SUBSCRIPTION}/resourceGroups/{RG}/providers/Microsoft.App/containerApps/{app}"
    ctx, _ = replay_context(lab, [_revisions_list(app, data("acr-pull-failure-03-revisions-list-baseline.json")),
                                  interaction("GET", app_url, body)], resource_group=RG, app=app)
    obs = run_probe(ctx, "revision_health", {"app": "app"}, deadline=2)
    assert obs.value == "NoRevision"
    assert "no revision" in obs.excerpt and "provisioningState: Failed" in obs.excerpt
    assert run_probe(ctx, "app_state", {"app": "app", "field": "eventStreamEndpoint"}, deadline=2).value is None
    logs = run_probe(ctx, "system_logs", {"app": "app"}, deadline=2)
    assert logs.value == [] and "no eventStreamEndpoint" in logs.excerpt


@pytest.mark.parametrize("name, app, reasons", [
    ("cassette-2025-eventstream.yaml", "capp000002",
     ["StartingGettingEvents", "ConnectedToEventsServer", "PulledImage", "ContainerCreated", "ContainerStarted"]),
    ("cassette-2023-eventstream.yaml", "capp000002", ["StartingGettingEvents", "ConnectedToEventsServer"]),
])
def test_system_logs_from_the_recorded_event_stream(lab, monkeypatch, name, app, reasons) -> None:
    recorded = cassette(name)
    ctx, adapter = replay_context(lab, recorded, resource_group=RG, app=app, monkeypatch=monkeypatch)
    obs = run_probe(ctx, "system_logs", {"app": "app"}, deadline=2)
    assert [r["reason"] for r in obs.value] == reasons
    assert obs.source == "eventstream"
    (stream_url,) = [url for method, url in adapter.requests if "eventstream" in url]
    assert stream_url.endswith(f"/resourceGroups/{RG}/containerApps/{app}/eventstream"
                               "?follow=false&output=json&tailLines=300")
    assert any(url.lower().split("?")[0].endswith("/getauthtoken") for _, url in adapter.requests)
    # the state fields of the recorded app, through the SDK
    assert run_probe(ctx, "app_state", {"app": "app", "field": "provisioningState"}, deadline=2).value == "Succeeded"
    assert run_probe(ctx, "app_state", {"app": "app", "field": "configuration.ingress.targetPort"},
                     deadline=2).value == 80


def test_since_phase_filters_recorded_records(lab, monkeypatch) -> None:
    ctx, _ = replay_context(lab, cassette("cassette-2025-eventstream.yaml"), resource_group=RG, app="capp000002",
                            monkeypatch=monkeypatch)
    ctx.phase_started["failing"] = datetime(2025, 5, 24, 17, 22, 30, tzinfo=UTC)
    obs = run_probe(ctx, "system_logs", {"app": "app", "revision": "capp000002--4to7hbs"}, deadline=2)
    assert [r["reason"] for r in obs.value] == ["ContainerCreated", "ContainerStarted"]
    assert "2 of 5 event stream records match" in obs.excerpt


def test_since_lab_starts_at_the_lab_s_whole_second(lab, monkeypatch) -> None:
    """A line stamped to the second within the lab's first second (a fast clock's revision) belongs to the lab."""
    ctx, _ = replay_context(lab, cassette("cassette-2025-eventstream.yaml"), resource_group=RG, app="capp000002",
                            monkeypatch=monkeypatch)
    ctx.lab_started = datetime(2025, 5, 24, 17, 22, 30, 600_000, tzinfo=UTC)
    assert ctx.since("lab") == datetime(2025, 5, 24, 17, 22, 30, tzinfo=UTC)
    obs = run_probe(ctx, "system_logs", {"app": "app", "revision": "capp000002--4to7hbs", "since": "lab"},
                    deadline=2)
    assert [r["reason"] for r in obs.value] == ["ContainerCreated", "ContainerStarted"], obs.excerpt


def test_check_runner_on_the_replayed_event_stream(lab, monkeypatch) -> None:
    ctx, _ = replay_context(lab, cassette("cassette-2025-eventstream.yaml"), resource_group=RG, app="capp000002",
                            monkeypatch=monkeypatch)
    check = ProbeCheck(probe="system_logs", args={"app": "app", "reason": "PulledImage"},
                       expect=parse_tolerance({"count": {"min": 1}}), within=1.0, stable_for=1, description=None,
                       line=7)
    outcome = evaluate(ctx, check)
    assert outcome.ok and outcome.attempts == 1 and outcome.source == "eventstream"
    missing = ProbeCheck(probe="system_logs", args={"app": "app", "message": "ImagePullFailure"},
                         expect=parse_tolerance({"count": {"min": 1}}), within=0.3, stable_for=1, description=None,
                         line=9)
    failed = evaluate(ctx, missing)
    assert not failed.ok and failed.attempts > 1
    assert "0 of 5 event stream records match (message /ImagePullFailure/" in failed.excerpt
    assert "expected system_logs(message=ImagePullFailure) at least 1 item; actual 0 items" in failed.failure_message()
