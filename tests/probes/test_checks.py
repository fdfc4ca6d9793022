"""The check runner's semantics: polling to a deadline, stable_for, error vs deviation, any_of evidence.

The probes here are tiny functions registered for the test: the runner is what is under test.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest

from helpers.probekit import OfflineBackend, context, minimal_lab
from pytest_acalab.context import ActionResult
from pytest_acalab.errors import ProbeError, ProbeSkipped
from pytest_acalab.labfile.model import ActionCheck, AllOfCheck, AnyOfCheck, ProbeCheck
from pytest_acalab.labfile.tolerances import parse_tolerance
from pytest_acalab.probes.base import Observation
from pytest_acalab.probes.checks import EXCERPT_LIMIT, evaluate


@pytest.fixture
def ctx(tmp_path):
    return context(minimal_lab(tmp_path / "lab"), OfflineBackend(probe=1.0, poll=0.01))


@pytest.fixture
def script(ctx) -> Iterator[Any]:
    """Register probe ``name`` in the lab's vocabulary, answering from a list of values (the last one repeats)."""
    calls: dict[str, int] = {}

    def register(name: str, values: list[Any], source: str = "fake", excerpt: str = "") -> None:
        def fn(ctx: Any, args: Any, deadline: float) -> Observation:
            i = calls.get(name, 0)
            calls[name] = i + 1
            value = values[min(i, len(values) - 1)]
            if isinstance(value, BaseException):
                raise value
            return Observation(value, source, excerpt or f"{name} said {value!r}")

        ctx.vocabulary.probes.add(name, fn)

    register.calls = calls  # type: ignore[attr-defined]
    yield register


def probe_check(name: str, expect: dict, within: float | None = 0.5, stable_for: int = 1, line: int = 3,
                args: dict | None = None) -> ProbeCheck:
    return ProbeCheck(probe=name, args=args or {}, expect=parse_tolerance(expect), within=within,
                      stable_for=stable_for, description=None, line=line)


def test_polls_until_the_tolerance_holds(ctx, script) -> None:
    script("health", ["Unhealthy", "Unhealthy", "Healthy"])
    outcome = evaluate(ctx, probe_check("health", {"equals": "Healthy"}, within=5))
    assert outcome.ok and outcome.attempts == 3 and outcome.actual == "'Healthy'"
    attempts = [e for e in ctx.journal.entries if e["kind"] == "probe" and e["name"] == "health"]
    assert [e["ok"] for e in attempts] == [False, False, True] and [e["attempt"] for e in attempts] == [1, 2, 3]


def test_stable_for_needs_consecutive_holds(ctx, script) -> None:
    script("flappy", ["Healthy", "Unhealthy", "Healthy", "Healthy", "Unhealthy"])
    outcome = evaluate(ctx, probe_check("flappy", {"equals": "Healthy"}, within=5, stable_for=2))
    assert outcome.ok and outcome.attempts == 4 and outcome.streak == 2


def test_stable_for_not_reached_before_the_deadline_is_a_deviation(ctx, script) -> None:
    script("flip", ["Healthy", "Unhealthy"] * 500)
    outcome = evaluate(ctx, probe_check("flip", {"equals": "Healthy"}, within=0.2, stable_for=2))
    assert not outcome.ok
    assert "consecutive" in outcome.failure_message()


def test_deadline_ends_a_deviation_with_expected_actual_and_source(ctx, script) -> None:
    script("health", ["Unhealthy"], source="revisions", excerpt="revision app--1: healthState=Unhealthy")
    started = time.monotonic()
    outcome = evaluate(ctx, probe_check("health", {"equals": "Healthy"}, within=0.3, line=42))
    # it polled until the deadline (a lower bound only: a loaded machine can only make it later)
    assert not outcome.ok and outcome.attempts > 2 and time.monotonic() - started >= 0.3
    message = outcome.failure_message()
    assert message.startswith("lab.yaml:42: expected health equals 'Healthy'; actual 'Unhealthy'")
    assert "source: revisions" in message and "evidence: revision app--1: healthState=Unhealthy" in message


def test_default_deadline_is_the_backends_when_within_is_absent(ctx, script) -> None:
    ctx.backend = OfflineBackend(probe=0.25, poll=0.01)
    script("health", ["Unhealthy"])
    outcome = evaluate(ctx, probe_check("health", {"equals": "Healthy"}, within=None))
    assert not outcome.ok and outcome.deadline == 0.25
    quick = evaluate(ctx, probe_check("health", {"equals": "Healthy"}, within=None), default_within=0.05)
    assert quick.deadline == 0.05


def test_a_probe_that_cannot_run_is_an_error_naming_probe_and_line(ctx, script) -> None:
    script("broken", [ProbeError("GET container app 'x': 403 (AuthorizationFailed) no access")])
    with pytest.raises(ProbeError) as info:
        evaluate(ctx, probe_check("broken", {"equals": "Healthy"}, line=17))
    assert "probe 'broken'" in str(info.value) and "line 17" in str(info.value)
    assert "AuthorizationFailed" in str(info.value)
    assert script.calls["broken"] == 1  # an error is not polled away


def test_skipped_probe_propagates(ctx, script) -> None:
    script("unreachable", [ProbeSkipped("host does not resolve")])
    with pytest.raises(ProbeSkipped, match="does not resolve"):
        evaluate(ctx, probe_check("unreachable", {"equals": [200]}))


def test_any_of_names_every_source_and_the_one_that_held(ctx, script) -> None:
    script("ops", [["ContainerAppOperationError: ... MANIFEST_UNKNOWN ..."]], source="deployment_operations")
    script("logs", [[]], source="eventstream", excerpt="app has no eventStreamEndpoint")
    check = AnyOfCheck(checks=(probe_check("logs", {"count": {"min": 1}}, within=None),
                               probe_check("ops", {"regex": "MANIFEST_UNKNOWN"}, within=None)),
                       within=1.0, stable_for=1, description=None, line=5)
    outcome = evaluate(ctx, check)
    assert outcome.ok and outcome.source == "deployment_operations"
    assert outcome.excerpt.startswith("held: deployment_operations (tried: eventstream, deployment_operations)")
    assert [(e.name, e.ok) for e in outcome.evidence] == [("logs", False), ("ops", True)]


def test_any_of_counts_an_error_as_not_holding_but_not_when_all_fail(ctx, script) -> None:
    script("down", [ProbeError("Log Analytics query: 503 gave up")])
    script("quiet", [[]], source="eventstream")
    check = AnyOfCheck(checks=(probe_check("down", {"count": {"min": 1}}), probe_check("quiet", {"count": {"min": 1}})),
                       within=0.2, stable_for=1, description=None, line=5)
    outcome = evaluate(ctx, check)
    assert not outcome.ok
    assert "could not run" in outcome.actual or "503 gave up" in outcome.actual
    assert "none held" in outcome.excerpt
    only_errors = AnyOfCheck(checks=(probe_check("down", {"count": {"min": 1}}),), within=0.2, stable_for=1,
                             description=None, line=6)
    with pytest.raises(ProbeError, match="no check of any_of could run"):
        evaluate(ctx, only_errors)


def test_all_of_reports_the_failing_part(ctx, script) -> None:
    script("image", ["reg.azurecr.io/labacr:v1"], source="container_app")
    script("tag", ["absent"], source="registry")
    check = AllOfCheck(checks=(probe_check("image", {"regex": ":v1$"}), probe_check("tag", {"equals": "present"})),
                       within=0.2, stable_for=1, description=None, line=8)
    outcome = evaluate(ctx, check)
    assert not outcome.ok and outcome.source == "registry" and outcome.actual == "tag: 'absent'"
    assert outcome.expected == "all of (image matches /:v1$/; tag equals 'present')"


def test_action_checks_are_decided_at_once(ctx, script) -> None:
    ctx.action_results["build"] = ActionResult("build", "acr_build", "Failed", "run ca1 ended Failed: no such file")
    ctx.deployment = {"name": "main", "state": "Failed", "error": {"code": "DeploymentFailed", "message": "boom"}}
    failed = evaluate(ctx, ActionCheck("build", parse_tolerance({"equals": "Succeeded"}), line=9), default_within=5)
    assert not failed.ok and failed.attempts == 1 and "no such file" in failed.excerpt
    script("tag", ["absent"])
    mixed = AllOfCheck(checks=(ActionCheck("build", parse_tolerance({"equals": "Succeeded"}), line=9),
                               probe_check("tag", {"equals": "absent"})), within=5, stable_for=1,
                       description=None, line=8)
    script.calls.clear()
    settled = evaluate(ctx, mixed)
    assert not settled.ok and settled.attempts == 1  # no polling for a settled failure
    assert script.calls.get("tag", 0) <= 1
    assert evaluate(ctx, ActionCheck("deploy", parse_tolerance({"equals": "Failed"}), line=2)).ok
    with pytest.raises(ProbeError, match="has no recorded result"):
        evaluate(ctx, ActionCheck("update-image", parse_tolerance({"equals": "Succeeded"}), line=3))


def test_excerpts_are_scrubbed_and_capped(ctx, script) -> None:
    secret = "s3cr3t-password-value"
    ctx.scrubber.add(secret)
    script("noisy", ["x"], excerpt=f"password {secret} " + "y" * 2000)
    outcome = evaluate(ctx, probe_check("noisy", {"equals": "z"}, within=0.05))
    assert secret not in outcome.excerpt and "***" in outcome.excerpt
    assert len(outcome.excerpt) <= EXCERPT_LIMIT
    assert all(secret not in str(e) for e in ctx.journal.entries)


def test_references_in_args_are_resolved_before_the_probe_runs(ctx, script, monkeypatch) -> None:
    seen: list[Any] = []

    def fn(c: Any, args: Any, deadline: float) -> Observation:
        seen.append(dict(args))
        return Observation(args["image"], "fake")

    ctx.vocabulary.probes.add("echo", fn)
    ctx.run_id = "r42"
    outcome = evaluate(ctx, probe_check("echo", {"equals": "labacr:r42"}, args={"image": "labacr:${run.id}"}))
    assert outcome.ok and seen == [{"image": "labacr:r42"}]
