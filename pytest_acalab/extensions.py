"""The lab-file vocabulary assembled from the ``pytest_acalab_register_*`` hooks (see ``hookspecs``).

Inside pytest, a node's ``ihook`` answers with the built-ins, installed plugins and the conftest.py files
that apply to the lab's folder. Outside pytest (the ``acalab`` command, the project's own tests),
``builtin_vocabulary()`` holds the built-ins alone.

What an extension needs is importable from here: a probe returns an ``Observation``, an action an ``Outcome``.
"""

from __future__ import annotations

from typing import Any

from pytest_acalab import actions, probes
from pytest_acalab.actions.base import Outcome
from pytest_acalab.labfile.vocabulary import Registry, Vocabulary
from pytest_acalab.probes.base import Observation

__all__ = ["BUILTIN_PLUGINS", "Observation", "Outcome", "Registry", "builtin_vocabulary", "vocabulary_from"]

BUILTIN_PLUGINS = {"acalab-probes": probes, "acalab-actions": actions}
"""Registered with pytest's plugin manager by the plugin: the built-ins answer the hooks like any plugin."""


def vocabulary_from(hook: Any) -> Vocabulary:
    """Call both registration hooks through ``hook`` (``config.hook`` or a node's ``ihook``)."""
    vocabulary = Vocabulary()
    hook.pytest_acalab_register_probes(registry=vocabulary.probes)
    hook.pytest_acalab_register_actions(registry=vocabulary.actions)
    return vocabulary


def builtin_vocabulary() -> Vocabulary:
    """The built-in probes and actions only."""
    vocabulary = Vocabulary()
    probes.pytest_acalab_register_probes(vocabulary.probes)
    actions.pytest_acalab_register_actions(vocabulary.actions)
    return vocabulary
