"""The package's layers point one way, and what pytest loads at start-up stays free of the Azure SDKs.

labfile <- context <- probes <- actions <- lifecycle <- collection <- hooks <- plugin: a unit may import units of a
lower layer only (and itself). Checked on the source with ``ast``, every import statement counted:
top-level, inside functions and under ``TYPE_CHECKING`` alike.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

import pytest_acalab

PACKAGE = Path(pytest_acalab.__file__).parent

LAYERS: list[set[str]] = [
    {"errors"},
    {"labfile", "polling", "emulator"},
    {"reports", "backends"},
    {"context"},
    {"probes"},
    {"actions"},
    {"builtins"},
    {"extensions", "hookspecs"},
    {"lifecycle"},
    {"collection", "authoring"},
    {"hooks"},
    {"plugin", "cli"},
]
RANK = {unit: rank for rank, units in enumerate(LAYERS) for unit in units}
LAZY_SCOPE = ("emulator", "__main__")
"""Units whose function-local imports are not checked for a reason comment (the emulator is its own program)."""


def _unit(path: Path) -> str:
    return path.relative_to(PACKAGE).with_suffix("").parts[0]


def _sources() -> Iterator[tuple[Path, ast.Module, list[str]]]:
    for path in sorted(PACKAGE.rglob("*.py")):
        text = path.read_text(encoding="utf-8")
        yield path, ast.parse(text), text.splitlines()


def _imported_units(tree: ast.Module) -> Iterator[tuple[int, str]]:
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            parts = node.module.split(".")
            if parts[0] != "pytest_acalab":
                continue
            if len(parts) > 1:
                yield node.lineno, parts[1]
            else:  # from pytest_acalab import probes, actions
                for alias in node.names:
                    yield node.lineno, alias.name
        elif isinstance(node, ast.Import):
            for alias in node.names:
                parts = alias.name.split(".")
                if parts[0] == "pytest_acalab" and len(parts) > 1:
                    yield node.lineno, parts[1]


def test_every_unit_has_a_layer() -> None:
    units = {_unit(path) for path, _, _ in _sources()} - {"__init__"}
    assert units <= set(RANK), f"give these a layer in tests/test_layers.py: {sorted(units - set(RANK))}"


def test_imports_point_down_the_layers() -> None:
    wrong = []
    for path, tree, _ in _sources():
        unit = _unit(path)
        if unit == "__init__":
            continue
        for line, target in _imported_units(tree):
            if target != unit and RANK.get(target, -1) >= RANK[unit]:
                wrong.append(f"{path.relative_to(PACKAGE.parent)}:{line}: {unit} imports {target}")
    assert not wrong, "imports against the layers:\n" + "\n".join(wrong)


@pytest.mark.parametrize(("lower", "upper"), [
    ("labfile", {"probes", "actions", "lifecycle", "context"}),
    ("probes", {"lifecycle", "actions"}),
    ("actions", {"lifecycle"}),
])
def test_the_issue_rules(lower: str, upper: set[str]) -> None:
    """The rules as the issue states them, spelled out: no module under ``lower`` imports ``upper``."""
    for path, tree, _ in _sources():
        if _unit(path) == lower:
            hits = {target for _, target in _imported_units(tree)} & upper
            assert not hits, f"{path}: imports {sorted(hits)}"


def test_function_local_imports_say_why() -> None:
    """An import inside a function is there to keep start-up light; a comment says what it keeps out."""
    silent = []
    for path, tree, lines in _sources():
        if _unit(path) in LAZY_SCOPE:
            continue
        for func in ast.walk(tree):
            if not isinstance(func, ast.FunctionDef | ast.AsyncFunctionDef):
                continue
            for node in ast.walk(func):
                if isinstance(node, ast.Import | ast.ImportFrom) and not _has_reason(lines, node.lineno):
                    silent.append(f"{path.relative_to(PACKAGE.parent)}:{node.lineno}: {lines[node.lineno - 1].strip()}")
    assert not silent, "function-local imports without a reason comment:\n" + "\n".join(silent)


def _has_reason(lines: list[str], lineno: int) -> bool:
    """A ``#`` on the import line, or on the comment line heading its block of imports."""
    index = lineno - 1
    while index >= 0:
        text = lines[index].strip()
        if "#" in text:
            return True
        if not text.startswith(("import ", "from ", ")")) and not text.endswith(","):
            return False
        index -= 1
    return False


@pytest.mark.parametrize("module", ["pytest_acalab.plugin", "pytest_acalab.hooks"])
def test_what_pytest_loads_at_start_imports_no_sdk(module: str) -> None:
    """The entry point (every pytest start) and the hooks it registers (every run, before collection)."""
    heavy = ("azure", "requests", "tenacity", "jsonschema", "duckdb", "trustme", "cryptography")
    code = (f"import sys, {module}; "
            f"print(sorted({{m.split('.')[0] for m in sys.modules}} & set({heavy!r})))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         cwd=PACKAGE.parent).stdout.strip()
    assert out == "[]", f"importing {module} loads {out}"


def test_the_entry_point_loads_only_the_hook_specifications() -> None:
    """``pytest --version`` and ``--help`` import the entry point alone: the lab language, the session and the
    reports load when a run is configured (``pytest_acalab.hooks``)."""
    code = ("import sys, pytest_acalab.plugin; "
            "print(sorted(m for m in sys.modules if m.startswith('pytest_acalab')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         cwd=PACKAGE.parent).stdout.strip()
    assert out == str(["pytest_acalab", "pytest_acalab.hookspecs", "pytest_acalab.plugin"]), out
