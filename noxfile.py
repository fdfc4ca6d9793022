"""Developer sessions: tests, lint, typecheck, bench (figures, never timed assertions), azcli."""

from __future__ import annotations

import os
from pathlib import Path

import nox

nox.options.sessions = ["lint", "typecheck", "tests"]
nox.options.reuse_existing_virtualenvs = True


def _install(session: nox.Session, *args: str) -> None:
    """Install into the session's virtualenv; with ``--no-venv`` (CI, after ``pip install -e '.[test]'``) the
    checks run in the environment already installed, so nothing is installed twice."""
    if session.venv_backend == "none":
        return
    session.install(*args)


@nox.session
def tests(session: nox.Session) -> None:
    """The whole suite, as CI runs it."""
    session.install("-e", ".[test]")
    session.run("pytest", "-n", "2", "-q", *session.posargs)


@nox.session
def lint(session: nox.Session) -> None:
    """ruff with the rules of pyproject.toml (RUF100: no noqa that silences nothing)."""
    _install(session, "ruff>=0.5")
    session.run("ruff", "check", ".")


@nox.session
def typecheck(session: nox.Session) -> None:
    """mypy over the whole package, configured in pyproject.toml (the SDKs are installed for their types)."""
    _install(session, "-e", ".[test]")
    session.run("mypy")


@nox.session
def bench(session: nox.Session) -> None:
    """Speed and memory figures, written to benchmarks/results.json (linked from the README)."""
    session.install("-e", ".[test]")
    session.run("python", "-m", "benchmarks", *session.posargs)


@nox.session
def azcli(session: nox.Session) -> None:
    """Runs the lab runbooks' ``az`` commands with the real Azure CLI against the emulator (tests/azcli).

    azure-cli (~730 MB) goes into a virtualenv of its own inside this session's, so its pinned azure-mgmt-*
    versions never mix with the SDKs the project is tested with; ``ACALAB_AZ`` tells the tests where it is.
    """
    session.install("-e", ".[test]")
    venv = Path(session.virtualenv.location) / "azure-cli"
    scripts = venv / ("Scripts" if os.name == "nt" else "bin")
    az = scripts / ("az.cmd" if os.name == "nt" else "az")
    if not az.exists():
        session.run("python", "-m", "venv", str(venv))
        session.run(str(scripts / "python"), "-m", "pip", "install", "--quiet", "azure-cli", external=True)
    session.run(str(az), "version", external=True)
    session.run("pytest", "-v", "--durations=5", "tests/azcli", *session.posargs,
                env={"ACALAB_AZ": str(az)})
