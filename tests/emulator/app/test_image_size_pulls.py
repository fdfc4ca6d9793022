"""Cold pulls take time by image size and registry, as the Practical Guide's image-size-startup-delay capture
measured, and a stand-in image run with a program it lacks cannot be created. Through the real SDK clients,
on an emulator whose clock runs the realistic profile (the pull delays are real there, divided by its speed).
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from helpers.probekit import context
from pytest_acalab.backends.emulator import EmulatorBackend
from pytest_acalab.context.deployments import deploy_template
from pytest_acalab.emulator.app.replicas import cold_pull_seconds
from pytest_acalab.emulator.platform.services import PullResult
from pytest_acalab.emulator.runtime.images import RunnableImage, plan_launch
from pytest_acalab.labfile import load_lab
from pytest_acalab.labfile.model import ProbeCheck
from pytest_acalab.labfile.tolerances import parse_tolerance
from pytest_acalab.probes import run_probe
from pytest_acalab.probes.checks import evaluate

LAB = Path(__file__).resolve().parents[3] / "labs" / "image_size_startup_delay"
SPEED = 20.0


@pytest.mark.parametrize(("image", "size", "seconds"), [
    ("python:3.11", 408944640, 8.88),
    ("python:3.11-alpine", 19922944, 2.88),
    ("mcr.microsoft.com/azuredocs/containerapps-helloworld:latest", 33554432, 1.62),
    ("acrlab.azurecr.io/labacr:v1", 33554432, 2.5),  # no capture for ACR: the measured replica.pull
])
def test_cold_pull_seconds_reproduce_the_capture(image: str, size: int, seconds: float) -> None:
    assert cold_pull_seconds(image, PullResult(True, size=size)) == seconds


def test_a_stand_in_image_has_no_python() -> None:
    image = RunnableImage("helloworld", "sha256:0", Path("/nonexistent"), ["/usr/bin/python3", "-I", "standin.py"],
                          [], {"PATH": "/bin"}, "/app", [80], "standin")
    plan = plan_launch(image, ["python", "-m", "http.server", "8080"], None, {})
    assert plan.missing == "python"
    assert plan_launch(image, ["/app/helloworld"], None, {}).missing is None  # its own program runs


@pytest.fixture(scope="module")
def realistic() -> Iterator[EmulatorBackend]:
    backend = EmulatorBackend(profile="realistic", speed=SPEED)
    try:
        yield backend
    finally:
        backend.close()


def test_the_large_image_pulls_for_its_seconds_on_the_realistic_clock(realistic: EmulatorBackend,
                                                                      tmp_path: Path) -> None:
    target = tmp_path / "image_size_startup_delay"
    shutil.copytree(LAB, target)
    ctx = context(load_lab(target), realistic, create_group=True)
    deploy_template(ctx)
    ctx.refresh_resources()
    check = ProbeCheck(probe="system_logs", args={"app": "app", "since": "lab", "reason": "PulledImage"},
                       expect=parse_tolerance({"count": {"min": 1}}), within=600, stable_for=1, description=None,
                       line=1)
    outcome = evaluate(ctx, check, default_within=60)
    assert outcome.ok, outcome.failure_message()
    logs: list[dict[str, Any]] = run_probe(ctx, "system_logs", {"app": "app", "since": "lab"}).value
    pulling = next(r for r in logs if r["reason"] == "PullingImage")
    pulled = next(r for r in logs if r["reason"] == "PulledImage")
    assert pulled["message"] == 'Successfully pulled image "python:3.11" in 8.88s. Image size: 408944640 bytes.'
    # the event comes no earlier than the pull's 8.88 s of Azure time allow (a lower bound: never early)
    gap = (datetime.fromisoformat(pulled["time"].replace("Z", "+00:00"))
           - datetime.fromisoformat(pulling["time"].replace("Z", "+00:00"))).total_seconds()
    assert gap >= 8.88 / SPEED - 0.01
