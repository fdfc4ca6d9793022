"""Fixtures for the Microsoft.App provider: an emulator with in-test registry and log services."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from app_helpers import FakeLogs, FakeRegistry, Lab

from pytest_acalab.emulator import Emulator


@pytest.fixture
def registry() -> FakeRegistry:
    return FakeRegistry()


@pytest.fixture
def logs() -> FakeLogs:
    return FakeLogs()


@pytest.fixture
def emu(registry: FakeRegistry, logs: FakeLogs) -> Iterator[Emulator]:
    with Emulator(profile="fast") as e:
        e.platform.services.registry = registry
        e.platform.services.logs = logs
        yield e


@pytest.fixture
def lab(emu: Emulator, registry: FakeRegistry, logs: FakeLogs) -> Lab:
    return Lab(emu, registry, logs)
