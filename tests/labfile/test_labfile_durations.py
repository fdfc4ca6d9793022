"""Durations as lab authors write them."""

from __future__ import annotations

import pytest

from pytest_acalab.labfile import parse_duration


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("30s", 30.0),
        ("5m", 300.0),
        ("1h", 3600.0),
        ("1m30s", 90.0),
        ("500ms", 0.5),
        ("2s500ms", 2.5),
        ("1h30m", 5400.0),
        ("1.5s", 1.5),
        ("0s", 0.0),
        ("PT5M", 300.0),
        ("PT1M30S", 90.0),
        ("pt10s", 10.0),
        ("P1D", 86400.0),
        ("P1DT1H", 90000.0),
        (" 5m ", 300.0),
    ],
)
def test_valid(text: str, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize(
    "text", ["", "5", "5 m", "5min", "1s1m", "1h1h", "5mm", "-1s", "PT", "P", "PT5", "abc", "s"]
)
def test_invalid(text: str) -> None:
    with pytest.raises(ValueError, match=r"expected a duration like 30s, 5m, 1h, 1m30s, 500ms or PT5M; got "):
        parse_duration(text)


def test_number_without_unit_says_so() -> None:
    with pytest.raises(ValueError, match=r"got 300 \(a number needs a unit, e\.g\. '300s'\)"):
        parse_duration(300)  # type: ignore[arg-type]
