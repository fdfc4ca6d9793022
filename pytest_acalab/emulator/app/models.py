"""Microsoft.App state: managed environments, container apps, revisions, replicas (no HTTP here).

Shapes and transitions follow real captures (FIELD-NOTES 1-4): image validation when an image reference
changes (case A), image pulls at replica start with kubelet back-off (case B), revisions and their
enum values, and the system-log events both log surfaces carry.
"""

from __future__ import annotations

import copy
import hashlib
import random
import re
import secrets
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from pytest_acalab.emulator.app import syslog
from pytest_acalab.emulator.app.runtime import AssumeListening, ContainerRuntime
from pytest_acalab.emulator.platform.clock import REALISTIC_SECONDS, wall_at
from pytest_acalab.emulator.platform.errors import ArmError
from pytest_acalab.emulator.platform.resource_types import ResourceId
from pytest_acalab.emulator.platform.services import PullAuth, PullResult

if TYPE_CHECKING:
    from pytest_acalab.emulator.platform.core import Platform

ENV_TYPE = "Microsoft.App/managedEnvironments"
APP_TYPE = "Microsoft.App/containerApps"
KUBELET_BACKOFF = (10, 20, 40, 80, 160, 300)
MAX_PULL_ATTEMPTS = 30
"""Kubelet retries forever; the emulator stops a replica's loop after this many attempts (~2 h on Azure)."""
CONSUMPTION_PAIRS = tuple((q / 4, q / 2) for q in range(1, 9))
_APP_NAME = re.compile(r"^[a-z][a-z0-9-]{0,30}[a-z0-9]$")
_RFC1123 = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_SUFFIX = re.compile(r"^[a-z]([-a-z0-9]*[a-z0-9])?$")
_GUID = re.compile(r"^[0-9a-fA-F]{8}-([0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}$")
_SECRET_NAME = re.compile(r"^[a-z0-9][-.a-z0-9]*[a-z0-9]$|^[a-z0-9]$")
_WORDS_A = ("mango", "orange", "blue", "icy", "happy", "gentle", "calm", "wonderful", "purple", "yellow",
            "salmon", "ashy", "lively", "proud", "thankful", "victorious", "jollyfield", "kindbush")
_WORDS_B = ("hill", "flower", "rock", "sky", "sea", "desert", "pond", "wave", "moss", "river", "grass", "stone")
_REPLICA_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"
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


def _deep_merge(base: dict[str, Any], patch: dict[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(base)
    for k, v in patch.items():
        if isinstance(v, dict) and isinstance(out.get(k), dict):
            out[k] = _deep_merge(out[k], v)
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
class ContainerState:
    name: str
    image: str
    running_state: str = "Waiting"
    details: str = "Container is waiting with reason: PullingImage on legion."
    ready: bool = False
    started: bool = False
    restart_count: int = 0
    container_id: str | None = None


@dataclass
class Replica:
    name: str
    created: datetime
    containers: list[ContainerState]
    running_state: str = "NotRunning"
    pull_failed: bool = False
    attempts: int = 0
    counts: dict[str, int] = field(default_factory=dict)

    def bump(self, reason: str) -> int:
        self.counts[reason] = self.counts.get(reason, 0) + 1
        return self.counts[reason]


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
    runtime_details: str | None = None
    """Why a started container does not serve (the runtime's ``StartOutcome.details``, e.g. a port mismatch)."""

    @property
    def max_replicas(self) -> int:
        return int(self.template["scale"].get("maxReplicas") or 10)

    @property
    def failing(self) -> list[Replica]:
        return [r for r in self.replicas if r.pull_failed]

    @property
    def all_running(self) -> bool:
        return bool(self.replicas) and all(r.running_state == "Running" for r in self.replicas)

    def states(self) -> dict[str, Any]:
        """health, provisioning and running state with their details (FIELD-NOTES 1-2 shapes)."""
        if not self.active:
            return {"healthState": "Healthy", "provisioningState": "Provisioned", "runningState": "Stopped"}
        if self.failing:
            return {"healthState": "Unhealthy", "provisioningState": "Failed", "runningState": "Failed",
                    "runningStateDetails": f"{len(self.failing)}/{len(self.replicas)} {PULL_BACKOFF_DETAILS}",
                    "provisioningError": PULL_BACKOFF_DETAILS}
        if self.all_running:
            running = "RunningAtMaxScale" if len(self.replicas) >= self.max_replicas else "Running"
            return {"healthState": "Healthy", "provisioningState": "Provisioned", "runningState": running}
        activating = {"healthState": "None", "provisioningState": "Provisioning", "runningState": "Activating"}
        if self.runtime_details:  # recorded (debug, 2025): Activating with the port mismatch as details
            activating.update(provisioningState="Provisioned", runningStateDetails=self.runtime_details)
        return activating


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
    deleted: bool = False
    modified: datetime | None = None

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


# the service --------------------------------------------------------------------------------------
class AppService:
    """Every environment and app of one emulator, and the clockwork that moves them."""

    def __init__(self, platform: Platform) -> None:
        self.p = platform
        self.envs: dict[str, Environment] = {}
        self.apps: dict[str, ContainerApp] = {}
        self.runtime: ContainerRuntime = AssumeListening()
        self.token_key = secrets.token_bytes(32)
        self.streams: Any = None
        """The ``EventStreams`` serving this service (set by ``responses.register``)."""
        self._rng = random.Random()

    # helpers ----------------------------------------------------------------------------------
    def _after(self, operation: str, fn: Callable[[float], None], due: float | None = None) -> None:
        """Run ``fn`` once ``operation`` has taken its time, counted from ``due`` (a past event) or now."""
        start = time.monotonic() if due is None else due
        self.p.scheduler.at(start + self.p.clock.duration(operation), fn)

    def env_by_id(self, env_id: str) -> Environment | None:
        env = self.envs.get(env_id.lower())
        return env if env is not None and not env.deleted else None

    def apps_in(self, env: Environment) -> list[ContainerApp]:
        return [a for a in self.apps.values() if a.env is env and not a.deleted]

    def _random_ip(self) -> str:
        return f"20.{self._rng.randint(1, 254)}.{self._rng.randint(0, 255)}.{self._rng.randint(1, 254)}"

    # environments -----------------------------------------------------------------------------
    def _logs_config(self, props: dict[str, Any], current: Environment | None) -> tuple[str | None, str | None,
                                                                                      str | None]:
        cfg = props.get("appLogsConfiguration") or {}
        destination = cfg.get("destination") or None
        if destination in ("none", ""):
            destination = None
        if destination not in (None, "log-analytics", "azure-monitor"):
            raise bad_request("InvalidRequestParameterWithDetails",
                              f"AppLogsConfiguration.Destination is invalid.  Destination '{destination}' is not "
                              "supported. Supported values are 'log-analytics', 'azure-monitor' or none.")
        if destination != "log-analytics":
            return destination, None, None
        la = cfg.get("logAnalyticsConfiguration") or {}
        customer_id = la.get("customerId")
        if not isinstance(customer_id, str) or not _GUID.match(customer_id):
            raise bad_request("InvalidRequestParameterWithDetails",
                              "LogAnalyticsConfiguration.CustomerId is invalid.  CustomerId must be a GUID "
                              "without additional whiteSpace.")
        key = la.get("sharedKey")
        if not key and current is not None and current.customer_id == customer_id:
            key = current.shared_key  # an update may omit the key it already gave
        invalid = bad_request("InvalidRequestParameterWithDetails",
                              "LogAnalyticsConfiguration is invalid.  Must provide a valid LogAnalyticsConfiguration")
        if not key:
            raise invalid
        logs = self.p.services.logs
        if logs is not None and not logs.check_shared_key(customer_id, key):
            raise invalid
        return destination, customer_id, key

    def put_environment(self, rid: ResourceId, body: dict[str, Any], principal: str) -> tuple[Environment, bool]:
        """Validate and apply a PUT; the caller starts the LRO that ends with ``environment_provisioned``."""
        location = body.get("location")
        if not location:
            raise bad_request("LocationRequired", "The location property is required for this definition.")
        props = copy.deepcopy(body.get("properties") or {})
        current = self.env_by_id(rid.id)
        if current is not None and current.provisioning_state not in ("Succeeded", "Failed"):
            raise ArmError(409, "ManagedEnvironmentOperationInProgress",
                           f"Cannot modify Container Apps environment {rid.name} because another operation is "
                           "in progress.")
        destination, customer_id, key = self._logs_config(props, current)
        if key:
            self.p.remember_secret(key)
        la = (props.get("appLogsConfiguration") or {}).get("logAnalyticsConfiguration")
        if isinstance(la, dict):
            la["sharedKey"] = None
        if current is None:
            loc = location_key(str(location))
            word = self._rng.choice(_WORDS_A) + self._rng.choice(_WORDS_B)
            env = Environment(rid, str(location), body.get("tags"), props,
                              f"{word}-{secrets.token_hex(4)}.{loc}.azurecontainerapps.io", self._random_ip(),
                              [self._random_ip() for _ in range(4)], self.p.clock.now(), principal)
            self.envs[rid.id.lower()] = env
            created = True
        else:
            env = current
            env.properties, env.tags = props, body.get("tags", env.tags)
            env.provisioning_state = "Waiting"
            created = False
        env.destination, env.customer_id, env.shared_key = destination, customer_id, key
        env.provisioning_state = "Waiting" if created else "Updating"  # recorded: an update PUT shows Updating

        def initializing(_due: float) -> None:
            if env.provisioning_state == "Waiting":
                env.provisioning_state = "InitializationInProgress"

        self.p.scheduler.after(self.p.clock.duration("environment.create") / 3, initializing)
        return env, created

    def patch_environment(self, env: Environment, body: dict[str, Any], principal: str) -> Environment:
        merged = {"location": env.location, "tags": body.get("tags", env.tags),
                  "properties": _deep_merge(env.properties, body.get("properties") or {})}
        if "appLogsConfiguration" not in (body.get("properties") or {}) and env.shared_key:
            merged["properties"].setdefault("appLogsConfiguration", {}).setdefault(
                "logAnalyticsConfiguration", {})["sharedKey"] = env.shared_key
        env, _ = self.put_environment(env.rid, merged, principal)
        return env

    def environment_provisioned(self, env: Environment) -> None:
        env.provisioning_state = "Succeeded"

    def set_diagnostic_workspace(self, env_id: str, customer_id: str | None) -> None:
        """Route ``ContainerAppSystemLogs`` of an ``azure-monitor`` environment to a workspace (what a
        diagnostic setting with category ContainerAppSystemLogs does; Microsoft.Insights is not emulated)."""
        env = self.env_by_id(env_id)
        if env is None:
            raise KeyError(f"no managed environment {env_id!r}")
        env.diagnostic_customer_id = customer_id

    def remove_environment(self, env: Environment) -> None:
        for app in self.apps_in(env):
            self.remove_app(app)
        env.deleted = True
        self.envs.pop(env.id.lower(), None)
        self.p.store.remove(env.id)

    # container app validation -------------------------------------------------------------------
    def validate_app(self, rid: ResourceId, body: dict[str, Any], current: ContainerApp | None) -> Spec:
        """Check a full (PUT, or PATCH merged) body; raises ArmError in Azure's codes, changes nothing."""
        name = rid.name
        if not _APP_NAME.match(name) or "--" in name:
            raise bad_request("ContainerAppInvalidName",
                              f"Invalid ContainerApp name '{name}'. A name must consist of lower case alphanumeric "
                              "characters or '-', start with an alphabetic character, and end with an alphanumeric "
                              "character and cannot have '--'. The length must be between 2 and 32 characters "
                              "inclusive.")
        location = body.get("location") or (current.location if current else None)
        if not location:
            raise bad_request("LocationRequired", "The location property is required for this definition.")
        props = body.get("properties") or {}
        env_id = props.get("environmentId") or props.get("managedEnvironmentId")
        if not env_id:
            # Real code and message: microsoft/azure-container-apps#194 (ARM validation details).
            raise bad_request("InvalidManagedEnvironmentId", "Invalid ManagedEnvironmentId value ''.")
        env = self.env_by_id(str(env_id))
        if env is None:
            # The code is seen in many real failures (e.g. Azure/container-apps-deploy-action#84); the
            # message and status are not sourced.
            raise ArmError(404, "ManagedEnvironmentNotFound", f"The environment '{env_id}' was not found.")
        if env.provisioning_state != "Succeeded":
            raise bad_request("ManagedEnvironmentNotProvisioned",
                              f"The environment '{env.id}' has not been provisioned successfully.")
        if current is not None and current.env is not env:
            raise bad_request("ContainerAppEnvironmentCannotBeChanged",
                              f"Cannot change the environment of container app '{name}'.")
        config_in = props.get("configuration") or {}
        secrets_map = self._validate_secrets(config_in.get("secrets"), current)
        template = self._validate_template(name, props.get("template") or {})
        self._check_env_secret_refs(template, secrets_map)
        profile = props.get("workloadProfileName") or "Consumption"
        if profile == "Consumption":
            self._check_consumption_total(template)
        identity = self._identity(body.get("identity"), current)
        configuration = self._configuration(config_in, secrets_map, identity)
        return Spec(str(location), body.get("tags", current.tags if current else None), env, identity,
                    configuration, template, secrets_map, profile)

    def _validate_secrets(self, entries: Any, current: ContainerApp | None) -> dict[str, dict[str, Any]]:
        if entries is None:
            return dict(current.secrets) if current else {}
        out: dict[str, dict[str, Any]] = {}
        for entry in entries or []:
            sname = (entry or {}).get("name")
            if not isinstance(sname, str) or not _SECRET_NAME.match(sname):
                raise bad_request("ContainerAppSecretInvalid",
                                  f"Invalid Secret name '{sname}'. A secret name must consist of lower case "
                                  "alphanumeric characters, '-' or '.', and must start and end with an alphanumeric "
                                  "character.")
            if entry.get("value") is None and not entry.get("keyVaultUrl"):
                previous = current.secrets.get(sname) if current else None
                if previous is None:
                    raise bad_request("ContainerAppSecretInvalid", f"Secret '{sname}' must have a value or a "
                                                                   "keyVaultUrl.")
                entry = {**entry, "value": previous.get("value")}
            out[sname] = dict(entry)
            if entry.get("value"):
                self.p.remember_secret(str(entry["value"]))
        return out

    @staticmethod
    def _check_env_secret_refs(template: dict[str, Any], secrets_map: dict[str, dict[str, Any]]) -> None:
        """An env var's secretRef must name a secret of the app."""
        for c in template["containers"]:
            for var in c.get("env") or []:
                ref = (var or {}).get("secretRef")
                if ref and ref not in secrets_map:
                    # Real message, e.g. "SecretRef 'vector-...' defined for container 'vector' not found."
                    # (pulumi/pulumi-azure-native#1715, and a pasted `az containerapp update` error).
                    raise bad_request("ContainerAppSecretRefNotFound",
                                      f"SecretRef '{ref}' defined for container '{c['name']}' not found.")

    def _validate_template(self, app: str, template: dict[str, Any]) -> dict[str, Any]:
        containers = template.get("containers")
        if not containers:
            raise bad_request("ContainerAppInvalidSchema",
                              "Invalid request body for container app. Does not conform to Container App schema: "
                              "'template.containers' must contain at least one container.")
        seen: set[str] = set()
        out_containers = []
        for c in containers:
            cname = (c or {}).get("name")
            if not cname:
                raise bad_request("InvalidParameterValueInContainerTemplate",
                                  "The following field(s) are either invalid or missing. Field "
                                  "'template.containers.name' is invalid with details: 'Required value';.")
            if not _RFC1123.match(cname) or len(cname) > 63:
                raise bad_request("InvalidParameterValueInContainerTemplate",
                                  f"The following field(s) are either invalid or missing. Invalid value: \"{cname}\": "
                                  "Invalid Name: Per RFC 1123 name must consist of lower case alphanumeric characters "
                                  "or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or "
                                  "'123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?'): "
                                  "template.containers.")
            if cname in seen:
                raise bad_request("InvalidParameterValueInContainerTemplate",
                                  f"The following field(s) are either invalid or missing. Field "
                                  f"'template.containers.{cname}.name' is invalid with details: 'Duplicate value';.")
            seen.add(cname)
            if not c.get("image"):
                # Real code and message: Azure-Samples/container-apps-store-api-microservice#27.
                raise bad_request("ContainerAppImageRequired",
                                  f"Container with name '{cname}' must have an 'Image' property specified.")
            res = c.get("resources") or {}
            cpu = res.get("cpu")
            memory = res.get("memory")
            try:
                cpu_v = float(cpu) if cpu is not None else 0.5
                mem_v = _gib(memory) if memory is not None else cpu_v * 2
            except ValueError:
                raise bad_request("ContainerAppInvalidResourceTotal", f"Container '{cname}' has invalid "
                                  f"resources: cpu '{cpu}', memory '{memory}'.") from None
            item: dict[str, Any] = {"image": c["image"], "imageType": "ContainerImage", "name": cname}
            for key in ("command", "args", "env", "volumeMounts"):
                if c.get(key) is not None:
                    item[key] = copy.deepcopy(c[key])
            item["resources"] = {"cpu": cpu_v, "memory": _fmt_gib(mem_v), "ephemeralStorage": _fmt_gib(cpu_v * 4)}
            item["probes"] = copy.deepcopy(c.get("probes") or [])
            out_containers.append(item)
        scale = template.get("scale") or {}
        min_r, max_r = scale.get("minReplicas"), scale.get("maxReplicas")
        min_v = 0 if min_r is None else min_r
        max_v = 10 if max_r is None else max_r
        if (not isinstance(min_v, int) or not isinstance(max_v, int) or min_v < 0 or max_v < 1 or max_v < min_v
                or max_v > 1000):
            # Real code and message shape: MicrosoftDocs/azure-docs#89742 (then with a limit of 10, now 1000).
            raise bad_request("ContainerAppInvalidScaleSpec",
                              f"The scale options provided for Container App '{app}' is incorrect. The values must "
                              "be positive, maxReplicas must not be less than minReplicas. The maxReplicas must not be "
                              "bigger than 1000.")
        suffix = template.get("revisionSuffix") or None
        if suffix is not None and (not _SUFFIX.match(suffix) or len(app) + 2 + len(suffix) > 54):
            raise bad_request("ContainerAppInvalidRevisionName",
                              f"Revision name has an invalid value '{app}--{suffix}'. A revision name must consist "
                              "of lower case alphanumeric characters or '-', start with an alphabetic character, and "
                              "end with an alphanumeric character. The length of the revision name must not be more "
                              "than a combined 54 characters with the container app name.")
        return {
            "revisionSuffix": suffix, "terminationGracePeriodSeconds": template.get("terminationGracePeriodSeconds"),
            "containers": out_containers, "initContainers": template.get("initContainers"),
            "scale": {"minReplicas": min_r, "maxReplicas": max_v, "cooldownPeriod": scale.get("cooldownPeriod", 300),
                      "pollingInterval": scale.get("pollingInterval", 30), "rules": scale.get("rules")},
            "volumes": template.get("volumes"), "serviceBinds": template.get("serviceBinds"),
        }

    @staticmethod
    def _check_consumption_total(template: dict[str, Any]) -> None:
        cpu = sum(float(c["resources"]["cpu"]) for c in template["containers"])
        mem = sum(_gib(c["resources"]["memory"]) for c in template["containers"])
        if not any(abs(cpu - c) < 1e-9 and abs(mem - m) < 1e-9 for c, m in CONSUMPTION_PAIRS):
            pairs = "; ".join(f"[cpu: {c}, memory: {m:.1f}Gi]" for c, m in CONSUMPTION_PAIRS)
            raise bad_request("ContainerAppInvalidResourceTotal",
                              f"The total requested CPU and memory resources for this application (CPU: {cpu:g}, "
                              f"memory: {mem:g}) is invalid. Total CPU and memory for all containers defined in a "
                              f"Container App must add up to one of the following CPU - Memory combinations: {pairs}")

    def _identity(self, identity: Any, current: ContainerApp | None) -> dict[str, Any]:
        if identity is None:
            return copy.deepcopy(current.identity) if current else {"type": "None"}
        kind = str(identity.get("type") or "None")
        kinds = {k.strip().lower() for k in kind.split(",")}
        if not kinds <= {"none", "systemassigned", "userassigned"}:
            raise bad_request("InvalidIdentityType", f"The identity type '{kind}' is not supported.")
        out: dict[str, Any] = {"type": kind}
        previous = current.identity if current else {}
        if "systemassigned" in kinds:
            out["principalId"] = previous.get("principalId") or str(uuid.uuid4())
            out["tenantId"] = self.p.store.tenant_id
        if "userassigned" in kinds:
            ua = identity.get("userAssignedIdentities") or {}
            if not ua:
                raise bad_request("InvalidIdentityType",
                                  "The 'userAssignedIdentities' property is required for identity type 'UserAssigned'.")
            out["userAssignedIdentities"] = {uid: self._user_identity(uid) for uid in ua}
        return out

    def _user_identity(self, uid: str) -> dict[str, str]:
        res = self.p.store.get(uid)
        props = (res.body.get("properties") or {}) if res is not None else {}
        seed = uid.lower()
        return {"principalId": props.get("principalId") or str(uuid.uuid5(uuid.NAMESPACE_URL, "p:" + seed)),
                "clientId": props.get("clientId") or str(uuid.uuid5(uuid.NAMESPACE_URL, "c:" + seed))}

    @staticmethod
    def _configuration(cfg: dict[str, Any], secrets_map: dict[str, dict[str, Any]],
                       identity: dict[str, Any]) -> dict[str, Any]:
        mode = str(cfg.get("activeRevisionsMode") or "Single")
        if mode.lower() not in ("single", "multiple"):
            raise bad_request("ContainerAppInvalidActiveRevisionsMode",
                              f"Invalid value '{mode}' for 'activeRevisionsMode'. Allowed values are 'Single' and "
                              "'Multiple'.")
        ingress = cfg.get("ingress")
        ingress_out = None
        if ingress:
            port = ingress.get("targetPort")
            if port is not None and (not isinstance(port, int) or not 0 < port < 65536):
                raise bad_request("ContainerAppInvalidIngressTargetPort",
                                  f"Invalid value '{port}' for 'ingress.targetPort'. It must be between 1 and 65535.")
            transport = str(ingress.get("transport") or "auto")
            ingress_out = {
                "fqdn": None, "external": bool(ingress.get("external", False)), "targetPort": port,
                "exposedPort": ingress.get("exposedPort") or 0, "transport": transport[:1].upper() + transport[1:],
                "traffic": copy.deepcopy(ingress.get("traffic")), "customDomains": ingress.get("customDomains"),
                "allowInsecure": bool(ingress.get("allowInsecure", False)),
                "ipSecurityRestrictions": ingress.get("ipSecurityRestrictions"), "corsPolicy": None,
                "clientCertificateMode": None, "stickySessions": None, "additionalPortMappings": None,
                "targetPortHttpScheme": None,
            }
        registries = []
        for reg in cfg.get("registries") or []:
            server = str((reg or {}).get("server") or "")
            if not server:
                raise bad_request("ContainerAppInvalidRegistryServerValue",
                                  "Property 'registries.server' has an invalid value ''.")
            ref = reg.get("passwordSecretRef")
            if reg.get("username") and not reg.get("identity"):
                if not ref or ref not in secrets_map:
                    # Recorded (test_container_acr): code and message
                    raise bad_request("ContainerAppRegistriesPasswordSecretRefNotFound",
                                      f"PasswordSecretRef '{ref or ''}' defined for registry server '{server}' "
                                      "not found.")
            ident = reg.get("identity")
            if ident and str(ident).lower() != "system":
                known = {k.lower() for k in identity.get("userAssignedIdentities", {})}
                if str(ident).lower() not in known:
                    raise bad_request("InvalidParameterValueInContainerTemplate",
                                      f"Registry '{server}' uses identity '{ident}', which is not assigned to the "
                                      "container app.")
            if ident and str(ident).lower() == "system" and "principalId" not in identity:
                raise bad_request("InvalidParameterValueInContainerTemplate",
                                  f"Registry '{server}' uses the system-assigned identity, which is not enabled.")
            registries.append({"server": server, "username": reg.get("username") or "",
                               "passwordSecretRef": ref or "", "identity": ident or ""})
        return {
            "secrets": [{"name": n, **({"keyVaultUrl": s["keyVaultUrl"]} if s.get("keyVaultUrl") else {}),
                         **({"identity": s["identity"]} if s.get("identity") else {})}
                        for n, s in secrets_map.items()] or None,
            "activeRevisionsMode": mode.capitalize(), "targetLabel": "", "revisionTransitionThreshold": None,
            "ingress": ingress_out, "registries": registries or None, "identitySettings": [], "dapr": None,
            "runtime": None, "maxInactiveRevisions": cfg.get("maxInactiveRevisions", 100), "service": None,
        }

    # container app lifecycle --------------------------------------------------------------------
    def begin_app(self, rid: ResourceId, spec: Spec, principal: str) -> tuple[ContainerApp, bool]:
        app = self.apps.get(rid.id.lower())
        created = app is None or app.deleted
        if created:
            app = ContainerApp(rid, spec.location, spec.env, self.p.clock.now(), principal)
            self.apps[rid.id.lower()] = app
        assert app is not None
        app.provisioning_state = "InProgress"
        app.modified = self.p.clock.now()
        if created:  # the 201 body already shows what was asked
            self._apply(app, spec)
        return app, created

    def changed_images(self, app: ContainerApp, spec: Spec) -> list[tuple[str, str]]:
        """(container, image) whose reference differs from the latest revision's (all on first create)."""
        base = app.revisions.get(app.latest_revision or "")
        before = {c["name"]: c["image"] for c in base.template["containers"]} if base else {}
        return [(c["name"], c["image"]) for c in spec.template["containers"] if before.get(c["name"]) != c["image"]]

    def pull_auth(self, app: ContainerApp | Spec, image: str) -> tuple[PullAuth, str | None]:
        """Credentials the app uses for ``image``'s registry, and the identity label (for messages)."""
        host = parse_image(image).host
        config = app.configuration
        for reg in config.get("registries") or []:
            if reg["server"].lower() != host:
                continue
            ident = reg.get("identity")
            if ident:
                if str(ident).lower() == "system":
                    return PullAuth(principal_id=app.identity.get("principalId")), "system"
                for uid, info in app.identity.get("userAssignedIdentities", {}).items():
                    if uid.lower() == str(ident).lower():
                        return PullAuth(principal_id=info["principalId"]), uid
                return PullAuth(), str(ident)
            secret = app.secrets.get(reg.get("passwordSecretRef") or "", {})
            return PullAuth(username=reg.get("username"), password=secret.get("value")), None
        return PullAuth(), None

    def check_pull(self, image: str, auth: PullAuth) -> PullResult:
        resolver = self.p.services.registry
        if resolver is None:
            return PullResult(True, size=32505856)
        return resolver.check_pull(parse_image(image).pull_reference, auth)

    def validate_images(self, app: ContainerApp, spec: Spec) -> dict[str, Any] | None:
        """Case A: the ARM error the LRO ends with when a changed image cannot be pulled now, else None."""
        fields = []
        for cname, image in self.changed_images(app, spec):
            auth, label = self.pull_auth(spec, image)
            result = self.check_pull(image, auth)
            if not result.ok:
                detail = validation_detail(image, result, auth, label)
                fields.append(f"Field 'template.containers.{cname}.image' is invalid with details: "
                              f"'Invalid value: \"{image}\": {detail}';")
        if not fields:
            return None
        return {"code": "ContainerAppOperationError",
                "message": f"Failed to provision revision for container app '{app.name}'. Error details: The "
                           f"following field(s) are either invalid or missing. {''.join(fields)}.."}

    def _apply(self, app: ContainerApp, spec: Spec) -> None:
        app.location, app.tags, app.identity = spec.location, spec.tags, spec.identity
        app.configuration, app.template = spec.configuration, spec.template
        app.secrets, app.workload_profile = spec.secrets, spec.workload_profile

    def finish_app(self, app: ContainerApp, spec: Spec, error: dict[str, Any] | None, created: bool) -> (
            dict[str, Any] | None):
        """The LRO's end: case A leaves the app Failed with no new revision; otherwise commit."""
        if app.deleted:
            return None
        self._apply(app, spec)
        if error is not None:
            app.provisioning_state = "Failed"
            return error
        base = app.revisions.get(app.latest_revision or "")
        template_changed = base is None or _template_key(base.template) != _template_key(spec.template)
        if template_changed:
            suffix = spec.template.get("revisionSuffix")
            name = f"{app.name}--{suffix}" if suffix else self._new_revision_name(app)
            if name in app.revisions:
                # Real: the LRO fails like case A, "Failed to provision revision for container app. Error
                # details: The following field(s) are either invalid or missing. Field
                # 'template.revisionsuffix' is invalid with details: 'Invalid value: <suffix>: revision with
                # suffix <suffix> already exists" (Azure/terraform-azurerm-avm-res-app-containerapp#115, names
                # elided there; microsoft/azure-container-apps#1278 names the suffix).
                app.provisioning_state = "Failed"
                taken = name.split("--", 1)[-1]
                return {"code": "ContainerAppOperationError",
                        "message": f"Failed to provision revision for container app '{app.name}'. Error details: "
                                   "The following field(s) are either invalid or missing. Field "
                                   f"'template.revisionsuffix' is invalid with details: 'Invalid value: "
                                   f"\"{taken}\": revision with suffix {taken} already exists';.."}
            if not created:
                self.emit(app, syslog.NORMAL, syslog.CONTAINER_APP_UPDATE, syslog.container_app_update(app.name))
            self._create_revision(app, name, spec.template)
        else:
            self._refresh_traffic(app)
        app.provisioning_state = "Succeeded"
        app.ever_succeeded = True
        if spec.configuration.get("ingress") and not spec.configuration["ingress"].get("traffic"):
            app.configuration["ingress"]["traffic"] = [{"weight": 100, "latestRevision": True}]
        return None

    def _new_revision_name(self, app: ContainerApp) -> str:
        alphabet = "abcdefghijklmnopqrstuvwxyz0123456789"
        while True:
            name = f"{app.name}--{''.join(self._rng.choice(alphabet) for _ in range(7))}"
            if name not in app.revisions:
                return name

    def _create_revision(self, app: ContainerApp, name: str, template: dict[str, Any]) -> Revision:
        rev = Revision(name, copy.deepcopy(template), self.p.clock.now(),
                       hashlib.sha256(f"{name}{time.monotonic()}".encode()).hexdigest()[:10])
        rev.template["revisionSuffix"] = template.get("revisionSuffix")
        rev.announce_app_ready = True
        app.revisions[name] = rev
        app.latest_revision = name
        self.emit(app, syslog.NORMAL, syslog.REVISION_CREATION, syslog.revision_creation(name), revision=name)
        self._start_replicas(app, rev)
        return rev

    def _refresh_traffic(self, app: ContainerApp) -> None:
        """Configuration-only change: nothing to provision, the latest revision keeps running."""

    # replicas -----------------------------------------------------------------------------------
    def _replica_count(self, rev: Revision) -> int:
        scale = rev.template["scale"]
        return max(1, min(int(scale.get("minReplicas") or 0), rev.max_replicas))

    def _new_replica(self, rev: Revision) -> Replica:
        suffix = "".join(self._rng.choice(_REPLICA_ALPHABET) for _ in range(5))
        containers = [ContainerState(c["name"], c["image"]) for c in rev.template["containers"]]
        return Replica(f"{rev.name}-{rev.pod_hash}-{suffix}", self.p.clock.now(), containers)

    def _start_replicas(self, app: ContainerApp, rev: Revision) -> None:
        rev.replicas = [self._new_replica(rev) for _ in range(self._replica_count(rev))]
        for rep in rev.replicas:
            self._schedule_replica(app, rev, rep)

    def _alive(self, app: ContainerApp, rev: Revision, rep: Replica) -> bool:
        return not app.deleted and rev.active and rep in rev.replicas and app.revisions.get(rev.name) is rev

    def _schedule_replica(self, app: ContainerApp, rev: Revision, rep: Replica) -> None:
        self.emit(app, syslog.NORMAL, syslog.ASSIGNING_REPLICA, syslog.assigning_replica(rep.name),
                  revision=rev.name, replica=rep.name, count=0)
        self._after("replica.schedule", lambda due: self._pull(app, rev, rep, due))

    def _pull(self, app: ContainerApp, rev: Revision, rep: Replica, due: float) -> None:
        if not self._alive(app, rev, rep):
            return
        rep.attempts += 1
        for c in rep.containers:
            self.emit(app, syslog.NORMAL, syslog.PULLING_IMAGE, syslog.pulling_image(c.image), revision=rev.name,
                      replica=rep.name, container=c.name, count=rep.bump(syslog.PULLING_IMAGE), at=due)
            c.running_state, c.details = "Waiting", "Container is waiting with reason: PullingImage on legion."
        self._after("replica.pull", lambda d: self._pulled(app, rev, rep, d), due)

    def _pulled(self, app: ContainerApp, rev: Revision, rep: Replica, due: float) -> None:
        if not self._alive(app, rev, rep):
            return
        failures: list[tuple[ContainerState, PullResult]] = []
        pulled: list[tuple[ContainerState, PullResult]] = []
        for c in rep.containers:
            auth, _ = self.pull_auth(app, c.image)
            result = self.check_pull(c.image, auth)
            (pulled if result.ok else failures).append((c, result))
        if failures:
            for c, result in failures:
                if result.code == "UNAUTHORIZED":
                    self.emit(app, syslog.NORMAL, syslog.IMAGE_PULL_UNAUTHORIZED, syslog.IMAGE_PULL_UNAUTHORIZED_MSG,
                              revision=rev.name, replica=rep.name, container=c.name,
                              count=rep.bump(syslog.IMAGE_PULL_UNAUTHORIZED), at=due)
                self.emit(app, syslog.WARNING, syslog.CONTAINER_TERMINATED,
                          syslog.pull_failure_terminated(c.name, c.image, result), revision=rev.name,
                          replica=rep.name, container=c.name, count=rep.bump(syslog.CONTAINER_TERMINATED), at=due)
                c.running_state = "Waiting"
                c.details = "Container is waiting with reason: ImagePullBackOff on legion."
            rep.pull_failed = True
            rep.running_state = "NotRunning"
            if not rev.ready_logged:  # Azure logs RevisionReady for a revision that then fails to pull
                rev.ready_logged = True
                self.emit(app, syslog.NORMAL, syslog.REVISION_READY, syslog.revision_ready(rev.name),
                          revision=rev.name, at=due)
            if rep.attempts < MAX_PULL_ATTEMPTS:
                delay = KUBELET_BACKOFF[min(rep.attempts - 1, len(KUBELET_BACKOFF) - 1)]
                self.p.scheduler.at(due + self.p.clock.scale(delay), lambda d: self._pull(app, rev, rep, d))
            return
        for c, result in pulled:
            self.emit(app, syslog.NORMAL, syslog.PULLED_IMAGE,
                      syslog.pulled_image(c.image, REALISTIC_SECONDS["replica.pull"], result.size or 32505856),
                      revision=rev.name, replica=rep.name, container=c.name, count=rep.bump(syslog.PULLED_IMAGE),
                      at=due)
        self._after("replica.start", lambda d: self._start_containers(app, rev, rep, d), due)

    def _start_containers(self, app: ContainerApp, rev: Revision, rep: Replica, due: float) -> None:
        if not self._alive(app, rev, rep):
            return
        ingress = app.configuration.get("ingress") or {}
        template = {c["name"]: c for c in rev.template["containers"]}
        for c in rep.containers:
            config = dict(template.get(c.name, {"name": c.name}))
            if ingress.get("targetPort"):
                config["targetPort"] = ingress["targetPort"]
            outcome = self.runtime.start(rep.name, c.image, config)
            for ev in outcome.events:
                self.emit(app, ev.type, ev.reason, ev.message, revision=rev.name, replica=rep.name,
                          container=c.name, count=rep.bump(ev.reason), at=due)
            if outcome.running:
                c.running_state, c.details, c.ready, c.started = "Running", "", True, True
                c.container_id = f"containerd://{secrets.token_hex(32)}"
            elif outcome.details:
                rev.runtime_details = outcome.details
        rep.pull_failed = False
        rep.running_state = "Running" if all(c.running_state == "Running" for c in rep.containers) else "NotRunning"
        if rev.all_running:
            self._after("revision.ready", lambda d: self._revision_ready(app, rev, d), due)

    def _revision_ready(self, app: ContainerApp, rev: Revision, due: float) -> None:
        if app.deleted or not rev.active or not rev.all_running or rev.became_ready:
            return
        rev.became_ready = True
        if not rev.ready_logged:
            rev.ready_logged = True
            self.emit(app, syslog.NORMAL, syslog.REVISION_READY, syslog.revision_ready(rev.name), revision=rev.name,
                      at=due)
        latest = app.revisions.get(app.latest_ready or "")
        if latest is None or latest.created <= rev.created:
            app.latest_ready = rev.name
        if app.single_mode and app.latest_revision == rev.name:
            others = [r for r in app.revisions.values() if r is not rev and r.active]
            if others:
                self.emit(app, syslog.NORMAL, syslog.REVISION_DEACTIVATING, syslog.revision_deactivating(app.name),
                          at=due)
                for other in others:
                    self.deactivate(app, other, at=due)
        if rev.announce_app_ready:
            rev.announce_app_ready = False
            self.emit(app, syslog.NORMAL, syslog.CONTAINER_APP_READY, syslog.container_app_ready(app.name), at=due)

    # revision actions -----------------------------------------------------------------------------
    def deactivate(self, app: ContainerApp, rev: Revision, at: float | None = None) -> None:
        if not rev.active:
            return
        for rep in rev.replicas:
            for c in rep.containers:
                if c.running_state == "Running":
                    self.emit(app, syslog.WARNING, syslog.CONTAINER_TERMINATED, syslog.manually_stopped(c.name),
                              revision=rev.name, replica=rep.name, container=c.name,
                              count=rep.bump(syslog.CONTAINER_TERMINATED), at=at)
        rev.active = False
        rev.replicas = []
        rev.last_active = wall_at(at) if at is not None else self.p.clock.now()

    def activate(self, app: ContainerApp, rev: Revision) -> None:
        if rev.active:
            return
        rev.active, rev.became_ready = True, False
        self._start_replicas(app, rev)

    def restart(self, app: ContainerApp, rev: Revision) -> None:
        """New replicas replace the old ones; each pulls its image again."""
        if not rev.active:
            raise bad_request("ContainerAppRevisionNotActive",
                              f"Cannot restart revision '{rev.name}' because it is not active.")
        rev.became_ready = False
        self._start_replicas(app, rev)

    def begin_delete_app(self, app: ContainerApp) -> None:
        app.provisioning_state = "Deleting"

    def remove_app(self, app: ContainerApp) -> None:
        app.deleted = True
        for rev in app.revisions.values():
            rev.active = False
            rev.replicas = []
        self.apps.pop(app.id.lower(), None)
        self.p.store.remove(app.id)

    # events -------------------------------------------------------------------------------------
    def emit(self, app: ContainerApp, type_: str | None, reason: str, msg: str, *, revision: str | None = None,
             replica: str | None = None, container: str | None = None, count: int = 1,
             at: float | None = None) -> syslog.SystemEvent:
        """Record one system-log event on the app's and the environment's stream and in Log Analytics."""
        when = wall_at(at) if at is not None else self.p.clock.now()
        ev = syslog.SystemEvent(when, type_, reason, msg, app.name, revision, replica, container, app.env.name,
                                count=count)
        app.events.append(ev)
        app.env.events.append(ev)
        self._ingest(app.env, ev)
        return ev

    def _ingest(self, env: Environment, ev: syslog.SystemEvent) -> None:
        logs = self.p.services.logs
        if logs is None:
            return
        if env.destination == "log-analytics" and env.customer_id:
            logs.ingest(env.customer_id, syslog.LEGACY_TABLE, [syslog.legacy_row(ev)], ev.time)
        elif env.destination == "azure-monitor" and env.diagnostic_customer_id:
            row = syslog.resource_row(ev, location=env.location, resource_id=env.id,
                                      subscription_id=env.rid.subscription, tenant_id=self.p.store.tenant_id)
            logs.ingest(env.diagnostic_customer_id, syslog.RESOURCE_TABLE, [row], ev.time)

    # tokens ---------------------------------------------------------------------------------------
    def auth_token(self, target: ContainerApp | Environment) -> tuple[str, datetime]:
        now = int(time.time())
        expires = now + 3600
        loc = location_key(target.location)
        claims: dict[str, Any] = {"capp_sub": target.rid.subscription, "capp_rg": target.rid.resource_group}
        if isinstance(target, ContainerApp):
            claims["capp_name"] = target.name
        else:
            claims["kubeenv_name"] = target.name
        expiry = self.p.clock.now() + timedelta(seconds=3600)
        claims.update({"capp_jit_expiry": iso7(expiry), "nbf": now, "exp": expires, "iat": now,
                       "iss": "AzureContainerApps", "aud": f"https://{loc}.azurecontainerapps.dev"})
        token = self.p.identity.sign(claims, self.token_key)
        self.p.remember_secret(token)
        return token, expiry

    def check_token(self, token: str, subscription: str, group: str, name: str, env: bool) -> bool:
        claims = self.p.identity.verify(token, self.token_key)
        if claims is None or claims.get("iss") != "AzureContainerApps":
            return False
        key = "kubeenv_name" if env else "capp_name"
        return (str(claims.get("capp_sub", "")).lower() == subscription.lower()
                and str(claims.get("capp_rg", "")).lower() == group.lower()
                and str(claims.get(key, "")).lower() == name.lower())


def _gib(value: Any) -> float:
    text = str(value).strip()
    if text.endswith("Gi"):
        return float(text[:-2])
    if text.endswith("Mi"):
        return float(text[:-2]) / 1024
    raise ValueError(text)


def _fmt_gib(value: float) -> str:
    return f"{value:g}Gi"


def _template_key(template: dict[str, Any]) -> str:
    import json

    t = copy.deepcopy(template)
    t["revisionSuffix"] = t.get("revisionSuffix") or None
    return json.dumps(t, sort_keys=True)
