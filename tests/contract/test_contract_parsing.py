"""The probes' parsing functions on payloads real Azure sent (tests/contract/data/SOURCES.md)."""

from __future__ import annotations

import random
from datetime import UTC, datetime

from acalab_replay import DATA, cassette, data

from pytest_acalab.probes.apps import app_field
from pytest_acalab.probes.base import parse_timestamp
from pytest_acalab.probes.deployments import error_messages, operation_errors
from pytest_acalab.probes.logs import LogFilter, filter_records, normalise_la_rows, parse_eventstream
from pytest_acalab.probes.revisions import latest_revision, revision_field, revision_summary, sort_revisions

# ---- revisions -----------------------------------------------------------------------------------------

def test_latest_revision_is_newest_by_created_time_whatever_the_list_order() -> None:
    revisions = data("firewall-02-revision-list-pre-fix.json")
    for seed in range(5):
        shuffled = list(revisions)
        random.Random(seed).shuffle(shuffled)
        latest = latest_revision(shuffled)
        assert latest is not None and latest["name"] == "ca-acrfw33-xi7y5a--0000005"
    # the case B shape: Unhealthy, Failed, ImagePullBackOff in the details
    assert revision_field(latest, "healthState") == "Unhealthy"
    assert revision_field(latest, "runningState") == "Failed"
    assert revision_field(latest, "provisioningError") == "Pending:ImagePullBackOff on legion"
    assert "1/1 Pending:ImagePullBackOff on legion" in revision_summary(latest)


def test_previous_good_revision_stays_active_in_the_pre_fix_list() -> None:
    ordered = sort_revisions(data("firewall-02-revision-list-pre-fix.json"))
    assert [revision_field(r, "healthState") for r in ordered][-2:] == ["Healthy", "Unhealthy"]
    assert revision_field(ordered[-2], "runningState") == "RunningAtMaxScale"


def test_after_fix_lists_are_healthy() -> None:
    latest = latest_revision(data("firewall-10-revision-list-post-fix.json"))
    assert revision_field(latest, "healthState") == "Healthy"
    # the flat `az containerapp revision list --query` projection of the pull-failure lab
    flat = latest_revision(data("acr-pull-failure-10-revisions-list-after-fix.json"))
    assert flat["name"] == "ca-labacr-rnnljl--mvlbg1j"
    assert revision_field(flat, "runningState") == "RunningAtMaxScale"


def test_case_a_has_no_revision_and_a_failed_app_without_event_stream() -> None:
    assert latest_revision(data("acr-pull-failure-03-revisions-list-baseline.json")) is None
    app = {"name": "ca-labacr-rnnljl", "properties": data("acr-pull-failure-02-containerapp-show-baseline.json")}
    assert app_field(app, "provisioningState") == "Failed"
    assert app_field(app, "latestRevisionName") is None
    assert app_field(app, "eventStreamEndpoint") is None
    assert app_field(app, "ingress.fqdn") is None and app_field(app, "ingress.targetPort") == 8000


def test_degraded_revisions_of_the_port_mismatch_lab() -> None:
    latest = latest_revision(data("port-mismatch-07-revision-list-failed.json"))
    assert latest["name"] == "ca-labport-zopng3--0000001"
    assert revision_field(latest, "runningState") == "Degraded"


# ---- deployment operations -----------------------------------------------------------------------------

def test_deployment_operations_yield_the_manifest_unknown_message() -> None:
    messages = operation_errors(data("acr-pull-failure-01-deployment-operations-failed.json"))
    assert len(messages) == 1
    assert messages[0].startswith("ContainerAppOperationError: Failed to provision revision")
    assert 'MANIFEST_UNKNOWN: manifest tagged by "does-not-exist" is not found' in messages[0]


def test_deployment_error_with_nested_details() -> None:
    messages = error_messages(data("acr-pull-failure-01-deployment-result.json")["error"])
    assert messages[0].startswith("DeploymentFailed: At least one resource deployment operation failed")
    assert messages[1].startswith("ResourceDeploymentFailure: The resource write operation failed")


def test_rest_shape_operations_and_json_string_messages() -> None:
    ops = [{"properties": {"provisioningState": "Succeeded", "statusMessage": None}},
           {"properties": {"provisioningState": "Failed", "statusMessage": {"status": "Failed", "error": {
               "code": "Outer", "message": "outer", "details": [{"code": "Inner", "message": "inner MANIFEST"}]}}}},
           {"properties": {"provisioningState": "Failed",
                           "statusMessage": '{"error": {"code": "BadRequest", "message": "bad"}}'}}]
    assert operation_errors(ops) == ["Outer: outer", "Inner: inner MANIFEST", "BadRequest: bad"]


# ---- event stream --------------------------------------------------------------------------------------

def test_timestamps_in_every_shape_azure_sends() -> None:
    expected = datetime(2025, 5, 24, 17, 22, 29, 426901, tzinfo=UTC)
    assert parse_timestamp("2025-05-24 17:22:29.4269018 +0000 UTC") == expected
    assert parse_timestamp("2025-05-24T17:22:34Z") == datetime(2025, 5, 24, 17, 22, 34, tzinfo=UTC)
    assert parse_timestamp("2026-06-26 12:40:52 +0000 UTC") == datetime(2026, 6, 26, 12, 40, 52, tzinfo=UTC)
    assert parse_timestamp("2026-06-29T08:32:16+00:00") == datetime(2026, 6, 29, 8, 32, 16, tzinfo=UTC)
    assert parse_timestamp("2025-05-24T17:22:17.8706579") == datetime(2025, 5, 24, 17, 22, 17, 870657, tzinfo=UTC)
    assert parse_timestamp(None) is None and parse_timestamp("yesterday") is None


def test_eventstream_2023_lines_with_null_fields() -> None:
    body = cassette("cassette-2023-eventstream.yaml")[2]["response"]["body"]["string"]
    records = parse_eventstream(body)
    assert [r["reason"] for r in records] == ["StartingGettingEvents", "ConnectedToEventsServer"]
    assert records[0]["app"] is None and records[0]["time"] == "2023-05-06T05:35:44Z"


def test_eventstream_2025_go_timestamps_and_escapes() -> None:
    body = cassette("cassette-2025-eventstream.yaml")[2]["response"]["body"]["string"]
    records = parse_eventstream(body)
    pulled = next(r for r in records if r["reason"] == "PulledImage")
    assert pulled["time"] == "2025-05-24T17:22:29.426901Z"
    assert pulled["message"].startswith('Successfully pulled image "mcr.microsoft.com/k8se/quickstart:latest"')
    assert pulled["revision"] == "capp000002--4to7hbs" and pulled["count"] == 1
    created = next(r for r in records if r["reason"] == "ContainerCreated")
    assert created["message"] == "Created container 'capp000002'"


def test_null_lines_parse_and_are_dropped_by_the_time_filter() -> None:
    line = ('{"TimeStamp":null,"Type":null,"ContainerAppName":null,"RevisionName":null,"ReplicaName":null,'
            '"Msg":"Reconciler error","Reason":null,"EventSource":null,"Count":0}')
    (record,) = parse_eventstream(line + "\n")
    assert record == {"time": None, "type": None, "reason": None, "message": "Reconciler error", "revision": None,
                      "replica": None, "app": None, "count": 0, "source": "eventstream"}
    assert filter_records([record], LogFilter(since=datetime(2020, 1, 1, tzinfo=UTC))) == []
    assert filter_records([record], LogFilter(message="Reconciler")) == [record]


def test_image_pull_loop_on_the_event_stream() -> None:
    text = (DATA / "pe-direct-06-system-logs-pre-fix.json").read_text(encoding="utf-8")
    records = parse_eventstream(text)
    loop = filter_records(records, LogFilter(reason="ContainerTerminated", message="ImagePullFailure",
                                             type="Warning"))
    assert [r["count"] for r in loop] == [1, 2, 3, 4, 5, 6]
    assert {r["revision"] for r in loop} == {"ca-acrpedir-nadfay--0000001"}
    # ImagePullBackOff is never a Reason in the captured logs, only message text
    assert filter_records(records, LogFilter(reason="ImagePullBackOff")) == []
    unauthorized = filter_records(records, LogFilter(reason=["ImagePullUnauthorized"]))
    assert unauthorized and all(r["message"] == "Container pull image failed with unauthorized error."
                                for r in unauthorized)
    after = filter_records(records, LogFilter(reason="ContainerTerminated", message="ImagePullFailure",
                                              since=datetime(2026, 6, 26, 12, 42, tzinfo=UTC)))
    assert [r["count"] for r in after] == [5, 6]


# ---- Log Analytics -------------------------------------------------------------------------------------

def test_legacy_table_rows_normalise_with_type_s_not_the_table_type() -> None:
    rows = data("firewall-06-system-logs-pre-fix.json")["rows"]
    records = normalise_la_rows(rows)
    terminated = [r for r in records if r["reason"] == "ContainerTerminated"]
    assert terminated and all(r["type"] == "Warning" for r in terminated)
    assert "DENIED" in terminated[0]["message"] and terminated[0]["source"] == "log_analytics"
    ready = next(r for r in records if r["reason"] == "RevisionReady")
    assert ready["message"] == "Successfully provisioned revision 'ca-acrfw33-xi7y5a--0000005'"
    assert ready["replica"] is None and ready["revision"] == "ca-acrfw33-xi7y5a--0000005"


def test_legacy_kql_projection_before_and_after_the_fix() -> None:
    before = normalise_la_rows(data("pe-direct-08-kql-imagepull-events-pre-fix.json")["rows"])
    failing = filter_records(before, LogFilter(reason=["PullingImage", "ImagePullUnauthorized"]))
    assert len(failing) == len(before) and before[0]["time"] == "2026-06-26T12:41:06.988343Z"
    after = normalise_la_rows(data("pe-direct-12-kql-imagepull-events-post-fix.json")["rows"])
    assert filter_records(after, LogFilter(reason="ImagePullUnauthorized")) == []
    assert any(r["reason"] == "PulledImage" for r in after)


def test_resource_specific_table_columns() -> None:
    # ContainerAppSystemLogs (azure-monitor destination): unsuffixed columns, `Type` is the severity
    row = {"TimeGenerated": "2025-09-17T12:31:55.7827049Z", "Log": "Persistent Failure to start container",
           "Type": "Warning", "Reason": "ContainerBackOff", "EventSource": "ContainerAppController", "Count": 106,
           "RevisionName": "app--0000002", "ReplicaName": "app--0000002-6bb77ff7bc-r1", "ContainerAppName": "app"}
    (record,) = normalise_la_rows([row])
    assert (record["type"], record["reason"], record["count"]) == ("Warning", "ContainerBackOff", 106)
