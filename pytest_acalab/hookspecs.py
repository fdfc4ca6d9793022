"""pytest-acalab's own hooks: how probes and actions join the lab-file vocabulary.

Added to pytest through ``pytest_addhooks``; implement them in a lab's ``conftest.py`` or in an installed
pytest plugin (a ``pytest11`` entry point). The built-in probes and actions register through them too.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from pytest_acalab.labfile.vocabulary import Registry


@pytest.hookspec
def pytest_acalab_register_probes(registry: Registry) -> None:
    """Add probes: ``registry.add("name", fn, args={JSON Schema of with})``, ``fn(ctx, args, deadline)``
    returning an ``Observation``."""


@pytest.hookspec
def pytest_acalab_register_actions(registry: Registry) -> None:
    """Add actions: ``registry.add("name", fn, args={JSON Schema of with})``, ``fn(ctx, args, deadline,
    action)`` returning an ``Outcome``."""
