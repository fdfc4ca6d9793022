"""KEDA and the HPA as Container Apps runs them: scale rules turned into replicas, on the emulator's clock.

Azure's documented behaviour (https://learn.microsoft.com/azure/container-apps/scale-app, "Scale
behavior"), modelled here for a revision whose template has scale rules:

- the HPA syncs every :data:`HPA_SYNC_SECONDS`; desired replicas = ceil(metric / target) for an
  HTTP rule (``concurrentRequests``: requests in flight at the edge, averaged since the last sync, over all
  replicas) and ceil(replicas x utilization / target) for ``cpu`` / ``memory`` ``Utilization`` rules
  (Kubernetes' 10 % tolerance); the largest rule wins, clamped to min/max replicas;
- scale up by at most max(4 replicas, 100 %) per sync, no up-stabilization; scale down to the highest
  recommendation of the last :data:`SCALE_DOWN_WINDOW_SECONDS` (300 s), all at once;
- scale to zero (``minReplicas: 0``): after ``cooldownPeriod`` (default 300 s) without load since the last
  activity, checked every ``pollingInterval`` (default 30 s); a request to a revision with no replica
  activates it (the HTTP add-on holds the request, the edge waits);
- replicas are added and removed by the kubelet (``replicas.Kubelet``): a new replica pulls, starts and is
  probed like any other, so scaling out costs a real process start.

KEDA's and the HPA's system-log lines are Azure's (captures of the Practical Guide's image-size-startup-delay,
keda-no-metrics-returned, managed-identity-key-vault-failure and acr-network-path labs): ``ReplicaName`` empty,
``TimeStamp`` to the whole second, ``EventSource`` ``KEDA`` for KEDA's and ``Scaling`` for the HPA's.

- ``KEDAScalersStarted`` ("Scaler <type> is built", "KEDA is starting a watch for revision ...") when a
  revision starts;
- while a replica has no resource metrics yet (not ready, restarting, or the metrics server's first minute)
  a cpu/memory rule logs the HPA's ``FailedGetContainerResourceMetric`` and ``FailedComputeMetricsReplicas``
  warnings each sync, their ``Count`` going up as Kubernetes aggregates a repeated event;
- when the revision is deactivated (an update that mints a new revision, single revision mode): Normal
  ``KEDAScalersStopped`` "KEDA is stopping the watch for revision '<revision>' ...", then Warning
  ``ScaledObjectDeleted`` "ScaledObject was removed from KEDA watch and would not be auto-scaled.", all with
  ``Count`` 1, before the containers' ``ManuallyStopped``. In 1 of the 10 teardowns captured, the HPA synced
  after the revision's Deployment was gone and before KEDA removed the ScaledObject, and logged Warning
  ``FailedGetScale`` ``deployments.apps "<revision>" not found`` between the two: a race, which the
  emulator reproduces when the fault switch asks for it (``Faults.teardown_scale_race``), never by default.

Not produced: ``ScaledObjectCheckFailed`` (the captures hold only its counts, 6 per revision, never its
message, so the emulator does not make one up), and no event when replicas are added or removed (the
guide's scale-rule-mismatch lab found none in the load window either).
"""

from __future__ import annotations

import math
import time
from collections import deque
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from pytest_acalab.emulator.app import syslog
from pytest_acalab.emulator.app.state import ContainerApp, Revision

if TYPE_CHECKING:
    from pytest_acalab.emulator.app.service import AppService

HPA_SYNC_SECONDS = 15.0
"""The HPA controller's sync period (Kubernetes' default ``--horizontal-pod-autoscaler-sync-period``)."""
MIN_SYNC_REAL = 0.25
"""Real seconds between two syncs at the least: on the fast clock 15 s are 1.5 ms, and a replica that takes
real seconds to become ready would otherwise log the HPA's warnings hundreds of times a second (and push
everything else out of the event stream's last 300 lines)."""
SCALE_DOWN_WINDOW_SECONDS = 300.0
DEFAULT_POLLING_SECONDS = 30.0
DEFAULT_COOLDOWN_SECONDS = 300.0
DEFAULT_CONCURRENT_REQUESTS = 10
TOLERANCE = 0.1
METRICS_WARMUP_SECONDS = 60.0
"""How long after a container starts the metrics server has no sample of it (the guide's healthy baseline
of keda-no-metrics-returned logged "no metrics returned" for ~61 s after a clean start)."""
KEDA = "KEDA"
HPA = "Scaling"
"""``EventSource`` of the HPA controller's events (``FailedGetScale``, ``FailedGetContainerResourceMetric``)."""
KEDA_STARTED = "KEDAScalersStarted"
KEDA_STOPPED = "KEDAScalersStopped"
SCALED_OBJECT_DELETED = "ScaledObjectDeleted"
FAILED_CONTAINER_METRIC = "FailedGetContainerResourceMetric"
FAILED_COMPUTE = "FailedComputeMetricsReplicas"
FAILED_GET_SCALE = "FailedGetScale"
HPA_METRICS_BESIDES_RULES = 4
"""The HPA Azure builds for a revision judges 5 metrics with one memory rule ("invalid metrics (1 invalid
out of 5)" in the keda-no-metrics-returned captures): the rules plus four of the platform's own (guess)."""


@dataclass
class _Watch:
    """The autoscaler's view of one revision."""

    rules: list[dict[str, Any]]
    polling: float
    cooldown: float
    inflight: int = 0
    area: float = 0.0
    """Integral of requests in flight over real time since ``window_start``."""
    window_start: float = field(default_factory=time.monotonic)
    last_change: float = field(default_factory=time.monotonic)
    last_active: float = field(default_factory=time.monotonic)
    recommendations: deque[tuple[float, int]] = field(default_factory=deque)
    active: bool = True
    syncs: int = 0
    loaded_syncs: int = 0
    """Syncs that measured requests in flight (tests wait for these rather than for time)."""
    peak_concurrency: float = 0.0
    last_poll: float = field(default_factory=time.monotonic)
    """When KEDA last checked the revision's activity (every ``pollingInterval``)."""
    counts: dict[str, int] = field(default_factory=dict)
    """How many times each of the HPA's warnings was logged (Kubernetes aggregates a repeated event into
    one with a growing ``Count``)."""

    def touch(self, now: float) -> None:
        self.area += self.inflight * (now - self.last_change)
        self.last_change = now


def rule_kind(rule: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """``("http", metadata)``, ``("cpu", metadata)``, ``("memory", metadata)``, or the custom type."""
    if rule.get("http"):
        return "http", dict((rule["http"] or {}).get("metadata") or {})
    custom = rule.get("custom") or {}
    if custom:
        return str(custom.get("type") or "custom").lower(), dict(custom.get("metadata") or {})
    for key in ("azureQueue", "tcp"):
        if rule.get(key):
            return key.lower(), dict((rule[key] or {}).get("metadata") or {})
    return "unknown", {}


def scaler_name(kind: str) -> str:
    """KEDA's name for a rule's scaler: the HTTP add-on's is ``external-push``."""
    return "external-push" if kind == "http" else kind


class Autoscaler:
    """One per app service: watches revisions with scale rules and moves their replica counts."""

    def __init__(self, service: AppService) -> None:
        self.svc = service
        self.p = service.p
        self.watches: dict[int, _Watch] = {}

    # life of a watch --------------------------------------------------------------------------------
    def watch(self, app: ContainerApp, rev: Revision) -> None:
        """A revision starts (created or activated): KEDA builds its scalers."""
        scale = rev.template.get("scale") or {}
        rules = [r for r in scale.get("rules") or [] if isinstance(r, dict)]
        self._record(app, rev)
        if not rules or id(rev) in self.watches:
            return
        cooldown = scale.get("cooldownPeriod")
        w = _Watch(rules, float(scale.get("pollingInterval") or DEFAULT_POLLING_SECONDS),
                   float(cooldown) if cooldown is not None else DEFAULT_COOLDOWN_SECONDS)
        self.watches[id(rev)] = w
        for rule in rules:
            kind, metadata = rule_kind(rule)
            if kind in ("cpu", "memory") and "type" in metadata:
                self._emit(app, rev, KEDA_STARTED, f"scaler {kind} info: The 'type' setting is DEPRECATED and will "
                           "be removed in v2.18 - Use 'metricType' instead.")
            if kind in ("cpu", "memory"):
                self._emit(app, rev, KEDA_STARTED, f"Scaler {scaler_name(kind)} is built")
            elif kind != "http":
                self.p.unmodelled(app.id, f"scale rule '{rule.get('name')}' of type '{kind}': the emulator's "
                                          "autoscaler models http, cpu and memory rules only")
        if app.configuration.get("ingress") or any(rule_kind(r)[0] == "http" for r in rules):
            # the HTTP add-on's scaler: Azure builds it for an app with ingress whatever its rules (a memory
            # rule's revision logs "Scaler memory is built" and "Scaler external-push is built")
            self._emit(app, rev, KEDA_STARTED, f"Scaler {scaler_name('http')} is built")
        self._emit(app, rev, KEDA_STARTED, f"KEDA is starting a watch for revision '{rev.name}' to monitor scale "
                                           "operations for this revision")
        self.p.scheduler.after(self.p.clock.scale(HPA_SYNC_SECONDS), lambda due: self._sync(app, rev, due))

    def unwatch(self, app: ContainerApp, rev: Revision, at: float | None = None, quiet: bool = False) -> None:
        """The revision is deactivated or deleted: KEDA stops watching it."""
        w = self.watches.pop(id(rev), None)
        if w is None:
            return
        w.active = False
        self._record(app, rev, 0)
        if quiet:
            return
        self._emit(app, rev, KEDA_STOPPED, f"KEDA is stopping the watch for revision '{rev.name}' to monitor scale "
                                           "operations for this revision", at=at)
        if self.p.faults.draw_teardown_scale_race():
            # the HPA's sync fell between the Deployment's deletion and the ScaledObject's removal
            self._emit(app, rev, FAILED_GET_SCALE, f'deployments.apps "{rev.name}" not found', type_=syslog.WARNING,
                       at=at, source=HPA)
        self._emit(app, rev, SCALED_OBJECT_DELETED, "ScaledObject was removed from KEDA watch and would not be "
                                                     "auto-scaled.", type_=syslog.WARNING, at=at)

    # requests at the edge ---------------------------------------------------------------------------------
    def request_started(self, app: ContainerApp, rev: Revision | None) -> None:
        w = self.watches.get(id(rev)) if rev is not None else None
        if w is None or rev is None:
            return
        now = time.monotonic()
        w.touch(now)
        w.inflight += 1
        w.last_active = now
        if not rev.replicas and rev.active:  # scaled to zero: the HTTP add-on activates the revision
            self._scale_to(app, rev, 1)

    def request_ended(self, rev: Revision | None) -> None:
        w = self.watches.get(id(rev)) if rev is not None else None
        if w is None:
            return
        now = time.monotonic()
        w.touch(now)
        w.inflight = max(0, w.inflight - 1)
        w.last_active = now

    # the HPA's sync ---------------------------------------------------------------------------------------
    def _sync(self, app: ContainerApp, rev: Revision, due: float) -> None:
        w = self.watches.get(id(rev))
        if w is None or not w.active:
            return
        if app.deleted or not rev.active or app.revisions.get(rev.name) is not rev:
            self.unwatch(app, rev, quiet=True)
            return
        now = time.monotonic()
        w.touch(now)
        window = max(now - w.window_start, 1e-9)
        concurrency = w.area / window
        w.area, w.window_start = 0.0, now
        w.syncs += 1
        if concurrency > 0:
            w.loaded_syncs += 1
            w.peak_concurrency = max(w.peak_concurrency, concurrency)
        if w.inflight:
            w.last_active = now
        desired = self.desired(app, rev, w, concurrency, due)
        current = len(rev.current)
        if desired is not None:
            self._apply(app, rev, w, current, desired, now)
        self._record(app, rev)
        self.p.scheduler.at(max(now + MIN_SYNC_REAL, due + self.p.clock.scale(HPA_SYNC_SECONDS)),
                            lambda d: self._sync(app, rev, d))

    def desired(self, app: ContainerApp, rev: Revision, w: _Watch, concurrency: float, due: float) -> int | None:
        """The replica count the rules ask for now (None: a metric is missing, keep the count)."""
        current = len(rev.current)
        wanted: list[int] = []
        missing: list[str] = []
        for rule in w.rules:
            kind, metadata = rule_kind(rule)
            if kind == "http":
                target = float(metadata.get("concurrentRequests") or DEFAULT_CONCURRENT_REQUESTS)
                wanted.append(math.ceil(concurrency / target - 1e-9) if concurrency > 0 else 0)
            elif kind in ("cpu", "memory"):
                utilization = self._utilization(app, rev, kind)
                if utilization is None:
                    missing.append(kind)
                    continue
                target = float(metadata.get("value") or 0)
                if target <= 0 or current == 0:
                    continue
                ratio = utilization / target
                wanted.append(current if abs(ratio - 1) <= TOLERANCE else math.ceil(current * ratio))
        for kind in missing:
            self._no_metrics(app, rev, w, kind, due)
        if missing and not wanted:
            return None
        return max(wanted) if wanted else current

    def _utilization(self, app: ContainerApp, rev: Revision, kind: str) -> float | None:
        """Mean utilization (percent of the container's request) over the revision's replicas, or None when
        a replica has no metrics yet (the metrics server answers nothing for it)."""
        metrics = self.svc.metrics
        values = []
        now = time.monotonic()
        for rep in rev.current:
            for c in rep.containers:
                warm = c.process_running and c.ready and now - c.started_mono >= self.p.clock.scale(
                    METRICS_WARMUP_SECONDS)
                sample = metrics.latest(app.id, "CpuPercentage" if kind == "cpu" else "MemoryPercentage", rep.name)
                if not warm or sample is None:
                    return None
                values.append(sample.value)
        return sum(values) / len(values) if values else None

    def _no_metrics(self, app: ContainerApp, rev: Revision, w: _Watch, kind: str, due: float) -> None:
        """The HPA's two warnings of a sync that found no resource metrics for a container."""
        container = (rev.template.get("containers") or [{}])[0].get("name") or app.name
        inner = f"failed to get {kind} usage: unable to get metrics for resource {kind}: no metrics returned from " \
                "resource metrics API"
        judged = len(w.rules) + HPA_METRICS_BESIDES_RULES
        for reason, message in ((FAILED_CONTAINER_METRIC, inner),
                                (FAILED_COMPUTE, f"invalid metrics (1 invalid out of {judged}), first error is: "
                                                 f"failed to get {container} container metric value: {inner}")):
            w.counts[reason] = w.counts.get(reason, 0) + 1
            self._emit(app, rev, reason, message, type_=syslog.WARNING, at=due, source=HPA, count=w.counts[reason])

    def _apply(self, app: ContainerApp, rev: Revision, w: _Watch, current: int, desired: int, now: float) -> None:
        scale = rev.template.get("scale") or {}
        low = int(scale.get("minReplicas") or 0)
        high = rev.max_replicas
        desired = max(low, min(high, desired))
        w.recommendations.append((now, desired))
        horizon = now - self.p.clock.scale(SCALE_DOWN_WINDOW_SECONDS)
        while w.recommendations and w.recommendations[0][0] < horizon:
            w.recommendations.popleft()
        if desired > current:
            limit = max(current + 4, current * 2) if current else 1
            self._scale_to(app, rev, min(desired, limit))
            return
        stable = max(d for _, d in w.recommendations)
        target = max(min(stable, current), low)
        if target == 0 and current > 0:
            # KEDA deactivates only after cooldownPeriod without activity, checked every pollingInterval
            polled = now - w.last_poll >= self.p.clock.scale(w.polling)
            if polled:
                w.last_poll = now
            if not polled or now - w.last_active < self.p.clock.scale(w.cooldown):
                target = 1
        if target < current:
            self._scale_to(app, rev, target)

    # replicas ------------------------------------------------------------------------------------------------
    def _scale_to(self, app: ContainerApp, rev: Revision, count: int) -> None:
        current = rev.current
        kubelet = self.svc.kubelet
        if count > len(current):
            for _ in range(count - len(current)):
                rep = kubelet.new_replica(app, rev, rev.pod_hash)
                rev.replicas.append(rep)
                kubelet.schedule(app, rev, rep)
        elif count < len(current):
            # the newest and the unready go first (Kubernetes' ReplicaSet downscale order, roughly)
            order = sorted(current, key=lambda r: (r.ready, -r.created.timestamp()))
            for rep in order[: len(current) - count]:
                kubelet.stop_replica(rep, rev)
                rev.replicas.remove(rep)
        rev.desired = count
        rev.scaled_to_zero = count == 0
        rev.scaling = rev.became_ready and count > 0
        self._record(app, rev)

    def _record(self, app: ContainerApp, rev: Revision, count: int | None = None) -> None:
        metrics = self.svc.metrics
        if metrics is not None:
            metrics.replicas(app.id, rev.name, len(rev.current) if count is None else count)

    def _emit(self, app: ContainerApp, rev: Revision, reason: str, message: str, *, type_: str | None = None,
              at: float | None = None, source: str = KEDA, count: int = 1) -> None:
        """One of KEDA's or the HPA's lines: revision-level (``ReplicaName`` empty), whole-second ``TimeStamp``."""
        self.svc.emit(app, type_ or syslog.NORMAL, reason, message, revision=rev.name, replica="", at=at,
                      source=source, count=count, whole_seconds=True)

    def watch_of(self, rev: Revision) -> _Watch | None:
        """The autoscaler's state for ``rev`` (None when it has no scale rules or is not active)."""
        return self.watches.get(id(rev))
