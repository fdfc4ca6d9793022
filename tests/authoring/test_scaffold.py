"""`acalab new NAME` writes a lab that collects and passes on the emulator; `acalab docs` documents and creates
the blocks a page needs; the page names the lab's real path."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from pytest_acalab.cli import main
from pytest_acalab.labfile import load_lab
from pytest_acalab.reports.labpage import BLOCK, BLOCKS, render_page

DOCS = Path(__file__).resolve().parents[2] / "docs" / "lab-format.md"


def test_acalab_new_demo_then_pytest_labs_demo_passes(pytester: pytest.Pytester,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["new", "demo"]) == 0  # pytester's folder is the current directory
    assert "pytest labs/demo -v" in capsys.readouterr().out
    lab = pytester.path / "labs" / "demo"
    files = sorted(p.relative_to(lab).as_posix() for p in lab.rglob("*") if p.is_file())
    assert files == ["README.md", "infra/main.bicep", "infra/main.json", "lab.yaml", "workload/.dockerignore",
                     "workload/Dockerfile", "workload/app.py"]
    loaded = load_lab(lab)
    assert loaded.id == "demo" and len(loaded.rows) == 1
    template = json.loads((lab / "infra" / "main.json").read_text())
    assert template["parameters"]["baseName"]["defaultValue"] == "demo"
    assert "param baseName string = 'demo'" in (lab / "infra" / "main.bicep").read_text()
    page = (lab / "README.md").read_text()
    assert {m.group("name") for m in BLOCK.finditer(page)} == set(BLOCKS)
    assert render_page(loaded, page) == page and "`labs/demo/lab.yaml`" in page and "pytest labs/demo -v" in page
    result = pytester.runpytest("labs/demo", "-v")  # no -p no:cacheprovider
    result.assert_outcomes(passed=3)
    result.stdout.fnmatch_lines(["*labs/demo/lab.yaml::deployment PASSED*",
                                 "*labs/demo/lab.yaml::revision-health?failing? PASSED*",
                                 "*labs/demo/lab.yaml::revision-health?recovered? PASSED*"])
    assert not list(lab.rglob(".pytest_cache"))


def test_acalab_new_refuses_a_bad_name_or_an_existing_folder(pytester: pytest.Pytester,
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["new", "Bad Name"]) == 2
    err = capsys.readouterr().err
    assert "'Bad Name' is not a valid lab name" in err and err.count("\n") == 1
    assert not (pytester.path / "labs").exists()
    (pytester.path / "labs" / "taken").mkdir(parents=True)
    (pytester.path / "labs" / "taken" / "notes.txt").write_text("mine")
    assert main(["new", "taken"]) == 2
    assert "already exists" in capsys.readouterr().err
    assert [p.name for p in (pytester.path / "labs" / "taken").iterdir()] == ["notes.txt"]


def test_acalab_docs_creates_the_blocks_a_page_lacks(pytester: pytest.Pytester,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["new", "paged", "--dir", "elsewhere"]) == 0
    lab = pytester.path / "elsewhere" / "paged"
    page = lab / "README.md"
    page.write_text("# My lab\n\nSome prose of mine.\n")
    assert main(["docs", str(lab), "--check"]) == 1  # --check changes nothing
    assert page.read_text() == "# My lab\n\nSome prose of mine.\n"
    capsys.readouterr()
    assert main(["docs", str(lab)]) == 0
    out = capsys.readouterr().out
    assert "added the blocks metadata, hypothesis, pytest-runbook, experiment-log" in out
    text = page.read_text()
    assert text.startswith("# My lab\n\nSome prose of mine.\n")
    assert {m.group("name") for m in BLOCK.finditer(text)} == set(BLOCKS)
    assert "`elsewhere/paged/lab.yaml`" in text and "pytest elsewhere/paged -v" in text  # its real path
    assert "labs/paged" not in text
    assert main(["docs", str(lab), "--check"]) == 0
    page.unlink()
    assert main(["docs", str(lab)]) == 0 and "created" in capsys.readouterr().out
    assert {m.group("name") for m in BLOCK.finditer(page.read_text())} == set(BLOCKS)


def test_the_blocks_are_documented_for_lab_authors(capsys: pytest.CaptureFixture[str]) -> None:
    doc = DOCS.read_text(encoding="utf-8")
    for name in BLOCKS:
        assert re.search(rf"`{re.escape(name)}`", doc), f"docs/lab-format.md does not document the block {name}"
        assert f"<!-- BEGIN acalab:{name} -->" in doc or name != "metadata"
    with pytest.raises(SystemExit):
        main(["docs", "--help"])
    help_text = capsys.readouterr().out
    assert all(name in help_text for name in BLOCKS)
