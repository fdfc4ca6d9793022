"""From a pulled image to something this machine can execute: root filesystem, command, environment.

An image runs here when its base is ``python:*`` (on this machine's CPython, in the virtualenv its
build recorded) or when it is one of the built-in catalogue images (a stand-in that serves what the
real one serves). Anything else is :class:`Unrunnable`, with the reason: the emulator never pretends
that a container it cannot run is running.
"""

from __future__ import annotations

import os
import posixpath
import shutil
import sys
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pytest_acalab.emulator.platform.services import ImageFiles
from pytest_acalab.emulator.runtime import python_envs
from pytest_acalab.emulator.runtime.python_envs import Log

BASE_LABEL = "org.opencontainers.image.base.name"
STANDIN_DIR = Path(__file__).with_name("standins")
STANDIN_COMMANDS = {"/app/quickstart": "static_site.py", "/app/helloworld": "static_site.py"}
"""Commands of the built-in catalogue images, and the stand-in program that plays each."""

HOST_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


class Unrunnable(Exception):
    """The image cannot be run by the emulator; ``str()`` says which image and why."""


@dataclass
class RunnableImage:
    reference: str
    digest: str
    rootfs: Path
    entrypoint: list[str]
    cmd: list[str]
    env: dict[str, str]
    workdir: str
    exposed_ports: list[int]
    kind: str
    """``python`` (a venv on this CPython) or ``standin`` (a built-in catalogue image's stand-in)."""
    python_env: Path | None = None
    notes: list[str] = field(default_factory=list)
    """What the emulator does differently from a container engine, for the lab's journal."""

    def command(self, command: Sequence[str] | None, args: Sequence[str] | None) -> list[str]:
        """Kubernetes' rule: ``command`` replaces ENTRYPOINT (and drops CMD), ``args`` replaces CMD."""
        entry = list(command) if command else list(self.entrypoint)
        rest = list(args) if args else ([] if command else list(self.cmd))
        return entry + rest


class ImageStore:
    """Root filesystems unpacked once per image digest, under the emulator's state directory."""

    def __init__(self, state_dir: Path) -> None:
        self.root = state_dir / "images"
        self._lock = threading.Lock()
        self._ready: dict[str, RunnableImage] = {}

    def prepare(self, reference: str, image: ImageFiles, log: Log | None = None) -> RunnableImage:
        with self._lock:
            cached = self._ready.get(image.digest)
        if cached is not None:
            return cached
        config: dict[str, Any] = dict(image.config.get("config") or {})
        labels: dict[str, str] = dict(config.get("Labels") or {})
        cmd = list(config.get("Cmd") or [])
        standin = STANDIN_COMMANDS.get(cmd[0]) if cmd and not config.get("Entrypoint") else None
        base = labels.get(BASE_LABEL, "")
        version = python_envs.python_base_version(base) if base else None
        if standin is None and version is None:
            why = (f"its base image {base!r} cannot be run here" if base else
                   "it names no base image the emulator can run")
            raise Unrunnable(
                f"image {reference} cannot be run by the emulator: {why}. The emulator runs images built "
                "FROM python:* (on this machine's CPython) and its built-in catalogue images "
                "(mcr.microsoft.com/k8se/quickstart, mcr.microsoft.com/azuredocs/containerapps-helloworld)")
        rootfs = self._unpack(image)
        env = dict(item.split("=", 1) if "=" in item else (item, "") for item in config.get("Env") or [])
        notes: list[str] = []
        runnable = RunnableImage(
            reference, image.digest, rootfs, list(config.get("Entrypoint") or []), cmd, env,
            str(config.get("WorkingDir") or "/"), _ports(config.get("ExposedPorts") or {}),
            "standin" if standin else "python", notes=notes)
        if standin is not None:
            runnable.entrypoint, runnable.cmd = [sys.executable, "-I", str(STANDIN_DIR / standin)], []
            notes.append(f"{reference} is played by the emulator's stand-in {standin} (same port and page)")
        else:
            label = labels.get(python_envs.RECIPE_LABEL)
            recipe = python_envs.Recipe.from_json(label) if label else python_envs.Recipe(version or "3")
            runnable.python_env = python_envs.ensure(recipe, image.files, log)
            notes.append(f"base {base} runs on this machine's CPython {python_envs.host_python()} "
                         f"(Python environment {recipe.key})")
            if config.get("User"):
                notes.append(f"USER {config['User']} is not honoured: the process runs as the emulator's user")
        with self._lock:
            self._ready[image.digest] = runnable
        return runnable

    def _unpack(self, image: ImageFiles) -> Path:
        target = self.root / image.digest.replace(":", "-")
        marker = target / ".acalab-unpacked"
        if marker.exists():
            return target / "rootfs"
        tmp = self.root / (target.name + f".tmp-{os.getpid()}-{threading.get_ident()}")
        rootfs = tmp / "rootfs"
        rootfs.mkdir(parents=True, exist_ok=True)
        for path, (data, mode) in image.files.items():
            norm = posixpath.normpath("/" + path).lstrip("/")
            if not norm or norm.startswith(".."):
                continue
            dest = rootfs / norm
            if path.endswith("/"):
                dest.mkdir(parents=True, exist_ok=True)
                continue
            dest.parent.mkdir(parents=True, exist_ok=True)
            dest.write_bytes(data)
            os.chmod(dest, (mode & 0o777) or 0o644)
        (tmp / ".acalab-unpacked").write_text(image.digest)
        try:
            tmp.rename(target)
        except OSError:  # another thread unpacked it first
            shutil.rmtree(tmp, ignore_errors=True)
        return target / "rootfs"


def _ports(exposed: Mapping[str, object]) -> list[int]:
    out = []
    for key in exposed:
        number = str(key).split("/", 1)[0]
        if number.isdigit():
            out.append(int(number))
    return sorted(out)


@dataclass(frozen=True)
class LaunchPlan:
    argv: list[str]
    env: dict[str, str]
    cwd: str
    missing: str | None = None
    """A program the image does not have (a stand-in image run with a command of its own: the real
    helloworld image holds only its server, no ``python``): the container cannot be created."""


def plan_launch(image: RunnableImage, command: Sequence[str] | None, args: Sequence[str] | None,
                env: Mapping[str, str]) -> LaunchPlan:
    """argv, environment and working directory for one container start.

    Absolute paths of the image's files (``/app/app.py``) are mapped into its unpacked root; the
    program name is looked up on the image's PATH with the image's Python environment first.
    """
    argv = image.command(command, args)
    if image.kind == "standin" and command and command[0] not in STANDIN_COMMANDS:
        return LaunchPlan(list(command) + list(args or []), dict(image.env), image.workdir, missing=command[0])
    if not argv:
        raise Unrunnable(f"image {image.reference} has no command: set ENTRYPOINT/CMD or the container's command")
    merged = {**image.env, **env}
    path_entries = merged.get("PATH", HOST_PATH).split(":")
    if image.python_env is not None:
        path_entries.insert(0, str(image.python_env / "bin"))
        merged["VIRTUAL_ENV"] = str(image.python_env)
    merged["PATH"] = ":".join(dict.fromkeys(path_entries))
    merged.setdefault("HOME", str(image.rootfs / "root"))
    merged.setdefault("HOSTNAME", "localhost")
    mapped = [_map_path(image.rootfs, word) for word in argv]
    cwd = image.rootfs / image.workdir.lstrip("/")
    cwd.mkdir(parents=True, exist_ok=True)
    return LaunchPlan(mapped, merged, str(cwd))


def _map_path(rootfs: Path, word: str) -> str:
    if word.startswith("/") and (rootfs / word.lstrip("/")).exists():
        return str(rootfs / word.lstrip("/"))
    return word
