"""Developer sessions: tests, lint, bench (figures, never timed assertions), azcli."""

from __future__ import annotations

import nox

nox.options.sessions = ["lint", "tests"]
nox.options.reuse_existing_virtualenvs = True


@nox.session
def tests(session: nox.Session) -> None:
    """The whole suite, as CI runs it."""
    session.install("-e", ".[test]")
    session.run("pytest", "-n", "2", "-q", *session.posargs)


@nox.session
def lint(session: nox.Session) -> None:
    session.install("ruff")
    session.run("ruff", "check", ".")


@nox.session
def bench(session: nox.Session) -> None:
    """Speed and memory figures, written to benchmarks/results.json (linked from the README)."""
    session.install("-e", ".[test]")
    session.run("python", "-m", "benchmarks", *session.posargs)


@nox.session
def azcli(session: nox.Session) -> None:
    """Installs the real Azure CLI in its own environment and runs the lab runbooks against the emulator."""
    session.install("-e", ".[test]")
    session.install("azure-cli")
    session.run("pytest", "-m", "azcli", "-q", "tests/azcli", *session.posargs, env={"ACALAB_RUN_AZCLI": "1"})
