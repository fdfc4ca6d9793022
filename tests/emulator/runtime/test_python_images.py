"""``FROM python:*`` images: pip steps executed for real at build time, the image run on this CPython."""

from __future__ import annotations

import io
import json
import sys
import tarfile
import time
from pathlib import Path

import pytest

from pytest_acalab.emulator.containerregistry import build
from pytest_acalab.emulator.platform.services import ImageFiles
from pytest_acalab.emulator.runtime import python_envs
from pytest_acalab.emulator.runtime.images import ImageStore, Unrunnable, plan_launch
from pytest_acalab.emulator.runtime.sandbox import Pod

WORKLOAD = Path(__file__).parent / "data" / "flask_workload"


def _context(folder: Path) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for path in sorted(folder.iterdir()):
            tar.add(path, arcname=path.name)
    return buf.getvalue()


@pytest.mark.parametrize("words, expected", [
    (["/bin/sh", "-c", "pip install --no-cache-dir --requirement requirements.txt"],
     [["--no-cache-dir", "--requirement", "requirements.txt"]]),
    (["/bin/sh", "-c", "python -m pip install -U pip && pip3 install flask"], [["-U", "pip"], ["flask"]]),
    (["pip", "install", "gunicorn==22.0.0"], [["gunicorn==22.0.0"]]),
    (["/bin/sh", "-c", "apt-get update && pip install flask"], None),
    (["/bin/sh", "-c", "pip install flask; rm -rf /tmp/x"], None),
])
def test_which_run_steps_are_pip_installs(words: list[str], expected: list[list[str]] | None) -> None:
    assert python_envs.pip_install_args(words) == expected


@pytest.mark.parametrize("base, version", [
    ("python:3.11-slim", "3.11"), ("docker.io/library/python:3.12", "3.12"), ("python:3-alpine", "3"),
    ("node:20", None), ("mcr.microsoft.com/k8se/quickstart:latest", None),
])
def test_python_bases(base: str, version: str | None) -> None:
    assert python_envs.python_base_version(base) == version


def test_a_flask_and_gunicorn_workload_is_built_and_runs_for_real(tmp_path: Path) -> None:
    """The guide's revision-lab workload: RUN pip install executed, then gunicorn answers from its pod."""
    result = build.run_build(_context(WORKLOAD), image_names=[])
    assert result.succeeded, result.log_text[-2000:]
    assert "RUN executed by the emulator" in result.log_text
    assert result.image is not None
    config = result.image.config_doc()
    recipe = python_envs.Recipe.from_json(config["config"]["Labels"][python_envs.RECIPE_LABEL])
    assert recipe.python == "3.11" and recipe.steps[0].args == ("--no-cache-dir", "--requirement", "requirements.txt")
    venv = python_envs.ensure(recipe, result.image.files())
    assert list(venv.glob("lib/python*/site-packages/flask/__init__.py"))
    assert (venv / "bin" / "gunicorn").exists()

    image = ImageStore(tmp_path).prepare("acrlab.azurecr.io/flask:v1", ImageFiles(
        result.image.digest, config, result.image.files()))
    plan = plan_launch(image, None, None, {})
    assert plan.argv[:3] == ["gunicorn", "--bind", "0.0.0.0:8000"] and plan.cwd.endswith("/app")
    pod = Pod("flask-pod", isolate=True)
    try:
        ok, error = pod.start("app", plan.argv, plan.env, plan.cwd, 512 * 1024 * 1024)
        assert ok, error
        deadline = time.monotonic() + 60
        while 8000 not in pod.listening_ports():
            assert time.monotonic() < deadline, "gunicorn never listened"
            time.sleep(0.05)
        with pod.connect(8000, 5.0) as conn:
            conn.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            answer = b""
            while chunk := conn.recv(65536):
                answer += chunk
        head, _, body = answer.partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 200") and json.loads(body) == {"message": "flask workload"}
    finally:
        pod.close()


def test_a_second_build_reuses_the_environment(tmp_path: Path) -> None:
    first = build.run_build(_context(WORKLOAD), image_names=[])
    second = build.run_build(_context(WORKLOAD), image_names=[])
    assert first.image is not None and second.image is not None
    assert first.image.digest == second.image.digest  # same recipe, same label, same image
    assert "pip install" not in second.log_text.split("RUN executed by the emulator", 1)[1].split("\n", 2)[1]


def test_a_base_that_cannot_run_says_so(tmp_path: Path) -> None:
    files = ImageFiles("sha256:" + "2" * 64, {"config": {"Cmd": ["node", "app.js"], "Labels": {
        "org.opencontainers.image.base.name": "node:20-alpine"}}}, {})
    with pytest.raises(Unrunnable, match="its base image 'node:20-alpine' cannot be run here"):
        ImageStore(tmp_path).prepare("acrlab.azurecr.io/node:v1", files)


def test_a_failing_pip_step_fails_the_build_as_docker_would(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ACALAB_CACHE_DIR", str(tmp_path / "cache"))
    folder = tmp_path / "ctx"
    folder.mkdir()
    (folder / "Dockerfile").write_text("FROM python:3.11-slim\nRUN pip install ./no-such-project\n")
    result = build.run_build(_context(folder), image_names=[])
    assert not result.succeeded
    assert "The command '/bin/sh -c pip install ./no-such-project' returned a non-zero code: 1" in result.log_text
    assert sys.executable  # the host interpreter ran pip
