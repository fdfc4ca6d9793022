"""Azure Monitor metrics over HTTP: ``{resourceUri}/providers/Microsoft.Insights/metrics`` and ``metricDefinitions``.

What ``az monitor metrics list`` and ``azure-mgmt-monitor``'s ``MonitorManagementClient.metrics.list`` call
(api-version 2018-01-01 and 2021-05-01; specification/monitor/resource-manager/Microsoft.Insights/stable/
2021-05-01/metrics_API.json and metricDefinitions_API.json in Azure/azure-rest-api-specs). Shapes follow
the Practical Guide's metrics-load-test captures of ``az monitor metrics list`` for container apps: every
series carries one point per time grain, ``timeStamp`` at whole grains, an empty bucket only its
``timeStamp`` (counters: ``total`` 0), split series named by ``metadatavalues``.

Only ``Microsoft.App/containerApps`` has metrics here; the values come from ``app.metrics.MetricsStore``
(measured from the replicas and the edge). Any other resource type is refused as unmodelled rather than
answered with invented numbers.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

from pytest_acalab.emulator.app.metrics import DEFINITIONS, MetricDefinition
from pytest_acalab.emulator.platform.core import Platform
from pytest_acalab.emulator.platform.errors import ArmError
from pytest_acalab.emulator.platform.http import Request, Response
from pytest_acalab.emulator.platform.resource_types import ResourceId

_BASE = "{scope:path}/providers/Microsoft.Insights"
NAMESPACE = "Microsoft.App/containerapps"
"""How Azure spells the metric namespace of container apps in its answers (captures)."""
APP_TYPE = "microsoft.app/containerapps"
DEFAULT_GRAIN = timedelta(minutes=1)
DEFAULT_SPAN = timedelta(hours=1)
GRAINS = ("PT1M", "PT5M", "PT15M", "PT30M", "PT1H", "PT6H", "PT12H", "P1D")
_ISO_DURATION = re.compile(r"^P(?:(?P<d>\d+)D)?(?:T(?:(?P<h>\d+)H)?(?:(?P<m>\d+)M)?(?:(?P<s>\d+(?:\.\d+)?)S)?)?$",
                           re.IGNORECASE)
_CLAUSE = re.compile(r"^\s*(?P<dim>[A-Za-z_][A-Za-z0-9_]*)\s+eq\s+'(?P<value>[^']*)'\s*$", re.IGNORECASE)


def parse_iso_duration(text: str) -> timedelta:
    match = _ISO_DURATION.match(text.strip())
    if not match or text.strip().upper() in ("P", "PT"):
        raise ValueError(text)
    parts = {k: float(v) for k, v in match.groupdict().items() if v}
    return timedelta(days=parts.get("d", 0), hours=parts.get("h", 0), minutes=parts.get("m", 0),
                     seconds=parts.get("s", 0))


def _instant(text: str) -> datetime:
    value = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def parse_timespan(text: str | None, now: datetime) -> tuple[datetime, datetime]:
    """``start/end``, ``start/duration``, ``duration/end`` or a bare duration (ending now)."""
    if not text:
        return now - DEFAULT_SPAN, now
    first, slash, second = text.partition("/")
    try:
        if not slash:
            return now - parse_iso_duration(first), now
        if first.upper().startswith("P"):
            end = _instant(second)
            return end - parse_iso_duration(first), end
        start = _instant(first)
        if second.upper().startswith("P"):
            return start, start + parse_iso_duration(second)
        return start, _instant(second)
    except ValueError:
        raise ArmError(400, "BadRequest", f"Invalid time span: '{text}'. Timespan must be in ISO 8601 format, "
                                          "e.g. '2021-01-01T00:00:00Z/2021-01-02T00:00:00Z'.") from None


def parse_filter(text: str | None, definition: MetricDefinition) -> tuple[list[str], dict[str, set[str]]]:
    """Dimensions to split by (``dim eq '*'``) and values to keep (``dim eq 'v'``, ``or`` of one dimension in
    parentheses), from ``$filter`` clauses joined by ``and``."""
    split: list[str] = []
    keep: dict[str, set[str]] = {}
    if not text or not text.strip():
        return split, keep
    known = {d.lower(): d for d in definition.dimensions}
    for clause in re.split(r"\s+and\s+", text.strip(), flags=re.IGNORECASE):
        options = re.split(r"\s+or\s+", clause.strip().strip("()"), flags=re.IGNORECASE)
        for option in options:
            match = _CLAUSE.match(option)
            if match is None:
                raise ArmError(400, "BadRequest", f"Invalid $filter: '{text}'. Expected clauses like "
                                                  "\"dimension eq 'value'\" joined by 'and' / 'or'.")
            dim = known.get(match.group("dim").lower())
            if dim is None:
                raise ArmError(400, "BadRequest", f"Dimension '{match.group('dim')}' is not valid for metric "
                                                  f"'{definition.name}'. Valid dimensions: "
                                                  f"{', '.join(definition.dimensions) or 'none'}.")
            if match.group("value") == "*":
                if dim not in split:
                    split.append(dim)
            else:
                keep.setdefault(dim, set()).add(match.group("value").lower())
    return split, keep


def _stamp(dt: datetime) -> str:
    return dt.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _grain_text(grain: timedelta) -> str:
    minutes = int(grain.total_seconds() // 60)
    if minutes % 1440 == 0:
        return f"P{minutes // 1440}D"
    if minutes % 60 == 0:
        return f"PT{minutes // 60}H"
    return f"PT{minutes}M"


class Metrics:
    def __init__(self, platform: Platform) -> None:
        self.p = platform

    def register(self) -> None:
        self.p.route("GET", _BASE + "/metrics", self.metrics, api_version=True)
        self.p.route("GET", _BASE + "/metricDefinitions", self.definitions, api_version=True)

    def _app(self, scope: str) -> tuple[Any, Any]:
        """The app service and the container app the scope names (404 when absent, 400 for other types)."""
        scope = "/" + scope.strip("/")
        try:
            rid = ResourceId.parse(scope)
        except ArmError:
            raise ArmError(400, "InvalidResourceId", f"The resource id '{scope}' is not valid.") from None
        self.p.check_subscription(rid.subscription)
        self.p.require_group(rid.resource_group)
        if self.p.store.get(rid.id) is None:
            raise ArmError(404, "ResourceNotFound",
                           f"The Resource '{rid.type_path}/{rid.name}' under resource group '{rid.resource_group}' "
                           "was not found. For more details please go to https://aka.ms/ARMResourceNotFoundFix")
        service = self.p.services.extra.get("app")
        if rid.type_path.lower() != APP_TYPE or service is None:
            self.p.unmodelled(rid.id, f"Azure Monitor metrics of {rid.type_path} are not modelled by the emulator")
            raise ArmError(400, "BadRequest", f"The emulator does not model metrics of {rid.type_path} (only "
                                              "Microsoft.App/containerApps).")
        app = service.apps.get(rid.id.lower())
        if app is None or app.deleted:
            raise ArmError(404, "ResourceNotFound", f"The Resource '{rid.type_path}/{rid.name}' was not found.")
        return service, app

    def definitions(self, req: Request, scope: str) -> Response:
        _, app = self._app(scope)
        items = []
        for d in DEFINITIONS.values():
            items.append({
                "id": f"{app.id}/providers/microsoft.insights/metricdefinitions/{d.name}",
                "resourceId": app.id, "namespace": NAMESPACE,
                "name": {"value": d.name, "localizedValue": d.display or d.name},
                "displayDescription": d.description, "isDimensionRequired": False, "category": "Basic",
                "metricClass": "Saturation" if "Percentage" in d.name else "Transactions", "unit": d.unit,
                "primaryAggregationType": d.primary, "supportedAggregationTypes": list(d.aggregations),
                "metricAvailabilities": [{"timeGrain": g, "retention": "P93D"} for g in GRAINS],
                "dimensions": [{"value": x, "localizedValue": x} for x in d.dimensions],
            })
        return Response.json(200, {"value": items})

    def metrics(self, req: Request, scope: str) -> Response:
        service, app = self._app(scope)
        with self.p.lock:
            self.p.scheduler.run_due()  # the replicas' state is brought up to now before it is read
        names = [n.strip() for n in (req.query_ci("metricnames") or "").split(",") if n.strip()]
        if not names:
            names = ["Replicas"]
        unknown = [n for n in names if n.lower() not in DEFINITIONS]
        if unknown:
            valid = ", ".join(d.name for d in DEFINITIONS.values())
            raise ArmError(400, "BadRequest", f"Failed to find metric configuration for provider: Microsoft.App, "
                                              f"resource Type: containerApps, metric: {unknown[0]}, Valid metrics: "
                                              f"{valid}")
        now = self.p.clock.now()
        start, end = parse_timespan(req.query_ci("timespan"), now)
        if end <= start:
            raise ArmError(400, "BadRequest", f"Invalid time span: the end {_stamp(end)} is not after the start "
                                              f"{_stamp(start)}.")
        interval = req.query_ci("interval")
        try:
            grain = parse_iso_duration(interval) if interval and interval.upper() != "FULL" else (
                end - start if interval else DEFAULT_GRAIN)
        except ValueError:
            raise ArmError(400, "BadRequest", f"Invalid interval: '{interval}'.") from None
        if grain < DEFAULT_GRAIN:
            grain = DEFAULT_GRAIN
        asked = [a.strip() for a in (req.query_ci("aggregation") or "").split(",") if a.strip()]
        values = []
        for name in names:
            definition = DEFINITIONS[name.lower()]
            aggregations = asked or [definition.primary]
            split, keep = parse_filter(req.query_ci("$filter"), definition)

            def kept(dims: dict[str, str], keep: dict[str, set[str]] = keep) -> bool:
                return all(str(dims.get(k, "")).lower() in v for k, v in keep.items())

            series = service.metrics.query(app.id, definition.name, start, end, grain, aggregations,
                                           split, kept)
            timeseries = []
            for dims, data in series:
                points = [{**p, "timeStamp": _stamp(p["timeStamp"])} for p in data]
                timeseries.append({"metadatavalues": [{"name": {"value": k.lower(), "localizedValue": k.lower()},
                                                       "value": v} for k, v in dims.items()],
                                   "data": points})
            values.append({
                "id": f"{app.id}/providers/Microsoft.Insights/metrics/{definition.name}",
                "type": "Microsoft.Insights/metrics",
                "name": {"value": definition.name, "localizedValue": definition.display or definition.name},
                "displayDescription": definition.description, "unit": definition.unit,
                "timeseries": timeseries, "errorCode": "Success",
            })
        return Response.json(200, {"cost": 0, "timespan": f"{_stamp(start)}/{_stamp(end)}",
                                   "interval": _grain_text(grain), "value": values, "namespace": NAMESPACE,
                                   "resourceregion": app.location.lower().replace(" ", "")})


def register(platform: Platform) -> Metrics:
    metrics = Metrics(platform)
    metrics.register()
    return metrics
