"""Every resource provider the emulator carries, registered on one platform."""

from __future__ import annotations

import importlib

from pytest_acalab.emulator.platform.core import Platform

# Each module exposes ``register(platform)``. Order matters only for explicit routes.
PROVIDERS = (
    "pytest_acalab.emulator.resources.groups",
    "pytest_acalab.emulator.resources.deployments",
    "pytest_acalab.emulator.operationalinsights.responses",
    "pytest_acalab.emulator.containerregistry.responses",
    "pytest_acalab.emulator.authorization.responses",
    "pytest_acalab.emulator.app.responses",
    "pytest_acalab.emulator.storage.responses",
    "pytest_acalab.emulator.insights.responses",
    "pytest_acalab.emulator.managedidentity.responses",
    "pytest_acalab.emulator.keyvault.responses",
    "pytest_acalab.emulator.insights.metrics",
)


def register_all(platform: Platform) -> None:
    for name in PROVIDERS:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name == name:
                continue  # provider not written yet
            raise
        module.register(platform)
