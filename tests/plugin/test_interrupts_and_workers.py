"""Teardown on Ctrl-C and SIGTERM, and labs spread over xdist workers, in real subprocesses.

The inner pytest attaches to an emulator owned by this test, so the emulator's state can be checked
after the inner process is gone: no resource group may be left behind.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from helpers.labkit import HOLDS, write_lab
from pytest_acalab.emulator import Emulator


@pytest.fixture
def standalone() -> Iterator[Emulator]:
    with Emulator() as emu:
        yield emu


def _env(emu: Emulator) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AZURE_", "ACALAB_", "PYTEST_"))}
    env.update(ACALAB_EMULATOR_URL=emu.url, ACALAB_EMULATOR_CA_BUNDLE=emu.ca_bundle, AZURE_TENANT_ID=emu.tenant_id,
               AZURE_CLIENT_ID=emu.client_id, AZURE_CLIENT_SECRET=emu.client_secret,
               AZURE_SUBSCRIPTION_ID=emu.subscription_id)
    return env


def _acalab_groups(emu: Emulator) -> list[str]:
    return [g.name for g in emu.platform.store.resource_groups.values() if "acalab-run" in g.tags]


def _wait_for(condition, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)  # polling a condition, not standing in for one


STUCK = HOLDS.replace("""        expect: {equals: absent}
      recovered:""", """        expect: {equals: present}
        within: 1h
      recovered:""", 1)


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "sigterm"])
def test_interrupting_a_lab_mid_run_still_deletes_its_group(tmp_path: Path, standalone: Emulator,
                                                             sig: signal.Signals) -> None:
    write_lab(tmp_path, "stuck", rows=STUCK)
    proc = subprocess.Popen([sys.executable, "-m", "pytest", "labs", "-q", "-p", "no:cacheprovider",
                             "--acalab-min-wait", "1h"], cwd=tmp_path, env=_env(standalone),
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        # the lab is waiting in its never-holding check once its registry exists
        _wait_for(lambda: any(r.type.endswith("registries") for r in standalone.platform.store.resources.values()),
                  60, "the lab's registry")
        assert _acalab_groups(standalone), "the lab's group should exist while it runs"
        proc.send_signal(sig)
        out, _ = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode != 0
    assert "deleted resource group 'acalab-stuck-" in out, out
    assert _acalab_groups(standalone) == []


def test_three_labs_on_two_workers_each_lab_on_one_worker(tmp_path: Path, standalone: Emulator) -> None:
    for name in ("one", "two", "three"):
        write_lab(tmp_path, name)
    run = subprocess.run([sys.executable, "-m", "pytest", "labs", "-n", "2", "-v", "-p", "no:cacheprovider",
                          "--acalab-min-wait", "2s"], cwd=tmp_path, env=_env(standalone),
                         capture_output=True, text=True, timeout=180)
    assert run.returncode == 0, run.stdout + run.stderr
    workers: dict[str, set[str]] = {}
    for worker, lab in re.findall(r"\[(gw\d)\][^\n]*PASSED labs/(\w+)/lab\.yaml", run.stdout):
        workers.setdefault(lab, set()).add(worker)
    assert set(workers) == {"one", "two", "three"}, run.stdout
    assert all(len(w) == 1 for w in workers.values()), workers
    assert len(set().union(*workers.values())) == 2, "labs should be spread over both workers"
    assert "15 passed" in run.stdout
    assert _acalab_groups(standalone) == []
    names = re.findall(r"deleted resource group '([^']+)'", run.stdout)
    assert len(names) == 3 and len(set(names)) == 3
