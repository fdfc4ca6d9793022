"""One exception hierarchy: the plugin's errors live in errors.py, all under AcalabError."""

from __future__ import annotations

import ast
import inspect
from pathlib import Path

import pytest_acalab
from pytest_acalab import errors

PACKAGE = Path(pytest_acalab.__file__).parent


def test_every_error_class_of_the_plugin_is_in_errors_py() -> None:
    """Outside the emulator (its errors are Azure's HTTP answers), no module defines its own exception."""
    elsewhere = []
    for path in PACKAGE.rglob("*.py"):
        if path.name == "errors.py" and path.parent == PACKAGE or "emulator" in path.relative_to(PACKAGE).parts:
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ClassDef) and any(
                    isinstance(b, ast.Name) and (b.id.endswith(("Error", "Exception")) or b.id == "Exception")
                    for b in node.bases):
                elsewhere.append(f"{path.relative_to(PACKAGE.parent)}:{node.lineno}: {node.name}")
    assert not elsewhere, elsewhere


def test_all_of_them_are_acalab_errors() -> None:
    classes = [c for _, c in inspect.getmembers(errors, inspect.isclass) if issubclass(c, BaseException)]
    assert len(classes) >= 9
    assert all(issubclass(c, errors.AcalabError) for c in classes)


def test_a_lab_file_error_is_one_line_with_file_and_line() -> None:
    error = errors.LabFileError(Path("/elsewhere/lab.yaml"), 7, "infra.template", "a file", "'x'")
    assert str(error) == "/elsewhere/lab.yaml:7: infra.template: expected a file; got 'x'"
    assert isinstance(errors.ToleranceError("expect", (), "a mapping", "1"), ValueError)  # still a ValueError
