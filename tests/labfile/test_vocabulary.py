"""The vocabulary of probes and actions a lab file may use, and how the loader checks against it."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from pytest_acalab.errors import LabFileError
from pytest_acalab.extensions import builtin_vocabulary
from pytest_acalab.labfile import load_lab
from pytest_acalab.labfile.vocabulary import Registry, Vocabulary, builtin_names

LAB = Path(__file__).parent / "valid" / "acr_pull_failure"


def _probe(ctx: object, args: object, deadline: float) -> None:
    return None


def test_a_name_is_registered_once() -> None:
    registry = Registry("probe")
    registry.add("mine", _probe)
    registry.add("mine", _probe)  # the same function again: harmless (a conftest imported twice)
    with pytest.raises(ValueError, match="probe 'mine' is registered twice"):
        registry.add("mine", lambda ctx, args, deadline: None)
    with pytest.raises(ValueError, match="identifier"):
        registry.add("not a name", _probe)


def test_the_built_ins_are_the_documented_ones_in_order() -> None:
    vocabulary = builtin_vocabulary()
    assert vocabulary.probes.names() == builtin_names("probe")
    assert vocabulary.actions.names() == builtin_names("action")
    assert vocabulary.probes["image_tag"].args == {"$ref": "#/$defs/probe_image_tag"}


def test_a_lab_naming_a_probe_the_vocabulary_lacks_does_not_load(tmp_path: Path) -> None:
    lab = tmp_path / "lab"
    shutil.copytree(LAB, lab)
    vocabulary = builtin_vocabulary()
    assert load_lab(lab, vocabulary=vocabulary).id
    narrow = Vocabulary()
    for name in vocabulary.probes:
        if name != "revision_health":
            narrow.probes.add(name, vocabulary.probes[name].run, args=vocabulary.probes[name].args)
    for name in vocabulary.actions:
        narrow.actions.add(name, vocabulary.actions[name].run, args=vocabulary.actions[name].args)
    with pytest.raises(LabFileError, match=r"\.probe: expected one of revision_state, .*; got 'revision_health'"):
        load_lab(lab, vocabulary=narrow)
    assert load_lab(lab).id  # without a vocabulary names are checked for their form only


def test_every_built_in_resolves_to_its_function() -> None:
    """Built-ins are named by where they live (nothing imported at collection): each name must resolve."""
    vocabulary = builtin_vocabulary()
    for registry in (vocabulary.probes, vocabulary.actions):
        for name in registry:
            word = registry[name]
            assert isinstance(word.target, str) and callable(word.run), name
