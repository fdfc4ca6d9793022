"""Probes: read one fact of a running lab through the Azure SDK clients.

``run_probe(ctx, name, args)`` resolves ``${...}`` in ``args`` and returns an ``Observation``. The probe
modules are imported on first use: ``labfile`` imports ``probes.tolerances`` when labs load, and that
must not pull in the SDKs or the lifecycle.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pytest_acalab.lifecycle.context import LabContext
    from pytest_acalab.probes.base import Observation, ProbeFn

__all__ = ["MODULES", "PROBES", "load_probes", "run_probe"]

MODULES = ("revisions", "apps", "logs", "deployments", "registry", "http")


def load_probes() -> dict[str, ProbeFn]:
    """Import every probe module and return the registry (name -> function)."""
    for name in MODULES:
        importlib.import_module(f"pytest_acalab.probes.{name}")
    from pytest_acalab.probes.base import PROBES

    return PROBES


def run_probe(ctx: LabContext, name: str, args: Mapping[str, Any], *, deadline: float | None = None) -> Observation:
    """Run probe ``name`` once (with transient retry inside, bounded by ``deadline`` seconds)."""
    from pytest_acalab.probes.base import ProbeError

    probes = load_probes()
    if name not in probes:
        raise ProbeError(f"unknown probe '{name}' (known: {', '.join(sorted(probes))})")
    try:
        resolved = ctx.resolve(dict(args))
    except Exception as exc:  # LabError / KeyError from a ${...} that cannot be resolved yet
        raise ProbeError(f"probe '{name}': cannot resolve its arguments: {exc}") from exc
    return probes[name](ctx, resolved, ctx.backend.deadlines.probe if deadline is None else deadline)


def __getattr__(attr: str) -> Any:  # PEP 562: ``from pytest_acalab.probes import PROBES`` loads them
    if attr == "PROBES":
        return load_probes()
    raise AttributeError(f"module 'pytest_acalab.probes' has no attribute '{attr}'")
