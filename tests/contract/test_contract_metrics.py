"""The ``metric`` probe's parsing on real Azure Monitor answers for container apps (the emulator's answer is held
to their shape in tests/emulator/app/test_metrics.py). Payloads: tests/contract/data/metrics-load-test-*.json."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from pytest_acalab.probes.metrics import metric_points, reduce_points

DATA = Path(__file__).parent / "data"


def load(name: str) -> dict[str, Any]:
    return json.loads((DATA / f"metrics-load-test-{name}.json").read_text())


def test_requests_split_by_status_code_sum_per_series_and_in_all() -> None:
    payload = load("17-metrics-requests-split-status-code")
    points = metric_points(payload, "Total")
    by_code: dict[str, float] = {}
    for _, dims, value in points:
        by_code[dims["statuscode"]] = by_code.get(dims["statuscode"], 0.0) + value
    assert set(by_code) == {"200", "404", "500"}
    assert reduce_points([v for _, _, v in points], "Total") == sum(by_code.values())
    raw = payload["value"][0]["timeseries"]
    assert all(len(series["data"]) == len(raw[0]["data"]) for series in raw)  # every grain, zeros included


def test_replicas_maximum_is_the_largest_count_of_the_window() -> None:
    points = metric_points(load("09-metrics-replicas-baseline"), "Maximum")
    values = [v for _, _, v in points]
    assert reduce_points(values, "Maximum") == max(values) and reduce_points(values, "Minimum") == min(values)
    assert all(stamp.endswith(":00Z") for stamp, _, _ in points)


@pytest.mark.parametrize("name, aggregation", [("23-metrics-memory-percentage-split-replica", "Average"),
                                               ("12-metrics-restart-count-split-replica", "Maximum")])
def test_per_replica_series_are_named_by_podname(name: str, aggregation: str) -> None:
    points = metric_points(load(name), aggregation)
    pods = {dims["podname"] for _, dims, _ in points}
    assert pods and all("--" in pod for pod in pods)  # <app>--<revision suffix>-<pod hash>-<suffix>


def test_an_empty_window_is_none_for_gauges_and_zero_for_counters() -> None:
    assert reduce_points([], "Maximum") is None and reduce_points([], "Average") is None
    assert reduce_points([], "Total") == 0.0
