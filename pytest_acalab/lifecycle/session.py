"""Per-process state of a pytest run: options, the backend (created on first use), the run id."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from pytest_acalab.backends import Backend, check_configuration, create_backend
from pytest_acalab.errors import ConfigurationError
from pytest_acalab.labfile.durations import parse_duration
from pytest_acalab.lifecycle.naming import new_run_id
from pytest_acalab.reports.scrub import Scrubber


@dataclass
class Options:
    backend: str = "emulator"
    subscription: str | None = None
    location: str | None = None
    keep: bool = False
    keep_on_failure: bool = False
    resource_group: str | None = None
    report_dir: Path | None = None
    profile: str = "fast"
    speed: float = 1.0
    delete_after: timedelta = timedelta(hours=6)
    min_wait: float | None = None

    @classmethod
    def from_config(cls, config: pytest.Config) -> Options:
        def opt(name: str, ini: str | None = None, env: str | None = None) -> Any:
            value = config.getoption(name, default=None)
            if value is None and env:
                value = os.environ.get(env) or None
            if value is None and ini:
                value = config.getini(ini) or None
            return value

        backend = opt("acalab_backend", "acalab_backend", "ACALAB_BACKEND") or "emulator"
        if backend not in ("emulator", "azure"):
            raise ConfigurationError(f"unknown backend '{backend}' (ACALAB_BACKEND / --acalab-backend): "
                                     "expected 'emulator' or 'azure'")
        report_dir = opt("acalab_report_dir", "acalab_report_dir", "ACALAB_REPORT_DIR")
        delete_after = opt("acalab_delete_after", "acalab_delete_after") or "6h"
        speed = opt("acalab_speed", None, "ACALAB_SPEED")
        min_wait = opt("acalab_min_wait", "acalab_min_wait", "ACALAB_MIN_WAIT")
        try:
            keep_for = timedelta(seconds=parse_duration(str(delete_after)))
            speed_value = float(speed) if speed is not None else 1.0
            min_wait_value = parse_duration(str(min_wait)) if min_wait is not None else None
        except ValueError as exc:
            raise ConfigurationError(f"acalab options: {exc}") from None
        return cls(
            backend=backend,
            subscription=opt("acalab_subscription"),
            location=opt("acalab_location", None, "ACALAB_LOCATION"),
            keep=bool(config.getoption("acalab_keep", default=False)),
            keep_on_failure=bool(config.getoption("acalab_keep_on_failure", default=False)),
            resource_group=opt("acalab_resource_group"),
            report_dir=Path(report_dir) if report_dir else None,
            profile=opt("acalab_profile", "acalab_profile", "ACALAB_PROFILE") or "fast",
            speed=speed_value,
            delete_after=keep_for,
            min_wait=min_wait_value,
        )


@dataclass
class AcalabSession:
    options: Options
    run_id: str = field(default_factory=new_run_id)
    scrubber: Scrubber = field(default_factory=Scrubber)
    progress: Any = None
    """Callable[[str], None] showing long waits on the terminal (set by the plugin when verbose)."""
    _backend: Backend | None = None
    _backend_error: Exception | None = None

    def validate(self) -> None:
        """Check the backend's configuration without building it: environment and PATH only, no network.

        ``ConfigurationError`` with one line saying what to set; the plugin turns it into a usage error
        before the first item runs, instead of every lab erroring with the same message.
        """
        check_configuration(self.options.backend, self.options.subscription)

    def backend(self) -> Backend:
        """The backend, created once per process on first use (``--collect-only`` never creates one)."""
        if self._backend_error is not None:
            raise self._backend_error
        if self._backend is None:
            opts = self.options
            try:
                self._backend = create_backend(opts.backend, subscription=opts.subscription, location=opts.location,
                                               profile=opts.profile, speed=opts.speed, min_wait=opts.min_wait)
            except ConfigurationError as exc:
                self._backend_error = exc
                raise
            for secret in self._backend.secrets():
                self.scrubber.add(secret)
        return self._backend

    @property
    def created_backend(self) -> Backend | None:
        """The backend if one was created in this process (teardown never creates one just to delete)."""
        return self._backend

    def refresh_secrets(self) -> None:
        if self._backend is not None:
            for secret in self._backend.secrets():
                self.scrubber.add(secret)

    def close(self) -> None:
        if self._backend is not None:
            self._backend.close()
            self._backend = None
