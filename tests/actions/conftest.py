"""Fixtures of the action tests: an emulator per module, the acr_pull_failure lab deployed per test."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from helpers.probekit import context, copy_acr_lab
from pytest_acalab.backends.emulator import EmulatorBackend
from pytest_acalab.context import LabContext
from pytest_acalab.context.deployments import deploy_template


@pytest.fixture(scope="module")
def backend() -> Iterator[EmulatorBackend]:
    emulator = EmulatorBackend(profile="fast")
    try:
        yield emulator
    finally:
        emulator.close()


@pytest.fixture
def case_a(backend, tmp_path) -> LabContext:
    """The lab deployed with its missing tag: the deployment failed, the app has no revision."""
    lab = copy_acr_lab(tmp_path)
    ctx = context(lab, backend, create_group=True)
    deploy_template(ctx)
    ctx.refresh_resources()
    return ctx
