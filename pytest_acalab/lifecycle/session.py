"""Per-process state of a pytest run: options, the backend (created on first use), the run id, how the
process answers SIGINT/SIGTERM, and the lease it holds on the resource groups it created."""

from __future__ import annotations

import logging
import os
import signal
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from pytest_acalab.backends import Backend, check_configuration, create_backend
from pytest_acalab.errors import ConfigurationError
from pytest_acalab.labfile.durations import parse_duration
from pytest_acalab.lifecycle.naming import (
    DEFAULT_LEASE,
    TAG_DELETE_AFTER,
    TAG_LEASE,
    TAG_RUN,
    TAG_WORKER,
    lease_until,
    new_run_id,
    worker_id,
)
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
    baseline: Path | None = None
    """An earlier run (report directory or junit file) to compare this one with."""
    profile: str = "fast"
    speed: float = 1.0
    delete_after: timedelta = timedelta(hours=6)
    min_wait: float | None = None
    lease: timedelta = DEFAULT_LEASE
    max_wait: float | None = None
    poll_interval: float | None = None

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
        baseline = opt("acalab_baseline", None, "ACALAB_BASELINE")
        delete_after = opt("acalab_delete_after", "acalab_delete_after") or "6h"
        speed = opt("acalab_speed", None, "ACALAB_SPEED")
        min_wait = opt("acalab_min_wait", "acalab_min_wait", "ACALAB_MIN_WAIT")
        lease = opt("acalab_lease", "acalab_lease", "ACALAB_LEASE")
        max_wait = opt("acalab_max_wait", None, "ACALAB_MAX_WAIT")
        poll_interval = opt("acalab_poll_interval", None, "ACALAB_POLL_INTERVAL")
        try:
            lease_for = timedelta(seconds=parse_duration(str(lease))) if lease else DEFAULT_LEASE
            if lease_for.total_seconds() < 1:
                raise ValueError(f"--acalab-lease {lease}: a lease must last at least 1s")
            keep_for = timedelta(seconds=parse_duration(str(delete_after)))
            speed_value = float(speed) if speed is not None else 1.0
            min_wait_value = parse_duration(str(min_wait)) if min_wait is not None else None
            max_wait_value = _positive("--acalab-max-wait", max_wait)
            poll_value = _positive("--acalab-poll-interval", poll_interval)
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
            baseline=Path(baseline) if baseline else None,
            profile=opt("acalab_profile", "acalab_profile", "ACALAB_PROFILE") or "fast",
            speed=speed_value,
            delete_after=keep_for,
            min_wait=min_wait_value,
            lease=lease_for,
            max_wait=max_wait_value,
            poll_interval=poll_value,
        )


def _positive(option: str, value: Any) -> float | None:
    """A duration option (``30s``, ``0.2s``, ``2m``) as seconds > 0, or None when not given."""
    if value is None:
        return None
    seconds = parse_duration(str(value))
    if seconds <= 0:
        raise ValueError(f"{option} {value}: expected a duration above zero, e.g. 30s")
    return seconds


@dataclass
class AcalabSession:
    options: Options
    run_id: str = field(default_factory=new_run_id)
    scrubber: Scrubber = field(default_factory=Scrubber)
    progress: Any = None
    """Callable[[str], None] showing long waits on the terminal (set by the plugin when verbose)."""
    interrupts: Interrupts = field(default_factory=lambda: Interrupts())
    _backend: Backend | None = None
    _backend_error: Exception | None = None
    _lease_keeper: LeaseKeeper | None = None

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
                                               profile=opts.profile, speed=opts.speed, min_wait=opts.min_wait,
                                               max_wait=opts.max_wait, poll_interval=opts.poll_interval)
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

    def group_created(self, name: str) -> None:
        """A group this process created: renew its lease while the process lives."""
        if self._lease_keeper is None and self._backend is not None:
            self._lease_keeper = LeaseKeeper(self._backend, self.run_id, self.options.lease)
        if self._lease_keeper is not None:
            self._lease_keeper.track(name)

    def shares_state(self) -> bool:
        """True when another process can see this run's groups (Azure, or an emulator attached by URL):
        only then can a controller or a later run clean up after a process that died."""
        return self.options.backend == "azure" or bool(os.environ.get("ACALAB_EMULATOR_URL"))

    def close(self) -> None:
        if self._lease_keeper is not None:
            self._lease_keeper.stop(release=True)
            self._lease_keeper = None
        if self._backend is not None:
            self._backend.close()
            self._backend = None


# ---------------------------------------------------------------------------------------------- signals
log = logging.getLogger("pytest_acalab")


class Interrupts:
    """SIGINT and SIGTERM, in the controller and in every xdist worker.

    The first signal becomes a ``KeyboardInterrupt`` (pytest then tears down, deleting the groups),
    except inside a shielded section (creating or deleting a group), where it waits for the section
    to end so no group is left half-created or half-deleted. Once pytest has caught the interrupt,
    further signals are acknowledged on stderr and otherwise ignored until the cleanup has finished: a second
    Ctrl-C cannot abandon a group (the cleanup is bounded by the backend's deadlines; SIGKILL still
    ends the process, and the group's lapsing lease then lets ``acalab sweep`` remove it).
    """

    def __init__(self) -> None:
        self.received: list[int] = []
        self.interrupted = False
        self.acknowledged = False
        """pytest caught the interrupt (``pytest_keyboard_interrupt``): its cleanup runs now. Until then a
        repeated signal raises again, since Python drops an exception raised in a garbage-collection
        callback ("Exception ignored in ..."), which would otherwise swallow the first one."""
        self.pending: int | None = None
        self._shields = 0
        self._installed: dict[int, Any] = {}

    def install(self) -> None:
        """Install the handlers (main thread only; elsewhere signals keep their handlers)."""
        if threading.current_thread() is not threading.main_thread():
            return
        for sig in (signal.SIGINT, signal.SIGTERM):
            try:
                self._installed[sig] = signal.signal(sig, self._on_signal)
            except (ValueError, OSError):
                pass

    def uninstall(self) -> None:
        for sig, previous in self._installed.items():
            try:
                signal.signal(sig, previous if previous is not None else signal.SIG_DFL)
            except (ValueError, OSError, TypeError):
                pass
        self._installed.clear()

    def _say(self, text: str) -> None:
        try:
            sys.stderr.write(f"\npytest-acalab ({worker_id()}): {text}\n")
            sys.stderr.flush()
        except (OSError, ValueError):
            pass

    def _on_signal(self, signum: int, frame: Any) -> None:
        self.received.append(signum)
        name = signal.Signals(signum).name
        if self.acknowledged:
            self._say(f"{name} received again: still deleting this run's resource groups; the process ends "
                      "as soon as they are gone")
            return
        if self.interrupted and isinstance(sys.exc_info()[1], KeyboardInterrupt):
            # the first interrupt is being handled (pytest's own except clause runs, before it calls
            # pytest_keyboard_interrupt): raising again there would escape pytest as a raw traceback
            self._say(f"{name} received again: the interrupt is being handled; this run's resource groups "
                      "are deleted next")
            return
        if self._shields:
            self.pending = signum
            self._say(f"{name} received: finishing the resource group operation in progress first")
            return
        self.interrupted = True
        raise KeyboardInterrupt(f"{name}: the run was interrupted")

    def deliver(self) -> None:
        """Raise a signal that waited for a shielded section (called where an interrupt is safe)."""
        if self.pending is not None and not self.interrupted and not self._shields:
            signum, self.pending = self.pending, None
            self.interrupted = True
            raise KeyboardInterrupt(f"{signal.Signals(signum).name}: the run was interrupted")

    @contextmanager
    def shielded(self, deliver_after: bool = True) -> Iterator[None]:
        """No interrupt inside; a signal received meanwhile is raised when the section ends
        (``deliver_after``) or at the next safe point (the next item, or the end of the session)."""
        self._shields += 1
        try:
            yield
        finally:
            self._shields -= 1
        if deliver_after:
            self.deliver()


# ---------------------------------------------------------------------------------------------- leases
class LeaseKeeper:
    """Renews the ``acalab-lease-until`` tag of the groups this process created, every third of the lease.

    When the process stops renewing (it ended, or was killed), the lease lapses and the group becomes
    sweepable: ``acalab sweep`` and the next run's start remove it. At a normal end, groups still there
    (kept on purpose, or whose deletion failed) get a lease until their ``DeleteAfter``, so ``--acalab-keep``
    keeps them for as long as it promises.
    """

    def __init__(self, backend: Backend, run_id: str, lease: timedelta) -> None:
        # loaded only on this path, keeping pytest --version and collection light
        from pytest_acalab.backends.clients import Clients

        self._clients = Clients(backend)
        self._deadline = min(backend.deadlines.transient, 60.0)
        self.run_id = run_id
        self.lease = lease
        self.groups: set[str] = set()
        self.renewals = 0
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="acalab-lease", daemon=True)
        self._thread.start()

    def track(self, name: str) -> None:
        with self._lock:
            self.groups.add(name)

    def _loop(self) -> None:
        interval = max(self.lease.total_seconds() / 3, 0.2)
        while not self._stop.wait(interval):
            try:
                self.renew()
            except Exception as exc:  # noqa: BLE001 - a missed renewal is retried at the next tick
                log.debug("lease renewal failed: %s", exc)

    def _current(self) -> list[Any]:
        api = self._clients.resources.resource_groups
        flt = f"tagName eq '{TAG_RUN}' and tagValue eq '{self.run_id}'"
        with self._lock:
            mine = {g.lower() for g in self.groups}
        return [g for g in api.list(filter=flt) if g.name.lower() in mine
                and (g.tags or {}).get(TAG_WORKER) == worker_id()
                and (g.properties is None or g.properties.provisioning_state != "Deleting")]

    def renew(self, until: datetime | None = None) -> int:
        """Move the lease of every group still there to ``until`` (default: now + lease)."""
        api = self._clients.resources.resource_groups
        renewed = 0
        for group in self._current():
            tags = dict(group.tags or {})
            tags[TAG_LEASE] = (until.isoformat(timespec="seconds") if until is not None
                               else lease_until(datetime.now(UTC), self.lease))
            try:
                api.update(group.name, {"tags": tags})
                renewed += 1
            except Exception as exc:  # noqa: BLE001 - deleted meanwhile, or transient
                log.debug("lease of %s not renewed: %s", group.name, exc)
        self.renewals += 1
        return renewed

    def stop(self, release: bool) -> None:
        """Stop renewing; with ``release``, groups still there keep a lease until their DeleteAfter."""
        self._stop.set()
        self._thread.join(timeout=self._deadline)
        if not release:
            return
        try:
            api = self._clients.resources.resource_groups
            for group in self._current():
                tags = dict(group.tags or {})
                if TAG_DELETE_AFTER in tags:
                    tags[TAG_LEASE] = tags[TAG_DELETE_AFTER]
                    api.update(group.name, {"tags": tags})
        except Exception as exc:  # noqa: BLE001 - then the lease lapses and the sweep decides
            log.debug("leases of kept groups not extended: %s", exc)
