"""Application Insights through the real clients: a workspace-based component on ARM, telemetry sent by the
unmodified Azure Monitor OpenTelemetry exporter to its ingestion endpoint, and the rows queried from the
workspace's AppRequests / AppTraces with LogsQueryClient."""

from __future__ import annotations

import logging
import time
import uuid
from typing import Any

import pytest
import requests
from azure.core.exceptions import HttpResponseError

from pytest_acalab.emulator import Emulator

exporter = pytest.importorskip("azure.monitor.opentelemetry.exporter")
API = "2020-02-02"


@pytest.fixture
def component(emu: Emulator, resource_client: Any, group: str) -> dict[str, Any]:
    from azure.mgmt.loganalytics import LogAnalyticsManagementClient

    la = LogAnalyticsManagementClient(emu.credential(), emu.subscription_id, polling_interval=0,
                                      **emu.client_kwargs())
    ws = la.workspaces.begin_create_or_update(group, f"ws-{uuid.uuid4().hex[:6]}", {"location": "koreacentral"}
                                              ).result()
    rid = f"{ws.id.split('/providers/')[0]}/providers/Microsoft.Insights/components/appi-{uuid.uuid4().hex[:6]}"
    made = resource_client.resources.begin_create_or_update_by_id(rid, api_version=API, parameters={
        "location": "koreacentral", "kind": "web",
        "properties": {"Application_Type": "web", "WorkspaceResourceId": ws.id}}).result()
    return {"component": made.as_dict(), "customer_id": ws.customer_id}


def _rows(emu: Emulator, customer_id: str, query: str, want: int) -> list[Any]:
    from datetime import timedelta

    from azure.monitor.query import LogsQueryClient

    client = LogsQueryClient(emu.credential(), endpoint=emu.logs_endpoint, connection_verify=emu.ca_bundle)
    deadline = time.monotonic() + 20
    while True:
        result = client.query_workspace(customer_id, query, timespan=timedelta(hours=1))
        rows = [list(r) for t in result.tables for r in t.rows]
        if len(rows) >= want or time.monotonic() > deadline:
            return rows
        time.sleep(0.2)


def _env_for_exporter(emu: Emulator, monkeypatch: pytest.MonkeyPatch) -> None:
    """What a replica has: the emulator's proxy and CA (the exporter's transport reads the environment)."""
    monkeypatch.setenv("HTTPS_PROXY", emu.proxy_url)
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", emu.ca_bundle)
    # no statsbeat or SDK-stats exporter: their background threads would outlive the test (and its proxy)
    monkeypatch.setenv("APPLICATIONINSIGHTS_STATSBEAT_DISABLED_ALL", "true")
    monkeypatch.setenv("APPLICATIONINSIGHTS_SDKSTATS_DISABLED", "true")


def test_component_body_and_connection_string(emu: Emulator, component: dict[str, Any]) -> None:
    props = component["component"]["properties"]
    assert component["component"]["type"] == "Microsoft.Insights/components"
    assert props["IngestionMode"] == "LogAnalytics" and props["provisioningState"] == "Succeeded"
    cs = dict(part.split("=", 1) for part in props["ConnectionString"].split(";"))
    assert cs["InstrumentationKey"] == props["InstrumentationKey"] and uuid.UUID(cs["InstrumentationKey"])
    assert cs["IngestionEndpoint"] == "https://koreacentral-0.in.applicationinsights.azure.com/"
    assert cs["ApplicationId"] == props["AppId"]
    assert emu.serves("koreacentral-0.in.applicationinsights.azure.com")


def test_the_exporter_s_spans_and_logs_land_in_app_tables(emu: Emulator, component: dict[str, Any],
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    from azure.monitor.opentelemetry.exporter import AzureMonitorLogExporter, AzureMonitorTraceExporter
    from opentelemetry.sdk._logs import LoggerProvider, LoggingHandler
    from opentelemetry.sdk._logs.export import SimpleLogRecordProcessor
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.trace import SpanKind

    _env_for_exporter(emu, monkeypatch)
    conn = component["component"]["properties"]["ConnectionString"]
    resource = Resource.create({"service.name": "lab-role"})
    tracer_provider = TracerProvider(resource=resource)
    tracer_provider.add_span_processor(SimpleSpanProcessor(AzureMonitorTraceExporter(
        connection_string=conn, disable_offline_storage=True)))
    tracer = tracer_provider.get_tracer("lab")
    with tracer.start_as_current_span("GET /", kind=SpanKind.SERVER,
                                      attributes={"http.method": "GET", "http.url": "https://app/",
                                                  "http.status_code": 200}):
        with tracer.start_as_current_span("call vault", kind=SpanKind.CLIENT,
                                          attributes={"http.method": "GET", "http.url": "https://kv.vault.azure.net/x",
                                                      "http.status_code": 403}):
            pass
    logger_provider = LoggerProvider(resource=resource)
    logger_provider.add_log_record_processor(SimpleLogRecordProcessor(AzureMonitorLogExporter(
        connection_string=conn, disable_offline_storage=True)))
    log = logging.getLogger("lab-telemetry")
    log.addHandler(LoggingHandler(logger_provider=logger_provider))
    log.setLevel(logging.INFO)
    log.warning("endpoint hit")
    tracer_provider.shutdown()
    logger_provider.shutdown()
    log.handlers.clear()
    from azure.monitor.opentelemetry.exporter.statsbeat._statsbeat import shutdown_statsbeat_metrics
    from azure.monitor.opentelemetry.exporter.statsbeat.customer import shutdown_customer_sdkstats_metrics

    shutdown_statsbeat_metrics()  # whatever started, stops while the proxy is still set
    shutdown_customer_sdkstats_metrics()

    requests_rows = _rows(emu, component["customer_id"],
                          "AppRequests | project Name, ResultCode, Success, AppRoleName", 1)
    assert requests_rows == [["GET /", "200", True, "lab-role"]]
    deps = _rows(emu, component["customer_id"], "AppDependencies | project Name, ResultCode, Success", 1)
    assert deps == [["GET /x", "403", True]]  # the exporter's naming (method + path) and its success flag
    traces = _rows(emu, component["customer_id"], "AppTraces | project Message, SeverityLevel, AppRoleName", 1)
    assert traces == [["endpoint hit", 2, "lab-role"]]


def test_an_unknown_key_is_refused_and_stores_nothing(emu: Emulator, component: dict[str, Any]) -> None:
    envelope = {"name": "Microsoft.ApplicationInsights.Request", "time": "2026-12-04T07:00:00.000Z",
                "iKey": str(uuid.uuid4()), "tags": {"ai.cloud.role": "ghost"},
                "data": {"baseType": "RequestData", "baseData": {"ver": 2, "id": "1", "name": "GET /",
                                                                 "duration": "00:00:00.010", "responseCode": "200",
                                                                 "success": True}}}
    resp = requests.post("https://koreacentral-0.in.applicationinsights.azure.com/v2.1/track", json=[envelope],
                         proxies={"https": emu.proxy_url}, verify=emu.ca_bundle, timeout=10)
    assert resp.status_code == 400
    assert resp.json() == {"itemsReceived": 1, "itemsAccepted": 0, "appId": None, "errors": [
        {"index": 0, "statusCode": 400, "message": "Invalid instrumentation key"}]}
    with pytest.raises(HttpResponseError) as nothing:  # nothing was stored: the table was never even created
        _rows(emu, component["customer_id"], "AppRequests | where AppRoleName == 'ghost'", 1)
    assert "Failed to resolve table or column expression named 'AppRequests'" in str(nothing.value)


def test_a_malformed_connection_string_is_refused_by_the_exporter(emu: Emulator) -> None:
    from azure.monitor.opentelemetry.exporter import AzureMonitorTraceExporter

    with pytest.raises(ValueError, match="Invalid instrumentation key"):
        AzureMonitorTraceExporter(connection_string="InstrumentationKey=not-a-key;IngestionEndpoint=https://x/")


def test_a_component_on_a_missing_workspace_is_refused(emu: Emulator, resource_client: Any, group: str) -> None:
    rid = (f"/subscriptions/{emu.subscription_id}/resourceGroups/{group}/providers/Microsoft.Insights/components/"
           "appi-bad")
    with pytest.raises(HttpResponseError) as bad:
        resource_client.resources.begin_create_or_update_by_id(rid, api_version=API, parameters={
            "location": "koreacentral", "kind": "web", "properties": {"Application_Type": "web",
            "WorkspaceResourceId": rid.replace("Microsoft.Insights/components/appi-bad",
                                               "Microsoft.OperationalInsights/workspaces/none")}}).result()
    assert bad.value.status_code == 400 and "was not found" in bad.value.message
