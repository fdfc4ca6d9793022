"""Labs spread over xdist workers, in real subprocesses.

The inner pytest attaches to an emulator owned by this test, so the emulator's state can be checked
after the inner process is gone: no resource group may be left behind.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from helpers.labkit import write_lab
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


# Interruptions (each signal, twice, at each point, controller and workers) are in test_signals.py.


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
