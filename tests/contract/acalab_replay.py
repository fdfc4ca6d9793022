"""Replaying Azure's recorded bytes through the real SDK clients, and a LabContext around them.

``ReplayTransport`` is azure-core's own ``RequestsTransport`` on a ``requests`` session whose adapter
answers from cassette interactions (matched by method + path, case-insensitively: the SDK sends
``getAuthtoken``, the CLI ``getAuthToken``). The same adapter serves the event-stream GET, which the
probes make with ``requests``.
"""

from __future__ import annotations

import io
import json
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import requests
import urllib3
import yaml
from azure.core.credentials import AccessToken
from azure.core.pipeline.transport import RequestsTransport

from pytest_acalab.backends.base import Backend, Deadlines
from pytest_acalab.backends.clients import Clients
from pytest_acalab.context import LabContext, ResourceRef
from pytest_acalab.extensions import builtin_vocabulary
from pytest_acalab.labfile import load_lab
from pytest_acalab.reports.journal import Journal
from pytest_acalab.reports.scrub import Scrubber

DATA = Path(__file__).parent / "data"
SUBSCRIPTION = "00000000-0000-0000-0000-000000000000"
ARM = "https://management.azure.com"


def data(name: str) -> Any:
    return json.loads((DATA / name).read_text(encoding="utf-8"))


def cassette(name: str) -> list[dict[str, Any]]:
    return yaml.safe_load((DATA / name).read_text(encoding="utf-8"))["interactions"]


def interaction(method: str, url: str, body: Any, status: int = 200) -> dict[str, Any]:
    """A response built by a test (e.g. a list envelope around a recorded item)."""
    text = body if isinstance(body, str) else json.dumps(body)
    return {"request": {"method": method, "uri": url},
            "response": {"status": {"code": status}, "headers": {"content-type": ["application/json"]},
                         "body": {"string": text}}}


class ReplayAdapter(requests.adapters.BaseAdapter):
    _DROP = {"content-encoding", "content-length", "transfer-encoding"}

    def __init__(self, interactions: Iterable[dict[str, Any]]) -> None:
        super().__init__()
        self.answers: dict[tuple[str, str], list[dict[str, Any]]] = {}
        for item in interactions:
            self.answers.setdefault(self._key(item["request"]["method"], item["request"]["uri"]), []).append(item)
        self.requests: list[tuple[str, str]] = []

    @staticmethod
    def _key(method: str, url: str) -> tuple[str, str]:
        return method.upper(), urlsplit(url).path.lower().rstrip("/")

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:
        key = self._key(request.method or "GET", request.url or "")
        self.requests.append((key[0], request.url or ""))
        queue = self.answers.get(key)
        if not queue:
            raise LookupError(f"no recorded answer for {key[0]} {request.url}")
        item = queue.pop(0) if len(queue) > 1 else queue[0]
        response = item["response"]
        body = response["body"]["string"]
        content = body.encode("utf-8") if isinstance(body, str) else bytes(body or b"")
        headers = {k: ", ".join(v) if isinstance(v, list) else str(v)
                   for k, v in (response.get("headers") or {}).items() if k.lower() not in self._DROP}
        headers["content-length"] = str(len(content))
        raw = urllib3.HTTPResponse(body=io.BytesIO(content), headers=headers, status=response["status"]["code"],
                                   preload_content=False, decode_content=False)
        return requests.adapters.HTTPAdapter().build_response(request, raw)

    def close(self) -> None:
        pass


def replay_session(adapter: ReplayAdapter) -> requests.Session:
    session = requests.Session()
    session.mount("https://", adapter)
    session.mount("http://", adapter)
    return session


class ReplayTransport(RequestsTransport):
    def __init__(self, adapter: ReplayAdapter) -> None:
        super().__init__(session=replay_session(adapter), session_owner=False)


class StaticCredential:
    def get_token(self, *scopes: str, **kwargs: Any) -> AccessToken:
        return AccessToken("replay-token", int(time.time()) + 3600)


class ReplayBackend(Backend):
    name = "replay"
    subscription_id = SUBSCRIPTION

    def __init__(self) -> None:
        self.deadlines = Deadlines(probe=2.0, action=2.0, deployment=2.0, teardown=1.0, poll_interval=0.01)

    def credential(self) -> Any:
        return StaticCredential()

    def client_options(self) -> dict[str, Any]:
        return {"base_url": ARM}

    def logs_endpoint(self) -> str:
        return "https://api.loganalytics.io"

    def registry_endpoint(self, login_server: str) -> str:
        return f"https://{login_server}"

    @property
    def tls_verify(self) -> bool:
        return True

    def kept_group_location(self) -> str:
        return "nowhere (no Azure behind this backend)"


LAB_YAML = """\
title: Contract lab
metadata: {difficulty: Beginner, duration: 1 min, tier: Consumption, failure_mode: test}
infra:
  template: infra/main.json
  resources:
    app: Microsoft.App/containerApps
    registry: Microsoft.ContainerRegistry/registries
    environment: Microsoft.App/managedEnvironments
    workspace: Microsoft.OperationalInsights/workspaces
hypothesis:
  statement: IF a revision is unhealthy THEN the probe says so
  rows:
    - key: health
      variable: Revision health
      control: Healthy
      experimental: Unhealthy
      failing: {probe: revision_health, with: {app: app}, expect: {equals: Unhealthy}}
      recovered: {probe: revision_health, with: {app: app}, expect: {equals: Healthy}}
trigger: deployment
recovery: []
experiment_log:
  - {step: 1, action: Deploy, expected: It deploys, from: deploy}
"""


@pytest.fixture
def lab(tmp_path: Path):
    folder = tmp_path / "contract_lab"
    (folder / "infra").mkdir(parents=True)
    (folder / "infra" / "main.json").write_text(json.dumps(
        {"$schema": "https://schema.management.azure.com/schemas/2019-04-01/deploymentTemplate.json#",
         "contentVersion": "1.0.0.0", "parameters": {}, "resources": []}), encoding="utf-8")
    (folder / "lab.yaml").write_text(LAB_YAML, encoding="utf-8")
    return load_lab(folder)


def replay_context(lab: Any, interactions: Iterable[dict[str, Any]], *, resource_group: str, app: str,
                   monkeypatch: pytest.MonkeyPatch | None = None) -> tuple[LabContext, ReplayAdapter]:
    """A LabContext whose Container Apps client (and event-stream session) answer from ``interactions``."""
    from datetime import UTC, datetime

    from azure.mgmt.appcontainers import ContainerAppsAPIClient

    adapter = ReplayAdapter(interactions)
    backend = ReplayBackend()
    clients = Clients(backend)
    clients.__dict__["apps"] = ContainerAppsAPIClient(StaticCredential(), SUBSCRIPTION, base_url=ARM,
                                                      transport=ReplayTransport(adapter))
    scrubber = Scrubber()
    ctx = LabContext(lab=lab, backend=backend, clients=clients, resource_group=resource_group,
                     deployment_name="main", location="eastus", run_id="contract", journal=Journal(lab.id, scrubber),
                     scrubber=scrubber, vocabulary=builtin_vocabulary())
    app_id = (f"/subscriptions/{SUBSCRIPTION}/resourceGroups/{resource_group}/providers/Microsoft.App/"
              f"containerApps/{app}")
    ctx.resources["app"] = ResourceRef("app", app_id, app, "Microsoft.App/containerApps", {"name": app})
    ctx.lab_started = datetime(2020, 1, 1, tzinfo=UTC)
    if monkeypatch is not None:
        monkeypatch.setattr("pytest_acalab.probes.logs.http_session", lambda: replay_session(adapter))
    return ctx, adapter
