"""Microsoft.App state: managed environments, container apps, revisions, replicas, and their names.

Plain data, no HTTP and no clockwork: ``service`` moves these objects, ``replicas`` runs them,
``responses`` renders them. Shapes and enum values follow real captures of Azure's answers.
"""

from __future__ import annotations

import copy
import json
import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from pytest_acalab.emulator.app import syslog
from pytest_acalab.emulator.app.sourcecontrols import SourceControl
from pytest_acalab.emulator.platform.errors import ArmError
from pytest_acalab.emulator.platform.resource_types import ResourceId
from pytest_acalab.emulator.platform.services import PullAuth, PullResult

if TYPE_CHECKING:
    from pytest_acalab.emulator.app.consolelogs import ConsoleLine
    from pytest_acalab.emulator.runtime.sandbox import Pod

ENV_TYPE = "Microsoft.App/managedEnvironments"
APP_TYPE = "Microsoft.App/containerApps"
KUBELET_BACKOFF = (10, 20, 40, 80, 160, 300)
MAX_PULL_ATTEMPTS = 30
"""Kubelet retries forever; the emulator stops a replica's loop after this many attempts (~2 h on Azure)."""
CONSUMPTION_PAIRS = tuple((q / 4, q / 2) for q in range(1, 9))
APP_NAME = re.compile(r"^[a-z][a-z0-9-]{0,30}[a-z0-9]$")
RFC1123 = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
REVISION_SUFFIX = re.compile(r"^[a-z]([-a-z0-9]*[a-z0-9])?$")
GUID = re.compile(r"^[0-9a-fA-F]{8}-([0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}$")
SECRET_NAME = re.compile(r"^[a-z0-9][-.a-z0-9]*[a-z0-9]$|^[a-z0-9]$")
WORDS_A = ("mango", "orange", "blue", "icy", "happy", "gentle", "calm", "wonderful", "purple", "yellow",
            "salmon", "ashy", "lively", "proud", "thankful", "victorious", "jollyfield", "kindbush")
WORDS_B = ("hill", "flower", "rock", "sky", "sea", "desert", "pond", "wave", "moss", "river", "grass", "stone")
REPLICA_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"
PULL_BACKOFF_DETAILS = "Pending:ImagePullBackOff on legion"


def location_key(location: str) -> str:
    """``North Central US (Stage)`` → ``northcentralusstage`` (how Azure spells locations in URLs)."""
    return re.sub(r"[^a-z0-9]", "", location.lower())


def iso_seconds(dt: datetime) -> str:
    return dt.strftime("%Y-%m-%dT%H:%M:%S+00:00")


def iso7(dt: datetime) -> str:
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{dt.microsecond:06d}0Z"


def bad_request(code: str, message: str) -> ArmError:
    return ArmError(400, code, message)


def deep_merge(base: dict[str, Any], patch: dict[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(base)
    for k, v in patch.items():
        if isinstance(v, dict) and isinstance(out.get(k), dict):
            out[k] = deep_merge(out[k], v)
        else:
            out[k] = copy.deepcopy(v)
    return out


# image references ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class ImageRef:
    text: str
    host: str
    repository: str
    tag: str | None
    digest: str | None

    @property
    def pull_reference(self) -> str:
        """The reference pulled: a missing tag means ``latest`` (Azure validates ``…:latest``)."""
        if self.digest:
            return self.text
        return self.text if self.tag else f"{self.text}:latest"

    @property
    def effective_tag(self) -> str:
        return self.tag or "latest"


def parse_image(text: str) -> ImageRef:
    rest, _, digest = text.partition("@")
    first, slash, remainder = rest.partition("/")
    if slash and ("." in first or ":" in first or first == "localhost"):
        host, path = first.lower(), remainder
    else:
        host, path = "docker.io", rest
    tag = None
    last = path.rsplit("/", 1)[-1]
    if ":" in last:
        path, tag = path.rsplit(":", 1)
    return ImageRef(text, host, path, tag, digest or None)


def validation_detail(image: str, result: PullResult, auth: PullAuth, identity_label: str | None) -> str:
    """What ``Field 'template.containers.<c>.image' is invalid with details: '<this>'`` says after the value."""
    ref = parse_image(image)
    code = result.code or "UNKNOWN"
    if identity_label and code in ("UNAUTHORIZED", "DENIED"):
        return f"unable to pull image using Managed identity {identity_label} for registry {ref.host}"
    if code == "NO_SUCH_HOST":
        return (f"failed to resolve registry '{ref.host}': lookup {ref.host} on 100.100.253.162:53: "
                "no such host")
    if code == "UNAUTHORIZED":
        return (f"GET https:?scope=repository%3A{ref.repository}%3Apull&service={ref.host}: UNAUTHORIZED: "
                "authentication required, visit https://aka.ms/acr/authorization for more information.")
    if code == "MANIFEST_UNKNOWN":
        tag = ref.effective_tag
        msg = result.message or f'manifest tagged by "{tag}" is not found'
        return f"GET https:: MANIFEST_UNKNOWN: {msg}; map[Tag:{tag}]"
    if code == "NAME_UNKNOWN":
        msg = result.message or "repository name not known to registry"
        return f"GET https:: NAME_UNKNOWN: {msg}; map[name:{ref.repository}]"
    return f"GET https:: {code}: {result.message}"


# state --------------------------------------------------------------------------------------------
@dataclass
class Environment:
    rid: ResourceId
    location: str
    tags: dict[str, str] | None
    properties: dict[str, Any]
    """Request properties kept as sent (minus the shared key), echoed back on GET."""
    default_domain: str
    static_ip: str
    outbound_ips: list[str]
    created: datetime
    created_by: str
    destination: str | None = None
    customer_id: str | None = None
    shared_key: str | None = None
    provisioning_state: str = "Waiting"
    diagnostic_customer_id: str | None = None
    """Workspace of the ``ContainerAppSystemLogs`` diagnostic setting (destination ``azure-monitor``)."""
    events: list[syslog.SystemEvent] = field(default_factory=list)
    deleted: bool = False
    storages: dict[str, dict[str, Any]] = field(default_factory=dict)
    """``managedEnvironments/storages`` by name: ``{"azureFile": {...}}`` as sent (app/storages.py)."""

    @property
    def id(self) -> str:
        return self.rid.id

    @property
    def name(self) -> str:
        return self.rid.name


@dataclass
class ProbeState:
    """One probe of one running container: what it checks and how it has been doing."""

    kind: str
    """``Startup`` | ``Liveness`` | ``Readiness`` (the spec's spelling)."""
    spec: dict[str, Any]
    next_due: float = 0.0
    failures: int = 0
    successes: int = 0
    passed: bool = False
    last_detail: str = ""


@dataclass
class ContainerState:
    name: str
    image: str
    running_state: str = "Waiting"
    details: str = "Container is waiting with reason: PullingImage on legion."
    ready: bool = False
    started: bool = False
    restart_count: int = 0
    container_id: str | None = None
    # the running process, as the runtime reports it
    process_running: bool = False
    started_mono: float = 0.0
    pull_seconds: float = 0.0
    """Azure seconds the container's last cold pull took (what its PulledImage event says)."""
    """Monotonic time the current process was started (real time: a process's start-up cannot be compressed)."""
    grace_until: float = 0.0
    """Until then (monotonic) a process that listens nowhere yet is still starting, whatever the clock says."""
    probes: list[ProbeState] = field(default_factory=list)
    startup_passed: bool = False
    listening: list[int] = field(default_factory=list)
    last_listening: list[int] = field(default_factory=list)
    """The ports the process listened on when last seen listening (kept across restarts, for the details)."""
    crash_looping: bool = False
    backoff_step: int = 0
    restart_due: float | None = None
    last_exit_code: int | None = None
    last_reason: str = ""
    unrunnable: str | None = None
    """Why the emulator cannot run this container (it is then never reported as running)."""
    plan: Any = None
    """The runtime's launch plan (argv, environment, working directory), kept for restarts."""
    memory_limit: int = 0
    cpu: float = 0.0


@dataclass
class Replica:
    name: str
    created: datetime
    containers: list[ContainerState]
    running_state: str = "NotRunning"
    pull_failed: bool = False
    attempts: int = 0
    counts: dict[str, int] = field(default_factory=dict)
    pod_hash: str = ""
    """The pod template this replica runs (changes on an in-place update that restarts replicas)."""
    target_port: int | None = None
    """The ingress target port when the replica was created: default probes check it."""
    pod: Pod | None = None
    ticking: bool = False
    preparing: bool = False
    """Its images are being unpacked and their Python environments built (real time, off the scheduler)."""
    retiring: bool = False
    """An older generation kept serving until the new one is ready (rolling update)."""
    platform_env: dict[str, str] = field(default_factory=dict)
    """Variables the platform sets in every container of the replica (identity endpoint, egress)."""
    in_flight: int = 0
    """Requests the edge has sent to this replica that are not answered yet."""
    draining: Pod | None = None
    """A stopped replica's pod, kept until its in-flight requests are answered (or its grace period ends)."""

    def bump(self, reason: str, by: int = 1) -> int:
        self.counts[reason] = self.counts.get(reason, 0) + by
        return self.counts[reason]

    @property
    def ready(self) -> bool:
        return bool(self.containers) and all(c.ready for c in self.containers)


CONTAINER_CRASHING = "Container crashing"
DEADLINE_EXCEEDED = "Deployment Progress Deadline Exceeded."


def port_mismatch_text(target: int, listening: list[int]) -> str:
    """Azure's words for a target port nobody listens on (``Pending:PortMismatch`` and the revision's details)."""
    return f"The TargetPort {target} does not match the listening port {listening[0]}."


@dataclass
class Revision:
    name: str
    template: dict[str, Any]
    created: datetime
    pod_hash: str
    active: bool = True
    replicas: list[Replica] = field(default_factory=list)
    last_active: datetime | None = None
    ready_logged: bool = False
    became_ready: bool = False
    announce_app_ready: bool = False
    progress_deadline: float | None = None
    """Monotonic time by which the current rollout must have a ready replica (Kubernetes' progress deadline)."""
    rolling_update: bool = False
    """The rollout replaces replicas of a revision that was already serving (an in-place app change)."""
    desired: int = 1
    scaling: bool = False
    """The autoscaler is adding replicas to a revision that already serves (it stays Healthy meanwhile)."""
    scaled_to_zero: bool = False
    """The autoscaler removed every replica (``minReplicas: 0``, no load for the cooldown period)."""

    @property
    def max_replicas(self) -> int:
        return int(self.template["scale"].get("maxReplicas") or 10)

    @property
    def failing(self) -> list[Replica]:
        return [r for r in self.replicas if r.pull_failed]

    @property
    def current(self) -> list[Replica]:
        """Replicas of the current pod template (not the ones retiring after an in-place update)."""
        return [r for r in self.replicas if not r.retiring]

    @property
    def all_running(self) -> bool:
        cur = self.current
        return bool(cur) and all(r.running_state == "Running" and r.ready for r in cur)

    @property
    def serving(self) -> list[Replica]:
        """Replicas the edge may send requests to: ready ones, of any generation."""
        return [r for r in self.replicas if r.ready]

    def unrunnable(self) -> str | None:
        for rep in self.replicas:
            for c in rep.containers:
                if c.unrunnable:
                    return c.unrunnable
        return None

    def port_mismatch(self) -> tuple[int, list[int]] | None:
        for rep in self.current:
            if rep.target_port is None or rep.ready:
                continue
            for c in rep.containers:
                if c.last_listening and rep.target_port not in c.last_listening:
                    return rep.target_port, c.last_listening
        return None

    def states(self, now: float) -> dict[str, Any]:
        """Health, provisioning and running state with their details, in Azure's words.

        The rules follow live captures: a pull that fails (ImagePullBackOff), a container that keeps
        crashing (``1/1 Container crashing: app``, Failed), a rollout past its progress deadline
        (``Deployment Progress Deadline Exceeded. 0/1 replicas ready.`` plus the port sentence when
        the process listens elsewhere; Degraded for a new revision, Failed for an in-place update of
        one that was serving), an in-place update still within its deadline (still Healthy).
        """
        if not self.active:
            return {"healthState": "Healthy", "provisioningState": "Provisioned", "runningState": "Stopped"}
        if self.failing:
            return {"healthState": "Unhealthy", "provisioningState": "Failed", "runningState": "Failed",
                    "runningStateDetails": f"{len(self.failing)}/{len(self.replicas)} {PULL_BACKOFF_DETAILS}",
                    "provisioningError": PULL_BACKOFF_DETAILS}
        cur = self.current
        if not self.replicas and self.scaled_to_zero:  # observed: "runningState": "ScaledToZero"
            return {"healthState": "Healthy", "provisioningState": "Provisioned", "runningState": "ScaledToZero"}
        if self.all_running and not any(r.retiring for r in self.replicas):
            running = "RunningAtMaxScale" if len(cur) >= self.max_replicas else "Running"
            return {"healthState": "Healthy", "provisioningState": "Provisioned", "runningState": running}
        why = self.unrunnable()
        if why:
            return {"healthState": "None", "provisioningState": "Provisioning", "runningState": "Activating",
                    "runningStateDetails": why}
        ready = sum(1 for r in cur if r.ready)
        mismatch = self.port_mismatch()
        # Only a first start holds the deadline back: a container restarted after it (a startup probe past
        # its threshold) does not bring the revision back to Activating; Azure stays Degraded meanwhile.
        starting = any(r.preparing or any(c.grace_until > now and not c.restart_count for c in r.containers)
                       for r in cur)
        overdue = self.progress_deadline is not None and now >= self.progress_deadline and not starting
        if overdue and (mismatch or not self._crashing(cur)):
            details = f"{DEADLINE_EXCEEDED} {ready}/{len(cur)} replicas ready."
            if mismatch:
                details += " " + port_mismatch_text(*mismatch)
            return {"healthState": "Unhealthy", "provisioningState": "Provisioned",
                    "runningState": "Failed" if self.rolling_update else "Degraded",
                    "runningStateDetails": details}
        crashing = self._crashing(cur)
        if crashing and not mismatch:
            name = crashing[0]
            return {"healthState": "Unhealthy", "provisioningState": "Failed", "runningState": "Failed",
                    "runningStateDetails": f"{len(crashing)}/{len(cur)} {CONTAINER_CRASHING}: {name}",
                    "provisioningError": f"{CONTAINER_CRASHING}: {name}"}
        if (self.rolling_update or self.scaling) and self.serving:
            running = "RunningAtMaxScale" if len(self.serving) >= self.max_replicas else "Running"
            return {"healthState": "Healthy", "provisioningState": "Provisioned", "runningState": running}
        if mismatch:  # within the deadline: recorded (containerapp debug 2025; guide's traffic-routing-canary)
            return {"healthState": "None", "provisioningState": "Provisioned", "runningState": "Activating",
                    "runningStateDetails": port_mismatch_text(*mismatch)}
        return {"healthState": "None", "provisioningState": "Provisioning", "runningState": "Activating"}

    @staticmethod
    def _crashing(replicas: list[Replica]) -> list[str]:
        return [c.name for r in replicas for c in r.containers if c.crash_looping and not c.ready]


@dataclass
class ContainerApp:
    rid: ResourceId
    location: str
    env: Environment
    created: datetime
    created_by: str
    tags: dict[str, str] | None = None
    identity: dict[str, Any] = field(default_factory=lambda: {"type": "None"})
    configuration: dict[str, Any] = field(default_factory=dict)
    template: dict[str, Any] = field(default_factory=dict)
    secrets: dict[str, dict[str, Any]] = field(default_factory=dict)
    """name → secret entry as sent (with ``value``); GET shows names only."""
    workload_profile: str = "Consumption"
    provisioning_state: str = "InProgress"
    ever_succeeded: bool = False
    revisions: dict[str, Revision] = field(default_factory=dict)
    latest_revision: str | None = None
    latest_ready: str | None = None
    events: list[syslog.SystemEvent] = field(default_factory=list)
    console: list[ConsoleLine] = field(default_factory=list)
    console_dropped: int = 0
    """Console lines dropped from the front of ``console`` (it keeps the newest 10,000)."""
    deleted: bool = False
    modified: datetime | None = None
    ingress_requests: dict[tuple[str, int], int] = field(default_factory=dict)
    """(revision, HTTP status) → requests the edge answered (``ingress.Edge``), for request metrics."""
    source_controls: dict[str, SourceControl] = field(default_factory=dict)
    """name → GitHub Actions source control (``containerApps/sourcecontrols``)."""

    @property
    def id(self) -> str:
        return self.rid.id

    @property
    def name(self) -> str:
        return self.rid.name

    @property
    def single_mode(self) -> bool:
        return self.configuration.get("activeRevisionsMode", "Single") == "Single"

    def traffic(self) -> list[dict[str, Any]] | None:
        ingress = self.configuration.get("ingress")
        if not ingress:
            return None
        if self.single_mode or not ingress.get("traffic"):
            return [{"weight": 100, "latestRevision": True}]
        return ingress["traffic"]

    def traffic_weight(self, revision: str) -> int:
        rev = self.revisions.get(revision)
        if rev is None or not rev.active:
            return 0
        total = 0
        for entry in self.traffic() or [{"weight": 100, "latestRevision": True}]:
            target = self.latest_revision if entry.get("latestRevision") else entry.get("revisionName")
            if target == revision:
                total += int(entry.get("weight") or 0)
        return total


@dataclass
class Spec:
    """A validated container app request, normalised to what GET shows."""

    location: str
    tags: dict[str, str] | None
    env: Environment
    identity: dict[str, Any]
    configuration: dict[str, Any]
    template: dict[str, Any]
    secrets: dict[str, dict[str, Any]]
    workload_profile: str


def gib(value: Any) -> float:
    text = str(value).strip()
    if text.endswith("Gi"):
        return float(text[:-2])
    if text.endswith("Mi"):
        return float(text[:-2]) / 1024
    raise ValueError(text)


def fmt_gib(value: float) -> str:
    return f"{value:g}Gi"


def template_key(template: dict[str, Any]) -> str:
    t = copy.deepcopy(template)
    t["revisionSuffix"] = t.get("revisionSuffix") or None
    return json.dumps(t, sort_keys=True)
