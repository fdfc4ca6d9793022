"""The unmodified Azure CLI on its own AzureCloud (no custom cloud, no endpoint pointed anywhere) against the
cloud-faithful emulator: the ACR lab page's runbook, verbatim, through the emulator's proxy and CA."""

from __future__ import annotations

import json
import os
import re
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parents[1] / "azcli"))
from azcli_helpers import REPO, AzShell, az_block, commands, describe, find_az, script, split

from pytest_acalab.emulator import Emulator
from pytest_acalab.emulator.connect import prepare_azure_cli

README = REPO / "labs" / "acr_pull_failure" / "README.md"
EXTRA = ["az acr repository show-tags --name $ACR --repository labacr -o json", "az account show -o json"]


@pytest.mark.azcli
def test_the_acr_runbook_runs_verbatim_on_azurecloud(cloud_emu: Emulator, tmp_path: Path) -> None:
    az, why = find_az()
    if az is None:
        pytest.skip(why)
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "az").symlink_to(az)
    (tmp_path / "tmp").mkdir()
    extra = {"PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}", "TMPDIR": str(tmp_path / "tmp")}
    env = prepare_azure_cli(cloud_emu, tmp_path / "azure-config", az=az, extra_env=extra)
    cloud_emu.platform.traffic.clear()
    cmds = commands(az_block(README)) + EXTRA
    proc = AzShell(cloud_emu, env).run(script(cmds))
    steps = split(cmds, proc.stdout, proc.stderr)
    log = describe(steps)
    by = {s.command.split(" -")[0]: s for s in steps}
    assert steps[-1].rc == 0 and json.loads(steps[-1].stdout)["environmentName"] == "AzureCloud", log
    assert "MANIFEST_UNKNOWN" in by["az deployment operation group list"].stdout, log
    assert re.search(r"Run ID: \w+ was successful", by["az acr build"].stdout + by["az acr build"].stderr), log
    assert by["az containerapp update"].rc == 0, log
    assert json.loads(steps[-2].stdout) == ["v1"], log
    assert "ImagePull" not in by["az containerapp logs show"].stdout and by["az containerapp logs show"].rc == 0, log
    hosts = {host for host, _, _ in cloud_emu.platform.traffic}
    assert "loopback" not in hosts, hosts  # the CLI only ever used Azure's host names
    assert {"management.azure.com", "login.microsoftonline.com", "koreacentral.azurecontainerapps.dev"} <= hosts
    assert any(h.endswith(".blob.core.windows.net") for h in hosts), hosts  # az acr build's upload
    assert any(h.endswith(".azurecr.io") for h in hosts), hosts
