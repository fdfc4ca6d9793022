"""The Container Apps system-log vocabulary: reasons, messages and the three wire shapes.

Every message here is worded after a real capture (see /work/shared/azure-evidence/system-logs.md):
the event stream's NDJSON lines, the legacy ``ContainerAppSystemLogs_CL`` rows (``destination:
log-analytics``) and the resource-specific ``ContainerAppSystemLogs`` rows (``azure-monitor``).
"""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from pytest_acalab.emulator.platform.services import PullResult

CONTROLLER = "ContainerAppController"
NORMAL = "Normal"
WARNING = "Warning"

# Reasons seen in real system logs (FIELD-NOTES 2). ImagePullBackOff, ErrImagePull, BackOff and
# OOMKilled are deliberately absent: Azure only writes them inside message text.
STARTING_GETTING_EVENTS = "StartingGettingEvents"
CONNECTED_TO_EVENTS_SERVER = "ConnectedToEventsServer"
ASSIGNING_REPLICA = "AssigningReplica"
PULLING_IMAGE = "PullingImage"
PULLED_IMAGE = "PulledImage"
IMAGE_PULL_UNAUTHORIZED = "ImagePullUnauthorized"
CONTAINER_CREATED = "ContainerCreated"
CONTAINER_STARTED = "ContainerStarted"
CONTAINER_TERMINATED = "ContainerTerminated"
REVISION_CREATION = "RevisionCreation"
REVISION_READY = "RevisionReady"
REVISION_DEACTIVATING = "RevisionDeactivating"
CONTAINER_APP_UPDATE = "ContainerAppUpdate"
CONTAINER_APP_READY = "ContainerAppReady"
REVISION_UPDATE = "RevisionUpdate"

REASONS = frozenset({
    STARTING_GETTING_EVENTS, CONNECTED_TO_EVENTS_SERVER, ASSIGNING_REPLICA, PULLING_IMAGE, PULLED_IMAGE,
    IMAGE_PULL_UNAUTHORIZED, CONTAINER_CREATED, CONTAINER_STARTED, CONTAINER_TERMINATED, REVISION_CREATION,
    REVISION_READY, REVISION_DEACTIVATING, CONTAINER_APP_UPDATE, CONTAINER_APP_READY, REVISION_UPDATE,
    "ProbeFailed", "Pending:PortMismatch", "ProcessExited",
})

LEGACY_TABLE = "ContainerAppSystemLogs_CL"
RESOURCE_TABLE = "ContainerAppSystemLogs"

STREAM_FIELDS = ("TimeStamp", "Type", "ContainerAppName", "RevisionName", "ReplicaName", "Msg", "Reason",
                 "EventSource", "Count")


@dataclass
class SystemEvent:
    """One system-log event, as the environment's event collector records it."""

    time: datetime
    type: str | None
    reason: str | None
    msg: str
    app: str | None = None
    revision: str | None = None
    replica: str | None = None
    container: str | None = None
    environment: str | None = None
    source: str | None = CONTROLLER
    count: int = 1
    short_time: bool = False
    """Connection lines carry ``2025-05-24T17:22:34Z``; events ``2025-05-24 17:22:29.4269018 +0000 UTC``."""
    whole_seconds: bool = False
    """KEDA's and the HPA's lines carry ``2026-06-26 08:19:46 +0000 UTC``, no fraction (the Practical Guide's
    managed-identity-key-vault-failure and image-size-startup-delay captures)."""
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def timestamp(self) -> str:
        t = self.time.astimezone(UTC)
        if self.short_time:
            return t.strftime("%Y-%m-%dT%H:%M:%SZ")
        if self.whole_seconds:
            return t.strftime("%Y-%m-%d %H:%M:%S +0000 UTC")
        return t.strftime("%Y-%m-%d %H:%M:%S.") + f"{t.microsecond:06d}0 +0000 UTC"


# messages ---------------------------------------------------------------------------------------
def assigning_replica(replica: str) -> str:
    return f"Replica '{replica}' has been scheduled to run on a node."


def pulling_image(image: str) -> str:
    return f"Pulling image '{image}'"


def pulled_image(image: str, seconds: float, size: int) -> str:
    return f'Successfully pulled image "{image}" in {seconds:.2f}s. Image size: {size} bytes.'


IMAGE_PULL_UNAUTHORIZED_MSG = "Container pull image failed with unauthorized error."


def create_failure(container: str, missing: str | None, error: str) -> str:
    """A container runc could not start. Azure's words for a program the image lacks (the Practical Guide's
    image-size-startup-delay capture, github.com/yeongseon/azure-container-apps-practical-guide,
    labs/image-size-startup-delay/evidence/system-logs-large.json): exit code '1', no ContainerCreated."""
    detail = (f'exec: "{missing}": executable file not found in $PATH' if missing is not None
              else error.replace('"', "'"))
    return (f"Container '{container}' was terminated with exit code '1' and reason 'ContainerCreateFailure'. "
            f'Status(StatusCode="Unknown", Detail="failed to create shim task: OCI runtime create failed: runc '
            f'create failed: unable to start container process: {detail}: unknown")')


def container_created(container: str) -> str:
    return f"Created container '{container}'"


def container_started(container: str) -> str:
    return f"Started container '{container}'"


def revision_creation(revision: str) -> str:
    return f"Creating a new revision: {revision}"


def revision_ready(revision: str) -> str:
    return f"Successfully provisioned revision '{revision}'"


def revision_deactivating(app: str) -> str:
    return f"Deactivating old revisions for ContainerApp '{app}'"


def container_app_update(app: str) -> str:
    return f"Updating containerApp: {app}"


def container_app_ready(app: str) -> str:
    return f"Successfully updated containerApp: {app}"


def revision_updated(revision: str) -> str:
    return f"Revision '{revision}' updated. No new revision was provisioned."


def traffic_weight(weight: int, revision: str) -> str:
    return f"Setting traffic weight of '{weight}%' for revision '{revision}'"


def manually_stopped(container: str) -> str:
    return f"Container '{container}' was terminated with exit code '' and reason 'ManuallyStopped'"


def registry_error_json(result: PullResult) -> str:
    err: dict[str, Any] = {"code": result.code, "message": result.message}
    if result.detail is not None:
        err["detail"] = result.detail
    return json.dumps({"errors": [err]}, separators=(",", ":"))


def pull_failure_terminated(container: str, image: str, result: PullResult) -> str:
    """``ContainerTerminated`` for a failed pull: short when auth/DNS failed, long when the registry answered."""
    short = f"Container '{container}' was terminated with exit code '' and reason 'ImagePullFailure'"
    if result.code in ("UNAUTHORIZED", "NO_SUCH_HOST", None):
        return short
    return (f"{short}. Image {image} not found in registry. ErrorMessage=Image not found or access denied. "
            f"Error: {registry_error_json(result)}\n, GenevaTraceId={secrets.token_hex(16)}.")


def connection_lines(now: datetime) -> list[SystemEvent]:
    """The two lines every event-stream answer starts with (null app, revision and replica)."""
    return [
        SystemEvent(now, NORMAL, STARTING_GETTING_EVENTS, "Connecting to the events collector...", short_time=True),
        SystemEvent(now, NORMAL, CONNECTED_TO_EVENTS_SERVER, "Successfully connected to events server",
                    short_time=True),
    ]


# wire shapes --------------------------------------------------------------------------------------
_NET_ESCAPES = (("\\\"", "\\u0022"), ("'", "\\u0027"), ("+", "\\u002B"), ("<", "\\u003C"), (">", "\\u003E"),
                ("&", "\\u0026"), ("`", "\\u0060"))


def encode_stream_line(obj: dict[str, Any]) -> str:
    """JSON as the event stream writes it (.NET's default encoder: ``+`` → ``\\u002B``, ``"`` → ``\\u0022``)."""
    text = json.dumps(obj, separators=(",", ":"), ensure_ascii=True)
    for raw, esc in _NET_ESCAPES:
        text = text.replace(raw, esc)
    return text


def stream_record(ev: SystemEvent) -> dict[str, Any]:
    return {
        "TimeStamp": ev.timestamp, "Type": ev.type, "ContainerAppName": ev.app, "RevisionName": ev.revision,
        "ReplicaName": ev.replica, "Msg": ev.msg, "Reason": ev.reason, "EventSource": ev.source, "Count": ev.count,
    }


def text_line(ev: SystemEvent) -> str:
    """``output=text``: one human line per event (not captured from Azure; the CLI only asks for json)."""
    parts = [ev.timestamp, ev.type or "", ev.reason or "", ev.app or "", ev.revision or "", ev.replica or "",
             ev.msg]
    return " ".join(p for p in parts if p)


def _iso(dt: datetime) -> str:
    t = dt.astimezone(UTC)
    return t.strftime("%Y-%m-%dT%H:%M:%S.") + f"{t.microsecond:06d}0Z"


def legacy_row(ev: SystemEvent) -> dict[str, Any]:
    """A ``ContainerAppSystemLogs_CL`` row (custom-log columns with type suffixes, SourceSystem RestAPI)."""
    return {
        "TimeGenerated": _iso(ev.time), "Log_s": ev.msg, "Reason_s": ev.reason or "", "Type_s": ev.type or "",
        "EventSource_s": ev.source or "", "RevisionName_s": ev.revision or "", "ReplicaName_s": ev.replica or "",
        "ContainerAppName_s": ev.app or "", "EnvironmentName_s": ev.environment or "", "Count_d": float(ev.count),
        "TimeStamp_s": ev.timestamp, "time_t": _iso(ev.time), "_timestamp_d": float(int(ev.time.timestamp())),
        "Error_s": "", "Level": "warning" if ev.type == WARNING else "info", "SourceSystem": "RestAPI",
    }


def resource_row(ev: SystemEvent, *, location: str, resource_id: str, subscription_id: str,
                 tenant_id: str) -> dict[str, Any]:
    """A resource-specific ``ContainerAppSystemLogs`` row (diagnostic setting, ``azure-monitor``)."""
    return {
        "TimeGenerated": _iso(ev.time), "Log": ev.msg, "Reason": ev.reason or "", "Type": ev.type or "",
        "EventSource": ev.source or "", "RevisionName": ev.revision or "", "ReplicaName": ev.replica or "",
        "ContainerAppName": ev.app or "", "ContainerName": ev.container or "", "EnvironmentName": ev.environment or "",
        "Count": ev.count, "JobName": "", "ComponentName": "", "ComponentType": "", "Location": location,
        "OperationName": "Microsoft.App/managedEnvironments/WRITE", "_ResourceId": resource_id.lower(),
        "_SubscriptionId": subscription_id, "TenantId": tenant_id, "SourceSystem": "Azure",
    }
