"""Application Insights components (Microsoft.Insights/components) and what their ingestion endpoint accepts.

A workspace-based component (``properties.WorkspaceResourceId``) stores its telemetry in that Log Analytics
workspace's ``AppRequests``, ``AppDependencies`` and ``AppTraces`` tables, queryable after the workspace's
ingestion delay. The connection string names the regional ingestion host
``https://<region>-0.in.applicationinsights.azure.com/`` as Azure's does; the emulator serves that host (its
proxy routes it), so the OpenTelemetry Azure Monitor exporter in a workload sends ``POST /v2.1/track`` there.

The component's body follows the REST reference (azure-rest-api-specs, specification/applicationinsights/
resource-manager/Microsoft.Insights/stable/2020-02-02/components_API.json, ``ApplicationInsightsComponent``).
The envelope fields are the Breeze schema the exporter's generated client sends (``TelemetryItem``,
``MonitorBase``, ``RequestData``, ``RemoteDependencyData``, ``MessageData``); the columns they land in are
Microsoft's table reference. Telemetry types other than requests, dependencies and messages (exceptions,
events, metrics, page views) are accepted and not stored: the emulator says so (``dropped``).
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from pytest_acalab.emulator.platform.errors import ArmError

COMPONENT_TYPE = "Microsoft.Insights/components"
INGESTION_SUFFIX = ".in.applicationinsights.azure.com"
TABLE_BY_BASE_TYPE = {"RequestData": "AppRequests", "RemoteDependencyData": "AppDependencies",
                      "MessageData": "AppTraces"}
_DURATION = re.compile(r"^(?:(?P<d>\d+)\.)?(?P<h>\d{1,2}):(?P<m>\d{2}):(?P<s>\d{2}(?:\.\d+)?)$")
SEVERITY = {"Verbose": 0, "Information": 1, "Warning": 2, "Error": 3, "Critical": 4}


def ingestion_host(location: str) -> str:
    return f"{location.lower().replace(' ', '')}-0{INGESTION_SUFFIX}"


@dataclass
class Component:
    id: str
    name: str
    location: str
    kind: str
    properties: dict[str, Any]
    tags: dict[str, str] = field(default_factory=dict)
    instrumentation_key: str = field(default_factory=lambda: str(uuid.uuid4()))
    app_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    created: datetime = field(default_factory=lambda: datetime.now(UTC))

    @property
    def connection_string(self) -> str:
        loc = self.location.lower().replace(" ", "")
        return (f"InstrumentationKey={self.instrumentation_key};"
                f"IngestionEndpoint=https://{ingestion_host(loc)}/;"
                f"LiveEndpoint=https://{loc}.livediagnostics.monitor.azure.com/;ApplicationId={self.app_id}")

    def body(self) -> dict[str, Any]:
        props = {
            "ApplicationId": self.name, "AppId": self.app_id, "Application_Type": self.properties.get(
                "Application_Type", "web"), "Flow_Type": self.properties.get("Flow_Type"),
            "Request_Source": self.properties.get("Request_Source"),
            "InstrumentationKey": self.instrumentation_key, "ConnectionString": self.connection_string,
            "Name": self.name, "CreationDate": self.created.strftime("%Y-%m-%dT%H:%M:%S.%f0+00:00"),
            "TenantId": None, "provisioningState": "Succeeded", "SamplingPercentage": None,
            "RetentionInDays": self.properties.get("RetentionInDays", 90),
            "WorkspaceResourceId": self.properties.get("WorkspaceResourceId"),
            "IngestionMode": "LogAnalytics" if self.properties.get("WorkspaceResourceId") else "ApplicationInsights",
            "publicNetworkAccessForIngestion": "Enabled", "publicNetworkAccessForQuery": "Enabled",
            "Ver": "v2",
        }
        return {"id": self.id, "name": self.name, "type": COMPONENT_TYPE, "location": self.location,
                "tags": self.tags, "kind": self.kind, "etag": f'"{uuid.uuid5(uuid.NAMESPACE_URL, self.id)}"',
                "properties": props}


def component_from(rid_id: str, name: str, body: Any, current: Component | None) -> Component:
    if not isinstance(body, dict):
        raise ArmError(400, "InvalidRequestContent", "The request content was invalid and could not be deserialized.")
    location = body.get("location") or (current.location if current else None)
    if not location:
        raise ArmError(400, "LocationRequired", "The location property is required for this definition.")
    kind = body.get("kind") or (current.kind if current else None)
    if not kind:
        # Guess: Azure requires kind; its exact sentence is not captured.
        raise ArmError(400, "BadRequest", "The 'kind' property is required (e.g. 'web').")
    given = body.get("properties")
    props: dict[str, Any] = given if isinstance(given, dict) else {}
    if current is not None:
        current.location, current.kind, current.properties = str(location), str(kind), {**current.properties, **props}
        current.tags = body.get("tags") or current.tags
        return current
    return Component(rid_id, name, str(location).lower().replace(" ", ""), str(kind), dict(props),
                     body.get("tags") or {})


def duration_ms(text: Any) -> float:
    """Breeze's ``d.hh:mm:ss.fffffff`` duration in milliseconds; 0 when unreadable."""
    m = _DURATION.match(str(text or ""))
    if not m:
        return 0.0
    delta = timedelta(days=int(m["d"] or 0), hours=int(m["h"]), minutes=int(m["m"]), seconds=float(m["s"]))
    return delta.total_seconds() * 1000.0


def row_for(envelope: dict[str, Any], component: Component) -> tuple[str, dict[str, Any]] | None:
    """``(table, row)`` for a requests, dependency or message envelope; None for other telemetry types."""
    data = envelope.get("data") or {}
    base_type = data.get("baseType")
    table = TABLE_BY_BASE_TYPE.get(str(base_type))
    if table is None:
        return None
    base = data.get("baseData") or {}
    tags = envelope.get("tags") or {}
    row: dict[str, Any] = {
        "TimeGenerated": envelope.get("time"), "Properties": base.get("properties") or {},
        "Measurements": base.get("measurements") or {}, "OperationName": tags.get("ai.operation.name", ""),
        "OperationId": tags.get("ai.operation.id", ""), "ParentId": tags.get("ai.operation.parentId", ""),
        "SyntheticSource": tags.get("ai.operation.syntheticSource", ""), "SessionId": tags.get("ai.session.id", ""),
        "UserId": tags.get("ai.user.id", ""), "UserAuthenticatedId": tags.get("ai.user.authUserId", ""),
        "UserAccountId": tags.get("ai.user.accountId", ""), "AppVersion": tags.get("ai.application.ver", ""),
        "AppRoleName": tags.get("ai.cloud.role", ""), "AppRoleInstance": tags.get("ai.cloud.roleInstance", ""),
        "ClientType": "PC", "ClientIP": tags.get("ai.location.ip", "0.0.0.0"),
        "ResourceGUID": component.app_id, "IKey": component.instrumentation_key,
        "SDKVersion": tags.get("ai.internal.sdkVersion", ""),
        "ItemCount": int(envelope.get("sampleRate") and round(100 / float(envelope["sampleRate"])) or 1),
        "_ResourceId": component.id.lower(),
    }
    if table == "AppTraces":
        row.update({"Message": base.get("message", ""),
                    "SeverityLevel": SEVERITY.get(str(base.get("severityLevel")), base.get("severityLevel"))})
    else:
        row.update({"Id": base.get("id", ""), "Name": base.get("name", ""), "Success": base.get("success"),
                    "ResultCode": str(base.get("responseCode") or base.get("resultCode") or ""),
                    "DurationMs": duration_ms(base.get("duration"))})
        if table == "AppRequests":
            row.update({"Url": base.get("url", ""), "Source": base.get("source", "")})
        else:
            row.update({"Target": base.get("target", ""), "DependencyType": base.get("type", ""),
                        "Data": base.get("data", "")})
    if not isinstance(row["SeverityLevel" if table == "AppTraces" else "ItemCount"], int):
        row["SeverityLevel"] = None
    return table, row
