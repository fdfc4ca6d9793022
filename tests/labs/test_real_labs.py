"""The project's labs: they pass on the emulator, every negated expectation fails the right item with a
message saying what was expected and what was seen, and their committed pages are not stale."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml

from pytest_acalab.labfile import load_lab
from pytest_acalab.reports.labpage import render_page

LABS = Path(__file__).resolve().parents[2] / "labs"
LAB_NAMES = sorted(p.name for p in LABS.iterdir() if (p / "lab.yaml").is_file())


def negate(check: dict[str, Any]) -> dict[str, Any]:
    """The logical negation of a check (De Morgan for all_of / any_of)."""
    out = dict(check)
    if "all_of" in check:
        del out["all_of"]
        out["any_of"] = [negate(c) for c in check["all_of"]]
    elif "any_of" in check:
        del out["any_of"]
        out["all_of"] = [negate(c) for c in check["any_of"]]
    else:
        out["expect"] = {"not": check["expect"]}
    return out


NEGATED_WITHIN = "200ms"
"""How long a negated row is observed (Azure time; on the fast clock a floor of as many real seconds). A negated
row cannot hold, so it always polls to its deadline: a fifth of a second of a system that the lab's own actions
already brought to that phase is the sample (at least one observation, however long it takes), instead of the
rows' own windows (minutes of Azure time, seconds here) eight times over. A longer sample would only give a
transient state more chances to pass a negation. The actions keep their waits (``--acalab-min-wait``)."""


def _without_within(check: dict[str, Any]) -> dict[str, Any]:
    out = {k: v for k, v in check.items() if k != "within"}
    for key in ("all_of", "any_of"):
        if key in out:
            out[key] = [_without_within(c) for c in out[key]]
    return out


def negated_row_check(check: dict[str, Any]) -> dict[str, Any]:
    if "action" in check:  # an action's recorded outcome: nothing to wait for
        return negate(check)
    return {**negate(_without_within(check)), "within": NEGATED_WITHIN}


def reached(rows: list[dict[str, Any]], phase: str) -> list[dict[str, Any]]:
    """One ``wait_for`` per row: until its ``phase`` expectation holds, within its own window (or 10 minutes)."""
    return [{"id": f"negation-test-{phase}-{index}", "action": "wait_for", "with": {"check": row[phase]},
             "timeout": "10m", "description": f"the lab shows {row['key']}[{phase}]"}
            for index, row in enumerate(rows) if "action" not in row[phase]]


RUNTIME_LABS = {"probe_and_port_mismatch", "revision_failover", "revision_provisioning_failure",
                "memory_leak_oomkilled", "acr_admin_disabled", "acr_password_regenerated",
                "ingress_target_port_mismatch", "traffic_routing_canary", "image_size_startup_delay",
                "managed_identity_key_vault_failure", "appinsights_connection_string_missing",
                "scale_rule_mismatch", "keda_no_metrics_returned", "memory_percentage_vs_keda_utilization",
                "metrics_load_test", "observability_tracing"}


def test_the_labs_exist() -> None:
    assert {"acr_pull_failure", "acr_tag_deleted"} | RUNTIME_LABS <= set(LAB_NAMES)


@pytest.mark.parametrize("name", LAB_NAMES)
def test_every_negated_expectation_fails_its_own_item(pytester: pytest.Pytester, name: str) -> None:
    target = pytester.path / "labs" / name
    shutil.copytree(LABS / name, target)
    data = yaml.safe_load((target / "lab.yaml").read_text())
    # each phase's actions end once the system shows what every row expects (each row's own window), so a
    # negated row is sampled from the state the lab reaches, not from one still on its way there
    if isinstance(data["trigger"], dict):  # (a lab triggered by its deployment is settled when it ends)
        data["trigger"]["actions"] += reached(data["hypothesis"]["rows"], "failing")
    data["recovery"] = (data.get("recovery") or []) + reached(data["hypothesis"]["rows"], "recovered")
    for row in data["hypothesis"]["rows"]:
        row["failing"] = negated_row_check(row["failing"])
        row["recovered"] = negated_row_check(row["recovered"])
    (target / "lab.yaml").write_text(yaml.safe_dump(data, sort_keys=False))
    lab = load_lab(target)
    # the actions (and the waits until each row's state is reached) get 30 real seconds at least: a scale-out of
    # replicas allocating real memory on a loaded machine; only the negated rows are cut short (NEGATED_WITHIN)
    result = pytester.runpytest("labs", "-q", "-rf", "-p", "no:cacheprovider", "--acalab-min-wait", "30s")
    result.assert_outcomes(passed=1, failed=2 * len(lab.rows))
    out = result.stdout.str()
    for row in lab.rows:
        for phase in ("failing", "recovered"):
            assert f"FAILED labs/{name}/lab.yaml::{row.item_id(phase)}" in out
    assert out.count(": expected ") >= 2 * len(lab.rows) and "got" in out and "evidence:" in out


@pytest.mark.parametrize("name", LAB_NAMES)
def test_committed_lab_page_is_rendered_from_the_lab_file(name: str) -> None:
    lab = load_lab(LABS / name)
    page = (LABS / name / "README.md").read_text(encoding="utf-8")
    assert render_page(lab, page) == page, f"labs/{name}/README.md is stale: run 'acalab docs labs/{name}'"
