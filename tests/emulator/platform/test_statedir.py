"""State directories: an emulator killed outright leaves its directory behind; the next emulator removes it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from pytest_acalab.emulator.platform import statedir


def _dir(root: Path, name: str, owner: str | None) -> Path:
    path = root / f"{statedir.PREFIX}{name}"
    (path / "images").mkdir(parents=True)
    if owner is not None:
        (path / statedir.OWNER_FILE).write_text(owner)
    return path


def test_only_the_directories_of_emulators_that_no_longer_run_are_removed(tmp_path: Path) -> None:
    ns = statedir._pid_namespace()
    live = _dir(tmp_path, "live", f"{os.getpid()} {statedir._start_time(os.getpid())} {ns}")
    dead = _dir(tmp_path, "dead", f"999999999 12345 {ns}")
    reused = _dir(tmp_path, "reused", f"{os.getpid()} 1 {ns}")  # this pid, but a process started at another time
    elsewhere = _dir(tmp_path, "elsewhere", "999999999 12345 pid:[1]")  # another container's pid namespace
    fresh_unowned = _dir(tmp_path, "fresh", None)
    old_unowned = _dir(tmp_path, "old", None)
    long_ago = time.time() - statedir.UNOWNED_AFTER_SECONDS - 60
    os.utime(old_unowned, (long_ago, long_ago))
    other = tmp_path / "someone-elses"
    other.mkdir()

    removed = statedir.sweep_leftovers(tmp_path)

    assert sorted(removed) == sorted([dead, reused, old_unowned])
    assert live.is_dir() and fresh_unowned.is_dir() and other.is_dir() and elsewhere.is_dir()
    assert not dead.exists() and not reused.exists() and not old_unowned.exists()


def test_a_killed_emulators_directory_is_removed_by_the_next_emulator() -> None:
    from pytest_acalab.emulator import Emulator

    script = ("from pytest_acalab.emulator import Emulator; import sys, time\n"
              "e = Emulator(); print(e.state_dir, flush=True); time.sleep(600)\n")
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        left = Path(proc.stdout.readline().strip())
        assert left.is_dir() and (left / statedir.OWNER_FILE).is_file()
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    assert left.is_dir()  # nobody removed it: the process was killed
    with Emulator() as emu:
        assert not left.exists()
        assert emu.state_dir.is_dir() and emu.state_dir != left
    assert not emu.state_dir.exists()  # its own, removed when it stops
