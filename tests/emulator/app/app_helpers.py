"""Helpers for the Microsoft.App provider tests: in-test registry/log services, SDK clients, polling."""

from __future__ import annotations

import hashlib
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypeVar

import requests

from pytest_acalab.emulator import Emulator
from pytest_acalab.emulator.containerregistry import catalog
from pytest_acalab.emulator.platform.services import ImageFiles, PullAuth, PullResult

T = TypeVar("T")
LOCATION = "koreacentral"
OK = PullResult(True, digest="sha256:" + "0" * 64, size=1234567)


UNAUTHORIZED = PullResult(False, "UNAUTHORIZED", "authentication required, visit "
                          "https://aka.ms/acr/authorization for more information.")


def python_image(cmd: list[str], files: dict[str, bytes] | None = None, env: list[str] | None = None) -> ImageFiles:
    """A real image the runtime can run: ``FROM python:3.11-slim``, ``WORKDIR /app``, the given files and CMD."""
    config = {"config": {"Cmd": cmd, "WorkingDir": "/app", "Env": env or ["PYTHONUNBUFFERED=1"],
                         "Labels": {"org.opencontainers.image.base.name": "python:3.11-slim"}}}
    content = {f"app/{name}": (data, 0o644) for name, data in (files or {}).items()}
    digest = "sha256:" + hashlib.sha256(repr((cmd, sorted(content), env)).encode()).hexdigest()
    return ImageFiles(digest, config, content)


def web_image(port: int = 8000, page: bytes = b"hello from the lab image\n") -> ImageFiles:
    """The standard library's web server on ``port``, serving ``index.html`` (``/``) and 404 for the rest."""
    return python_image(["python", "-m", "http.server", str(port)], {"index.html": page})


def missing(image: str) -> PullResult:
    tag = image.rsplit(":", 1)[1]
    return PullResult(False, "MANIFEST_UNKNOWN", f'manifest tagged by "{tag}" is not found', {"Tag": tag})


@dataclass
class FakeRegistry:
    """``services.registry`` for these tests: image → result (default: pullable), every call recorded."""

    results: dict[str, PullResult] = field(default_factory=dict)
    script: dict[str, list[PullResult]] = field(default_factory=dict)
    """Answers given in turn for an image (the last one repeats): pass validation, fail at pull."""
    policy: Callable[[str, PullAuth], PullResult | None] | None = None
    calls: list[tuple[str, PullAuth]] = field(default_factory=list)
    content: dict[str, ImageFiles] = field(default_factory=dict)

    def check_pull(self, image: str, auth: PullAuth) -> PullResult:
        self.calls.append((image, auth))
        if self.policy is not None:
            answer = self.policy(image, auth)
            if answer is not None:
                return answer
        turns = self.script.get(image)
        if turns:
            return turns.pop(0) if len(turns) > 1 else turns[0]
        return self.results.get(image, OK)

    def fetch(self, image: str) -> ImageFiles | None:
        """Content for any pullable image: a small web server listening on 8000 (what the apps' ingress expects)."""
        if image in self.content:
            return self.content[image]
        stand_in = catalog.lookup_reference(image)
        if stand_in is not None:
            return ImageFiles(stand_in.digest, stand_in.config_doc(), stand_in.files())
        return web_image()

    def missing(self, image: str) -> None:
        self.results[image] = missing(image)

    def unauthorized(self, image: str) -> None:
        self.results[image] = UNAUTHORIZED


@dataclass
class FakeLogs:
    """``services.logs`` for these tests: one workspace key per customer id, rows collected per table."""

    keys: dict[str, str] = field(default_factory=dict)
    rows: list[tuple[str, str, dict[str, Any], datetime]] = field(default_factory=list)

    def ingest(self, customer_id: str, table: str, rows: list[dict[str, Any]], generated_at: datetime) -> None:
        self.rows.extend((customer_id, table, r, generated_at) for r in rows)

    def check_shared_key(self, customer_id: str, shared_key: str) -> bool:
        return self.keys.get(customer_id) == shared_key


def wait_until(fn: Callable[[], T], what: str, timeout: float = 60.0) -> T:
    """Poll ``fn`` until it returns something truthy (every poll is a request, so the scheduler runs)."""
    deadline = time.monotonic() + timeout
    while True:
        value = fn()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}; last value {value!r}")
        time.sleep(0.005)


class Lab:
    """One emulator with a resource group, a Log Analytics-backed environment and helpers."""

    def __init__(self, emu: Emulator, registry: FakeRegistry, logs: FakeLogs) -> None:
        from azure.mgmt.appcontainers import ContainerAppsAPIClient
        from azure.mgmt.resource.resources import ResourceManagementClient

        self.emu, self.registry, self.logs = emu, registry, logs
        kwargs = emu.client_kwargs()
        self.client = ContainerAppsAPIClient(emu.credential(), emu.subscription_id, **kwargs, polling_interval=0)
        self.rm = ResourceManagementClient(emu.credential(), emu.subscription_id, **kwargs, polling_interval=0)
        self.rg = "rg-lab"
        self.rm.resource_groups.create_or_update(self.rg, {"location": LOCATION})
        self.customer_id = str(uuid.uuid4())
        self.shared_key = "key-" + uuid.uuid4().hex
        logs.keys[self.customer_id] = self.shared_key
        self.env = self.client.managed_environments.begin_create_or_update(self.rg, "env-lab", {
            "location": LOCATION,
            "properties": {"appLogsConfiguration": {"destination": "log-analytics", "logAnalyticsConfiguration": {
                "customerId": self.customer_id, "sharedKey": self.shared_key}}},
        }).result()
        self.session = requests.Session()
        self.session.verify = emu.ca_bundle

    def app_body(self, image: str, **extra: Any) -> dict[str, Any]:
        body: dict[str, Any] = {
            "location": LOCATION,
            "properties": {
                "environmentId": self.env.id,
                "configuration": {"activeRevisionsMode": "Single",
                                  "ingress": {"external": True, "targetPort": 8000}},
                "template": {"containers": [{"name": "app", "image": image,
                                             "resources": {"cpu": 0.25, "memory": "0.5Gi"}}],
                             "scale": {"minReplicas": 1, "maxReplicas": 1}},
            },
        }
        for key, value in extra.items():
            body["properties"][key] = value
        return body

    def create(self, name: str, image: str, **extra: Any) -> Any:
        return self.client.container_apps.begin_create_or_update(self.rg, name, self.app_body(image, **extra)).result()

    def revisions(self, app: str) -> dict[str, Any]:
        return {r.name: r for r in self.client.container_apps_revisions.list_revisions(self.rg, app)}

    def revision_when(self, app: str, name: str, pred: Callable[[Any], bool], what: str) -> Any:
        def probe() -> Any:
            rev = self.client.container_apps_revisions.get_revision(self.rg, app, name)
            return rev if pred(rev) else None
        return wait_until(probe, what)

    def revision_json(self, app: str, name: str) -> dict[str, Any]:
        """The revision as Azure sends it (the SDK model drops ``runningStateDetails``)."""
        return self.client.container_apps_revisions.get_revision(
            self.rg, app, name, cls=lambda response, _model, _headers: response.http_response.json())

    def revision_json_when(self, app: str, name: str, pred: Callable[[dict[str, Any]], bool], what: str,
                           timeout: float = 20.0) -> dict[str, Any]:
        def probe() -> dict[str, Any] | None:
            body = self.revision_json(app, name)
            return body if pred(body["properties"]) else None
        return wait_until(probe, what, timeout)

    def token(self, app: str) -> str:
        return self.client.container_apps.get_auth_token(self.rg, app).token

    def stream(self, app: str, token: str | None = None, *, stream: bool = False, **params: Any) -> requests.Response:
        url = self.client.container_apps.get(self.rg, app).event_stream_endpoint
        headers = {"Authorization": f"Bearer {token or self.token(app)}"}
        query = {"follow": "false", "output": "json", "tailLines": 300, **params}
        return self.session.get(url, params=query, headers=headers, timeout=10, verify=self.emu.ca_bundle,
                                stream=stream)

    def system_lines(self, app: str, **params: Any) -> list[dict[str, Any]]:
        import json
        resp = self.stream(app, **params)
        assert resp.status_code == 200, resp.text
        return [json.loads(line) for line in resp.text.splitlines() if line.strip()]
