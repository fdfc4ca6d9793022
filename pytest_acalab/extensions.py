"""The lab-file vocabulary assembled from the ``pytest_acalab_register_*`` hooks (see ``hookspecs``).

Inside pytest, a node's ``ihook`` answers with the built-ins (``builtins``), installed plugins and the
conftest.py files that apply to the lab's folder. Outside pytest (the ``acalab`` command, the project's own
tests), ``builtin_vocabulary()`` holds the built-ins alone. A probe returns a
``pytest_acalab.probes.base.Observation``, an action a ``pytest_acalab.actions.base.Outcome``.
"""

from __future__ import annotations

from typing import Any

from pytest_acalab import builtins
from pytest_acalab.labfile.vocabulary import Vocabulary

__all__ = ["BUILTIN_PLUGINS", "builtin_vocabulary", "vocabulary_from"]

BUILTIN_PLUGINS = {"acalab-builtins": builtins}
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
    builtins.pytest_acalab_register_probes(vocabulary.probes)
    builtins.pytest_acalab_register_actions(vocabulary.actions)
    return vocabulary
