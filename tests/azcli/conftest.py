"""The real Azure CLI against an in-process emulator. Tests marked ``azcli`` are skipped without ``az``
(``$ACALAB_AZ``, else ``az`` on PATH); ``nox -s azcli`` installs it in its own environment."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from azcli_helpers import AzShell, find_az

from pytest_acalab.emulator import Emulator
from pytest_acalab.emulator.connect import prepare_azure_cli


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    az, why = find_az()
    if az:
        return
    skip = pytest.mark.skip(reason=why)
    for item in items:
        if item.get_closest_marker("azcli"):
            item.add_marker(skip)


@pytest.fixture(scope="module")
def emulator() -> Iterator[Emulator]:
    with Emulator(profile="fast") as emu:
        yield emu


@pytest.fixture
def az_shell(emulator: Emulator, tmp_path: Path) -> AzShell:
    """A bash runner whose plain ``az`` is the CLI under test, logged in to ``emulator`` in a fresh config dir."""
    az, why = find_az()
    if az is None:
        pytest.skip(why)
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "az").symlink_to(az)  # scripts call plain 'az', as a reader would
    tmp = tmp_path / "tmp"
    tmp.mkdir()  # az acr build packs its source archive here
    extra = {"PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}", "TMPDIR": str(tmp)}
    env = prepare_azure_cli(emulator, tmp_path / "azure-config", az=az, extra_env=extra)
    return AzShell(emulator, env)
