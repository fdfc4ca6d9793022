"""The emulator's state directory (images, builds, replicas' scratch space) and the ones dead emulators left.

A state directory is removed when its emulator stops; one whose emulator was killed outright (SIGKILL, a
crashed CI runner) cannot remove its own. Each directory therefore names its owner (pid and the process's
start time, so a reused pid is not mistaken for it), and every new emulator removes the directories of
owners that no longer run, as a killed run's resource groups are removed by the next sweep.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from pathlib import Path

PREFIX = "acalab-emulator-"
OWNER_FILE = "owner"
UNOWNED_AFTER_SECONDS = 3600.0
"""A directory without an owner file (written by an older version, or mid-creation) is left alone this long."""


def _start_time(pid: int) -> str | None:
    """The process's start time in clock ticks since boot (``/proc/<pid>/stat`` field 22); None if it is gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat.rsplit(")", 1)[1].split()[19]


def _pid_namespace() -> str:
    """Which pid namespace this process sees pids in (another container's pids mean other processes)."""
    try:
        return os.readlink("/proc/self/ns/pid")
    except OSError:
        return ""


def make_state_dir() -> Path:
    """A fresh state directory owned by this process."""
    path = Path(tempfile.mkdtemp(prefix=PREFIX))
    (path / OWNER_FILE).write_text(f"{os.getpid()} {_start_time(os.getpid()) or '-'} {_pid_namespace() or '-'}\n")
    return path


def _owner_alive(path: Path) -> bool:
    """Whether the directory's emulator may still run (when in doubt: yes)."""
    try:
        pid_text, started, namespace = (path / OWNER_FILE).read_text().split()
        pid = int(pid_text)
    except (OSError, ValueError):
        try:
            return time.time() - path.stat().st_mtime < UNOWNED_AFTER_SECONDS
        except OSError:
            return True  # gone meanwhile
    if namespace != (_pid_namespace() or "-"):
        return True  # written where pids name other processes: not ours to judge
    now = _start_time(pid)
    return now is not None and (started == "-" or now == started)


def sweep_leftovers(root: Path | None = None) -> list[Path]:
    """Remove the state directories under ``root`` (the temp dir) whose emulator no longer runs."""
    removed = []
    for path in Path(root or tempfile.gettempdir()).glob(PREFIX + "*"):
        if path.is_dir() and not path.is_symlink() and not _owner_alive(path):
            shutil.rmtree(path, ignore_errors=True)
            removed.append(path)
    return removed
