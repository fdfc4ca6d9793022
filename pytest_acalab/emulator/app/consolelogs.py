"""Console logs: what a replica's processes write to stdout and stderr, in Azure's three shapes.

The log stream (``az containerapp logs show --type console``) answers NDJSON lines
``{"TimeStamp": "2026-06-20T04:21:13.5671779+00:00", "Log": "F <line>"}`` after two connection
lines; ``ContainerAppConsoleLogs_CL`` rows (destination ``log-analytics``) carry the custom-log
columns; ``ContainerAppConsoleLogs`` rows (``azure-monitor``) the resource-specific ones. Shapes from
live captures of the Practical Guide's labs (key-vault and revision labs' KQL exports).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

LEGACY_TABLE = "ContainerAppConsoleLogs_CL"
RESOURCE_TABLE = "ContainerAppConsoleLogs"


@dataclass(frozen=True)
class ConsoleLine:
    time: datetime
    stream: str
    """``stdout`` | ``stderr``"""
    log: str
    app: str
    revision: str
    replica: str
    container: str
    image: str
    container_id: str
    environment: str


def _iso7(dt: datetime) -> str:
    t = dt.astimezone(UTC)
    return t.strftime("%Y-%m-%dT%H:%M:%S.") + f"{t.microsecond:06d}0Z"


def stream_record(line: ConsoleLine) -> dict[str, str]:
    t = line.time.astimezone(UTC)
    return {"TimeStamp": t.strftime("%Y-%m-%dT%H:%M:%S.") + f"{t.microsecond:06d}0+00:00", "Log": f"F {line.log}"}


def connection_records(now: datetime, container: str, revision: str, replica: str) -> list[dict[str, str]]:
    # Recorded: seven fractional digits with the trailing zeros trimmed ("07:03:23.06883", "17:18:26.3393").
    t = now.astimezone(UTC)
    stamp = t.strftime("%Y-%m-%dT%H:%M:%S.") + (f"{t.microsecond:06d}0".rstrip("0") or "0")
    return [
        {"TimeStamp": stamp, "Log": f"Connecting to the container '{container}'..."},
        {"TimeStamp": stamp, "Log": f"Successfully Connected to container: '{container}' [Revision: '{revision}', "
                                    f"Replica: '{replica}']"},
    ]


def legacy_row(line: ConsoleLine) -> dict[str, Any]:
    return {
        "TimeGenerated": _iso7(line.time), "Log_s": line.log, "Stream_s": line.stream,
        "ContainerAppName_s": line.app, "RevisionName_s": line.revision, "ContainerGroupName_s": line.replica,
        "ContainerName_s": line.container, "ContainerImage_s": line.image, "ContainerId_s": line.container_id,
        "EnvironmentName_s": line.environment, "Category": "ContainerAppConsoleLogs", "logtag_s": "F",
        "time_s": _iso7(line.time), "time_t": _iso7(line.time), "_timestamp_d": float(line.time.timestamp()),
        "SourceSystem": "RestAPI",
    }


def resource_row(line: ConsoleLine, *, location: str, resource_id: str, subscription_id: str,
                 tenant_id: str) -> dict[str, Any]:
    return {
        "TimeGenerated": _iso7(line.time), "Log": line.log, "Stream": line.stream, "ContainerAppName": line.app,
        "RevisionName": line.revision, "ContainerGroupName": line.replica, "ContainerGroupId": "",
        "ContainerName": line.container, "ContainerId": line.container_id, "ContainerImage": line.image,
        "EnvironmentName": line.environment, "JobName": "", "Location": location,
        "OperationName": "Microsoft.App/managedEnvironments/WRITE", "_ResourceId": resource_id.lower(),
        "_SubscriptionId": subscription_id, "TenantId": tenant_id, "SourceSystem": "Azure",
    }
