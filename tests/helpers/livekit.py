"""Helpers for the live-side tests: copies of the project's labs, the emulator's groups, clean PATHs."""

from __future__ import annotations

import shutil
from pathlib import Path

from pytest_acalab.emulator import Emulator

ROOT = Path(__file__).resolve().parents[2]
LABS = ROOT / "labs"


def copy_lab(dest: Path, name: str, new_name: str | None = None) -> Path:
    """A copy of one of the project's labs (never the original: tests may edit it)."""
    target = dest / (new_name or name)
    shutil.copytree(LABS / name, target, ignore=shutil.ignore_patterns("__pycache__", ".pytest_cache"))
    return target


def groups(emu: Emulator) -> dict[str, object]:
    """The emulator's resource groups by lower-case name."""
    with emu.platform.lock:
        return dict(emu.platform.store.resource_groups)


def empty_path_dir(tmp_path: Path) -> str:
    """A PATH with no ``az`` and no ``bicep`` on it."""
    path = tmp_path / "empty-bin"
    path.mkdir(exist_ok=True)
    return str(path)
