"""Fixtures for the container registry content and build tests."""

from __future__ import annotations

import io
import tarfile
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta

import pytest

from pytest_acalab.emulator.containerregistry.content import RegistryContent

ContextFactory = Callable[..., bytes]


def _make_context(files: Mapping[str, bytes | tuple[bytes, int]], *, compress: bool = True) -> bytes:
    """A build context as ``az acr build`` uploads it: a tar.gz of the source directory."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz" if compress else "w") as tar:
        for path, value in files.items():
            data, mode = value if isinstance(value, tuple) else (value, 0o644)
            info = tarfile.TarInfo(path)
            info.size = len(data)
            info.mode = mode
            info.mtime = 1_700_000_000
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


@pytest.fixture
def make_context() -> ContextFactory:
    return _make_context


@pytest.fixture
def clock() -> Callable[[], datetime]:
    """A clock that advances one second per call, starting at the capture's timestamp."""
    state = {"now": datetime(2026, 6, 22, 13, 26, 48, tzinfo=UTC)}

    def tick() -> datetime:
        current = state["now"]
        state["now"] = current + timedelta(seconds=1)
        return current

    return tick


@pytest.fixture
def registry(clock: Callable[[], datetime]) -> RegistryContent:
    return RegistryContent("labacr.azurecr.io", clock=clock)
