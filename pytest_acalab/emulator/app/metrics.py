"""Azure Monitor metrics of container apps, measured from what the replicas really did (state, no HTTP).

Sources: the kubelet's supervision tick samples every running container's resident memory and CPU time
(``PodStatus``), the edge reports every request it answered (status, bytes each way, time taken), the
autoscaler reports every change of a revision's replica count. ``query`` aggregates them into the
time grains Azure Monitor answers with (``insights/metrics.py`` renders them).

Metric names, units, descriptions and dimensions are the ones Azure answers for
``Microsoft.App/containerApps`` (https://learn.microsoft.com/azure/container-apps/metrics, and the
Practical Guide's metrics-load-test captures of ``az monitor metrics list``).
"""

from __future__ import annotations

import threading
from bisect import bisect_left
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

MAX_SAMPLES = 200_000
"""Samples kept per app and kind (oldest dropped first)."""
CPU_WINDOW_SECONDS = 0.5
"""Real seconds a CPU reading spans at least: the kernel counts CPU time in clock ticks (10 ms), so a
rate over the 20 ms between two supervision ticks would read a single tick as half a core."""


@dataclass(frozen=True)
class MetricDefinition:
    name: str
    unit: str
    description: str
    primary: str
    aggregations: tuple[str, ...]
    dimensions: tuple[str, ...]
    display: str = ""
    """The ``localizedValue`` of its name (what the portal shows)."""


_ALL = ("Average", "Maximum", "Minimum", "Total", "Count")
DEFINITIONS: dict[str, MetricDefinition] = {d.name.lower(): d for d in (
    MetricDefinition("Replicas", "Count", "Number of replicas count of container app", "Maximum",
                     ("Maximum", "Minimum", "Average"), ("revisionName",),
                     display="Replica Count"),
    MetricDefinition("Requests", "Count", "Requests processed", "Total", ("Total", "Count", "Maximum"),
                     ("revisionName", "podName", "statusCodeCategory", "statusCode"),
                     display="Requests"),
    MetricDefinition("RestartCount", "Count",
                     "The cumulative number of times the replica has restarted since it was created.", "Maximum",
                     ("Maximum", "Minimum", "Average", "Total"), ("revisionName", "podName"),
                     display="Total Replica Restart Count"),
    MetricDefinition("CpuPercentage", "Percent", "Percentage of CPU limit used in percentage points", "Average",
                     ("Average", "Maximum", "Minimum"), ("revisionName", "podName"),
                     display="CPU Usage Percentage (Preview)"),
    MetricDefinition("UsageNanoCores", "NanoCores",
                     "CPU consumed by the container app, in nano cores. 1,000,000,000 nano cores = 1 core",
                     "Average", _ALL, ("revisionName", "podName"),
                     display="CPU Usage"),
    MetricDefinition("MemoryPercentage", "Percent", "Percentage of memory limit used, in percentage points",
                     "Average", ("Average", "Maximum", "Minimum"), ("revisionName", "podName"),
                     display="Memory Percentage (Preview)"),
    MetricDefinition("WorkingSetBytes", "Bytes", "Container App working set memory used in bytes.", "Average",
                     _ALL, ("revisionName", "podName"),
                     display="Memory Working Set Bytes"),
    MetricDefinition("RxBytes", "Bytes", "Network received bytes", "Total", _ALL, ("revisionName", "podName"),
                     display="Network In Bytes"),
    MetricDefinition("TxBytes", "Bytes", "Network transmitted bytes", "Total", _ALL, ("revisionName", "podName"),
                     display="Network Out Bytes"),
    MetricDefinition("ResponseTime", "MilliSeconds", "Average Response Time per Status Code", "Average",
                     ("Average", "Maximum", "Minimum"), ("revisionName", "podName", "statusCodeCategory",
                                                         "statusCode"),
                     display="Average Response Time (Preview)"),
)}


@dataclass(frozen=True)
class Sample:
    """One observation: when, the dimensions it belongs to, and its value."""

    time: datetime
    dims: dict[str, str]
    value: float


@dataclass
class _Container:
    last_cpu_ns: int | None = None
    last_time: datetime | None = None


@dataclass
class AppMetrics:
    """Everything measured for one app, per metric name (lower case)."""

    samples: dict[str, list[Sample]] = field(default_factory=dict)
    containers: dict[tuple[str, str], _Container] = field(default_factory=dict)

    def add(self, metric: str, sample: Sample) -> None:
        series = self.samples.setdefault(metric.lower(), [])
        series.append(sample)
        if len(series) > MAX_SAMPLES:
            del series[: len(series) - MAX_SAMPLES]


def status_category(status: int) -> str:
    return f"{status // 100}xx" if status else "0xx"


class MetricsStore:
    """Metrics of every app of one emulator, by app id (lower case)."""

    def __init__(self, now: Callable[[], datetime]) -> None:
        self._now = now
        self._lock = threading.Lock()
        self.apps: dict[str, AppMetrics] = {}

    def _app(self, app_id: str) -> AppMetrics:
        return self.apps.setdefault(app_id.lower(), AppMetrics())

    # recording -------------------------------------------------------------------------------------
    def container_sample(self, app_id: str, revision: str, replica: str, container: str, *, rss: int,
                         cpu_ns: int, memory_limit: int, cpu_limit: float, restarts: int) -> float | None:
        """A supervision tick's reading of one running container; returns its CPU use in cores since the
        previous CPU reading (None until :data:`CPU_WINDOW_SECONDS` have passed since it)."""
        now = self._now()
        dims = {"revisionName": revision, "podName": replica}
        with self._lock:
            m = self._app(app_id)
            state = m.containers.setdefault((replica, container), _Container())
            cores = None
            if state.last_cpu_ns is None or state.last_time is None or cpu_ns < state.last_cpu_ns:
                state.last_cpu_ns, state.last_time = cpu_ns, now
            else:
                elapsed = (now - state.last_time).total_seconds()
                if elapsed >= CPU_WINDOW_SECONDS:
                    cores = (cpu_ns - state.last_cpu_ns) / 1e9 / elapsed
                    state.last_cpu_ns, state.last_time = cpu_ns, now
            m.add("WorkingSetBytes", Sample(now, dims, float(rss)))
            if memory_limit:
                m.add("MemoryPercentage", Sample(now, dims, 100.0 * rss / memory_limit))
            m.add("RestartCount", Sample(now, dims, float(restarts)))
            if cores is not None:
                m.add("UsageNanoCores", Sample(now, dims, cores * 1e9))
                if cpu_limit:
                    m.add("CpuPercentage", Sample(now, dims, 100.0 * cores / cpu_limit))
        return cores

    def container_restarted(self, replica: str, container: str, app_id: str) -> None:
        """A new process: its CPU counter starts again from zero."""
        with self._lock:
            self._app(app_id).containers.pop((replica, container), None)

    def request(self, app_id: str, revision: str, replica: str, status: int, rx: int, tx: int,
                millis: float) -> None:
        now = self._now()
        dims = {"revisionName": revision, "podName": replica, "statusCodeCategory": status_category(status),
                "statusCode": str(status)}
        with self._lock:
            m = self._app(app_id)
            m.add("Requests", Sample(now, dims, 1.0))
            m.add("ResponseTime", Sample(now, dims, millis))
            pod = {"revisionName": revision, "podName": replica}
            m.add("RxBytes", Sample(now, pod, float(rx)))
            m.add("TxBytes", Sample(now, pod, float(tx)))

    def replicas(self, app_id: str, revision: str, count: int) -> None:
        """The revision now has ``count`` replicas (recorded at every change and every autoscaler sync)."""
        with self._lock:
            self._app(app_id).add("Replicas", Sample(self._now(), {"revisionName": revision}, float(count)))

    def forget(self, app_id: str) -> None:
        with self._lock:
            self.apps.pop(app_id.lower(), None)

    # reading ---------------------------------------------------------------------------------------
    def latest(self, app_id: str, metric: str, replica: str) -> Sample | None:
        with self._lock:
            series = self._app(app_id).samples.get(metric.lower(), [])
            for sample in reversed(series):
                if sample.dims.get("podName") == replica:
                    return sample
        return None

    def query(self, app_id: str, metric: str, start: datetime, end: datetime, grain: timedelta,
              aggregations: Iterable[str], split: list[str], keep: Callable[[dict[str, str]], bool]) -> (
            list[tuple[dict[str, str], list[dict[str, Any]]]]):
        """Time series of ``metric`` over [start, end) in ``grain`` buckets, one per combination of the
        ``split`` dimensions' values (none: one series), for the samples ``keep`` accepts.

        Each bucket holds the requested aggregations of its samples; an empty bucket holds only its
        ``timeStamp`` (Azure leaves the values out), except ``Total`` and ``Count`` of counters, which are 0.
        """
        definition = DEFINITIONS[metric.lower()]
        with self._lock:
            samples = list(self._app(app_id).samples.get(metric.lower(), []))
        gauge = definition.name == "Replicas"  # a state, not events: the count in force before the window counts
        times = [s.time for s in samples]
        lo = 0 if gauge else bisect_left(times, start)
        chosen = [s for s in samples[lo:] if s.time < end and keep(s.dims)]
        series: dict[tuple[str, ...], list[Sample]] = {}
        for s in chosen:
            series.setdefault(tuple(s.dims.get(d, "") for d in split), []).append(s)
        if not series and not split:
            series[()] = []
        buckets = _bucket_starts(start, end, grain)
        out = []
        for value, members in sorted(series.items()):
            by_bucket: dict[int, list[Sample]] = {}
            for s in members if not gauge else []:
                index = int((s.time - buckets[0]).total_seconds() // grain.total_seconds())
                by_bucket.setdefault(index, []).append(s)
            data = []
            for i, stamp in enumerate(buckets):
                point: dict[str, Any] = {"timeStamp": stamp}
                if gauge:  # per revision, then summed: two revisions of 2 replicas are 4 replicas
                    revisions: dict[str, list[Sample]] = {}
                    for s in members:
                        revisions.setdefault(s.dims.get("revisionName", ""), []).append(s)
                    for agg in aggregations:
                        parts = [_aggregate(definition, agg, _replica_counts(rs, max(stamp, start), stamp + grain))
                                 for rs in revisions.values()]
                        for key in {k for part in parts for k in part}:
                            point[key] = float(sum(part.get(key, 0.0) for part in parts))
                else:
                    values = [s.value for s in by_bucket.get(i, [])]
                    for agg in aggregations:
                        point.update(_aggregate(definition, agg, values))
                data.append(point)
            out.append((dict(zip(split, value, strict=True)), data))
        return out


def _bucket_starts(start: datetime, end: datetime, grain: timedelta) -> list[datetime]:
    """Bucket starts aligned to the grain from the epoch (Azure's ``timeStamp`` values are whole minutes)."""
    seconds = grain.total_seconds()
    epoch = datetime(1970, 1, 1, tzinfo=UTC)
    first = epoch + timedelta(seconds=((start - epoch).total_seconds() // seconds) * seconds)
    out = []
    t = first
    while t < end:
        out.append(t)
        t += grain
    return out or [first]


def _replica_counts(members: list[Sample], start: datetime, end: datetime) -> list[float]:
    """A gauge: the count in force when the bucket starts (last change before it) and every change in it."""
    before = [s.value for s in members if s.time < start]
    inside = [s.value for s in members if start <= s.time < end]
    return ([before[-1]] if before else []) + inside


def _aggregate(definition: MetricDefinition, aggregation: str, values: list[float]) -> dict[str, float]:
    key = aggregation.lower()
    counter = definition.primary == "Total"
    if not values:
        return {key: 0.0} if key == "count" or (key == "total" and counter) else {}
    if key == "average":
        return {"average": sum(values) / len(values)}
    if key == "maximum":
        return {"maximum": max(values)}
    if key == "minimum":
        return {"minimum": min(values)}
    if key == "total":
        return {"total": float(sum(values))}
    if key == "count":
        return {"count": float(len(values))}
    return {}
