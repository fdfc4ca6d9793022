"""The JSON Schema is valid draft 2020-12, accepts the worked example as editors see it; docs match."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import jsonschema
import pytest
import yaml

from pytest_acalab.errors import LabFileError
from pytest_acalab.extensions import builtin_vocabulary
from pytest_acalab.labfile import SCHEMA_PATH, load_lab, schema
from pytest_acalab.labfile.vocabulary import builtin_names

ROOT = Path(__file__).resolve().parents[2]
DOC = (ROOT / "docs" / "lab-format.md").read_text(encoding="utf-8")
LAB = Path(__file__).parent / "valid" / "acr_pull_failure"


def test_schema_is_valid_draft_2020_12() -> None:
    data = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    assert data["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    jsonschema.Draft202012Validator.check_schema(data)
    assert schema() == data


def test_editor_view_of_the_worked_example_is_valid() -> None:
    """yaml-language-server validates plain YAML data against the schema, without our loader."""
    data = yaml.safe_load((LAB / "lab.yaml").read_text(encoding="utf-8"))
    jsonschema.Draft202012Validator(schema()).validate(data)


def test_modeline_points_at_the_schema() -> None:
    first = (LAB / "lab.yaml").read_text(encoding="utf-8").splitlines()[0]
    relative = first.split("$schema=", 1)[1]
    assert (LAB / relative).resolve() == SCHEMA_PATH.resolve()


def test_every_probe_and_action_is_documented() -> None:
    defs = schema()["$defs"]
    probes = builtin_names("probe")
    actions = builtin_names("action")
    vocabulary = builtin_vocabulary()
    assert vocabulary.probes.names() == probes and vocabulary.actions.names() == actions
    for name in probes:
        args = defs[f"probe_{name}"]["properties"]
        row = next(line for line in DOC.splitlines() if line.startswith(f"| `{name}` |"))
        for arg in args:
            assert f"`{arg}`" in row, (name, arg)
        for arg in defs[f"probe_{name}"].get("required", []):
            assert f"`{arg}` R" in row, (name, arg)
    for name in actions:
        row = next(line for line in DOC.splitlines() if line.startswith(f"| `{name}` |"))
        for arg in defs[f"action_{name}"]["properties"]:
            assert f"`{arg}`" in row, (name, arg)
    for kind in defs["tolerance"]["properties"]:
        assert f"| `{kind}:" in DOC, kind


def test_worked_example_in_docs_is_the_test_lab() -> None:
    block = re.search(r"```yaml\n# yaml-language-server: [^\n]*\n(.*?)```", DOC, re.S)
    assert block is not None
    lab_text = (LAB / "lab.yaml").read_text(encoding="utf-8").split("\n", 1)[1]
    assert block.group(1) == lab_text


DOC_ERRORS = [
    ("expect: {one_of: [NoRevision, Unhealthy]}", "expect: {equal: NoRevision}"),
    ("      variable: Image reference", "      varible: Image reference"),
    ("    from: build", "    from: buidl"),
    ("template: infra/main.json", "template: infra/mian.json"),
    ("  difficulty: Intermediate", "\tdifficulty: Intermediate"),
]


@pytest.mark.parametrize(("old", "new"), DOC_ERRORS)
def test_error_examples_in_docs_are_real(
    tmp_path: Path, old: str, new: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "labs" / "acr_pull_failure"
    shutil.copytree(LAB, folder)
    text = (folder / "lab.yaml").read_text(encoding="utf-8")
    (folder / "lab.yaml").write_text(text.replace(old, new, 1), encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    with pytest.raises(LabFileError) as caught:
        load_lab(Path("labs/acr_pull_failure"))
    assert str(caught.value) in DOC.splitlines()


def test_first_error_in_the_file_wins(tmp_path: Path) -> None:
    folder = tmp_path / "lab"
    shutil.copytree(LAB, folder)
    text = (folder / "lab.yaml").read_text(encoding="utf-8")
    text = text.replace("    from: build", "    from: buidl").replace("stable_for: 2", "stable_for: 0")
    text = text.replace("difficulty: Intermediate", "difficulty: Hard")
    (folder / "lab.yaml").write_text(text, encoding="utf-8")
    with pytest.raises(LabFileError) as caught:
        load_lab(folder)
    assert caught.value.field == "metadata.difficulty"
