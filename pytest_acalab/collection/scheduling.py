"""Keeps every item of a lab on one pytest-xdist worker, and spreads labs over workers.

A lab's items share one deployment, so they must run in one process. xdist's ``loadgroup`` mode does
that by rewriting node ids, which pytest 9.2 no longer allows; a scope scheduler that maps every node id
under a lab folder to that folder is independent of it. Anything outside a lab folder is its own scope,
which spreads like xdist's default ``load``.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any

from pytest_acalab.labfile import LAB_FILE


def lab_scope(rootpath: Path, nodeid: str) -> str | None:
    """The lab folder (relative to the root) a node id belongs to, or None."""
    return _lab_folder(rootpath, nodeid.split("::", 1)[0])


@lru_cache(maxsize=4096)
def _lab_folder(rootpath: Path, relpath: str) -> str | None:
    path = (rootpath / relpath).resolve()
    for folder in (path, *path.parents) if path.is_dir() else path.parents:
        if (folder / LAB_FILE).is_file():
            try:
                return str(folder.relative_to(rootpath.resolve()))
            except ValueError:
                return str(folder)
        if folder == rootpath:
            break
    return None


def make_scheduler(config: Any, log: Any) -> Any:
    # only with pytest-xdist running
    from xdist.scheduler import LoadScopeScheduling

    rootpath = Path(config.rootpath)

    class LabScheduling(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            return lab_scope(rootpath, nodeid) or nodeid

    return LabScheduling(config, log)
