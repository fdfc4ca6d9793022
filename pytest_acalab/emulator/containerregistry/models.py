"""Container registry state: registries, admin credentials, access rules, ACR Tasks runs, build sources.

No HTTP here (``responses.py``, ``dataplane.py``, ``tasks.py`` and ``blobs.py`` speak it). Each
``Registry`` owns its ``RegistryContent`` (blobs, manifests, tags); ``RegistryState`` indexes the
registries by resource id and by login server (names are globally unique, as in Azure).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
import shlex
import string
import threading
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import yaml

from pytest_acalab.emulator.platform.clock import iso

from . import build as build_mod
from .content import RegistryContent

NAME_RE = re.compile(r"^[a-zA-Z0-9]{5,50}$")
SKUS = ("Basic", "Standard", "Premium")
LOGIN_SUFFIX = ".azurecr.io"
BLOB_ACCOUNT = "acrtaskmanaged01"
"""The storage account name of the emulated build-source / run-log blob endpoint (path-style URLs)."""

# What each built-in role may do on a registry's data plane (ACR's token actions).
ALL_ACTIONS = frozenset({"pull", "push", "delete", "metadata_read", "metadata_write", "*"})
ROLE_ACTIONS: dict[str, frozenset[str]] = {
    "Owner": ALL_ACTIONS,
    "Contributor": ALL_ACTIONS,
    "Reader": frozenset({"pull", "metadata_read"}),
    "AcrPull": frozenset({"pull", "metadata_read"}),
    "AcrPush": frozenset({"pull", "push", "metadata_read", "metadata_write"}),
    "AcrDelete": frozenset({"delete"}),
}


def _password() -> str:
    """ACR admin passwords: 52 characters of letters, digits, '+' and '/'."""
    alphabet = string.ascii_letters + string.digits + "+/"
    return "".join(secrets.choice(alphabet) for _ in range(52))


@dataclass
class Run:
    """One ACR Tasks run (``registries/runs``)."""

    run_id: str
    registry_id: str
    request: dict[str, Any]
    created: datetime
    status: str = "Queued"
    run_type: str = "QuickRun"
    started: datetime | None = None
    finished: datetime | None = None
    updated: datetime | None = None
    output_images: list[dict[str, str]] = field(default_factory=list)
    error_message: str | None = None
    log: bytearray = field(default_factory=bytearray)
    log_created: datetime | None = None
    log_modified: datetime | None = None
    log_complete: str | None = None
    """Blob metadata ``Complete``: ``successful`` | ``failed`` once the run ended (absent before)."""
    is_archive_enabled: bool = False

    @property
    def id(self) -> str:
        return f"{self.registry_id}/runs/{self.run_id}"

    @property
    def done(self) -> bool:
        return self.status in ("Succeeded", "Failed", "Canceled", "Error", "Timeout")

    def append_log(self, text: str, when: datetime) -> None:
        if self.log_created is None:
            self.log_created = when
        self.log.extend(text.encode("utf-8"))
        self.log_modified = when

    def queued_body(self, modified_by: str, at: datetime) -> dict[str, Any]:
        """What ``scheduleRun`` answers: the queued run, few properties, and ``systemData`` (recorded
        ``az acr build`` at 2019-06-01-preview, containerapp up_source_with_dockerfile_e2e)."""
        props = {"runId": self.run_id, "status": self.status, "lastUpdatedTime": iso(self.updated or self.created),
                 "provisioningState": "Succeeded", "isArchiveEnabled": self.is_archive_enabled}
        return {"type": "Microsoft.ContainerRegistry/registries/runs", "properties": props, "id": self.id,
                "name": self.run_id, "systemData": {"lastModifiedBy": modified_by,
                                                    "lastModifiedByType": "Application",
                                                    "lastModifiedAt": at.strftime("%Y-%m-%dT%H:%M:%S.%f") + "0+00:00"}}

    def body(self) -> dict[str, Any]:
        req = self.request
        platform = req.get("platform") or {"os": "Linux", "architecture": "amd64"}
        props: dict[str, Any] = {
            "runId": self.run_id, "status": self.status,
            "lastUpdatedTime": iso(self.updated or self.created), "runType": self.run_type,
            "createTime": iso(self.created), "platform": platform,
            "agentConfiguration": req.get("agentConfiguration") or {"cpu": 2},
            "provisioningState": "Succeeded", "isArchiveEnabled": self.is_archive_enabled,
        }
        if self.started:
            props["startTime"] = iso(self.started)
        if self.finished:
            props["finishTime"] = iso(self.finished)
        if self.output_images:
            props["outputImages"] = [dict(i) for i in self.output_images]
        if req.get("type") == "DockerBuildRequest" or req.get("sourceLocation"):
            props["sourceRegistryAuth"] = (req.get("credentials") or {}).get("sourceRegistry", {}).get(
                "loginMode", "Default")
        if self.error_message:
            props["runErrorMessage"] = self.error_message
        return {"type": "Microsoft.ContainerRegistry/registries/runs", "properties": props, "id": self.id,
                "name": self.run_id}


@dataclass
class Registry:
    id: str
    name: str
    resource_group: str
    location: str
    sku: str
    created: datetime
    content: RegistryContent
    admin_user_enabled: bool = False
    anonymous_pull_enabled: bool = False
    public_network_access: str = "Enabled"
    tags: dict[str, str] = field(default_factory=dict)
    provisioning_state: str = "Creating"
    passwords: dict[str, str] = field(default_factory=dict)
    runs: dict[str, Run] = field(default_factory=dict)
    run_prefix: str = "ca"
    run_seq: int = 0
    blob_container: str = ""
    build_sources: dict[str, bytes] = field(default_factory=dict)
    created_by: str | None = None

    @property
    def login_server(self) -> str:
        return f"{self.name.lower()}{LOGIN_SUFFIX}"

    def next_run_id(self) -> str:
        self.run_seq += 1
        return f"{self.run_prefix}{self.run_seq}"

    def body(self) -> dict[str, Any]:
        created = iso(self.created)
        system = {"createdBy": self.created_by or "acalab-emulator", "createdByType": "Application",
                  "createdAt": created, "lastModifiedBy": self.created_by or "acalab-emulator",
                  "lastModifiedByType": "Application", "lastModifiedAt": created}
        return {
            "sku": {"name": self.sku, "tier": self.sku},
            "type": "Microsoft.ContainerRegistry/registries",
            "id": self.id, "name": self.name, "location": self.location, "tags": dict(self.tags),
            "systemData": system,
            "properties": {
                "loginServer": self.login_server, "creationDate": created,
                "provisioningState": self.provisioning_state, "adminUserEnabled": self.admin_user_enabled,
                "policies": {
                    "quarantinePolicy": {"status": "disabled"},
                    "trustPolicy": {"type": "Notary", "status": "disabled"},
                    "retentionPolicy": {"days": 7, "lastUpdatedTime": created, "status": "disabled"},
                    "exportPolicy": {"status": "enabled"},
                    "azureADAuthenticationAsArmPolicy": {"status": "enabled"},
                    "softDeletePolicy": {"retentionDays": 7, "lastUpdatedTime": created, "status": "disabled"},
                },
                "encryption": {"status": "disabled"}, "dataEndpointEnabled": False, "dataEndpointHostNames": [],
                "privateEndpointConnections": [], "publicNetworkAccess": self.public_network_access,
                "networkRuleBypassOptions": "AzureServices", "zoneRedundancy": "Disabled",
                "anonymousPullEnabled": self.anonymous_pull_enabled,
            },
        }

    def credentials_body(self) -> dict[str, Any]:
        return {"username": self.name,
                "passwords": [{"name": k, "value": v} for k, v in sorted(self.passwords.items())]}

    def admin_login_ok(self, username: str | None, password: str | None) -> bool:
        """Admin user/password valid right now (only while the admin user is enabled)."""
        if not (self.admin_user_enabled and username and password):
            return False
        if username.lower() != self.name.lower():
            return False
        return any(hmac.compare_digest(password, value) for value in self.passwords.values())


class RegistryState:
    """Every registry of the emulator, by resource id and by login server."""

    def __init__(self, remember_secret: Callable[[str], str]) -> None:
        self._remember = remember_secret
        self.lock = threading.RLock()
        self.by_id: dict[str, Registry] = {}
        self.by_login: dict[str, Registry] = {}
        self.sas_key = secrets.token_bytes(32)
        self.token_key = secrets.token_bytes(32)
        """Signs the registries' refresh and access tokens (never ARM's key)."""

    def get(self, registry_id: str) -> Registry | None:
        return self.by_id.get(registry_id.lower())

    def by_host(self, host: str) -> Registry | None:
        """``host`` may carry HTTPS's default port: ``<acr>.azurecr.io:443`` is the same registry (recorded:
        containerapp test_containerapp_private_registry_port pulls through ``acr000004.azurecr.io:443``)."""
        host = host.lower()
        return self.by_login.get(host.removesuffix(":443") if host.endswith(":443") else host)

    def by_container(self, container: str) -> Registry | None:
        for reg in self.by_id.values():
            if reg.blob_container == container:
                return reg
        return None

    def name_taken(self, name: str, except_id: str | None = None) -> Registry | None:
        reg = self.by_login.get(f"{name.lower()}{LOGIN_SUFFIX}")
        if reg is not None and (except_id is None or reg.id.lower() != except_id.lower()):
            return reg
        return None

    def add(self, reg: Registry) -> Registry:
        with self.lock:
            reg.passwords = {"password": self._remember(_password()), "password2": self._remember(_password())}
            suffix = "".join(secrets.choice(string.ascii_lowercase) for _ in range(10))
            reg.blob_container = f"{uuid.uuid4().hex}-{suffix}"
            self.by_id[reg.id.lower()] = reg
            self.by_login[reg.login_server] = reg
            return reg

    def remove(self, registry_id: str) -> Registry | None:
        with self.lock:
            reg = self.by_id.pop(registry_id.lower(), None)
            if reg is not None:
                self.by_login.pop(reg.login_server, None)
            return reg

    def regenerate(self, reg: Registry, which: str) -> None:
        reg.passwords[which] = self._remember(_password())

    # SAS signatures for the blob endpoint --------------------------------------------------------
    def sas_signature(self, path: str, permissions: str, expiry: str) -> str:
        mac = hmac.new(self.sas_key, f"{permissions}\n{expiry}\n{path}".encode(), hashlib.sha256).digest()
        return self._remember(base64.b64encode(mac).decode())


# --- ACR Tasks: what a run request asks for --------------------------------------------------------


class RunRequestError(ValueError):
    """A run request the emulator cannot run (bad shape, unsupported step)."""


@dataclass
class BuildPlan:
    """What a run builds: one Dockerfile build, with the tags to push (empty = no push)."""

    dockerfile: str
    image_names: list[str]
    push: bool
    build_args: dict[str, str]
    target: str | None
    source_location: str | None
    timeout: int


def _build_args(arguments: Iterable[Any]) -> dict[str, str]:
    out: dict[str, str] = {}
    for arg in arguments or []:
        if isinstance(arg, dict) and arg.get("name"):
            out[str(arg["name"])] = str(arg.get("value") or "")
    return out


def plan_docker_build(req: dict[str, Any]) -> BuildPlan:
    """A ``DockerBuildRequest`` (what ``az acr build`` sends)."""
    dockerfile = req.get("dockerFilePath")
    if not isinstance(dockerfile, str) or not dockerfile:
        raise RunRequestError("The property 'dockerFilePath' is required for a DockerBuildRequest.")
    names = req.get("imageNames") or []
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        raise RunRequestError("The property 'imageNames' must be a list of strings.")
    return BuildPlan(dockerfile, list(names), bool(req.get("isPushEnabled", True)) and bool(names),
                     _build_args(req.get("arguments") or []), req.get("target"), req.get("sourceLocation"),
                     int(req.get("timeout") or 3600))


def plan_encoded_task(req: dict[str, Any], login_server: str, run_id: str) -> BuildPlan:
    """An ``EncodedTaskRunRequest`` with the simple ``build`` + ``push`` steps ``az acr run`` writes."""
    try:
        text = base64.b64decode(req.get("encodedTaskContent") or "", validate=True).decode("utf-8")
        doc = yaml.safe_load(text)
    except (ValueError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise RunRequestError(f"The encoded task content is not base64-encoded YAML: {exc}") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("steps"), list) or not doc["steps"]:
        raise RunRequestError("The task YAML must have a non-empty 'steps' list.")

    def subst(value: str) -> str:
        for key in ("{{.Run.Registry}}", "$Registry", "{{ .Run.Registry }}"):
            value = value.replace(key, login_server)
        for key in ("{{.Run.ID}}", "$ID", "{{ .Run.ID }}"):
            value = value.replace(key, run_id)
        return value

    build: BuildPlan | None = None
    pushed: list[str] = []
    for i, step in enumerate(doc["steps"]):
        if not isinstance(step, dict):
            raise RunRequestError(f"Step {i} of the task YAML is not a mapping.")
        if "build" in step:
            if build is not None:
                raise RunRequestError("The emulator runs one build step per task.")
            words = shlex.split(subst(str(step["build"])))
            tags: list[str] = []
            dockerfile, target, args, context = "Dockerfile", None, {}, None
            it = iter(words)
            for word in it:
                if word in ("-t", "--image", "--tag"):
                    tags.append(next(it, ""))
                elif word in ("-f", "--file"):
                    dockerfile = next(it, "")
                elif word == "--target":
                    target = next(it, None)
                elif word == "--build-arg":
                    key, _, value = next(it, "").partition("=")
                    args[key] = value
                elif word.startswith("-"):
                    raise RunRequestError(f"The build flag '{word}' is not supported by the emulator.")
                else:
                    context = word
            if context not in (".", "./"):
                raise RunRequestError(f"The build context '{context}' is not supported: use '.'.")
            build = BuildPlan(dockerfile, tags, False, args, target, req.get("sourceLocation"),
                              int(req.get("timeout") or 3600))
        elif "push" in step:
            items = step["push"]
            pushed += [subst(str(x)) for x in (items if isinstance(items, list) else [items])]
        else:
            kind = next(iter(step), "?")
            raise RunRequestError(f"The task step '{kind}' is not supported by the emulator (build and push only).")
    if build is None:
        raise RunRequestError("The task YAML has no build step.")
    if pushed:
        unknown = [p for p in pushed if p not in build.image_names]
        if unknown:
            raise RunRequestError(f"The push step names images the build step did not tag: {', '.join(unknown)}.")
        build.image_names = pushed + [t for t in build.image_names if t not in pushed]
        build.push = True
    return build


@dataclass
class RunOutcome:
    succeeded: bool
    log_text: str
    error: str | None
    result: build_mod.BuildResult | None


def execute_build(plan: BuildPlan, source: bytes | None, *, run_id: str, login_server: str,
                  staging: RegistryContent, resolve_base: build_mod.ResolveBase | None,
                  clock: Callable[[], datetime]) -> RunOutcome:
    """Run the build into ``staging`` (the caller copies pushed images to the registry when the run ends)."""
    if source is None:
        when = clock().strftime("%Y/%m/%d %H:%M:%S")
        if plan.source_location:
            reason = (f"failed to download source code: the source location '{plan.source_location}' names no "
                      "uploaded blob (upload it to the URL listBuildSourceUploadUrl returns)")
        else:
            reason = "failed to download source code: the run request has no sourceLocation"
        text = (f"{when} Downloading source code...\n{when} {reason}\n\n"
                f"Run ID: {run_id} failed after 0s. Error: failed to download context. Please check if the "
                "URL is incorrect. If it has credentials, please check if they are correct\n")
        return RunOutcome(False, text, reason, None)
    result = build_mod.run_build(
        source, dockerfile_path=plan.dockerfile, image_names=plan.image_names, build_args=plan.build_args,
        target=plan.target, registry=staging, push=plan.push, run_id=run_id, login_server=login_server,
        resolve_base=resolve_base, clock=clock, timeout_seconds=plan.timeout,
    )
    return RunOutcome(result.succeeded, result.log_text, result.error, result)


# --- who may do what on a registry's data plane ----------------------------------------------------


@dataclass(frozen=True)
class Subject:
    """Who is calling: the admin user, an Entra principal (object id), or nobody."""

    kind: str  # "admin" | "principal" | "anonymous"
    principal_id: str = ""


ANONYMOUS = Subject("anonymous")


@dataclass
class Access:
    """ACR's access rules, answered from the current state (admin switch, roles, anonymous pull).

    ``is_owner(oid)``: the principal is treated as Owner of every registry (the emulator's own
    service principal). ``roles(oid, registry_id)``: built-in role names assigned to it there.
    """

    is_owner: Callable[[str], bool]
    roles: Callable[[str, str], set[str]]

    def actions(self, reg: Registry, subject: Subject) -> frozenset[str]:
        if subject.kind == "admin":
            return ALL_ACTIONS if reg.admin_user_enabled else frozenset()
        if subject.kind == "principal":
            if self.is_owner(subject.principal_id):
                return ALL_ACTIONS
            out: set[str] = set()
            for role in self.roles(subject.principal_id, reg.id):
                out |= ROLE_ACTIONS.get(role, frozenset())
            return frozenset(out)
        return frozenset({"pull"}) if reg.anonymous_pull_enabled else frozenset()

    def grant(self, reg: Registry, subject: Subject, resource_type: str, name: str,
              requested: Iterable[str]) -> list[str]:
        """The requested actions this subject gets on ``resource_type:name`` (``registry:catalog:*`` too)."""
        allowed = self.actions(reg, subject)
        requested = [a for a in requested if a]
        if resource_type == "registry":
            ok = name == "catalog" and ("*" in allowed or "metadata_read" in allowed)
            return ["*"] if ok and "*" in requested else []
        if resource_type != "repository":
            return []
        if "*" in requested:
            return sorted(allowed - {"*"}) if allowed else []
        return [a for a in requested if a in allowed]
