"""No workload process outlives its emulator: Ctrl-C, SIGTERM, SIGKILL, and a killed pytest-xdist worker.

Each case runs a real emulator in a subprocess with replicas running, interrupts it, and counts the
processes left whose working directory is inside that emulator's state directory (the workloads) or
whose command line names its replicas (the pod supervisors). Zero, every time.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

APP_HELPERS = Path(__file__).resolve().parents[1] / "app"

SCRIPT = textwrap.dedent("""
    import sys, time
    from pathlib import Path
    sys.path.insert(0, {helpers!r})
    from app_helpers import FakeLogs, FakeRegistry, Lab, wait_until, web_image
    from pytest_acalab.emulator import Emulator

    with Emulator(profile="fast", state_dir=Path({state!r})) as emu:
        registry, logs = FakeRegistry(), FakeLogs()
        emu.platform.services.registry, emu.platform.services.logs = registry, logs
        lab = Lab(emu, registry, logs)
        body = lab.app_body("acrlab.azurecr.io/orphan:v1")
        body["properties"]["template"]["scale"] = {{"minReplicas": 2, "maxReplicas": 2}}
        app = lab.client.container_apps.begin_create_or_update(lab.rg, "ca-orphan", body).result()
        wait_until(lambda: lab.revision_json("ca-orphan", app.latest_revision_name)["properties"]
                   ["healthState"] == "Healthy", "healthy", timeout=60)
        print("READY", flush=True)
        while True:
            lab.revisions("ca-orphan")
            time.sleep(0.05)
""")


def _ours(state: Path, marker: str) -> list[int]:
    """Processes of this case: cwd inside the state directory, or a command line naming its replicas."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            cwd = os.readlink(f"/proc/{entry}/cwd")
            with open(f"/proc/{entry}/cmdline", "rb") as fh:
                cmd = fh.read().decode(errors="replace")
        except OSError:
            continue
        if cwd.startswith(str(state)) or marker in cmd:
            found.append(int(entry))
    return found


def _wait_for(pred, what: str, timeout: float = 60.0):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while True:
        value = pred()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def _start(tmp_path: Path) -> tuple[subprocess.Popen[str], Path]:
    state = tmp_path / "emulator-state"
    script = tmp_path / "run.py"
    script.write_text(SCRIPT.format(helpers=str(APP_HELPERS), state=str(state)))
    proc = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    line = proc.stdout.readline()
    if "READY" not in line:
        proc.kill()
        raise AssertionError(f"the emulator script did not get ready: {line!r} {proc.stderr.read()[-2000:]}")
    return proc, state


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM, signal.SIGKILL], ids=["ctrl-c", "sigterm", "sigkill"])
def test_no_workload_outlives_an_interrupted_emulator(tmp_path: Path, sig: signal.Signals) -> None:
    proc, state = _start(tmp_path)
    try:
        running = _ours(state, "ca-orphan--")
        assert len(running) >= 4, running  # two pod supervisors and two workloads at least
        proc.send_signal(sig)
        proc.wait(timeout=60)
        _wait_for(lambda: not _ours(state, "ca-orphan--"), "every workload process to end")
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


WORKER_TEST = textwrap.dedent("""
    import sys, time
    from pathlib import Path
    sys.path.insert(0, {helpers!r})
    from app_helpers import FakeLogs, FakeRegistry, Lab, wait_until
    from pytest_acalab.emulator import Emulator

    def test_runs_a_workload_then_hangs():
        with Emulator(profile="fast", state_dir=Path({state!r})) as emu:
            registry, logs = FakeRegistry(), FakeLogs()
            emu.platform.services.registry, emu.platform.services.logs = registry, logs
            lab = Lab(emu, registry, logs)
            app = lab.create("ca-orphan", "acrlab.azurecr.io/orphan:v1")
            wait_until(lambda: lab.revision_json("ca-orphan", app.latest_revision_name)["properties"]
                       ["healthState"] == "Healthy", "healthy", timeout=60)
            Path({flag!r}).write_text("ready")
            time.sleep(600)
""")


def test_no_workload_outlives_a_killed_xdist_worker(tmp_path: Path) -> None:
    state, flag = tmp_path / "emulator-state", tmp_path / "ready.flag"
    test_file = tmp_path / "test_hang.py"
    test_file.write_text(WORKER_TEST.format(helpers=str(APP_HELPERS), state=str(state), flag=str(flag)))
    proc = subprocess.Popen([sys.executable, "-m", "pytest", "-n", "1", "-q", "-p", "no:cacheprovider",
                             "-p", "no:randomly", str(test_file)], cwd=tmp_path, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    try:
        _wait_for(flag.exists, "the worker's workload to be ready", timeout=120)
        assert _ours(state, "ca-orphan--")
        workers = [p for p in _children(proc.pid) if _cmdline(p) and "pytest" not in _cmdline(p).split(" ")[0]
                   and p != proc.pid]
        assert workers, "no xdist worker found"
        for pid in workers:
            os.kill(pid, signal.SIGKILL)
        _wait_for(lambda: not _ours(state, "ca-orphan--"), "every workload process to end")
    finally:
        proc.kill()
        proc.wait()


def _children(pid: int) -> list[int]:
    out = []
    try:
        for tid in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{tid}/children") as fh:
                out.extend(int(c) for c in fh.read().split())
    except OSError:
        pass
    return out


def _cmdline(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as fh:
            return fh.read().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""
