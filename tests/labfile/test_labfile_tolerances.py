"""Tolerance semantics, one kind at a time, then nested; plus the phrases reports show."""

from __future__ import annotations

from typing import Any

import pytest

from pytest_acalab.labfile.tolerances import (
    ACTUAL_LIMIT,
    AllOf,
    Count,
    Not,
    Regex,
    ToleranceError,
    Verdict,
    parse_tolerance,
)

# A real case-B record (ACR firewall lab, Log Analytics row)
# from yeongseon/azure-container-apps-practical-guide (MIT)
RECORD = {
    "Reason_s": "ContainerTerminated",
    "Type_s": "Warning",
    "Log_s": "Container 'app' was terminated with exit code '' and reason 'ImagePullFailure'. Image "
    "acracrfw33xi7y5a.azurecr.io/firewall-allowlist-lab:v-broken not found in registry.",
}


def ok(tolerance: dict[str, Any], value: Any) -> bool:
    return parse_tolerance(tolerance).evaluate(value).ok


@pytest.mark.parametrize(
    ("tolerance", "value", "expected"),
    [
        ({"equals": "Healthy"}, "Healthy", True),
        ({"equals": "Healthy"}, "healthy", False),
        ({"equals": 100}, 100, True),
        ({"equals": 1}, True, False),  # booleans are not numbers
        ({"equals": True}, 1, False),
        ({"equals": None}, None, True),
        ({"equals": ["a", "b"]}, ("a", "b"), True),
        ({"equals": {"a": 1}}, {"a": 1}, True),
        ({"one_of": ["NoRevision", "Unhealthy"]}, "Unhealthy", True),
        ({"one_of": ["NoRevision", "Unhealthy"]}, "Healthy", False),
        ({"not": {"equals": "Healthy"}}, "Unhealthy", True),
        ({"not": {"equals": "Healthy"}}, "Healthy", False),
        ({"regex": "MANIFEST_UNKNOWN"}, "GET https:: MANIFEST_UNKNOWN: manifest tagged", True),
        ({"regex": "^Healthy$"}, "Unhealthy", False),
        ({"regex": "ImagePull"}, ["PullingImage", "ImagePullFailure"], True),  # any element
        ({"regex": "ImagePullFailure"}, [RECORD], True),  # any field of a record
        ({"regex": "DENIED"}, [RECORD], False),
        ({"regex": "^100$"}, 100, True),  # numbers are searched as text
        ({"regex": "None"}, None, False),  # a missing value never matches
        ({"regex": "x"}, [], False),
        ({"contains": "MANIFEST"}, "a MANIFEST_UNKNOWN b", True),
        ({"contains": "manifest"}, "MANIFEST", False),
        ({"contains": "v1"}, ["v0", "v1"], True),
        ({"contains": "v"}, ["v0", "v1"], False),  # member, not substring of a member
        ({"contains": "app"}, {"app": 1}, True),
        ({"contains": 1}, 1, False),
        ({"count": 0}, [], True),
        ({"count": 0}, [RECORD], False),
        ({"count": {"min": 1}}, [RECORD, RECORD], True),
        ({"count": {"min": 1}}, [], False),
        ({"count": {"max": 1}}, [RECORD, RECORD], False),
        ({"count": {"min": 1, "max": 3}}, [1, 2, 3], True),
        ({"count": {"min": 1, "max": 3}}, [1, 2, 3, 4], False),
        ({"count": 0}, None, False),  # not a list
        ({"count": 2}, "ab", False),  # strings are not lists
        ({"all_of": [{"regex": "^ca-"}, {"contains": "--"}]}, "ca-app--0000005", True),
        ({"all_of": [{"regex": "^ca-"}, {"contains": "--"}]}, "ca-app", False),
        ({"any_of": [{"equals": "NoRevision"}, {"equals": "Unhealthy"}]}, "NoRevision", True),
        ({"any_of": [{"equals": "NoRevision"}, {"equals": "Unhealthy"}]}, "Healthy", False),
    ],
)
def test_semantics(tolerance: dict[str, Any], value: Any, expected: bool) -> None:
    assert ok(tolerance, value) is expected


def test_nesting() -> None:
    tolerance = {
        "any_of": [
            {"all_of": [{"count": {"min": 1}}, {"regex": "ImagePullFailure"}]},
            {"not": {"any_of": [{"count": {"max": 5}}, {"contains": "x"}]}},
        ]
    }
    assert ok(tolerance, [RECORD])  # first branch
    assert ok(tolerance, list(range(6)))  # second branch: more than 5 items, no "x"
    assert not ok(tolerance, [])  # neither
    assert not ok(tolerance, list(range(6)) + ["x"])
    parsed = parse_tolerance(tolerance)
    assert parsed.describe() == (
        "any of (all of (at least 1 item; matches /ImagePullFailure/); "
        "not (any of (at most 5 items; contains 'x')))"
    )


@pytest.mark.parametrize(
    ("tolerance", "phrase"),
    [
        ({"equals": "Healthy"}, "equals 'Healthy'"),
        ({"equals": True}, "equals true"),
        ({"equals": None}, "equals null"),
        ({"one_of": ["NoRevision", "Unhealthy"]}, "one of 'NoRevision', 'Unhealthy'"),
        ({"not": {"equals": "Healthy"}}, "not (equals 'Healthy')"),
        ({"regex": "MANIFEST_UNKNOWN"}, "matches /MANIFEST_UNKNOWN/"),
        ({"contains": "v1"}, "contains 'v1'"),
        ({"count": {"min": 1, "max": 3}}, "between 1 and 3 items"),
        ({"count": {"min": 2, "max": 2}}, "exactly 2 items"),
        ({"count": 1}, "exactly 1 item"),
        ({"count": {"min": 1}}, "at least 1 item"),
        ({"count": {"max": 0}}, "at most 0 items"),
        ({"all_of": [{"equals": 1}, {"equals": 2}]}, "all of (equals 1; equals 2)"),
    ],
)
def test_expected_phrases(tolerance: dict[str, Any], phrase: str) -> None:
    parsed = parse_tolerance(tolerance)
    assert parsed.describe() == phrase == str(parsed)
    assert parsed.evaluate("whatever").expected == phrase


def test_verdict_renders_actual_value() -> None:
    assert parse_tolerance({"equals": "Healthy"}).evaluate("Unhealthy") == Verdict(
        ok=False, expected="equals 'Healthy'", actual="'Unhealthy'"
    )
    assert parse_tolerance({"count": 0}).evaluate(["a"]).actual == "1 item: ['a']"
    assert parse_tolerance({"count": 0}).evaluate("NoRevision").actual == "not a list: 'NoRevision'"
    assert parse_tolerance({"equals": 1}).evaluate({"a": [None, True]}).actual == "{a: [null, true]}"


def test_actual_is_capped() -> None:
    big = [RECORD] * 50
    for tolerance in ({"count": 0}, {"regex": "nothing"}, {"equals": "x"}):
        actual = parse_tolerance(tolerance).evaluate(big).actual
        assert len(actual) <= ACTUAL_LIMIT and actual.endswith("…")


def test_parsed_objects() -> None:
    assert parse_tolerance({"count": 3}) == Count(3, 3)
    assert parse_tolerance({"not": {"regex": "a"}}) == Not(Regex("a"))
    assert isinstance(parse_tolerance({"all_of": [{"equals": 1}]}), AllOf)


@pytest.mark.parametrize(
    ("mapping", "subpath", "expected", "got"),
    [
        ({"equal": "Healthy"}, (), "exactly one of equals, one_of", "'equal'"),
        ({"equals": 1, "regex": "x"}, (), "exactly one of", "keys 'equals', 'regex'"),
        ({}, (), "exactly one of", "no key"),
        ("Healthy", (), "exactly one of", "'Healthy' (write {equals: 'Healthy'})"),
        ({"regex": "(unclosed"}, ("regex",), "a valid regular expression", "missing )"),
        ({"regex": 5}, ("regex",), "a regular expression string", "5"),
        ({"one_of": []}, ("one_of",), "a non-empty list of values", "[]"),
        ({"one_of": "Healthy"}, ("one_of",), "a non-empty list of values", "'Healthy'"),
        ({"count": {"min": 3, "max": 1}}, ("count",), "min <= max", "min 3 > max 1"),
        ({"count": -1}, ("count",), "a number of items N", "-1"),
        ({"count": {"min": "1"}}, ("count", "min"), "an integer >= 0", "'1'"),
        ({"count": {"least": 1}}, ("count",), "{min: N, max: M}", "{least: 1}"),
        ({"count": True}, ("count",), "a number of items N", "true"),
        ({"all_of": []}, ("all_of",), "a non-empty list of tolerances", "[]"),
        ({"any_of": [{"equals": 1}, {"regx": "a"}]}, ("any_of", 1), "exactly one of", "'regx'"),
        ({"not": {"not": {"count": {"max": -2}}}}, ("not", "not", "count", "max"), "an integer >= 0", "-2"),
    ],
)
def test_malformed_tolerances(mapping: Any, subpath: tuple[Any, ...], expected: str, got: str) -> None:
    with pytest.raises(ToleranceError) as caught:
        parse_tolerance(mapping, "rows[0].failing.expect")
    error = caught.value
    assert error.subpath == subpath
    assert expected in error.expected
    assert got in error.got
    assert str(error).startswith("rows[0].failing.expect")
    assert isinstance(error, ValueError)
