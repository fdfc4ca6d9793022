"""Each file in malformed/ holds one realistic mistake and says, in its first line, the error it gives."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from pytest_acalab.errors import LabFileError
from pytest_acalab.extensions import builtin_vocabulary
from pytest_acalab.labfile import load_lab

MALFORMED = Path(__file__).parent / "malformed"
HEADER = re.compile(r"^# expect-error: line=(?P<line>\d+) field=(?P<field>.+?)(?P<rest>( contains=.*)?)$")


def _cases() -> list[Path]:
    files = [p for p in MALFORMED.glob("*.yaml") if not p.name.startswith("_")]
    folders = [p / "lab.yaml" for p in MALFORMED.iterdir() if (p / "lab.yaml").is_file()]
    return sorted(files + folders)


CASES = _cases()


def _expectation(case: Path) -> tuple[int, str, list[str]]:
    first = case.read_text(encoding="utf-8").splitlines()[0]
    match = HEADER.match(first)
    assert match, f"{case}: first line must be an expect-error comment"
    return int(match["line"]), match["field"], re.findall(r'contains="([^"]*)"', match["rest"])


def test_corpus_is_large_enough() -> None:
    assert len(CASES) >= 25


def test_base_of_the_corpus_is_valid() -> None:
    """Each case is this valid lab with one mistake, so the error can only come from that mistake."""
    lab = load_lab(MALFORMED / "_valid_base.yaml")
    assert [row.key for row in lab.rows] == ["revision-health", "pull-evidence"]


@pytest.mark.parametrize("case", CASES, ids=lambda p: p.parent.name if p.name == "lab.yaml" else p.stem)
def test_malformed_lab_gives_one_clear_error(case: Path) -> None:
    line, field, contains = _expectation(case)
    with pytest.raises(LabFileError) as caught:
        load_lab(case, vocabulary=builtin_vocabulary())
    error = caught.value
    message = str(error)
    assert "\n" not in message
    assert error.path == case
    assert message.startswith(f"{_shown(case)}:{line}: {field}: expected "), message
    assert (error.line, error.field) == (line, field), message
    for text in contains:
        assert text in message, message
    assert "; got " in message


def _shown(case: Path) -> str:
    # The error shows the path relative to the working directory when the file is below it.
    try:
        return str(case.relative_to(Path.cwd()))
    except ValueError:
        return str(case)


def test_truly_empty_file(tmp_path: Path) -> None:
    (tmp_path / "lab.yaml").write_text("", encoding="utf-8")
    with pytest.raises(
        LabFileError, match=r"lab.yaml:1: <top level>: expected a mapping .*; got an empty file"
    ):
        load_lab(tmp_path)


def test_missing_lab_file(tmp_path: Path) -> None:
    with pytest.raises(LabFileError, match=r"expected a lab folder holding lab.yaml .*; got no such file"):
        load_lab(tmp_path)


def test_undecodable_file(tmp_path: Path) -> None:
    (tmp_path / "lab.yaml").write_bytes(b"title: \xff\xfe\n")
    with pytest.raises(LabFileError, match="expected UTF-8 text"):
        load_lab(tmp_path)


def test_error_survives_pickling() -> None:
    """pytest-xdist ships exceptions between processes."""
    import pickle

    error = LabFileError(Path("labs/x/lab.yaml"), 14, "infra.template", "an existing file", "'x.json'")
    clone = pickle.loads(pickle.dumps(error))
    assert (
        str(clone)
        == str(error)
        == "labs/x/lab.yaml:14: infra.template: expected an existing file; got 'x.json'"
    )
