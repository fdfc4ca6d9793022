"""``metric``: an Azure Monitor metric of a container app over the phase, one number the tolerance judges.

Fetching: ``MonitorManagementClient.metrics.list`` (``GET {app id}/providers/Microsoft.Insights/metrics``,
what ``az monitor metrics list`` sends) with the window from the phase's (or lab's) start to a minute from
now, the metric, its aggregation, the grain and an optional dimension ``$filter``; ``revision: latest``
adds ``revisionName eq '<the app's latest revision>'``, as ``system_logs`` reads the latest revision.

Parsing (pure, over the REST JSON): every point of every series, reduced over the window as a reader of
the chart would: the sum of ``total`` and ``count``, the largest ``maximum``, the smallest ``minimum``,
the mean of ``average``. A window without a single point is ``None`` (nothing measured is not zero),
except for totals and counts, which Azure reports as 0 for empty grains.

Azure Monitor lags: metrics of the last minutes arrive late, so give such checks a ``within``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from pytest_acalab.context import LabContext
from pytest_acalab.errors import LabError, ProbeError
from pytest_acalab.labfile.durations import parse_duration
from pytest_acalab.probes.base import Observation, fetch

__all__ = ["metric_points", "reduce_points"]

PRIMARY = {"replicas": "Maximum", "requests": "Total", "restartcount": "Maximum", "cpupercentage": "Average",
           "usagenanocores": "Average", "memorypercentage": "Average", "workingsetbytes": "Average",
           "rxbytes": "Total", "txbytes": "Total", "responsetime": "Average"}
"""Each container-app metric's primary aggregation (the metric definitions' ``primaryAggregationType``)."""


# ---- parsing (pure) ------------------------------------------------------------------------------------

def metric_points(payload: Mapping[str, Any], aggregation: str) -> list[tuple[str, dict[str, str], float]]:
    """``(timeStamp, dimensions, value)`` of every point that carries ``aggregation``, over every series."""
    key = aggregation.lower()
    out = []
    for metric in payload.get("value") or []:
        for series in metric.get("timeseries") or []:
            dims = {str((m.get("name") or {}).get("value")): str(m.get("value"))
                    for m in series.get("metadatavalues") or []}
            for point in series.get("data") or []:
                value = point.get(key)
                if value is not None:
                    out.append((str(point.get("timeStamp")), dims, float(value)))
    return out


def reduce_points(values: list[float], aggregation: str) -> float | None:
    key = aggregation.lower()
    if key in ("total", "count"):
        return float(sum(values))
    if not values:
        return None
    if key == "maximum":
        return max(values)
    if key == "minimum":
        return min(values)
    return sum(values) / len(values)


# ---- the probe -----------------------------------------------------------------------------------------

def metric(ctx: LabContext, args: Mapping[str, Any], deadline: float) -> Observation:
    name = str(args["metric"])
    aggregation = str(args.get("aggregation") or PRIMARY.get(name.lower(), "Average"))
    try:
        app = ctx.resource(str(args["app"]))
        grain = timedelta(seconds=parse_duration(str(args.get("interval") or "1m")))
        start = ctx.since(str(args.get("since") or "phase")).astimezone(UTC)
    except (LabError, ValueError) as exc:
        raise ProbeError(f"metric {name}: {exc}") from exc
    end = datetime.now(UTC) + timedelta(minutes=1)
    span = f"{start.strftime('%Y-%m-%dT%H:%M:%S.%fZ')}/{end.strftime('%Y-%m-%dT%H:%M:%SZ')}"
    client = ctx.clients.monitor
    clauses = [str(args["filter"])] if args.get("filter") else []
    if args.get("revision"):
        revision = str(args["revision"])
        if revision == "latest":
            # local import: the revision helpers pull the SDK-call plumbing in only when a lab runs
            from pytest_acalab.probes.apps import app_field
            from pytest_acalab.probes.revisions import fetch_app

            revision = str(app_field(fetch_app(ctx, app.name, deadline), "latestRevisionName") or "")
            if not revision:
                raise ProbeError(f"metric {name}: app '{app.name}' has no latest revision yet")
        clauses.append(f"revisionName eq '{revision}'")
    extra = {"filter": " and ".join(clauses)} if clauses else {}
    payload = fetch(ctx, lambda: client.metrics.list(
        app.id, timespan=span, interval=grain, metricnames=name, aggregation=aggregation,
        cls=lambda response, _model, _headers: json.loads(response.http_response.text()), **extra),
        what=f"GET metrics {name} of {app.name}", deadline=deadline)
    points = metric_points(payload, aggregation)
    value = reduce_points([v for _, _, v in points], aggregation)
    shown = ", ".join(f"{t[11:16]}{'' if not d else ' ' + ','.join(d.values())}={v:g}" for t, d, v in points[-8:])
    excerpt = (f"{name} {aggregation} over {span}{' where ' + extra['filter'] if extra else ''}: {value} "
               f"({len(points)} points{'; last: ' + shown if shown else ''})")
    return Observation(value, "metrics", excerpt, {"points": len(points), "observed": {name: value}})
