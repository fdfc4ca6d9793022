"""Probes: read one fact of a running lab through the Azure SDK clients.

``run_probe(ctx, name, args)`` resolves ``${...}`` in ``args`` and runs the probe ``name`` of the lab's
vocabulary, returning an ``Observation``. The built-in probes join the vocabulary through the
``pytest_acalab_register_probes`` hook below, as a conftest.py or a plugin adds its own.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pytest

from pytest_acalab.context import LabContext
from pytest_acalab.errors import ProbeError
from pytest_acalab.labfile.vocabulary import Registry, builtin_names, lab_schema_args
from pytest_acalab.probes import apps, deployments, http, logs, registry, revisions  # noqa: F401 - importing them registers them
from pytest_acalab.probes.base import PROBES, Observation

__all__ = ["PROBES", "pytest_acalab_register_probes", "run_probe"]


@pytest.hookimpl(tryfirst=True)  # built-ins first: error messages list them before extensions
def pytest_acalab_register_probes(registry: Registry) -> None:  # noqa: F811 - the hook, not the module
    """The built-in probes, with the argument schemas of ``lab.schema.json``."""
    for name in builtin_names("probe"):
        registry.add(name, PROBES[name], args=lab_schema_args(f"probe_{name}"))


def run_probe(ctx: LabContext, name: str, args: Mapping[str, Any], *, deadline: float | None = None) -> Observation:
    """Run probe ``name`` once (with transient retry inside, bounded by ``deadline`` seconds)."""
    probes = ctx.vocabulary.probes
    if name not in probes:
        raise ProbeError(f"unknown probe '{name}' (known: {', '.join(probes.names())})")
    try:
        resolved = ctx.resolve(dict(args))
    except Exception as exc:  # LabError / KeyError from a ${...} that cannot be resolved yet
        raise ProbeError(f"probe '{name}': cannot resolve its arguments: {exc}") from exc
    return probes[name].run(ctx, resolved, ctx.backend.deadlines.probe if deadline is None else deadline)
