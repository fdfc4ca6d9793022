"""The kubelet: replicas scheduled, images pulled, containers started for real, probed, restarted, stopped.

Every transition is an event on the platform's scheduler, due when Azure would take it (the clock),
and run when somebody next looks. A replica's supervision tick polls its pod (exits, listening
ports, memory), runs the probes that are due and restarts crashed containers after Kubernetes'
back-off. When the fast clock compresses many probe periods into one tick, the tick counts all of
them at once (``Count`` on the event jumps), with one exception: a process that has not opened any
listening socket yet is given :data:`START_GRACE_SECONDS` of real time before its probe failures
count, because a real process's start-up cannot be compressed by the emulator's clock.
"""

from __future__ import annotations

import hashlib
import logging
import os
import secrets
import signal
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from pytest_acalab.emulator.app import health, identity_endpoint, syslog
from pytest_acalab.emulator.app.consolelogs import LEGACY_TABLE as CONSOLE_LEGACY_TABLE
from pytest_acalab.emulator.app.consolelogs import RESOURCE_TABLE as CONSOLE_RESOURCE_TABLE
from pytest_acalab.emulator.app.consolelogs import ConsoleLine, legacy_row, resource_row
from pytest_acalab.emulator.app.state import (
    KUBELET_BACKOFF,
    MAX_PULL_ATTEMPTS,
    REPLICA_ALPHABET,
    ContainerApp,
    ContainerState,
    ProbeState,
    Replica,
    Revision,
    bad_request,
    parse_image,
    port_mismatch_text,
)
from pytest_acalab.emulator.platform.clock import REALISTIC_SECONDS, wall_at
from pytest_acalab.emulator.platform.services import PullResult
from pytest_acalab.emulator.runtime import egress
from pytest_acalab.emulator.runtime.engine import ContainerEngine, memory_bytes
from pytest_acalab.emulator.runtime.images import LaunchPlan, Unrunnable
from pytest_acalab.emulator.runtime.sandbox import ContainerExit, Pod, SandboxError

if TYPE_CHECKING:
    from pytest_acalab.emulator.app.service import AppService

log = logging.getLogger("pytest_acalab.emulator.app")

PROGRESS_DEADLINE_SECONDS = 240.0
TERMINATION_GRACE_SECONDS = 30.0
"""How long a stopped replica may finish its requests when the template sets no ``terminationGracePeriodSeconds``
(Azure's default, https://learn.microsoft.com/azure/container-apps/application-lifecycle-management#shutdown)."""
"""How long a rollout may go without a ready replica before Azure reports the deadline exceeded (the
default startup probe's 240 x 1 s; the Practical Guide measured 261 s from the change to Unhealthy)."""
TICK_SECONDS = 1.0
"""Azure seconds between two supervision ticks of a replica (the default startup probe's period)."""
MIN_TICK_REAL = 0.02
"""Real seconds between two ticks at the least: the scheduler runs every event already due, so a tick
must never schedule its successor inside the time it takes itself."""
START_GRACE_SECONDS = float(os.environ.get("ACALAB_START_GRACE_SECONDS", "30"))
BACKOFF_RESET_SECONDS = 600.0
MIN_RESTART_REAL = (0.1, 0.2, 0.4, 0.8, 1.0)
"""Real seconds a crashed container waits at least before its first, second ... restart: on the fast clock
Kubernetes' back-off would otherwise restart a crash loop as fast as processes can start, burning the machine's
CPU. The floor doubles as the back-off does, so a crash loop slows down as on Azure and its first restart is
soon; it stays at 1 s (one start a second per crash-looping container) once the back-off reaches its cap."""
DEFAULT_IMAGE_SIZE = 32505856
"""The size an image of unknown size is reported with (a recorded PulledImage event, 2025 event stream)."""
PULL_BYTES_PER_SECOND = 64.8e6
PULL_OVERHEAD_SECONDS = {"docker.io": 2.57, "mcr.microsoft.com": 1.10}
"""A cold pull takes an overhead per registry plus the image's bytes at one throughput, fitted to the cold
pulls of the Practical Guide's image-size-startup-delay capture (github.com/yeongseon/
azure-container-apps-practical-guide, labs/image-size-startup-delay/evidence/06-kql-pull-events.json):
python:3.11, 408944640 bytes in 8.88 s and python:3.11-alpine, 19922944 bytes in 2.88 s (Docker Hub; the
two points fix the throughput and Docker Hub's overhead), the helloworld sample, 33554432 bytes in
1.62 s (MCR's overhead). Other registries (the lab's ACR) keep the measured ``replica.pull`` time. Warm
pulls (an image already on the node: 9 to 13 ms) are not modelled: a restarted container is not pulled
again here."""


def cold_pull_seconds(image: str, result: PullResult) -> float:
    """Seconds (Azure time) a cold pull of ``image`` takes: see ``PULL_OVERHEAD_SECONDS``."""
    overhead = PULL_OVERHEAD_SECONDS.get(parse_image(image.strip()).host)
    if overhead is None or not result.ok or not result.size:
        return REALISTIC_SECONDS["replica.pull"]
    return round(overhead + result.size / PULL_BYTES_PER_SECOND, 2)


PORT_MISMATCH = "Pending:PortMismatch"
PORT_MISMATCH_WINDOW_SECONDS = 90.0
"""Azure attributes a target port nobody listens on (``Pending:PortMismatch``) only while a replica is
new: the Practical Guide's ingress-target-port-mismatch capture (github.com/yeongseon/
azure-container-apps-practical-guide, labs/ingress-target-port-mismatch/evidence/09-kql-after-trigger.json)
has 25 such rows in the ~85 s after the replica was created, none later, while ``ProbeFailed`` went on
(374 rows). The first one is always written, however fast the clock."""
PROBE_FAILED = "ProbeFailed"
PROCESS_EXITED = "ProcessExited"



def telemetry_schedule(divisor: float) -> dict[str, str]:
    """OpenTelemetry's export schedules on the emulator's clock (none on a real-time one).

    An instrumented workload batches spans and log records for 5 s and metrics for 60 s before it exports
    them (the OpenTelemetry SDK's defaults, https://opentelemetry.io/docs/specs/otel/configuration/sdk-environment-variables/);
    those are real seconds the fast clock cannot compress, so a lab waiting 10 minutes of Azure time for
    AppRequests would time out on the emulator. The replica gets the same schedules divided by the clock
    (floors 100 ms and 1 s); a value the app's own template sets wins, as any env var of the template does."""
    if divisor <= 1:
        return {}
    batch = str(max(100, round(5000 / divisor)))
    return {"OTEL_BSP_SCHEDULE_DELAY": batch, "OTEL_BLRP_SCHEDULE_DELAY": batch,
            "OTEL_METRIC_EXPORT_INTERVAL": str(max(1000, round(60000 / divisor)))}

class Kubelet:
    def __init__(self, service: AppService) -> None:
        self.svc = service
        self.p = service.p
        self.engine: ContainerEngine | None = None
        self._draining: dict[int, tuple[Revision, Replica]] = {}
        """Stopped replicas whose pods are still answering requests sent before the stop, by ``id()``."""

    def _engine(self) -> ContainerEngine:
        if self.engine is None:
            self.engine = ContainerEngine(self.p.state_dir)
        return self.engine

    # sizes and names ----------------------------------------------------------------------------
    @staticmethod
    def replica_count(rev: Revision) -> int:
        scale = rev.template["scale"]
        return max(1, min(int(scale.get("minReplicas") or 0), rev.max_replicas))

    def _pod_hash(self, rev: Revision, app: ContainerApp) -> str:
        seed = f"{rev.name}{self._target_port(app)}{time.monotonic()}{secrets.token_hex(4)}"
        return hashlib.sha256(seed.encode()).hexdigest()[:10]

    @staticmethod
    def _target_port(app: ContainerApp) -> int | None:
        ingress = app.configuration.get("ingress") or {}
        port = ingress.get("targetPort")
        return int(port) if port else None

    def new_replica(self, app: ContainerApp, rev: Revision, pod_hash: str) -> Replica:
        suffix = "".join(self.svc.rng.choice(REPLICA_ALPHABET) for _ in range(5))
        containers = [ContainerState(c["name"], c["image"]) for c in rev.template["containers"]]
        return Replica(f"{rev.name}-{pod_hash}-{suffix}", self.p.clock.now(), containers, pod_hash=pod_hash,
                       target_port=self._target_port(app))

    def _deadline(self) -> float:
        return time.monotonic() + self.p.clock.scale(PROGRESS_DEADLINE_SECONDS)

    # rollouts -----------------------------------------------------------------------------------
    def start_replicas(self, app: ContainerApp, rev: Revision) -> None:
        """A fresh set of replicas (new revision, activation, restart): the old ones stop."""
        for old in rev.replicas:
            self.stop_replica(old, rev)
        rev.pod_hash = self._pod_hash(rev, app)
        rev.replicas = [self.new_replica(app, rev, rev.pod_hash) for _ in range(self.replica_count(rev))]
        rev.desired = len(rev.replicas)
        rev.rolling_update = False
        rev.progress_deadline = self._deadline()
        rev.scaled_to_zero = False
        for rep in rev.replicas:
            self.schedule(app, rev, rep)
        self.svc.scaler.watch(app, rev)

    def roll(self, app: ContainerApp, rev: Revision) -> None:
        """An in-place change that alters the pods (ingress target port): a rolling update of the revision.

        New replicas start beside the old ones, which keep running until the new are ready; the edge
        already uses the new configuration (Azure answers 503 at once when the new port is wrong).
        """
        if not rev.active:
            return
        for rep in rev.replicas:
            if not rep.retiring:
                rep.retiring = True
        rev.pod_hash = self._pod_hash(rev, app)
        fresh = [self.new_replica(app, rev, rev.pod_hash) for _ in range(self.replica_count(rev))]
        rev.replicas.extend(fresh)
        rev.rolling_update = rev.became_ready
        rev.progress_deadline = self._deadline()
        for rep in fresh:
            self.schedule(app, rev, rep)

    def _alive(self, app: ContainerApp, rev: Revision, rep: Replica) -> bool:
        return not app.deleted and rev.active and rep in rev.replicas and app.revisions.get(rev.name) is rev

    def schedule(self, app: ContainerApp, rev: Revision, rep: Replica) -> None:
        self.svc.emit(app, syslog.NORMAL, syslog.ASSIGNING_REPLICA, syslog.assigning_replica(rep.name),
                      revision=rev.name, replica=rep.name, count=0)
        self.svc.after("replica.schedule", lambda due: self._pull(app, rev, rep, due))

    # pulls --------------------------------------------------------------------------------------
    def _pull(self, app: ContainerApp, rev: Revision, rep: Replica, due: float) -> None:
        if not self._alive(app, rev, rep):
            return
        rep.attempts += 1
        seconds = 0.0
        for c in rep.containers:
            self.svc.emit(app, syslog.NORMAL, syslog.PULLING_IMAGE, syslog.pulling_image(c.image), revision=rev.name,
                          replica=rep.name, container=c.name, count=rep.bump(syslog.PULLING_IMAGE), at=due)
            c.running_state, c.details = "Waiting", "Container is waiting with reason: PullingImage on legion."
            auth, _ = self.svc.pull_auth(app, c.image)
            c.pull_seconds = cold_pull_seconds(c.image, self.svc.check_pull(c.image, auth))
            seconds = max(seconds, c.pull_seconds)
        self.p.scheduler.at(due + self.p.clock.scale(seconds), lambda d: self._pulled(app, rev, rep, d))

    def _pulled(self, app: ContainerApp, rev: Revision, rep: Replica, due: float) -> None:
        if not self._alive(app, rev, rep):
            return
        failures: list[tuple[ContainerState, PullResult]] = []
        pulled: list[tuple[ContainerState, PullResult]] = []
        for c in rep.containers:
            auth, _ = self.svc.pull_auth(app, c.image)
            result = self.svc.check_pull(c.image, auth)
            (pulled if result.ok else failures).append((c, result))
        if failures:
            self._pull_failed(app, rev, rep, failures, due)
            return
        for c, result in pulled:
            self.svc.emit(app, syslog.NORMAL, syslog.PULLED_IMAGE,
                          syslog.pulled_image(c.image, c.pull_seconds, result.size or DEFAULT_IMAGE_SIZE),
                          revision=rev.name, replica=rep.name, container=c.name,
                          count=rep.bump(syslog.PULLED_IMAGE), at=due)
        self.svc.after("replica.start", lambda d: self._start_containers(app, rev, rep, d), due)

    def _pull_failed(self, app: ContainerApp, rev: Revision, rep: Replica,
                     failures: list[tuple[ContainerState, PullResult]], due: float) -> None:
        for c, result in failures:
            if result.code == "UNAUTHORIZED":
                self.svc.emit(app, syslog.NORMAL, syslog.IMAGE_PULL_UNAUTHORIZED, syslog.IMAGE_PULL_UNAUTHORIZED_MSG,
                              revision=rev.name, replica=rep.name, container=c.name,
                              count=rep.bump(syslog.IMAGE_PULL_UNAUTHORIZED), at=due)
            self.svc.emit(app, syslog.WARNING, syslog.CONTAINER_TERMINATED,
                          syslog.pull_failure_terminated(c.name, c.image, result), revision=rev.name,
                          replica=rep.name, container=c.name, count=rep.bump(syslog.CONTAINER_TERMINATED), at=due)
            c.running_state = "Waiting"
            c.details = "Container is waiting with reason: ImagePullBackOff on legion."
        rep.pull_failed = True
        rep.running_state = "NotRunning"
        if not rev.ready_logged:  # Azure logs RevisionReady for a revision that then fails to pull
            rev.ready_logged = True
            self.svc.emit(app, syslog.NORMAL, syslog.REVISION_READY, syslog.revision_ready(rev.name),
                          revision=rev.name, at=due)
        if rep.attempts < MAX_PULL_ATTEMPTS:
            delay = KUBELET_BACKOFF[min(rep.attempts - 1, len(KUBELET_BACKOFF) - 1)]
            self.p.scheduler.at(due + self.p.clock.scale(delay), lambda d: self._pull(app, rev, rep, d))

    # starting containers ------------------------------------------------------------------------
    def _start_containers(self, app: ContainerApp, rev: Revision, rep: Replica, due: float) -> None:
        """Prepare the images off the scheduler (unpacking, a virtualenv: real seconds), then launch."""
        if not self._alive(app, rev, rep):
            return
        rep.pull_failed = False
        if not self._ensure_pod(app, rev, rep):
            return
        template = {c["name"]: c for c in rev.template["containers"]}
        volumes = {v.get("name"): v for v in rev.template.get("volumes") or [] if isinstance(v, dict)}
        jobs = []
        for c in rep.containers:
            spec = template.get(c.name, {"name": c.name})
            for mount in spec.get("volumeMounts") or []:
                # The runtime mounts nothing (docs/runtime.md): say so rather than let a lab pass without it.
                volume = volumes.get(mount.get("volumeName")) or {}
                kind = volume.get("storageType") or "EmptyDir"
                storage = f", storage '{volume['storageName']}'" if volume.get("storageName") else ""
                self.p.unmodelled(app.id, f"volume '{mount.get('volumeName')}' ({kind}{storage}) mounted at "
                                          f"'{mount.get('mountPath')}' in container '{c.name}': the emulator's "
                                          "runtime does not mount volumes; the process runs without it")
            resolver = self.p.services.registry
            content = resolver.fetch(parse_image(c.image).pull_reference) if resolver is not None else None
            jobs.append((c, spec, content, {**rep.platform_env, **self._env_values(app, spec, self._secret_value)}))
        rep.preparing = True

        def prepare() -> None:
            plans: dict[str, LaunchPlan | Unrunnable] = {}
            for c, spec, content, env in jobs:
                try:
                    image = self._engine().prepare(c.image, content)
                    plans[c.name] = self._engine().plan(image, spec.get("command"), spec.get("args"), env)
                except Unrunnable as exc:
                    plans[c.name] = exc
                except Exception as exc:  # noqa: BLE001 - a pip or file-system failure: the replica says why, never runs
                    plans[c.name] = Unrunnable(f"image {c.image} could not be prepared: {exc}")
            with self.p.lock:  # launch now: the state must not wait for the next request to move
                self._launch_prepared(app, rev, rep, jobs, plans, time.monotonic())

        threading.Thread(target=prepare, name=f"acalab-prepare-{rep.name}", daemon=True).start()

    def _launch_prepared(self, app: ContainerApp, rev: Revision, rep: Replica, jobs: list[Any],
                         plans: dict[str, LaunchPlan | Unrunnable], due: float) -> None:
        rep.preparing = False
        if not self._alive(app, rev, rep) or not self._ensure_pod(app, rev, rep):
            return
        for index, (c, spec, _content, _env) in enumerate(jobs):
            plan = plans.get(c.name)
            if not isinstance(plan, LaunchPlan):
                self._unrunnable(app, c, str(plan))
                continue
            c.plan = plan
            c.memory_limit = memory_bytes((spec.get("resources") or {}).get("memory"))
            c.cpu = float((spec.get("resources") or {}).get("cpu") or 0)
            self._launch(app, rev, rep, c, spec, main=index == 0, due=due)
        self._update_replica(rep)
        if not rep.ticking:
            rep.ticking = True
            self.p.scheduler.at(due, lambda d: self._tick(app, rev, rep, d))

    def _ensure_pod(self, app: ContainerApp, rev: Revision, rep: Replica) -> bool:
        if rep.pod is not None:
            return True
        try:
            rep.pod = self._engine().open_pod(rep.name, lambda stream, line, t: self._console(
                app, rev, rep, stream, line, t))
        except Unrunnable as exc:
            for c in rep.containers:
                self._unrunnable(app, c, str(exc))
            return False
        self._serve_platform(app, rep, rep.pod)
        return True

    def _serve_platform(self, app: ContainerApp, rep: Replica, pod: Pod) -> None:
        """What the platform offers on a replica's loopback: the way out to Azure's host names (the emulator's
        proxy), and the identity endpoint when the app has a managed identity."""
        rep.platform_env.update(telemetry_schedule(self.p.clock.divisor))
        upstream = self.p.egress()
        try:
            if upstream is not None:
                pod.serve(egress.PORT, egress.RelayHandler, "egress", upstream=lambda: upstream)
                rep.platform_env.update({
                    "HTTPS_PROXY": f"http://127.0.0.1:{egress.PORT}", "https_proxy": f"http://127.0.0.1:{egress.PORT}",
                    "NO_PROXY": "localhost,127.0.0.1", "no_proxy": "localhost,127.0.0.1",
                    "REQUESTS_CA_BUNDLE": self.p.ca_bundle, "SSL_CERT_FILE": self.p.ca_bundle})
            system, users = identity_endpoint.identities_of(app.id, app.identity)
            if system is not None or users:
                header = self.p.remember_secret(secrets.token_hex(16))
                endpoint = identity_endpoint.IdentityEndpoint(self.p.identity, app.id, app.identity, header,
                                                              self.p.base_url)
                pod.serve(identity_endpoint.PORT, identity_endpoint.IdentityRequestHandler, "identity",
                          endpoint=endpoint, on_token=self.p.remember_secret)
                rep.platform_env.update({"IDENTITY_ENDPOINT": identity_endpoint.ENDPOINT,
                                         "MSI_ENDPOINT": identity_endpoint.ENDPOINT, "IDENTITY_HEADER": header})
        except (SandboxError, OSError) as exc:
            self.p.unmodelled(app.id, f"replica {rep.name}: the platform's loopback services could not start: {exc}")

    def _secret_value(self, app: ContainerApp, entry: dict[str, Any]) -> str:
        """A secret's value when a replica starts: a Key Vault reference is read again with its identity (the
        value Azure fetched when it accepted the app is kept if the vault now refuses)."""
        url = entry.get("keyVaultUrl")
        if url:
            value = self.svc.validator.key_vault_value(str(url), str(entry.get("identity") or ""), app.identity)
            if value is not None:
                self.p.remember_secret(value)
                return value
        return str(entry.get("value") or "")

    @staticmethod
    def _env_values(app: ContainerApp, spec: dict[str, Any],
                    secret_value: Callable[[ContainerApp, dict[str, Any]], str] | None = None) -> dict[str, str]:
        """The container's ``env``, ``secretRef`` values resolved from the app's secrets."""
        env = {}
        for var in spec.get("env") or []:
            name = var.get("name")
            if not name:
                continue
            if var.get("secretRef"):
                entry = app.secrets.get(var["secretRef"]) or {}
                env[name] = secret_value(app, entry) if secret_value else str(entry.get("value") or "")
            else:
                env[name] = str(var.get("value") if var.get("value") is not None else "")
        return env

    def _unrunnable(self, app: ContainerApp, c: ContainerState, reason: str) -> None:
        c.unrunnable = reason
        c.running_state, c.details = "Waiting", f"Container is waiting: {reason}"
        self.p.unmodelled(app.id, reason)

    def _launch(self, app: ContainerApp, rev: Revision, rep: Replica, c: ContainerState, spec: dict[str, Any],
                *, main: bool, due: float | None) -> None:
        assert rep.pod is not None
        if c.plan.missing is not None:
            ok, error = False, f"FileNotFoundError: {c.plan.missing}"
        else:
            ok, error = self._engine().start(rep.pod, c.name, c.plan, c.memory_limit, c.cpu)
        if not ok:
            missing = c.plan.missing or (c.plan.argv[0] if error.startswith("FileNotFoundError") else None)
            self.svc.emit(app, syslog.WARNING, syslog.CONTAINER_TERMINATED,
                          syslog.create_failure(c.name, missing, error), revision=rev.name, replica=rep.name,
                          container=c.name, count=rep.bump(syslog.CONTAINER_TERMINATED), at=due)
            self._crashed(app, rev, rep, c, 1, "ContainerCreateFailure")
            return
        self.svc.emit(app, syslog.NORMAL, syslog.CONTAINER_CREATED, syslog.container_created(c.name),
                      revision=rev.name, replica=rep.name, container=c.name,
                      count=rep.bump(syslog.CONTAINER_CREATED), at=due)
        self.svc.emit(app, syslog.NORMAL, syslog.CONTAINER_STARTED, syslog.container_started(c.name),
                      revision=rev.name, replica=rep.name, container=c.name,
                      count=rep.bump(syslog.CONTAINER_STARTED), at=due)
        now = time.monotonic()
        c.process_running, c.running_state, c.details = True, "Running", ""
        c.container_id = f"containerd://{secrets.token_hex(32)}"
        c.started_mono, c.listening, c.restart_due = now, [], None
        c.grace_until = now + START_GRACE_SECONDS
        c.probes = [ProbeState(kind, probe, next_due=now + self.p.clock.scale(float(
            probe.get("initialDelaySeconds") or 0))) for kind, probe in
            health.effective_probes(spec, rep.target_port, main)]
        has_startup = any(p.kind == health.STARTUP for p in c.probes)
        c.startup_passed = not has_startup
        c.started = not has_startup
        c.ready = c.startup_passed and not any(p.kind == health.READINESS for p in c.probes)

    # supervision --------------------------------------------------------------------------------
    def _tick(self, app: ContainerApp, rev: Revision, rep: Replica, due: float) -> None:
        if not self._alive(app, rev, rep):
            rep.ticking = False
            self.stop_replica(rep)
            return
        self._supervise(app, rev, rep)
        self._update_replica(rep)
        self._after_change(app, rev)
        if rep in rev.replicas:
            now = time.monotonic()
            self.p.scheduler.at(max(now + MIN_TICK_REAL, due + self.p.clock.scale(TICK_SECONDS)),
                                lambda d: self._tick(app, rev, rep, d))
        else:
            rep.ticking = False

    def _supervise(self, app: ContainerApp, rev: Revision, rep: Replica) -> None:
        try:
            if rep.pod is None:
                raise SandboxError("no pod")
            status = rep.pod.status()
            ports = rep.pod.listening_ports() if status.running else []
        except SandboxError as exc:  # the sandbox died: its containers with it; a restart opens a new one
            if rep.pod is not None:
                log.warning("replica %s lost its pod: %s", rep.name, exc)
                rep.pod.close()
                rep.pod = None
            status, ports = None, []
        exits = status.exits if status is not None else [
            ContainerExit(c.name, 137, 9, False, 0, time.time()) for c in rep.containers if c.process_running]
        by_name = {c.name: c for c in rep.containers}
        for ended in exits:
            c = by_name.get(ended.name)
            if c is not None and c.process_running:
                self._exited(app, rev, rep, c, ended)
        if status is not None:
            self._sample(app, rev, rep, status)
        now = time.monotonic()
        for c in rep.containers:
            if c.process_running:
                c.listening = ports
                if ports:
                    c.last_listening = ports
                if ports or now >= c.grace_until:
                    c.grace_until = 0.0
                self._probe(app, rev, rep, c, now)
                if c.ready and c.crash_looping:
                    c.crash_looping = False
                if c.ready and now - c.started_mono > self.p.clock.scale(BACKOFF_RESET_SECONDS):
                    c.backoff_step = 0
            elif (c.restart_due is not None and now >= c.restart_due and c.unrunnable is None
                  and self._ensure_pod(app, rev, rep)):
                spec = next((s for s in rev.template["containers"] if s["name"] == c.name), {"name": c.name})
                c.restart_count += 1
                self.svc.metrics.container_restarted(rep.name, c.name, app.id)
                self._launch(app, rev, rep, c, spec, main=rep.containers[0] is c, due=None)

    def _sample(self, app: ContainerApp, rev: Revision, rep: Replica, status: Any) -> None:
        """Feed the metrics: each running container's memory and CPU time as the pod just measured them."""
        for c in rep.containers:
            if c.process_running and c.name in status.rss:
                self.svc.metrics.container_sample(
                    app.id, rev.name, rep.name, c.name, rss=status.rss[c.name],
                    cpu_ns=status.cpu_ns.get(c.name, 0), memory_limit=c.memory_limit, cpu_limit=c.cpu,
                    restarts=c.restart_count)

    def _probe(self, app: ContainerApp, rev: Revision, rep: Replica, c: ContainerState, now: float) -> None:
        pod = rep.pod
        if pod is None:
            return
        for ps in c.probes:
            if not c.process_running:
                return
            if ps.kind == health.STARTUP and c.startup_passed:
                continue
            if ps.kind != health.STARTUP and not c.startup_passed:
                continue
            if now < ps.next_due:
                continue
            period = self.p.clock.scale(float(ps.spec.get("periodSeconds") or 10))
            missed = 1 + int((now - ps.next_due) / period) if period > 0 else 1
            ps.next_due = now + period
            outcome = health.run_probe(ps.spec, pod.connect)
            if outcome.ok:
                ps.failures = 0
                ps.successes += 1
                if ps.successes >= int(ps.spec.get("successThreshold") or 1):
                    ps.passed = True
                    self._probe_passed(c, ps)
                continue
            if c.grace_until > now:
                continue  # a real process is still starting: its start-up time is not the clock's to compress
            if outcome.code == health.TIMED_OUT and now - c.started_mono < START_GRACE_SECONDS:
                continue  # listening but not answering yet (gunicorn's workers still import the app): the same
            threshold = int(ps.spec.get("failureThreshold") or 3)
            missed = min(missed, threshold)
            ps.successes, ps.passed = 0, False
            ps.failures += missed
            ps.last_detail = outcome.code
            self.svc.emit(app, syslog.WARNING, PROBE_FAILED, health.probe_failed(ps.kind, outcome.code),
                          revision=rev.name, replica=rep.name, container=c.name,
                          count=rep.bump(PROBE_FAILED, missed))
            port = health.probe_port(ps.spec)
            if (port is not None and port == rep.target_port and c.listening and port not in c.listening
                    and (not rep.counts.get(PORT_MISMATCH)
                         or now - c.started_mono < self.p.clock.scale(PORT_MISMATCH_WINDOW_SECONDS))):
                self.svc.emit(app, syslog.NORMAL, PORT_MISMATCH, port_mismatch_text(port, c.listening),
                              revision=rev.name, replica=rep.name, container=c.name,
                              count=rep.bump(PORT_MISMATCH, missed))
            if ps.kind == health.READINESS and ps.failures >= threshold:
                c.ready = False
            if ps.kind in (health.STARTUP, health.LIVENESS) and ps.failures >= threshold:
                self._kill_for_probe(app, rev, rep, c, ps.kind)
                return

    @staticmethod
    def _probe_passed(c: ContainerState, ps: ProbeState) -> None:
        if ps.kind == health.STARTUP:
            c.startup_passed = True
            c.started = True
            if not any(p.kind == health.READINESS for p in c.probes):
                c.ready = True
        elif ps.kind == health.READINESS:
            c.ready = True

    def _kill_for_probe(self, app: ContainerApp, rev: Revision, rep: Replica, c: ContainerState,
                        kind: str = health.STARTUP) -> None:
        assert rep.pod is not None
        # The kubelet's own line before the kill, as Azure's system logs carry it (Practical Guide,
        # revision-provisioning-failure): ProbeFailed "Container app failed startup probe, will be restarted".
        self.svc.emit(app, syslog.WARNING, PROBE_FAILED,
                      f"Container {c.name} failed {kind.lower()} probe, will be restarted",
                      revision=rev.name, replica=rep.name, container=c.name,
                      count=rep.bump(PROBE_FAILED + ":restart"))
        try:
            rep.pod.kill(c.name, signal.SIGKILL, wait=True)
            rep.pod.status()  # collect (and drop) the exit the kill caused
        except SandboxError:
            pass
        self.svc.emit(app, syslog.WARNING, syslog.CONTAINER_TERMINATED, health.probe_failure_terminated(c.name),
                      revision=rev.name, replica=rep.name, container=c.name,
                      count=rep.bump(syslog.CONTAINER_TERMINATED))
        self._crashed(app, rev, rep, c, None, "ProbeFailure")

    def _exited(self, app: ContainerApp, rev: Revision, rep: Replica, c: ContainerState, ended: ContainerExit) -> None:
        at = time.monotonic() - max(0.0, time.time() - ended.at)
        self.svc.emit(app, syslog.WARNING, syslog.CONTAINER_TERMINATED,
                      health.process_exited_terminated(c.name, ended.code), revision=rev.name, replica=rep.name,
                      container=c.name, count=rep.bump(syslog.CONTAINER_TERMINATED), at=at)
        if ended.oom or ended.code == 137:
            self.svc.emit(app, syslog.WARNING, PROCESS_EXITED, health.process_exited(c.name, ended.code),
                          revision=rev.name, replica=rep.name, container=c.name, count=rep.bump(PROCESS_EXITED),
                          at=at)
        self._crashed(app, rev, rep, c, ended.code, "OOMKilled" if ended.oom else "ProcessExited")

    def _crashed(self, app: ContainerApp, rev: Revision, rep: Replica, c: ContainerState, code: int | None,
                 reason: str) -> None:
        """The container is down: Kubernetes restarts it after a back-off that doubles up to 5 minutes."""
        c.process_running = c.ready = c.started = c.startup_passed = False
        c.grace_until = 0.0
        c.crash_looping = True
        c.last_exit_code, c.last_reason = code, reason
        c.running_state = "Waiting"
        c.details = "Container is waiting with reason: CrashLoopBackOff on legion."
        delay = KUBELET_BACKOFF[min(c.backoff_step, len(KUBELET_BACKOFF) - 1)]
        floor = MIN_RESTART_REAL[min(c.backoff_step, len(MIN_RESTART_REAL) - 1)]
        c.backoff_step += 1
        c.restart_due = time.monotonic() + max(self.p.clock.scale(delay), floor)

    # state --------------------------------------------------------------------------------------
    @staticmethod
    def _update_replica(rep: Replica) -> None:
        rep.running_state = "Running" if rep.containers and all(
            c.process_running for c in rep.containers) else "NotRunning"

    def _after_change(self, app: ContainerApp, rev: Revision) -> None:
        """Finish a rollout once its replicas are ready: retire the old ones, mark the revision ready."""
        current = rev.current
        if current and all(r.ready for r in current):
            rev.progress_deadline = None
            for old in [r for r in rev.replicas if r.retiring]:
                self.stop_replica(old, rev)
                rev.replicas.remove(old)
            rev.rolling_update = False
            if not rev.became_ready:
                self.svc.after("revision.ready", lambda d: self.svc.revision_ready(app, rev, d))

    def stop_replica(self, rep: Replica, rev: Revision | None = None) -> None:
        """Stop a replica; the edge sends it nothing more.

        Given its revision, requests already sent to it are answered first, within the revision's termination
        grace period: Azure's edge stops routing to a replica that is shutting down while its
        in-flight requests finish, so a revision switch in single revision mode loses none ("zero downtime",
        https://learn.microsoft.com/azure/container-apps/revisions). The period is counted in real seconds, like
        the requests it waits for. Without a revision (the app is deleted, the emulator stops) the pod is closed
        at once.
        """
        pod, rep.pod = rep.pod, None
        for c in rep.containers:
            c.process_running = c.ready = False
        if pod is None:
            return
        if rev is not None and rep.in_flight > 0:
            rep.draining = pod
            self._draining[id(rep)] = (rev, rep)
            grace = float(rev.template.get("terminationGracePeriodSeconds") or TERMINATION_GRACE_SECONDS)
            # real seconds: what it bounds is the workload's own processing time, which no clock compresses
            self.p.scheduler.after(grace, lambda _due: self.drained(rep))
            return
        pod.close()

    def request_done(self, rep: Replica) -> None:
        """The edge has the answer of one request it sent to ``rep`` (called under the platform lock)."""
        rep.in_flight -= 1
        if rep.in_flight <= 0 and rep.draining is not None:
            self.drained(rep)

    def drained(self, rep: Replica) -> None:
        """A stopping replica's last request was answered, or its grace period is over: its pod stops."""
        self._draining.pop(id(rep), None)
        pod, rep.draining = rep.draining, None
        if pod is not None:
            pod.close()

    def close_draining(self, app: ContainerApp | None = None) -> None:
        """Stop the pods still finishing their requests: ``app``'s (it is deleted), or all (the emulator stops)."""
        for rev, rep in list(self._draining.values()):
            if app is None or any(r is rev for r in app.revisions.values()):
                self.drained(rep)

    # console ------------------------------------------------------------------------------------
    def _console(self, app: ContainerApp, rev: Revision, rep: Replica, stream: str, text: str, when: float) -> None:
        """A line from a replica's pod (called on the pod's log thread)."""
        with self.p.lock:
            c = rep.containers[0] if rep.containers else None
            if c is None:
                return
            line = ConsoleLine(datetime.fromtimestamp(when, UTC), stream, text, app.name, rev.name, rep.name, c.name,
                               c.image, (c.container_id or "").removeprefix("containerd://"), app.env.name)
            app.console.append(line)
            if len(app.console) > 10_000:
                excess = len(app.console) - 10_000
                del app.console[:excess]
                app.console_dropped += excess
            env = app.env
            logs = self.p.services.logs
            if logs is None:
                return
            if env.destination == "log-analytics" and env.customer_id:
                logs.ingest(env.customer_id, CONSOLE_LEGACY_TABLE, [legacy_row(line)], line.time)
            elif env.destination == "azure-monitor" and env.diagnostic_customer_id:
                row = resource_row(line, location=env.location, resource_id=app.id,
                                   subscription_id=app.rid.subscription, tenant_id=self.p.store.tenant_id)
                logs.ingest(env.diagnostic_customer_id, CONSOLE_RESOURCE_TABLE, [row], line.time)

    # revision actions ---------------------------------------------------------------------------
    def deactivate(self, app: ContainerApp, rev: Revision, at: float | None = None) -> None:
        if not rev.active:
            return
        self.svc.scaler.unwatch(app, rev, at)
        for rep in rev.replicas:
            for c in rep.containers:
                if c.running_state == "Running":
                    self.svc.emit(app, syslog.WARNING, syslog.CONTAINER_TERMINATED, syslog.manually_stopped(c.name),
                                  revision=rev.name, replica=rep.name, container=c.name,
                                  count=rep.bump(syslog.CONTAINER_TERMINATED), at=at)
            self.stop_replica(rep, rev)
        rev.active = False
        rev.replicas = []
        rev.progress_deadline = None
        rev.last_active = wall_at(at) if at is not None else self.p.clock.now()

    def activate(self, app: ContainerApp, rev: Revision) -> None:
        if rev.active:
            return
        rev.active, rev.became_ready = True, False
        self.start_replicas(app, rev)

    def restart(self, app: ContainerApp, rev: Revision) -> None:
        """New replicas replace the old ones; each pulls its image again."""
        if not rev.active:
            raise bad_request("ContainerAppRevisionNotActive",
                              f"Cannot restart revision '{rev.name}' because it is not active.")
        rev.became_ready = False
        self.start_replicas(app, rev)

    def stop_app(self, app: ContainerApp) -> None:
        for rev in app.revisions.values():
            self.svc.scaler.unwatch(app, rev, quiet=True)
            for rep in rev.replicas:
                self.stop_replica(rep)
            rev.active = False
            rev.replicas = []
        self.close_draining(app)
