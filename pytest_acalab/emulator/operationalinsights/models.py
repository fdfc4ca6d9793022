"""Log Analytics state: workspaces (ARM side) and the ingestion service other providers write to.

No HTTP here. ``responses.py`` turns requests into calls on :class:`LogAnalytics`; the Container Apps
provider reaches :meth:`LogAnalytics.ingest` through ``platform.services.logs``.

Shapes follow the captures in shared/azure-evidence/recordings (workspace PUT → 201 with
``provisioningState: Creating``, GET later ``Succeeded``; ``sharedKeys`` → two keys).
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import re
import secrets
import threading
import uuid
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from pytest_acalab.emulator.platform.clock import iso
from pytest_acalab.emulator.platform.errors import ArmError

from .logstore import LogIngestionError, WorkspaceLogs, parse_datetime_ns
from .tables import Column, TableSchema

if TYPE_CHECKING:
    from pytest_acalab.emulator.platform.clock import Clock

__all__ = [
    "SKUS", "CollectorError", "LogAnalytics", "Workspace", "custom_log_schema", "custom_log_rows",
    "shared_key_signature",
]

WORKSPACE_TYPE = "Microsoft.OperationalInsights/workspaces"
#: Pricing tiers ARM accepts in ``sku.name`` (any case; Azure echoes the name as sent).
SKUS = ("Free", "Standard", "Premium", "PerNode", "PerGB2018", "Standalone", "CapacityReservation", "LACluster")
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9-]{2,61}[A-Za-z0-9]$")
_RETENTION_HELP = ("see https://docs.microsoft.com/azure/azure-monitor/platform/manage-cost-storage"
                   "#change-the-data-retention-period for more information")


def _new_key() -> str:
    """A shared key as Azure mints them: 64 random bytes, base64 (88 characters)."""
    return base64.b64encode(secrets.token_bytes(64)).decode()


def bad_request(message: str, target: str | None = None) -> ArmError:
    return ArmError(400, "BadRequest", message, target=target)


@dataclass
class Workspace:
    """One workspace: its ARM properties, its keys and its rows."""

    id: str
    name: str
    resource_group: str
    location: str
    customer_id: str
    primary_key: str
    secondary_key: str
    created: dt.datetime
    modified: dt.datetime
    sku: dict[str, Any] = field(default_factory=lambda: {"name": "PerGB2018"})
    sku_updated: dt.datetime | None = None
    retention_in_days: int = 30
    daily_quota_gb: float = -1.0
    features: dict[str, Any] = field(default_factory=dict)
    public_network_access_for_ingestion: str = "Enabled"
    public_network_access_for_query: str = "Enabled"
    tags: dict[str, str] = field(default_factory=dict)
    provisioning_state: str = "Creating"
    _logs: WorkspaceLogs | None = field(default=None, repr=False)
    _logs_lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @property
    def logs(self) -> WorkspaceLogs:
        """The workspace's tables (DuckDB), created on first use."""
        with self._logs_lock:
            if self._logs is None:
                self._logs = WorkspaceLogs(self.customer_id)
            return self._logs


    def close(self) -> None:
        with self._logs_lock:
            if self._logs is not None:
                self._logs.close()
                self._logs = None

    def keys(self) -> dict[str, str]:
        return {"primarySharedKey": self.primary_key, "secondarySharedKey": self.secondary_key}

    def body(self) -> dict[str, Any]:
        """What GET answers (2023 capture: properties first, then location, id, name, type)."""
        reset = (self.created + dt.timedelta(hours=12)).replace(minute=0, second=0, microsecond=0)
        features = {"legacy": 0, "searchVersion": 1, "enableLogAccessUsingOnlyResourcePermissions": True}
        features.update(self.features)
        props: dict[str, Any] = {
            "customerId": self.customer_id,
            "provisioningState": self.provisioning_state,
            "sku": {**self.sku, "lastSkuUpdate": iso(self.sku_updated or self.created)},
            "retentionInDays": self.retention_in_days,
            "features": features,
            "workspaceCapping": {"dailyQuotaGb": self.daily_quota_gb, "quotaNextResetTime": _iso_seconds(reset),
                                 "dataIngestionStatus": "RespectQuota"},
            "publicNetworkAccessForIngestion": self.public_network_access_for_ingestion,
            "publicNetworkAccessForQuery": self.public_network_access_for_query,
            "createdDate": iso(self.created),
            "modifiedDate": iso(self.modified),
        }
        out: dict[str, Any] = {"properties": props, "location": self.location, "id": self.id, "name": self.name,
                               "type": WORKSPACE_TYPE}
        if self.tags:
            out["tags"] = dict(self.tags)
        return out


def _iso_seconds(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


# -- validation of ARM bodies -------------------------------------------------------------------------


def _sku(value: Any) -> dict[str, Any]:
    if not isinstance(value, dict) or not isinstance(value.get("name"), str):
        raise bad_request("The sku property must be an object with a name.", "sku")
    canonical = {s.lower(): s for s in SKUS}.get(value["name"].lower())
    if canonical is None:
        raise bad_request(f"The SKU '{value['name']}' is invalid. Allowed values: {', '.join(SKUS)}.", "sku")
    sku: dict[str, Any] = {"name": value["name"]}
    if canonical == "CapacityReservation":
        level = value.get("capacityReservationLevel")
        if not isinstance(level, int) or isinstance(level, bool) or level < 100 or level % 100:
            raise bad_request("capacityReservationLevel must be a multiple of 100 (100 or more) "
                              "for the CapacityReservation SKU.", "sku")
        sku.update(capacityReservationLevel=level, maxCapacityReservationLevel=3000)
    return sku


def _retention(value: Any, sku_name: str) -> int:
    if sku_name.lower() == "free":
        if value not in (None, 7):
            raise bad_request(f"The value provided for retention is invalid. the expected value for the Free "
                              f"SKU is 7. {_RETENTION_HELP}", "retention")
        return 7
    if value is None:
        return 30
    if not isinstance(value, int) or isinstance(value, bool) or not 30 <= value <= 730:
        raise bad_request("The value provided for retention is invalid. the expected value should be between "
                          f"30 to 730. {_RETENTION_HELP}", "retention")
    return value


def _enabled(value: Any, name: str) -> str:
    if value is None:
        return "Enabled"
    for allowed in ("Enabled", "Disabled", "SecuredByPerimeter"):
        if isinstance(value, str) and value.lower() == allowed.lower():
            return allowed
    raise bad_request(f"The value '{value}' of {name} is invalid; expected Enabled or Disabled.", name)


def _quota(capping: Any) -> float | None:
    if capping is None:
        return None
    if not isinstance(capping, dict):
        raise bad_request("workspaceCapping must be an object.", "workspaceCapping")
    quota = capping.get("dailyQuotaGb")
    if quota is None:
        return None
    if isinstance(quota, bool) or not isinstance(quota, int | float) or (quota < 0 and quota != -1):
        raise bad_request(f"The daily quota '{quota}' is invalid: -1 (no cap) or a positive number of GB.",
                          "workspaceCapping.dailyQuotaGb")
    return float(quota)


def _tags(value: Any) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
        raise ArmError(400, "InvalidRequestContent", "The request content was invalid: tags must be strings.")
    return dict(value)


# -- the Data Collector API's custom tables -------------------------------------------------------------

_LOG_TYPE = re.compile(r"^[A-Za-z0-9_]{1,100}$")
_GUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
_CUSTOM_HEAD: tuple[tuple[str, str], ...] = (
    ("TenantId", "string"), ("SourceSystem", "string"), ("MG", "string"), ("ManagementGroupName", "string"),
    ("TimeGenerated", "datetime"), ("Computer", "string"), ("RawData", "string"),
)
_CUSTOM_TAIL: tuple[tuple[str, str], ...] = (("Type", "string"), ("_ResourceId", "string"))


class CollectorError(Exception):
    """A Data Collector API request refused: ``status`` and Azure's ``{"Error", "Message"}`` body."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message

    def body(self) -> dict[str, str]:
        return {"Error": self.code, "Message": self.message}


def _field_type(value: Any) -> tuple[str, str]:
    """(suffix, column type) the Data Collector API gives a JSON value."""
    if isinstance(value, bool):
        return "_b", "bool"
    if isinstance(value, int | float):
        return "_d", "real"
    if isinstance(value, str):
        if _GUID.match(value):
            return "_g", "guid"
        try:
            parse_datetime_ns(value)
        except ValueError:
            return "_s", "string"
        return "_t", "datetime"
    return "_s", "string"  # objects and arrays are stored as their JSON text


def custom_log_rows(records: Sequence[Mapping[str, Any]], time_generated_field: str | None
                    ) -> tuple[list[Column], list[dict[str, Any]]]:
    """Typed columns and rows for records posted to the Data Collector API.

    Each field becomes ``<name>_<suffix>`` by the type of its value (``_s`` string, ``_d`` number,
    ``_b`` bool, ``_t`` ISO 8601 datetime, ``_g`` GUID); ``time_generated_field`` (a field holding
    an ISO 8601 datetime) sets ``TimeGenerated``.
    """
    import json

    columns: dict[str, Column] = {}
    rows: list[dict[str, Any]] = []
    for index, record in enumerate(records):
        if not isinstance(record, Mapping):
            raise CollectorError(400, "InvalidDataFormat",
                                 f"Record {index} is not a JSON object; the body must be an object or an "
                                 "array of objects.")
        row: dict[str, Any] = {}
        for name, value in record.items():
            if value is None:
                continue
            clean = re.sub(r"[^A-Za-z0-9_]", "_", str(name))
            if clean == "":
                continue
            suffix, col_type = _field_type(value)
            column = f"{clean}{suffix}"
            if column in columns and columns[column].type != col_type:
                raise CollectorError(400, "InvalidDataFormat", f"Field '{name}' changes type within the request.")
            columns[column] = Column(column, col_type)  # type: ignore[arg-type]
            row[column] = json.dumps(value) if isinstance(value, dict | list) else value
        if time_generated_field:
            stamp = record.get(time_generated_field)
            try:
                row["TimeGenerated"] = parse_datetime_ns(stamp) if isinstance(stamp, str) else None
            except ValueError:
                row["TimeGenerated"] = None
            if row["TimeGenerated"] is None:
                raise CollectorError(400, "InvalidTimeGenerated",
                                     f"The field '{time_generated_field}' named by time-generated-field is "
                                     f"missing or not an ISO 8601 datetime in record {index}.")
            row["TimeGenerated"] = _from_ns(row["TimeGenerated"])
        rows.append(row)
    return list(columns.values()), rows


def _from_ns(ns: int) -> dt.datetime:
    return dt.datetime(1970, 1, 1, tzinfo=dt.UTC) + dt.timedelta(microseconds=ns // 1000)


def custom_log_schema(table: str, columns: Sequence[Column]) -> TableSchema:
    """A ``_CL`` table with the standard custom-log columns around *columns*."""
    head = tuple(Column(n, t) for n, t in _CUSTOM_HEAD)  # type: ignore[arg-type]
    tail = tuple(Column(n, t) for n, t in _CUSTOM_TAIL)  # type: ignore[arg-type]
    reserved = {c.name for c in head + tail}
    own = tuple(c for c in columns if c.name not in reserved)
    return TableSchema(table, head + own + tail, source_system="RestAPI")


def shared_key_signature(key: str, content_length: int, content_type: str, date: str,
                         resource: str = "/api/logs", method: str = "POST") -> str:
    """The Data Collector API signature: base64 HMAC-SHA256, under the decoded key, of the documented
    string ``POST\\n<length>\\n<content type>\\nx-ms-date:<date>\\n/api/logs``."""
    to_sign = f"{method}\n{content_length}\n{content_type}\nx-ms-date:{date}\n{resource}"
    digest = hmac.new(base64.b64decode(key), to_sign.encode("utf-8"), hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


# -- the provider's state ------------------------------------------------------------------------------


class LogAnalytics:
    """Every workspace of the emulator, and the ``LogSink`` the Container Apps provider writes to.

    Deleting a workspace without ``force`` soft-deletes it, as Azure does: re-creating the same name
    in the same group within the recovery window brings it back with its customerId, keys and rows.
    """

    def __init__(self, clock: Clock, lock: threading.RLock, remember_secret: Callable[[str], str]) -> None:
        self.clock = clock
        self.lock = lock
        self._remember = remember_secret
        self._by_id: dict[str, Workspace] = {}
        self._by_customer: dict[str, Workspace] = {}
        self._soft_deleted: dict[str, Workspace] = {}
        self.dropped: Counter[str] = Counter()
        """Rows written for a customerId no live workspace has, by customerId (Azure drops them)."""

    # workspaces ------------------------------------------------------------------------------------
    def get(self, resource_id: str) -> Workspace | None:
        return self._by_id.get(resource_id.lower())

    def by_customer_id(self, customer_id: str) -> Workspace | None:
        return self._by_customer.get(customer_id.strip().lower())

    def workspaces(self) -> list[Workspace]:
        return list(self._by_id.values())

    def create_or_update(self, resource_id: str, name: str, resource_group: str, body: Mapping[str, Any]
                         ) -> tuple[Workspace, bool]:
        """Apply a PUT body; returns the workspace and whether it is new. Validates before changing."""
        if not _NAME.match(name):
            raise bad_request(f"The workspace name '{name}' is invalid: 4 to 63 letters, digits or hyphens, "
                              "starting and ending with a letter or digit.", "name")
        location = body.get("location")
        if not isinstance(location, str) or not location.strip():
            raise ArmError(400, "LocationRequired", "The location property is required for this definition.")
        location = location.replace(" ", "").lower()
        props = body.get("properties") or {}
        if not isinstance(props, dict):
            raise ArmError(400, "InvalidRequestContent", "The properties of the workspace must be an object.")
        tags = _tags(body.get("tags"))
        sku = _sku(props.get("sku") or {"name": "PerGB2018"})
        retention = _retention(props.get("retentionInDays"), sku["name"])
        quota = _quota(props.get("workspaceCapping"))
        features = props.get("features") or {}
        if not isinstance(features, dict):
            raise bad_request("features must be an object.", "features")
        ingestion = _enabled(props.get("publicNetworkAccessForIngestion"), "publicNetworkAccessForIngestion")
        query = _enabled(props.get("publicNetworkAccessForQuery"), "publicNetworkAccessForQuery")
        now = self.clock.now()
        with self.lock:
            ws = self._by_id.get(resource_id.lower())
            created = ws is None
            if ws is not None and ws.location != location:
                raise ArmError(409, "InvalidResourceLocation",
                               f"The resource '{name}' already exists in location '{ws.location}' in resource "
                               f"group '{resource_group}'. A resource with the same name cannot be created in "
                               f"location '{location}'. Please select a new resource name.")
            if ws is None:
                ws = self._soft_deleted.pop(resource_id.lower(), None)
                if ws is not None:  # recovered: same customerId, keys and data
                    ws.provisioning_state = "Creating"
            if ws is None:
                ws = Workspace(
                    id=resource_id, name=name, resource_group=resource_group, location=location,
                    customer_id=str(uuid.uuid4()), primary_key=self._remember(_new_key()),
                    secondary_key=self._remember(_new_key()), created=now, modified=now,
                )
            if ws.sku.get("name", "").lower() != sku["name"].lower():
                ws.sku_updated = now
            ws.sku = sku
            ws.retention_in_days = retention
            ws.daily_quota_gb = quota if quota is not None else -1.0
            ws.features = dict(features)
            ws.public_network_access_for_ingestion = ingestion
            ws.public_network_access_for_query = query
            ws.tags = tags
            ws.modified = now
            self._by_id[resource_id.lower()] = ws
            self._by_customer[ws.customer_id.lower()] = ws
        return ws, created

    def patch(self, ws: Workspace, body: Mapping[str, Any]) -> Workspace:
        """Apply a PATCH (WorkspacePatch: tags and the mutable properties); validates before changing."""
        props = body.get("properties") or {}
        if not isinstance(props, dict):
            raise ArmError(400, "InvalidRequestContent", "The properties of the workspace must be an object.")
        tags = _tags(body["tags"]) if "tags" in body else None
        sku = _sku(props["sku"]) if props.get("sku") is not None else None
        sku_name = (sku or ws.sku)["name"]
        retention = (_retention(props["retentionInDays"], sku_name) if props.get("retentionInDays") is not None
                     else _retention(None, sku_name) if sku_name.lower() == "free"
                     else _retention(ws.retention_in_days, sku_name))
        quota = _quota(props.get("workspaceCapping"))
        features = props.get("features")
        if features is not None and not isinstance(features, dict):
            raise bad_request("features must be an object.", "features")
        ingestion = (_enabled(props["publicNetworkAccessForIngestion"], "publicNetworkAccessForIngestion")
                     if props.get("publicNetworkAccessForIngestion") is not None else None)
        query = (_enabled(props["publicNetworkAccessForQuery"], "publicNetworkAccessForQuery")
                 if props.get("publicNetworkAccessForQuery") is not None else None)
        now = self.clock.now()
        with self.lock:
            if tags is not None:
                ws.tags = tags
            if sku is not None:
                if sku["name"].lower() != ws.sku.get("name", "").lower():
                    ws.sku_updated = now
                ws.sku = sku
            ws.retention_in_days = retention
            if quota is not None:
                ws.daily_quota_gb = quota
            if features is not None:
                ws.features.update(features)
            if ingestion is not None:
                ws.public_network_access_for_ingestion = ingestion
            if query is not None:
                ws.public_network_access_for_query = query
            ws.modified = now
        return ws

    def delete(self, ws: Workspace, force: bool) -> None:
        """Soft-delete (recoverable by re-creating the name) or, with ``force``, delete for good."""
        with self.lock:
            self._by_id.pop(ws.id.lower(), None)
            self._by_customer.pop(ws.customer_id.lower(), None)
            if force:
                self._soft_deleted.pop(ws.id.lower(), None)
                ws.close()
            else:
                self._soft_deleted[ws.id.lower()] = ws

    def regenerate(self, ws: Workspace, key_name: str) -> dict[str, str]:
        which = key_name.lower() if isinstance(key_name, str) else ""
        if which not in ("primary", "secondary"):
            raise bad_request(f"The key name '{key_name}' is invalid; expected 'primary' or 'secondary'.", "keyName")
        with self.lock:
            new = self._remember(_new_key())
            if which == "primary":
                ws.primary_key = new
            else:
                ws.secondary_key = new
        return ws.keys()

    def close(self) -> None:
        with self.lock:
            for ws in [*self._by_id.values(), *self._soft_deleted.values()]:
                ws.close()

    # LogSink ---------------------------------------------------------------------------------------
    def ingestion_delay(self) -> dt.timedelta:
        return self.clock.delta("logs.ingestion")

    def ingest(self, customer_id: str, table: str, rows: list[dict[str, Any]], generated_at: dt.datetime) -> None:
        """Write *rows* into a workspace's table; queryable from ``generated_at`` + the ingestion delay.

        ``TimeGenerated`` is the row's own or ``generated_at``. Rows for a customerId no live workspace
        has are dropped (as Azure drops data sent to a deleted workspace) and counted in ``dropped``.
        Rows that do not fit the table's schema raise ``LogIngestionError``: a provider bug.
        """
        if not rows:
            return
        ws = self.by_customer_id(customer_id)
        if ws is None:
            with self.lock:
                self.dropped[customer_id.lower()] += len(rows)
            return
        if generated_at.tzinfo is None:
            generated_at = generated_at.replace(tzinfo=dt.UTC)
        stamped = [row if row.get("TimeGenerated") is not None else {**row, "TimeGenerated": generated_at}
                   for row in rows]
        ws.logs.ingest(table, stamped, visible_at=generated_at + self.ingestion_delay())

    def check_shared_key(self, customer_id: str, shared_key: str) -> bool:
        ws = self.by_customer_id(customer_id)
        if ws is None or not isinstance(shared_key, str):
            return False
        return any(hmac.compare_digest(shared_key.encode(), k.encode()) for k in (ws.primary_key, ws.secondary_key))

    # the HTTP Data Collector API -------------------------------------------------------------------
    def collect(self, customer_id: str, log_type: str, records: Any, time_generated_field: str | None,
                generated_at: dt.datetime) -> int:
        """Rows posted to the Data Collector API into ``<Log-Type>_CL`` (its columns grow as needed)."""
        if not _LOG_TYPE.match(log_type or ""):
            raise CollectorError(400, "InvalidLogType",
                                 "The Log-Type header may contain only letters, digits and underscores "
                                 "(100 characters at most).")
        if isinstance(records, Mapping):
            records = [records]
        if not isinstance(records, list):
            raise CollectorError(400, "InvalidDataFormat", "The body must be a JSON object or an array of objects.")
        ws = self.by_customer_id(customer_id)
        if ws is None:
            raise CollectorError(403, "InvalidAuthorization",
                                 "The service failed to authenticate the request: unknown workspace ID.")
        columns, rows = custom_log_rows(records, time_generated_field)
        table = f"{log_type}_CL"
        try:
            ws.logs.extend_schema(custom_log_schema(table, columns))
            self.ingest(customer_id, table, rows, generated_at)
        except LogIngestionError as exc:
            raise CollectorError(400, "InvalidDataFormat", str(exc)) from None
        return len(rows)
