"""Probes: read one fact of a running lab through the Azure SDK clients.

``run_probe(ctx, name, args)`` resolves ``${...}`` in ``args`` and runs the probe ``name`` of the lab's
vocabulary, returning an ``Observation``. The built-in probes join the vocabulary through the
``pytest_acalab_register_probes`` hook (``pytest_acalab.builtins``), as a conftest.py or a plugin adds its own.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pytest_acalab.context import LabContext
from pytest_acalab.errors import ProbeError
from pytest_acalab.probes.base import Observation

__all__ = ["run_probe"]


def run_probe(ctx: LabContext, name: str, args: Mapping[str, Any], *, deadline: float | None = None) -> Observation:
    """Run probe ``name`` once (with transient retry inside, bounded by ``deadline`` seconds)."""
    probes = ctx.vocabulary.probes
    if name not in probes:
        raise ProbeError(f"unknown probe '{name}' (known: {', '.join(probes.names())})")
    try:
        resolved = ctx.resolve(dict(args))
    except Exception as exc:  # LabError / KeyError from a ${...} that cannot be resolved yet
        raise ProbeError(f"probe '{name}': cannot resolve its arguments: {exc}") from exc
    result: Observation = probes[name].run(ctx, resolved, ctx.backend.deadlines.probe if deadline is None else deadline)
    return result
