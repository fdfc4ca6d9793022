"""Every interruption cleans up: SIGINT and SIGTERM, sent twice in a row, to the controller or to an xdist
worker, before, during and after provisioning and during the group's deletion; SIGKILL leaves groups
whose lapsed lease lets a plain ``acalab sweep`` remove them, and nothing else.

Real subprocesses against an emulator this module owns (realistic clock, sped up, so provisioning and
deletion last long enough to be interrupted in the middle). Each case counts the groups its labs left:
there must be none. The waits below poll conditions with generous caps; no timing is asserted.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import textwrap
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from helpers.labkit import HOLDS, write_lab
from pytest_acalab.emulator import Emulator

CAP = 90.0
"""Upper bound on any wait for a condition (never reached when things work)."""

STUCK = HOLDS.replace("""        expect: {equals: absent}
      recovered:""", """        expect: {equals: present}
        within: 1h
      recovered:""", 1)

WAITING_TEST = '''
import os
import time
from pathlib import Path


def test_waits_before_any_lab():
    marks = Path(os.environ["SIGTEST_DIR"])
    (marks / f"before-{os.environ.get('PYTEST_XDIST_WORKER', 'main')}").touch()
    while not (marks / "never").exists():  # held here until the signal arrives
        time.sleep(0.02)
'''

CONFTEST = '''
import os
from pathlib import Path


def pytest_configure(config):
    marks = Path(os.environ["SIGTEST_DIR"])
    marks.mkdir(exist_ok=True)
    (marks / f"{os.environ.get('PYTEST_XDIST_WORKER', 'main')}.pid").write_text(str(os.getpid()))
'''


@pytest.fixture(scope="module")
def emu() -> Iterator[Emulator]:
    """Azure's durations at 15x: a registry takes 0.8 s to create, a group 3 s to delete."""
    with Emulator(profile="realistic", speed=15) as emulator:
        yield emulator


def _env(emu: Emulator, marks: Path, lease: str = "3m") -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AZURE_", "ACALAB_", "PYTEST_"))}
    env.update(ACALAB_EMULATOR_URL=emu.url, ACALAB_EMULATOR_CA_BUNDLE=emu.ca_bundle, AZURE_TENANT_ID=emu.tenant_id,
               AZURE_CLIENT_ID=emu.client_id, AZURE_CLIENT_SECRET=emu.client_secret,
               AZURE_SUBSCRIPTION_ID=emu.subscription_id, SIGTEST_DIR=str(marks), ACALAB_LEASE=lease)
    return env


def _groups(emu: Emulator, labs: set[str]) -> dict[str, object]:
    """Groups this tool created for ``labs`` (after letting due operations finish)."""
    emu.platform.scheduler.run_due()
    with emu.platform.lock:
        return {g.name: g for g in emu.platform.store.resource_groups.values()
                if g.tags.get("acalab-lab") in labs}


def _wait_for(condition: Callable[[], object], what: str, proc: subprocess.Popen[str] | None = None) -> None:
    deadline = time.monotonic() + CAP
    while not condition():
        if proc is not None and proc.poll() is not None:
            raise AssertionError(f"the run ended before {what}:\n{proc.stdout.read() if proc.stdout else ''}")
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up waiting for {what}")
        time.sleep(0.01)  # polling a condition, not standing in for one


def _pid(marks: Path, worker: str) -> int:
    path = marks / f"{worker}.pid"
    _wait_for(path.exists, f"{worker}'s pid file")
    return int(path.read_text())


def _registry_in(emu: Emulator, group: str) -> bool:
    with emu.platform.lock:
        return any(r.type.lower().endswith("registries") and r.resource_group.lower() == group.lower()
                   for r in emu.platform.store.resources.values())


def _deployment_state(emu: Emulator, group: str) -> str | None:
    with emu.platform.lock:
        for r in emu.platform.store.resources.values():
            if r.type.lower() == "microsoft.resources/deployments" and r.resource_group.lower() == group.lower():
                return str(r.body.get("properties", {}).get("provisioningState"))
    return None


def _project(tmp_path: Path, labs: dict[str, str], waiting_test: bool) -> list[str]:
    (tmp_path / "conftest.py").write_text(textwrap.dedent(CONFTEST))
    args = []
    if waiting_test:
        (tmp_path / "test_first.py").write_text(textwrap.dedent(WAITING_TEST))
        args.append("test_first.py")
    for name, rows in labs.items():
        write_lab(tmp_path, name, rows=rows)
    return [*args, "labs"]


POINTS = ("before", "during", "after", "teardown")
SIGNALS = {"SIGINT": signal.SIGINT, "SIGTERM": signal.SIGTERM}


def _run_and_interrupt(emu: Emulator, tmp_path: Path, point: str, sig: signal.Signals, target: str,
                       xdist: bool) -> str:
    """Start a run, reach ``point``, send ``sig`` twice to ``target`` ('controller' or 'worker'); return
    the run's output once it ended. On xdist (two workers) the lab runs on one of them."""
    tag = uuid.uuid4().hex[:6]
    victim = f"sig_{point}_{tag}"
    rows = HOLDS if point in ("before", "teardown") else STUCK
    labs = {victim: rows}
    marks = tmp_path / "marks"
    args = _project(tmp_path, labs, waiting_test=point == "before")
    if xdist:
        args += ["-n", "1" if target == "worker" else "2"]
    speed = emu.clock.speed
    if point == "during":
        emu.clock.speed = 6  # provisioning slowed for this run: the deployment lasts seconds, not a blink
    proc = subprocess.Popen([sys.executable, "-m", "pytest", *args, "-p", "no:cacheprovider", "-p", "no:benchmark",
                             "-q", "--acalab-min-wait", "1h"], cwd=tmp_path, env=_env(emu, marks),
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        def group() -> str | None:
            found = [g for g in _groups(emu, {victim})]
            return found[0] if found else None

        if point == "before":
            _wait_for(lambda: any(marks.glob("before-*")), "the waiting test", proc)
            worker = next(marks.glob("before-*")).name.removeprefix("before-")
        else:
            _wait_for(group, "the lab's group", proc)
            name = group()
            assert name is not None
            worker = str(emu.platform.store.group(name).tags["acalab-worker"])
            if point == "during":
                _wait_for(lambda: _deployment_state(emu, name) is not None, "its deployment", proc)
            elif point == "after":
                _wait_for(lambda: _registry_in(emu, name), "its registry", proc)
            elif point == "teardown":
                _wait_for(lambda: emu.platform.store.group(name) is None
                          or emu.platform.store.group(name).provisioning_state == "Deleting", "its deletion", proc)
        pid = proc.pid if target == "controller" else _pid(marks, worker)
        os.kill(pid, sig)
        os.kill(pid, sig)  # twice in a row: the second must not abandon the cleanup
        if point == "during":
            state = _deployment_state(emu, name)
            emu.clock.speed = speed  # the deletion runs at the module's pace
            assert state not in ("Succeeded", "Failed", "Canceled"), f"the deployment was over ({state}): point missed"
        out, _ = proc.communicate(timeout=CAP)
    finally:
        emu.clock.speed = speed
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    # whatever the process reported, no group of its labs may be left (deletions in flight may finish)
    _wait_for(lambda: not _groups(emu, set(labs)), f"no groups left by {sorted(labs)}\n{out}")
    # no traceback of ours; Python's own report of an interrupt it dropped in a garbage-collection
    # callback ("Exception ignored in ...", then the signal is raised again) is not one
    ours = re.sub(r"Exception ignored in.*?PytestUnraisableExceptionWarning\(msg\)\)", "", out, flags=re.S)
    # xdist's own race when the interrupted worker reports "finished" before "crashed" (its dsession asserts
    # `not crashitem`): an INTERNALERROR of xdist's, after which the cleanup above still held
    ours = "\n".join(line for line in ours.splitlines() if "INTERNALERROR>" not in line)
    assert "Traceback" not in ours, out
    return out


@pytest.mark.parametrize("point", POINTS)
@pytest.mark.parametrize("sig", SIGNALS.values(), ids=SIGNALS.keys())
def test_signal_to_the_controller_at_every_point_leaves_nothing(emu: Emulator, tmp_path: Path, point: str,
                                                                sig: signal.Signals) -> None:
    out = _run_and_interrupt(emu, tmp_path, point, sig, "controller", xdist=False)
    if point != "before":
        assert "deleted resource group 'acalab-sig_" in out, out


@pytest.mark.parametrize("point", POINTS)
@pytest.mark.parametrize("sig", SIGNALS.values(), ids=SIGNALS.keys())
def test_signal_to_an_xdist_worker_at_every_point_leaves_nothing(emu: Emulator, tmp_path: Path, point: str,
                                                                 sig: signal.Signals) -> None:
    _run_and_interrupt(emu, tmp_path, point, sig, "worker", xdist=True)


@pytest.mark.parametrize("sig", SIGNALS.values(), ids=SIGNALS.keys())
def test_signal_to_the_xdist_controller_mid_lab_leaves_nothing(emu: Emulator, tmp_path: Path,
                                                               sig: signal.Signals) -> None:
    _run_and_interrupt(emu, tmp_path, "after", sig, "controller", xdist=True)


def test_a_worker_killed_outright_has_its_group_deleted_by_the_controller(emu: Emulator, tmp_path: Path) -> None:
    tag = uuid.uuid4().hex[:6]
    labs = {f"killed_{tag}": STUCK}
    marks = tmp_path / "marks"
    args = _project(tmp_path, labs, waiting_test=False)
    proc = subprocess.Popen([sys.executable, "-m", "pytest", *args, "-n", "2", "--max-worker-restart", "0",
                             "-p", "no:cacheprovider", "-q", "--acalab-min-wait", "1h"], cwd=tmp_path,
                            env=_env(emu, marks), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        _wait_for(lambda: any(_registry_in(emu, g) for g in _groups(emu, {f"killed_{tag}"})), "the registry", proc)
        (name,) = _groups(emu, {f"killed_{tag}"})
        os.kill(_pid(marks, str(emu.platform.store.group(name).tags["acalab-worker"])), signal.SIGKILL)
        out, _ = proc.communicate(timeout=CAP)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    _wait_for(lambda: not _groups(emu, set(labs)), f"the controller deleting the dead worker's group\n{out}")
    assert f"deleted resource group '{name}' (left by a worker of run" in out, out


def test_after_sigkill_a_plain_sweep_removes_the_group_once_its_lease_lapses(emu: Emulator, tmp_path: Path) -> None:
    """The whole run is killed (no handler runs); the lease (2 s here) lapses; ``acalab sweep`` removes the
    run's group and nothing else: not a group the tool did not create, not a reused one."""
    from azure.mgmt.resource.resources import ResourceManagementClient

    arm = ResourceManagementClient(emu.credential(), emu.subscription_id, polling_interval=0, **emu.client_kwargs())
    tag = uuid.uuid4().hex[:6]
    foreign, reused = f"rg-foreign-{tag}", f"rg-reused-{tag}"
    arm.resource_groups.create_or_update(foreign, {"location": "koreacentral", "tags": {"owner": "someone"}})
    arm.resource_groups.create_or_update(reused, {"location": "koreacentral"})
    labs = {f"sigkill_{tag}": STUCK}
    marks = tmp_path / "marks"
    args = _project(tmp_path, labs, waiting_test=False)
    env = _env(emu, marks, lease="2s")
    runs = [subprocess.Popen([sys.executable, "-m", "pytest", *args, "-p", "no:cacheprovider", "-q",
                              "--acalab-min-wait", "1h", *extra], cwd=tmp_path, env=env, start_new_session=True,
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            for extra in ([], ["--acalab-resource-group", reused])]
    try:
        _wait_for(lambda: any(_registry_in(emu, g) for g in _groups(emu, set(labs))), "the lab's registry")
        _wait_for(lambda: _registry_in(emu, reused), "the reusing run's registry")
        (name,) = _groups(emu, set(labs))
        group = emu.platform.store.group(name)
        renewed_from = group.tags["acalab-lease-until"]
        _wait_for(lambda: emu.platform.store.group(name).tags["acalab-lease-until"] != renewed_from,
                  "the live run renewing its lease")
        for proc in runs:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=CAP)
    finally:
        for proc in runs:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    sweep_env = {**_env(emu, marks)}
    lapse = emu.platform.store.group(name).tags["acalab-lease-until"]
    from datetime import UTC, datetime

    _wait_for(lambda: datetime.now(UTC) > datetime.fromisoformat(lapse), "the lease to lapse")
    done = subprocess.run([sys.executable, "-m", "pytest_acalab.cli", "sweep", "--backend", "emulator-url"],
                          env=sweep_env, capture_output=True, text=True, timeout=CAP)
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"deleted {name}: lease" in done.stdout, done.stdout
    names = {g.name for g in arm.resource_groups.list()}
    assert name not in names
    assert {foreign, reused} <= names  # never a group the tool did not create, never a reused one
    for extra in (foreign, reused):
        arm.resource_groups.begin_delete(extra).result()
