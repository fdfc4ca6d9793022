"""Schemas of the Log Analytics tables Azure Container Apps writes to.

Two pairs of tables, chosen by the managed environment's ``appLogsConfiguration.destination``:

* ``log-analytics``: the legacy custom tables ``ContainerAppSystemLogs_CL`` and
  ``ContainerAppConsoleLogs_CL``. Their columns carry the HTTP Data Collector API's type suffixes
  (``_s`` string, ``_d`` real, ``_t`` datetime, ``_g`` guid) next to the standard columns every
  custom-log table has (``TenantId``, ``SourceSystem`` = ``RestAPI``, ``MG``,
  ``ManagementGroupName``, ``Computer``, ``RawData``, ``Type`` = the table name, ``_ResourceId``).
* ``azure-monitor`` + a diagnostic setting: the resource-specific tables ``ContainerAppSystemLogs``
  and ``ContainerAppConsoleLogs`` (unsuffixed names, Microsoft's Azure Monitor table reference).

Sources (facts only): shared/azure-evidence/system-logs.md section 1 (Microsoft's
containerappsystemlogs reference, the ``ContainerAppSystemLogs_CL`` export header of
microsoft/azure-container-apps#960, the observed KQL captures); Microsoft's ContainerAppConsoleLogs
table reference; a workspace-table export of both ``_CL`` schemas (``time_s``, ``JobName_s``,
``ExecutionName_s``, ``Category``, ``ContainerId_g``) and a real ``ContainerAppConsoleLogs_CL`` row
(``ContainerId_s``, ``logtag_s``) published in public repositories. Custom tables grow a column the
first time a record carries a new field, so workspaces differ; the union seen in real data is kept.

Not modelled: the hidden billing columns ``_BilledSize`` and ``_IsBillable``, which Log Analytics
leaves out of ``*`` results.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Literal

#: The column types the Log Analytics query API reports.
ColumnType = Literal["string", "datetime", "real", "long", "int", "bool", "dynamic", "guid", "timespan"]

COLUMN_TYPES: frozenset[str] = frozenset(
    {"string", "datetime", "real", "long", "int", "bool", "dynamic", "guid", "timespan"}
)


@dataclass(frozen=True)
class Column:
    name: str
    type: ColumnType


@dataclass(frozen=True)
class TableSchema:
    """One table: its columns in the order ``T | take 1`` returns them."""

    name: str
    columns: tuple[Column, ...]
    #: Value written to ``SourceSystem`` when a row does not set it.
    source_system: str
    #: True when the ``Type`` column holds the table name (every table except ContainerAppSystemLogs,
    #: whose ``Type`` is the event's severity, Normal or Warning).
    type_is_table_name: bool = True
    #: True for tables a workspace has from its creation (Heartbeat), not only after a first row.
    builtin: bool = False
    _by_name: Mapping[str, Column] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        names = [c.name for c in self.columns]
        if len(set(names)) != len(names):
            raise ValueError(f"table {self.name!r} declares a column twice")
        if "TimeGenerated" not in names:
            raise ValueError(f"table {self.name!r} has no TimeGenerated column")
        object.__setattr__(self, "_by_name", MappingProxyType({c.name: c for c in self.columns}))

    @property
    def column_names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns)

    def column(self, name: str) -> Column | None:
        """The column called *name* (case-sensitive, as in KQL), or None."""
        return self._by_name.get(name)


def _cols(*spec: tuple[str, ColumnType]) -> tuple[Column, ...]:
    return tuple(Column(n, t) for n, t in spec)


#: Standard columns of every legacy custom-log table, before its own columns.
_CUSTOM_LOG_HEAD: tuple[tuple[str, ColumnType], ...] = (
    ("TenantId", "string"),
    ("SourceSystem", "string"),
    ("MG", "string"),
    ("ManagementGroupName", "string"),
    ("TimeGenerated", "datetime"),
    ("Computer", "string"),
    ("RawData", "string"),
)
_CUSTOM_LOG_TAIL: tuple[tuple[str, ColumnType], ...] = (("Type", "string"), ("_ResourceId", "string"))

CONTAINER_APP_SYSTEM_LOGS_CL = TableSchema(
    name="ContainerAppSystemLogs_CL",
    columns=_cols(
        *_CUSTOM_LOG_HEAD,
        # order of the issue #960 export header, then the fields only the table export shows
        ("time_t", "datetime"),
        ("Error_s", "string"),
        ("_timestamp_d", "real"),
        ("EventSource_s", "string"),
        ("Reason_s", "string"),
        ("ReplicaName_s", "string"),
        ("Type_s", "string"),
        ("RevisionName_s", "string"),
        ("EnvironmentName_s", "string"),
        ("Log_s", "string"),
        ("Count_d", "real"),
        ("ContainerAppName_s", "string"),
        ("Level", "string"),
        ("TimeStamp_s", "string"),
        ("time_s", "string"),
        ("JobName_s", "string"),
        ("ExecutionName_s", "string"),
        *_CUSTOM_LOG_TAIL,
    ),
    source_system="RestAPI",
)

CONTAINER_APP_CONSOLE_LOGS_CL = TableSchema(
    name="ContainerAppConsoleLogs_CL",
    columns=_cols(
        *_CUSTOM_LOG_HEAD,
        ("ContainerAppName_s", "string"),
        ("ContainerGroupId_g", "guid"),
        ("ContainerGroupName_s", "string"),
        # a container runtime id (64 hex digits) arrives as _s; some workspaces also grew an _g
        ("ContainerId_s", "string"),
        ("ContainerId_g", "guid"),
        ("ContainerImage_s", "string"),
        ("ContainerName_s", "string"),
        ("EnvironmentName_s", "string"),
        ("Log_s", "string"),
        ("RevisionName_s", "string"),
        ("Stream_s", "string"),
        ("Category", "string"),
        ("logtag_s", "string"),
        ("time_s", "string"),
        ("time_t", "datetime"),
        ("_timestamp_d", "real"),
        *_CUSTOM_LOG_TAIL,
    ),
    source_system="RestAPI",
)

CONTAINER_APP_SYSTEM_LOGS = TableSchema(
    name="ContainerAppSystemLogs",
    columns=_cols(
        ("TenantId", "string"),
        ("TimeGenerated", "datetime"),
        ("OperationName", "string"),
        ("Location", "string"),
        ("ContainerAppName", "string"),
        ("EnvironmentName", "string"),
        ("RevisionName", "string"),
        ("ReplicaName", "string"),
        ("ContainerName", "string"),
        ("JobName", "string"),
        ("ComponentName", "string"),
        ("ComponentType", "string"),
        ("Log", "string"),
        ("Type", "string"),
        ("Reason", "string"),
        ("EventSource", "string"),
        ("Count", "int"),
        ("SourceSystem", "string"),
        ("_ResourceId", "string"),
        ("_SubscriptionId", "string"),
    ),
    source_system="Azure",
    type_is_table_name=False,
)

CONTAINER_APP_CONSOLE_LOGS = TableSchema(
    name="ContainerAppConsoleLogs",
    columns=_cols(
        ("TenantId", "string"),
        ("TimeGenerated", "datetime"),
        ("OperationName", "string"),
        ("Location", "string"),
        ("ContainerAppName", "string"),
        ("EnvironmentName", "string"),
        ("RevisionName", "string"),
        ("ContainerGroupName", "string"),
        ("ContainerGroupId", "string"),
        ("ContainerName", "string"),
        ("ContainerId", "string"),
        ("ContainerImage", "string"),
        ("JobName", "string"),
        ("Stream", "string"),
        ("Log", "string"),
        ("SourceSystem", "string"),
        ("Type", "string"),
        ("_ResourceId", "string"),
        ("_SubscriptionId", "string"),
    ),
    source_system="Azure",
)

#: The agents' heartbeat table every workspace has (nothing writes to it here, but queries name it).
#: Columns and types as ``Heartbeat | getschema`` answered (log-analytics test_query.yaml recording).
HEARTBEAT = TableSchema(
    name="Heartbeat",
    columns=_cols(
        ("TenantId", "string"), ("SourceSystem", "string"), ("TimeGenerated", "datetime"), ("MG", "string"),
        ("ManagementGroupName", "string"), ("SourceComputerId", "string"), ("ComputerIP", "string"),
        ("Computer", "string"), ("Category", "string"), ("OSType", "string"), ("OSName", "string"),
        ("OSMajorVersion", "string"), ("OSMinorVersion", "string"), ("Version", "string"),
        ("SCAgentChannel", "string"), ("IsGatewayInstalled", "bool"), ("RemoteIPLongitude", "real"),
        ("RemoteIPLatitude", "real"), ("RemoteIPCountry", "string"), ("SubscriptionId", "string"),
        ("ResourceGroup", "string"), ("ResourceProvider", "string"), ("Resource", "string"),
        ("ResourceId", "string"), ("ResourceType", "string"), ("ComputerEnvironment", "string"),
        ("Solutions", "string"), ("VMUUID", "string"), ("Type", "string"), ("_ResourceId", "string"),
    ),
    source_system="OpsManager",
    builtin=True,
)

#: Columns every workspace-based Application Insights table shares around its own (Microsoft's Azure Monitor
#: table reference: https://learn.microsoft.com/azure/azure-monitor/reference/tables/apprequests, apptraces,
#: appdependencies).
_APP_CONTEXT: tuple[tuple[str, ColumnType], ...] = (
    ("Properties", "dynamic"), ("Measurements", "dynamic"), ("OperationName", "string"), ("OperationId", "string"),
    ("ParentId", "string"), ("SyntheticSource", "string"), ("SessionId", "string"), ("UserId", "string"),
    ("UserAuthenticatedId", "string"), ("UserAccountId", "string"), ("AppVersion", "string"),
    ("AppRoleName", "string"), ("AppRoleInstance", "string"), ("ClientType", "string"), ("ClientModel", "string"),
    ("ClientOS", "string"), ("ClientIP", "string"), ("ClientCity", "string"), ("ClientStateOrProvince", "string"),
    ("ClientCountryOrRegion", "string"), ("ClientBrowser", "string"), ("ResourceGUID", "string"),
    ("IKey", "string"), ("SDKVersion", "string"), ("ItemCount", "int"), ("ReferencedItemId", "string"),
    ("ReferencedType", "string"), ("SourceSystem", "string"), ("Type", "string"), ("_ResourceId", "string"),
)

APP_REQUESTS = TableSchema(
    name="AppRequests",
    columns=_cols(
        ("TenantId", "string"), ("TimeGenerated", "datetime"), ("Id", "string"), ("Source", "string"),
        ("Name", "string"), ("Url", "string"), ("Success", "bool"), ("ResultCode", "string"),
        ("DurationMs", "real"), ("PerformanceBucket", "string"), *_APP_CONTEXT,
    ),
    source_system="Azure",
)

APP_DEPENDENCIES = TableSchema(
    name="AppDependencies",
    columns=_cols(
        ("TenantId", "string"), ("TimeGenerated", "datetime"), ("Id", "string"), ("Target", "string"),
        ("DependencyType", "string"), ("Name", "string"), ("Data", "string"), ("Success", "bool"),
        ("ResultCode", "string"), ("DurationMs", "real"), ("PerformanceBucket", "string"), *_APP_CONTEXT,
    ),
    source_system="Azure",
)

APP_TRACES = TableSchema(
    name="AppTraces",
    columns=_cols(("TenantId", "string"), ("TimeGenerated", "datetime"), ("Message", "string"),
                  ("SeverityLevel", "int"), *_APP_CONTEXT),
    source_system="Azure",
)

#: Every table the emulator can ingest into, by name.
TABLES: Mapping[str, TableSchema] = MappingProxyType(
    {
        t.name: t
        for t in (
            CONTAINER_APP_SYSTEM_LOGS_CL,
            CONTAINER_APP_CONSOLE_LOGS_CL,
            CONTAINER_APP_SYSTEM_LOGS,
            CONTAINER_APP_CONSOLE_LOGS,
            HEARTBEAT,
            APP_REQUESTS,
            APP_DEPENDENCIES,
            APP_TRACES,
        )
    }
)

#: Which tables an environment's ``appLogsConfiguration.destination`` writes: (system, console).
TABLES_BY_DESTINATION: Mapping[str, tuple[str, str]] = MappingProxyType(
    {
        "log-analytics": (CONTAINER_APP_SYSTEM_LOGS_CL.name, CONTAINER_APP_CONSOLE_LOGS_CL.name),
        "azure-monitor": (CONTAINER_APP_SYSTEM_LOGS.name, CONTAINER_APP_CONSOLE_LOGS.name),
    }
)
