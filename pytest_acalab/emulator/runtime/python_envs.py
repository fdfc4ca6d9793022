"""``python:*`` base images, run on this machine's CPython: one virtualenv per image recipe.

No public base image is reachable offline, but the guide's workloads only need a Python and the
packages their Dockerfile's ``RUN pip install ...`` steps install. Those steps are executed for real
at build time into a virtualenv whose name is the hash of its recipe (the base's Python version, each
pip step's arguments and working directory, and the bytes of every file the step could read), so a
second build or a second replica of the same image costs nothing. The recipe travels in the image
config (label :data:`RECIPE_LABEL`), so a runtime on another machine, or after the cache was emptied,
rebuilds the same environment from the image alone.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

RECIPE_LABEL = "dev.acalab.python-env"
"""Image label holding the JSON recipe of the image's Python environment (emulator-only)."""

_PYTHON_BASE = re.compile(r"^(?:(?:docker\.io|index\.docker\.io|registry-1\.docker\.io)/)?(?:library/)?python:"
                          r"(?P<tag>[\w][\w.-]*)$")
_PIP_LEAD = (("pip", "install"), ("pip3", "install"), ("python", "-m", "pip", "install"),
             ("python3", "-m", "pip", "install"))
_DROPPED = {"--no-cache-dir", "--user", "--break-system-packages", "--root-user-action=ignore"}
PIP_TIMEOUT = 600.0

Log = Callable[[str], None]


class PythonEnvError(Exception):
    """A pip step failed: ``str()`` is pip's last lines."""


def python_base_version(base: str) -> str | None:
    """``"3.11"`` for ``python:3.11-slim`` (any registry spelling of Docker Hub), else None."""
    match = _PYTHON_BASE.match(base.strip())
    if not match:
        return None
    numbers = re.match(r"\d+(?:\.\d+)?", match.group("tag"))
    return numbers.group(0) if numbers else "3"


def host_python() -> str:
    return f"{sys.version_info.major}.{sys.version_info.minor}.{sys.version_info.micro}"


def pip_install_args(shell_words: list[str]) -> list[list[str]] | None:
    """The ``pip install`` arguments of each ``&&``-joined command, or None if any command is not one."""
    if len(shell_words) >= 3 and shell_words[0].endswith("sh") and shell_words[1] == "-c":
        lexer = shlex.shlex(" ".join(shell_words[2:]), posix=True, punctuation_chars=True)
        lexer.whitespace_split = True
        try:
            words = list(lexer)
        except ValueError:
            return None
    else:
        words = list(shell_words)
    commands: list[list[str]] = [[]]
    for word in words:
        if word == "&&":
            commands.append([])
        elif word and word[0] in ";|&<>()":
            return None
        else:
            commands[-1].append(word)
    out: list[list[str]] = []
    for command in commands:
        if not command:
            return None
        lead = next((p for p in _PIP_LEAD if tuple(command[: len(p)]) == p
                     or (command[0].endswith("/" + p[0]) and tuple(command[1: len(p)]) == p[1:])), None)
        if lead is None:
            return None
        out.append(command[len(lead):])
    return out


@dataclass(frozen=True)
class PipStep:
    workdir: str
    args: tuple[str, ...]
    files_digest: str


@dataclass(frozen=True)
class Recipe:
    python: str
    steps: tuple[PipStep, ...] = ()

    @property
    def key(self) -> str:
        doc = json.dumps(self.to_json(), sort_keys=True) + host_python()
        return hashlib.sha256(doc.encode()).hexdigest()[:24]

    def to_json(self) -> dict[str, object]:
        return {"python": self.python,
                "steps": [{"workdir": s.workdir, "args": list(s.args), "files": s.files_digest} for s in self.steps]}

    @classmethod
    def from_json(cls, text: str) -> Recipe:
        doc = json.loads(text)
        return cls(str(doc["python"]), tuple(PipStep(str(s["workdir"]), tuple(s["args"]), str(s["files"]))
                                             for s in doc.get("steps", [])))

    def then(self, workdir: str, args: list[str], files: Mapping[str, tuple[bytes, int]]) -> Recipe:
        return Recipe(self.python, (*self.steps, PipStep(workdir, tuple(args), files_digest(files))))


def files_digest(files: Mapping[str, tuple[bytes, int]]) -> str:
    h = hashlib.sha256()
    for path in sorted(files):
        h.update(path.encode() + b"\0" + hashlib.sha256(files[path][0]).digest())
    return h.hexdigest()[:24]


def cache_root() -> Path:
    base = os.environ.get("ACALAB_CACHE_DIR") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "pytest-acalab")
    return Path(base) / "python-envs"


def wheelhouse_args() -> list[str]:
    """``ACALAB_WHEELHOUSE``: install only from that folder of wheels (offline runs, CI); else the index."""
    folder = os.environ.get("ACALAB_WHEELHOUSE")
    return ["--no-index", "--find-links", folder] if folder else []


def kept_args(args: list[str]) -> tuple[list[str], list[str]]:
    """Arguments passed to pip here, and those dropped (they only matter inside a real image)."""
    kept = [a for a in args if a not in _DROPPED]
    return kept, [a for a in args if a in _DROPPED]


EMULATOR_CLIENT_SETTINGS: set[str] = set()
"""Proxy URLs and CA bundles of the emulators running in this process (they add and remove them).

A test that runs the Azure backend in-process sets ``HTTPS_PROXY`` and ``REQUESTS_CA_BUNDLE`` to an
emulator's for its SDK clients; pip, run by that same emulator, must not inherit them (the proxy answers
Azure's host names only, the bundle trusts only the emulator's CA)."""
_PROXY_AND_TRUST = {"https_proxy", "http_proxy", "all_proxy", "requests_ca_bundle", "curl_ca_bundle",
                    "ssl_cert_file", "pip_cert", "pip_proxy"}


def pip_environment() -> dict[str, str]:
    """This process's environment without any emulator's client settings, for pip's index requests."""
    env = {name: value for name, value in os.environ.items()
           if not (name.lower() in _PROXY_AND_TRUST and value in EMULATOR_CLIENT_SETTINGS)}
    env["PIP_NO_INPUT"] = "1"
    return env


def ensure(recipe: Recipe, files: Mapping[str, tuple[bytes, int]], log: Log | None = None) -> Path:
    """The virtualenv for ``recipe``, built now if it is not cached (``files``: the image's root fs)."""
    root = cache_root()
    root.mkdir(parents=True, exist_ok=True)
    target = root / recipe.key
    done = target / ".acalab-complete"
    if done.exists():
        return target
    with open(root / f"{recipe.key}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # one builder per recipe across pytest workers
        if done.exists():
            return target
        if target.exists():
            shutil.rmtree(target)
        subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(target)], check=True,
                       capture_output=True, timeout=PIP_TIMEOUT)
        python = target / "bin" / "python"
        with tempfile.TemporaryDirectory(prefix="acalab-pip-") as scratch:
            _materialise(files, Path(scratch))
            for step in recipe.steps:
                args, dropped = kept_args(list(step.args))
                cwd = Path(scratch) / step.workdir.lstrip("/")
                cwd.mkdir(parents=True, exist_ok=True)
                if log is not None:
                    note = f" (dropped {' '.join(dropped)})" if dropped else ""
                    log(f"pip install {' '.join(args)}{note} into the emulator's Python environment {recipe.key}")
                proc = subprocess.run(
                    [sys.executable, "-m", "pip", "--python", str(python), "--disable-pip-version-check",
                     "install", *wheelhouse_args(), *args], cwd=cwd, capture_output=True, text=True,
                    timeout=PIP_TIMEOUT, env=pip_environment())
                if log is not None:
                    for line in (proc.stdout or "").splitlines()[-20:]:
                        log(line)
                if proc.returncode != 0:
                    tail = "\n".join((proc.stderr or proc.stdout or "").strip().splitlines()[-5:])
                    shutil.rmtree(target, ignore_errors=True)
                    raise PythonEnvError(f"pip install {' '.join(args)} failed (exit {proc.returncode}): {tail}")
        done.write_text(json.dumps(recipe.to_json()))
    return target


def _materialise(files: Mapping[str, tuple[bytes, int]], root: Path) -> None:
    for path, (data, mode) in files.items():
        if path.endswith("/"):
            (root / path).mkdir(parents=True, exist_ok=True)
            continue
        dest = root / path
        dest.parent.mkdir(parents=True, exist_ok=True)
        dest.write_bytes(data)
        os.chmod(dest, (mode & 0o777) or 0o644)
