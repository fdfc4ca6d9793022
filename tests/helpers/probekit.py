"""Helpers for the probe and check-runner tests: labs in tmp folders, contexts on a backend."""

from __future__ import annotations

import shutil
import uuid
from pathlib import Path
from typing import Any

from pytest_acalab.backends.base import Backend, Deadlines
from pytest_acalab.backends.clients import Clients
from pytest_acalab.context import LabContext
from pytest_acalab.extensions import builtin_vocabulary
from pytest_acalab.labfile import load_lab
from pytest_acalab.labfile.model import Lab
from pytest_acalab.reports.journal import Journal
from pytest_acalab.reports.scrub import Scrubber

ROOT = Path(__file__).resolve().parents[2]
ACR_LAB = ROOT / "labs" / "acr_pull_failure"

MINIMAL = """\
title: Check runner lab
metadata: {difficulty: Beginner, duration: 1 min, tier: Consumption, failure_mode: test}
infra:
  template: infra/main.json
  resources: {app: Microsoft.App/containerApps}
hypothesis:
  statement: IF x THEN y
  rows:
    - key: only
      variable: v
      control: c
      experimental: e
      failing: {probe: revisions, with: {app: app}, expect: {count: 0}}
      recovered: {probe: revisions, with: {app: app}, expect: {count: 1}}
trigger: deployment
recovery: []
experiment_log:
  - {step: 1, action: Deploy, expected: It deploys, from: deploy}
"""


class OfflineBackend(Backend):
    """A backend for tests whose probes never call Azure (the runner is what is under test)."""

    name = "offline"
    subscription_id = "00000000-0000-0000-0000-000000000000"

    def __init__(self, probe: float = 1.0, poll: float = 0.01) -> None:
        self.deadlines = Deadlines(probe=probe, action=probe, deployment=probe, teardown=probe, poll_interval=poll)

    def credential(self) -> Any:
        raise AssertionError("offline backend: no credential")

    def client_options(self) -> dict[str, Any]:
        return {}

    def logs_endpoint(self) -> str:
        return "https://offline.invalid"

    def registry_endpoint(self, login_server: str) -> str:
        return f"https://{login_server}"

    @property
    def tls_verify(self) -> bool:
        return True

    def kept_group_location(self) -> str:
        return "nowhere (no Azure behind this backend)"


def minimal_lab(folder: Path) -> Lab:
    (folder / "infra").mkdir(parents=True, exist_ok=True)
    (folder / "infra" / "main.json").write_text(
        '{"$schema": "https://schema.management.azure.com/schemas/2019-04-01/deploymentTemplate.json#", '
        '"contentVersion": "1.0.0.0", "resources": []}', encoding="utf-8")
    (folder / "lab.yaml").write_text(MINIMAL, encoding="utf-8")
    return load_lab(folder)


def copy_acr_lab(tmp: Path) -> Lab:
    """The project's own acr_pull_failure lab, copied so a test never touches the original."""
    target = tmp / "acr_pull_failure"
    shutil.copytree(ACR_LAB, target)
    return load_lab(target)


def context(lab: Lab, backend: Backend, resource_group: str | None = None, secrets: set[str] | None = None,
            create_group: bool = False) -> LabContext:
    scrubber = Scrubber((secrets or set()) | backend.secrets())
    clients = Clients(backend)
    group = resource_group or f"rg-acalab-{uuid.uuid4().hex[:8]}"
    if create_group:
        clients.resources.resource_groups.create_or_update(group, {"location": "koreacentral"})
    return LabContext(lab=lab, backend=backend, clients=clients, resource_group=group, deployment_name="main",
                      location="koreacentral", run_id=uuid.uuid4().hex[:6], journal=Journal(lab.id, scrubber),
                      scrubber=scrubber, vocabulary=builtin_vocabulary(), parameters=dict(lab.infra.parameters))
