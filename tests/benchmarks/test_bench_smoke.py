"""Every benchmark still runs: each group with its smoke sizes, checking only the shape of what it returns.

No timing is asserted here: benchmarks measure (``python -m benchmarks``), tests do not.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

import benchmarks  # a folder of the repository, importable through the ``pythonpath`` ini option
from benchmarks import GROUPS, build_document, figure, percentile, run_group
from benchmarks.__main__ import main as runner_main

ROOT = Path(__file__).resolve().parents[2]

FIGURE_KEYS = {"group", "name", "value", "unit", "target", "target_value", "met", "note"}


def check_figure(fig: dict[str, Any], group: str) -> None:
    assert set(fig) == FIGURE_KEYS, fig
    assert fig["group"] == group
    assert isinstance(fig["name"], str) and fig["name"]
    assert isinstance(fig["value"], int | float), fig
    assert isinstance(fig["unit"], str) and fig["unit"]
    if fig["target"] is None:
        assert fig["met"] is None, fig
    else:
        assert isinstance(fig["target"], str)
        assert isinstance(fig["met"], bool), fig


def check_document(doc: dict[str, Any], groups: list[str]) -> None:
    assert list(doc)[0] == "figures", "the human summary comes first"
    assert all(isinstance(line, str) for line in doc["figures"])
    assert {"cores", "python", "date"} <= set(doc["machine"])
    assert set(doc["groups"]) == set(groups)
    assert doc["figures"], "no summary line"
    json.dumps(doc)


@pytest.mark.parametrize("group", list(GROUPS))
def test_group_runs_with_smoke_sizes(group: str) -> None:
    result = run_group(group, **GROUPS[group][2])
    assert result["error"] is None, result["error"]
    assert result["figures"], f"{group} produced no figure"
    for fig in result["figures"]:
        check_figure(fig, group)
    assert len({f["name"] for f in result["figures"]}) == len(result["figures"]), "figure names repeat"
    json.dumps(result["details"])  # results.json must be able to hold the details
    check_document(build_document([result], quick=True), [group])
    if group == "labs":  # checked here, not in a test of its own: one lab run, whatever worker runs it
        check_critical_path(result["details"])


def check_critical_path(details: dict[str, Any]) -> None:
    assert "definition" in details["critical_path"]
    (run,) = details["realistic_runs_attached"]
    names = [s["name"] for s in run["segments"]]
    assert names == ["deployment", "acr_build", "app_update", "revision_ready", "group_delete"]
    assert all(s["seconds"] > 0 for s in run["segments"]), run["segments"]
    assert run["sequential"], run["segments"]
    assert run["critical_path_s"] == pytest.approx(sum(s["seconds"] for s in run["segments"]), abs=0.01)


def test_runner_writes_results_json(tmp_path: Path) -> None:
    out = tmp_path / "results.json"
    assert runner_main(["--quick", "--only", "platform", "--output", str(out)]) == 0
    doc = json.loads(out.read_text())
    check_document(doc, ["platform"])
    assert doc["quick"] is True
    for fig in doc["results"]:
        check_figure(fig, "platform")


def test_rerunning_one_group_keeps_the_others_figures(tmp_path: Path) -> None:
    out = tmp_path / "results.json"
    assert runner_main(["--quick", "--only", "platform", "--output", str(out)]) == 0
    first = json.loads(out.read_text())
    assert runner_main(["--quick", "--only", "plugin", "--output", str(out)]) == 0
    doc = json.loads(out.read_text())
    assert set(doc["groups"]) == {"platform", "plugin"}
    kept = [f for f in doc["results"] if f["group"] == "platform"]
    assert kept == [f for f in first["results"] if f["group"] == "platform"]  # the same figures, not re-measured
    assert [line for line in first["figures"]] == [line for line in doc["figures"] if line in first["figures"]]
    assert any(f["group"] == "plugin" for f in doc["results"])


def test_a_failing_group_is_reported_not_raised() -> None:
    result = run_group("registry", builds=0)
    assert result["error"] and "builds" in result["error"]
    assert result["figures"] == []
    doc = build_document([result])
    assert any("ERROR" in line for line in doc["figures"])


def test_figure_target_and_verdict() -> None:
    assert figure("g", "n", 4.0, "ms", target=5.0)["met"] is True
    assert figure("g", "n", 6.0, "ms", target=5.0)["met"] is False
    assert figure("g", "n", 6.0, "ms", target=5.0, op=">=")["met"] is True
    assert figure("g", "n", 6.0, "ms")["met"] is None
    with pytest.raises(ValueError, match="unknown comparison"):
        figure("g", "n", 1.0, "ms", target=1.0, op="<")
    with pytest.raises(ValueError, match="must be a number"):
        figure("g", "n", float("nan"), "ms")


def test_percentile_nearest_rank() -> None:
    values = list(range(1, 11))
    assert percentile(values, 90) == 9
    assert percentile(values, 50) == 5
    assert percentile([3.0], 99) == 3.0
    assert benchmarks.median([1, 3, 2, 10]) == 2.5
    with pytest.raises(ValueError):
        percentile([], 50)
