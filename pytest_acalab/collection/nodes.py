"""A lab folder becomes a pytest directory node; its lab.yaml becomes items, one per row and phase.

The lab's lifecycle hangs on the directory node: pytest sets it up before the lab's first item and
tears it down after the last one (YAML items and any ``test_*.py`` in the folder alike), also after
failures and on Ctrl-C, because pytest's own setup/teardown stack drives it.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from pytest_acalab.errors import LabFailure, LabFileError
from pytest_acalab.extensions import vocabulary_from
from pytest_acalab.labfile import LAB_FILE, load_lab
from pytest_acalab.labfile.model import PHASES, Lab, Phase, Row
from pytest_acalab.labfile.vocabulary import Vocabulary
from pytest_acalab.lifecycle.session import AcalabSession

if TYPE_CHECKING:
    from _pytest._code.code import TerminalRepr

    from pytest_acalab.lifecycle.lab_run import LabRun

SESSION_KEY = pytest.StashKey[AcalabSession]()
NOTES_KEY = pytest.StashKey[dict[str, str]]()
"""Teardown notes of labs torn down in this process, for when no report carries them (Ctrl-C)."""


class LabDir(pytest.Dir):  # type: ignore[misc]  # Dir is @final for typing; a lab folder is a Dir plus its run
    """A folder holding lab.yaml: owns the lab run shared by everything inside it."""

    run: LabRun | None = None
    _lab: Lab | None = None
    _vocabulary: Vocabulary | None = None

    def vocabulary(self) -> Vocabulary:
        """Probes and actions this lab may use: built-ins, plugins, and the conftest.py files of its folder."""
        if self._vocabulary is None:
            self._vocabulary = vocabulary_from(self.ihook)
        return self._vocabulary

    def lab(self) -> Lab:
        if self._lab is None:
            self._lab = load_lab(self.path / LAB_FILE, vocabulary=self.vocabulary())
        return self._lab

    def get_run(self) -> LabRun:
        if self.run is None:
            # the lab runner (probes, actions, polling) loads when a lab runs, not at `pytest --version`
            from pytest_acalab.lifecycle.lab_run import LabRun

            self.run = LabRun(self.lab(), self.config.stash[SESSION_KEY], self.vocabulary())
        return self.run

    def teardown(self) -> None:
        if self.run is not None:
            self.run.teardown()
            if self.run.teardown_note:
                self.config.stash.setdefault(NOTES_KEY, {})[str(self.path)] = self.run.teardown_note


class LabFile(pytest.File):
    def collect(self) -> Iterator[pytest.Item]:
        lab_dir = self.parent if isinstance(self.parent, LabDir) else None
        try:
            lab = lab_dir.lab() if lab_dir is not None else load_lab(self.path)
        except LabFileError as exc:
            raise self.CollectError(str(exc)) from None
        for name in lab.markers:  # a lab's own markers are declared by the lab: register them
            if name not in _registered(self.config):
                self.config.addinivalue_line("markers", f"{name}: declared by lab '{lab.id}'")
        markers = [pytest.mark.acalab, *(getattr(pytest.mark, m) for m in lab.markers)]
        yield DeploymentItem.from_parent(self, name="deployment", lab=lab, markers=markers)
        for phase in PHASES:
            for row in lab.rows:
                yield RowItem.from_parent(self, name=row.item_id(phase), lab=lab, row=row, phase=phase,
                                          markers=[*markers, getattr(pytest.mark, phase)])


class LabItem(pytest.Item):
    lab: Lab
    phase: Phase = "failing"
    row: Row | None = None

    def __init__(self, *, lab: Lab, markers: list[Any], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.lab = lab
        for marker in markers:
            self.add_marker(marker)
        self.outcome: Any = None

    def lab_dir(self) -> LabDir:
        node = self.getparent(LabDir)
        if node is None:  # a lab.yaml collected outside a lab folder node (should not happen)
            raise LabFailure(f"{self.path}: not inside a lab folder")
        return node

    def lab_run(self) -> LabRun:
        return self.lab_dir().get_run()

    def line(self) -> int:
        return self.row.line if self.row else self.lab.infra.line

    def reportinfo(self) -> tuple[Path, int, str]:
        return self.path, self.line() - 1, f"{self.lab.id}: {self.name}"

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None) -> str | TerminalRepr:
        if isinstance(excinfo.value, LabFailure):
            return f"{self.path}:{self.line()}: {excinfo.value}"
        return super().repr_failure(excinfo, style=style)


class DeploymentItem(LabItem):
    """Checks the deployment ended as the lab expects (``infra.expect``): Azure changing this is news."""

    def setup(self) -> None:
        self.lab_run().provision()  # the deployment's outcome stands even when a trigger action then failed

    def runtest(self) -> None:
        ctx = self.lab_run().provision()
        state = ctx.deployment.get("state")
        if state != self.lab.infra.expect:
            err = ctx.deployment.get("error") or {}
            detail = f" ({err.get('code')}: {err.get('message')})" if err else ""
            raise LabFailure(
                f"deployment '{ctx.deployment_name}': expected provisioningState {self.lab.infra.expect!r}, "
                f"got {state!r}{detail}\n  evidence: Microsoft.Resources/deployments (ARM)")


class RowItem(LabItem):
    def __init__(self, *, row: Row, phase: Phase, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.row = row
        self.phase = phase

    def setup(self) -> None:
        # Probing happens in setup: a probe that cannot run is an *error*; a wrong state is a *failure*.
        assert self.row is not None
        self.outcome = self.lab_run().check(self.row, self.phase)

    def runtest(self) -> None:
        outcome = self.outcome
        if outcome is None or outcome.ok:
            return
        assert self.row is not None
        raise LabFailure(
            f"{self.row.key}[{self.phase}] ({self.row.variable}): expected {outcome.expected}, "
            f"got {outcome.actual}\n  evidence: {outcome.source} after {outcome.attempts} attempt(s) "
            f"in {outcome.elapsed:.1f}s\n  excerpt: {outcome.excerpt}", outcome)


def _registered(config: pytest.Config) -> set[str]:
    return {line.split(":")[0].split("(")[0].strip() for line in config.getini("markers")}


def is_lab_dir(path: Path) -> bool:
    return (path / LAB_FILE).is_file()


__all__ = ["DeploymentItem", "LabDir", "LabFailure", "LabFile", "LabItem", "RowItem", "SESSION_KEY",
           "is_lab_dir", "LabFileError"]
