"""What a Log Analytics workspace holds for an app, and how an environment routes its logs.

``log_rows`` queries a workspace directly (not through the environment's configuration, as
``system_logs`` does), so a lab can show that nothing arrives where an environment sends nothing:
``ContainerAppConsoleLogs_CL`` / ``ContainerAppSystemLogs_CL`` (the legacy tables of the
``log-analytics`` destination) or the resource-specific ``ContainerAppConsoleLogs`` /
``ContainerAppSystemLogs`` (``azure-monitor``). A table that was never written answers Log Analytics'
"Failed to resolve table" error, which is zero rows (the Practical Guide's diagnostic-settings-missing
capture shows exactly that).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from pytest_acalab.context import LabContext
from pytest_acalab.errors import LabError, ProbeError
from pytest_acalab.polling import describe_error
from pytest_acalab.probes.apps import app_field
from pytest_acalab.probes.base import Observation, fetch
from pytest_acalab.probes.logs import is_missing_table

ENVIRONMENT_API = "2025-07-01"
TABLES = ("ContainerAppConsoleLogs_CL", "ContainerAppSystemLogs_CL", "ContainerAppConsoleLogs",
          "ContainerAppSystemLogs", "AppRequests", "AppDependencies", "AppTraces")
APP_INSIGHTS_TABLES = ("AppRequests", "AppDependencies", "AppTraces")


def log_rows(ctx: LabContext, args: Mapping[str, Any], deadline: float) -> Observation:
    """The revision name of every row of ``table`` about the app (``""`` for environment-level rows); for the
    Application Insights tables the operation name of every row whose service (cloud_RoleName) starts with
    ``role`` (default ``unknown_service``, what an OpenTelemetry SDK without a service name reports)."""
    # the Azure SDK stack loads when a lab runs, not at collection
    from azure.core.exceptions import HttpResponseError

    table = str(args["table"])
    if table not in TABLES:
        raise ProbeError(f"log_rows: table '{table}' is not one of {', '.join(TABLES)}")
    try:
        workspace = ctx.resource(args["workspace"])
        app = ctx.resource(args["app"])
    except LabError as exc:
        raise ProbeError(str(exc)) from exc
    customer_id = workspace.field("customerId")
    if table in APP_INSIGHTS_TABLES:
        # Application Insights rows name the OpenTelemetry service (cloud_RoleName), not the app
        role = str(args.get("role") or "unknown_service").replace("'", "")
        # ``startswith``: OpenTelemetry SDKs name an unnamed service ``unknown_service`` or ``unknown_service:python``
        query = f"{table} | where AppRoleName startswith '{role}' | project OperationName | take 10000"
    else:
        legacy = table.endswith("_CL")
        app_column, revision_column = ("ContainerAppName_s", "RevisionName_s") if legacy else \
            ("ContainerAppName", "RevisionName")
        query = (f"{table} | where {app_column} == '{app.name.replace(chr(39), '')}' "
                 f"| project {revision_column} | take 10000")
    since = ctx.since(args.get("since") or "lab")
    now = datetime.now(UTC)

    def run() -> Any:
        return ctx.clients.logs.query_workspace(customer_id, query, timespan=(since, max(now, since)))

    try:
        result = fetch(ctx, run, what=f"Log Analytics query on {table}", deadline=deadline, keep=(HttpResponseError,))
    except HttpResponseError as exc:
        missing = is_missing_table(exc)
        if missing:
            return Observation([], "log_analytics", f"table {missing} does not exist in workspace {workspace.name} "
                                                    "(Azure creates it with the first row: none ever arrived)")
        raise ProbeError(f"Log Analytics query on {table}: {describe_error(exc)}") from exc
    revisions = [str(row[0] or "") for t in (getattr(result, "tables", None) or []) for row in t.rows]
    by_revision = sorted({r or "(environment)" for r in revisions})
    return Observation(revisions, "log_analytics",
                       f"{len(revisions)} rows in {table} of workspace {workspace.name} for app {app.name}"
                       + (f" (revisions: {', '.join(by_revision)})" if revisions else ""))


def environment_state(ctx: LabContext, args: Mapping[str, Any], deadline: float) -> Observation:
    """A field under the environment's ``properties`` (dotted path), as Azure answers GET."""
    try:
        name = ctx.resource(args["environment"]).name
    except LabError as exc:
        raise ProbeError(str(exc)) from exc
    body = fetch(ctx, lambda: ctx.clients.resources.resources.get_by_id(
        ctx.resource(args["environment"]).id, api_version=ENVIRONMENT_API).as_dict(),
        what=f"GET managed environment '{name}'", deadline=deadline)
    value = app_field(body, str(args["field"]))
    return Observation(value, "managed_environment", f"environment {name}: {args['field']} = {value!r}")
