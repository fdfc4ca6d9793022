"""Every recorded Azure interaction replayed against the emulator (issue 15).

``pytest_acalab.emulator.fidelity`` replays each cassette of ``recordings/`` on a fresh emulator and scores
status code, long-running-operation headers and body keys. The suite fails below ``FLOOR``; the floor only
goes up: ``test_floor_only_goes_up`` fails when the figure published in ``benchmarks/results.json`` is
above it, so whoever improves fidelity and reruns ``nox -s bench`` raises the floor with it.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from pytest_acalab.emulator import fidelity

RECORDINGS = Path(__file__).parent / "recordings"
ROOT = Path(__file__).resolve().parents[2]
FLOOR = 99.0
"""Per cent of recorded interactions answered as Azure answered. Raise it; never lower it."""
SHARED = [ROOT.parent / "shared" / "azure-evidence" / "recordings", Path("/work/shared/azure-evidence/recordings")]


@pytest.fixture(scope="module")
def replayed() -> tuple[list[fidelity.CassetteResult], dict]:
    return fidelity.replay_all(RECORDINGS)


def test_every_recorded_cassette_is_in_the_repository() -> None:
    """Not a chosen subset: every cassette of the evidence folder (when this machine has it) is here."""
    ours = sorted(str(p.relative_to(RECORDINGS)) for p in fidelity.cassettes(RECORDINGS))
    assert len(ours) == 11, ours
    for shared in SHARED:
        if shared.is_dir():
            assert ours == sorted(str(p.relative_to(shared)) for p in fidelity.cassettes(shared))
            break


def test_replay_matches_azure_above_the_floor(replayed: tuple[list[fidelity.CassetteResult], dict]) -> None:
    results, drifted = replayed
    print("\n" + fidelity.report(results, drifted))
    assert {r.name for r in results} == {str(p.relative_to(RECORDINGS)) for p in fidelity.cassettes(RECORDINGS)}
    scored = sum(r.scored for r in results)
    assert scored > 300, "polling is excluded, nothing else"
    rate = sum(r.matched for r in results) / scored * 100
    assert rate >= FLOOR, fidelity.report(results, drifted)


def test_floor_only_goes_up() -> None:
    published = json.loads((ROOT / "benchmarks" / "results.json").read_text())
    figures = [f for f in published["results"] if f["group"] == "fidelity" and f["name"] == "replay_match_rate"]
    assert figures, "benchmarks/results.json has no fidelity figure: run nox -s bench"
    assert FLOOR >= math.floor(figures[0]["value"] * 10) / 10, (
        f"fidelity reached {figures[0]['value']} %: raise FLOOR to it")


def test_a_wrong_answer_is_scored_as_a_mismatch() -> None:
    """The comparison can fail: a status, a missing LRO header and a missing key are each mismatches."""
    item = fidelity.Interaction(0, "PUT", "https://management.azure.com/x", {}, "", 201,
                                {"azure-asyncoperation": "https://management.azure.com/subscriptions/s/providers/"
                                                         "Microsoft.App/locations/eastus/containerappOperationStatuses/1"},
                                json.dumps({"id": "x", "properties": {"provisioningState": "InProgress",
                                                                      "runningStatus": "Running"}}))
    body = json.dumps({"id": "x", "properties": {"provisioningState": "InProgress"}})
    assert fidelity.compare(item, 200, {}, body) == ["status 200, Azure 201", "no azure-asyncoperation header"]
    assert fidelity.compare(item, 201, {"azure-asyncoperation": item.response_headers["azure-asyncoperation"]},
                            body) == ["keys -properties.runningStatus"]
    assert fidelity.compare(item, 201, {"azure-asyncoperation": item.response_headers["azure-asyncoperation"]},
                            json.dumps(json.loads(item.response_body))) == []
