"""The nightly's code path before it meets Azure: in a network namespace whose only interface is loopback,
``acalab emulator serve``, ``eval "$(acalab emulator env --from F)"`` and
``pytest labs --acalab-backend azure --acalab-subscription "$AZURE_SUBSCRIPTION_ID"`` pass every lab.
"""

from __future__ import annotations

import json
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest
from netns import unshare_argv

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
LABS = sorted(p.name for p in (REPO / "labs").iterdir() if (p / "lab.yaml").is_file())
def _warm_workload_environments() -> None:
    """Build every lab's workload here first: its ``pip install`` needs an index, which the namespace lacks
    (on a fresh cache the emulator inside would fail the build; a user runs a lab once online, or sets
    ACALAB_WHEELHOUSE, before going offline)."""
    from pytest_acalab.actions.acr import pack_context
    from pytest_acalab.emulator.containerregistry.build import run_build

    for dockerfile in sorted(REPO.glob("labs/*/workload/Dockerfile")):
        built = run_build(pack_context(dockerfile.parent), push=False)
        assert built.succeeded, f"{dockerfile}: {built.error}\n{built.log_text[-2000:]}"


@pytest.fixture(scope="module")
def offline_run(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    prefix, why = unshare_argv()
    if prefix is None:
        pytest.skip(why)
    _warm_workload_environments()
    out = tmp_path_factory.mktemp("offline")
    done = subprocess.run([*prefix, sys.executable, str(HERE / "offline_run.py"), str(out)], cwd=REPO,
                          capture_output=True, text=True, timeout=3000)
    results_file = out / "results.json"
    assert results_file.is_file(), done.stdout + done.stderr
    assert done.returncode == 0, done.stdout + done.stderr
    return json.loads(results_file.read_text())


def test_the_namespace_has_loopback_only(offline_run: dict[str, Any]) -> None:
    assert offline_run["network"]["interfaces"] == ["lo"]
    assert offline_run["network"]["connect_192.0.2.1"] == "Network is unreachable"


def test_pytest_labs_with_the_azure_backend_passes_every_lab(offline_run: dict[str, Any]) -> None:
    run = offline_run["runs"][0]
    assert run["target"] == "labs"
    assert run["returncode"] == 0, run["tail"]
    root = ET.parse(run["junit"]).getroot()
    cases = list(root.iter("testcase"))
    labs_seen = {c.get("classname", "").split(".")[1] for c in cases}  # labs.<lab>.lab.yaml
    assert set(LABS) <= labs_seen, labs_seen
    assert not [c for c in cases if c.find("failure") is not None or c.find("error") is not None
                or c.find("skipped") is not None]
    suite = root.find("testsuite")
    assert suite is not None
    assert {p.get("name"): p.get("value") for p in suite.iter("property")}["acalab.backend"] == "azure"
    assert "requested, not awaited" in run["tail"]  # Azure's teardown, reported as it is
    assert offline_run["serve_returncode"] == 0  # the emulator stopped cleanly on SIGTERM


def test_every_url_the_backend_followed_named_an_azure_host(offline_run: dict[str, Any]) -> None:
    traffic = offline_run["runs"][0]["traffic"]
    hosts = {row["host"] for row in traffic}
    # only 'acalab emulator env' checks the emulator on its loopback URL; the labs never used one
    assert [(r["method"], r["path"]) for r in traffic if r["host"] == "loopback"] == [("GET", "metadata")]
    assert {"management.azure.com", "login.microsoftonline.com", "api.loganalytics.io",
            "koreacentral.azurecontainerapps.dev"} <= hosts, hosts
    assert any(h.endswith(".azurecr.io") for h in hosts) and any(h.endswith(".blob.core.windows.net") for h in hosts)
