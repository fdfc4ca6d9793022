"""Where labs run (the emulator or Azure): a credential and endpoints, and the SDK clients built from them.

``create_backend`` is the one place a backend is built (the pytest run and ``acalab sweep`` alike);
``check_configuration`` looks at the environment only, for failing fast before any item runs.
"""

from __future__ import annotations

from pytest_acalab.backends import azure, emulator
from pytest_acalab.backends.base import Backend, Deadlines
from pytest_acalab.errors import ConfigurationError

__all__ = ["BACKENDS", "Backend", "Deadlines", "check_configuration", "create_backend"]

BACKENDS = ("emulator", "azure")


def check_configuration(kind: str, subscription: str | None = None) -> None:
    """``ConfigurationError`` with one line saying what to set; no credential is built, no network is used."""
    if kind == "azure":
        azure.check_configuration(subscription)
    elif kind == "emulator":
        emulator.check_configuration()
    else:
        raise ConfigurationError(f"unknown backend '{kind}': expected one of {', '.join(BACKENDS)}")


def create_backend(kind: str, *, subscription: str | None = None, location: str | None = None,
                   profile: str = "fast", speed: float = 1.0, min_wait: float | None = None,
                   max_wait: float | None = None, poll_interval: float | None = None) -> Backend:
    """The backend ``kind``: Azure (``subscription``), or the emulator (attached through ``ACALAB_EMULATOR_URL``,
    else started in this process with the clock ``profile``/``speed``); ``max_wait``/``poll_interval`` shrink
    Azure's waits (``--acalab-max-wait``/``--acalab-poll-interval``)."""
    check_configuration(kind, subscription)
    if kind == "azure":
        return azure.AzureBackend(subscription, location, max_wait=max_wait, poll_interval=poll_interval)
    return emulator.EmulatorBackend(profile, speed, location, min_wait)
