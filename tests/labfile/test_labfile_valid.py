"""The worked example (ACR pull-failure lab) loads into the expected model, lines pointing at lab.yaml."""

from __future__ import annotations

import dataclasses
import json
import re
import shutil
from pathlib import Path
from typing import Any

import pytest

from pytest_acalab.labfile import (
    ActionCheck,
    AllOfCheck,
    AnyOfCheck,
    Check,
    Lab,
    LabFileError,
    ProbeCheck,
    load_lab,
)
from pytest_acalab.labfile.tolerances import Count, OneOf, Regex

LAB = Path(__file__).parent / "valid" / "acr_pull_failure"
TEXT = (LAB / "lab.yaml").read_text(encoding="utf-8")
EVIDENCE = json.loads((Path(__file__).parent / "data" / "acr_pull_evidence.json").read_text(encoding="utf-8"))


def line_of(snippet: str, after: str = "") -> int:
    """1-based line where ``snippet`` first occurs (after the first occurrence of ``after``)."""
    start = TEXT.index(after) if after else 0
    return TEXT[: TEXT.index(snippet, start)].count("\n") + 1


@pytest.fixture(scope="module")
def lab() -> Lab:
    return load_lab(LAB)


def test_loads_from_folder_and_file_alike(lab: Lab) -> None:
    assert load_lab(LAB / "lab.yaml") == lab
    assert lab.path == (LAB / "lab.yaml").resolve()
    assert lab.folder == LAB.resolve()


def test_top_level(lab: Lab) -> None:
    assert (lab.id, lab.title, lab.location, lab.markers, lab.cleanup) == (
        "acr_pull_failure",
        "ACR image pull failure",
        "koreacentral",
        ("acr",),
        "delete",
    )
    assert lab.metadata.difficulty == "Intermediate"
    assert lab.metadata.skills == ("Bicep deployment", "ACR", "revision health", "system logs")
    assert lab.infra.template == LAB.resolve() / "infra" / "main.json"
    assert lab.infra.bicep == LAB.resolve() / "infra" / "main.bicep"
    assert lab.infra.expect == "Failed"
    assert dict(lab.infra.parameters) == {"baseName": "labacr", "imageTag": "does-not-exist"}
    assert lab.infra.resources["registry"] == "Microsoft.ContainerRegistry/registries"
    assert lab.trigger.kind == "deployment" and lab.trigger.actions == ()
    assert lab.hypothesis.statement.startswith("IF the container app references")
    assert lab.infra.line == line_of("infra:")


def test_rows_and_item_ids(lab: Lab) -> None:
    keys = ["image-reference", "revision-health", "system-log-evidence", "recovery-action"]
    assert [row.key for row in lab.rows] == keys
    assert [row.item_id("failing") for row in lab.rows][1] == "revision-health[failing]"
    for row in lab.rows:
        assert row.line == line_of(f"- key: {row.key}")
        assert row.failing.line == line_of("failing:", after=f"- key: {row.key}")
        assert row.recovered.line == line_of("recovered:", after=f"- key: {row.key}")
    assert lab.row("revision-health").control == "Healthy, RunningAtMaxScale"
    with pytest.raises(KeyError):
        lab.row("nope")


def test_checks_are_typed(lab: Lab) -> None:
    health = lab.row("revision-health")
    assert isinstance(health.failing, ProbeCheck)
    assert health.failing.probe == "revision_health"
    assert dict(health.failing.args) == {"app": "app"}
    assert isinstance(health.failing.expect, OneOf)
    assert health.failing.expect.values == ("NoRevision", "Unhealthy")
    assert (health.failing.within, health.failing.stable_for) == (300.0, 1)
    assert isinstance(health.recovered, AllOfCheck)
    assert (health.recovered.within, health.recovered.stable_for) == (600.0, 2)
    assert [c.probe for c in health.recovered.checks if isinstance(c, ProbeCheck)] == [
        "revision_health",
        "revision_state",
    ]

    evidence = lab.row("system-log-evidence").failing
    assert isinstance(evidence, AnyOfCheck)
    deployment, logs = evidence.checks
    assert isinstance(deployment, ProbeCheck) and isinstance(deployment.expect, Regex)
    assert isinstance(logs, ProbeCheck) and isinstance(logs.expect, Count)
    assert logs.line == line_of("- probe: system_logs")
    assert logs.args["reason"] == "ContainerTerminated"

    recovery = lab.row("recovery-action").recovered
    assert isinstance(recovery, AllOfCheck)
    first = recovery.checks[0]
    assert isinstance(first, ActionCheck) and first.action_id == "build"
    assert first.line == line_of("- action: build")


def test_actions_and_steps(lab: Lab) -> None:
    build, update = lab.recovery
    assert (build.id, build.name, build.timeout, build.line) == (
        "build",
        "acr_build",
        600.0,
        line_of("- id: build"),
    )
    assert dict(build.args) == {"registry": "registry", "context": "workload", "image": "labacr:v1"}
    assert update.args["image"] == "${registry.loginServer}/labacr:v1"
    assert lab.action("update-image") is update
    assert [step.number for step in lab.experiment_log] == list(range(1, 8))
    assert [step.source for step in lab.experiment_log][:4] == [
        "deploy",
        "revision-health[failing]",
        "system-log-evidence[failing]",
        "build",
    ]
    assert lab.experiment_log[3].line == line_of("- step: 4")


def test_model_is_immutable(lab: Lab) -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        lab.title = "x"  # type: ignore[misc]
    with pytest.raises(TypeError):
        lab.recovery[0].args["image"] = "x"  # type: ignore[index]


def test_model_pickles_and_serialises(lab: Lab) -> None:
    """pytest-xdist may ship lab objects between processes; reports dump arguments as JSON."""
    import pickle

    clone = pickle.loads(pickle.dumps(lab))
    assert clone == lab
    with pytest.raises(TypeError):
        clone.recovery[0].args.update(image="x")  # type: ignore[attr-defined]
    assert json.loads(json.dumps(lab.recovery[0].args))["image"] == "labacr:v1"


def test_no_mutation_of_loaded_state_between_loads(lab: Lab) -> None:
    again = load_lab(LAB)
    assert again == lab and again is not lab


def test_yaml_12_booleans_keep_text(tmp_path: Path) -> None:
    """``control: No`` must stay the text "No", not become False as YAML 1.1 would have it."""
    shutil.copytree(LAB, tmp_path / "lab")
    path = tmp_path / "lab" / "lab.yaml"
    path.write_text(TEXT.replace("control: No pull errors", "control: No"), encoding="utf-8")
    assert load_lab(path).row("system-log-evidence").control == "No"


def test_id_defaults_to_folder_name(tmp_path: Path) -> None:
    shutil.copytree(LAB, tmp_path / "my-lab")
    path = tmp_path / "my-lab" / "lab.yaml"
    path.write_text(TEXT.replace("id: acr_pull_failure\n", ""), encoding="utf-8")
    assert load_lab(path).id == "my-lab"
    shutil.copytree(LAB, tmp_path / "My Lab")
    (tmp_path / "My Lab" / "lab.yaml").write_text(
        TEXT.replace("id: acr_pull_failure\n", ""), encoding="utf-8"
    )
    with pytest.raises(LabFileError, match=r"lab.yaml:1: id: expected an explicit id"):
        load_lab(tmp_path / "My Lab")


def test_anchors_and_merge_keys_are_supported(tmp_path: Path) -> None:
    shutil.copytree(LAB, tmp_path / "lab")
    text = TEXT.replace(
        "      failing:\n        probe: revision_health\n        with: {app: app}",
        "      failing:\n        probe: revision_health\n        with: &app {app: app}",
    ).replace(
        "          - probe: revision_health\n            with: {app: app}",
        "          - probe: revision_health\n            with: *app",
    )
    (tmp_path / "lab" / "lab.yaml").write_text(text, encoding="utf-8")
    check = load_lab(tmp_path / "lab").row("revision-health").recovered
    assert isinstance(check, AllOfCheck) and dict(check.checks[0].args) == {"app": "app"}  # type: ignore[union-attr]


# --------------------------------------------------------------- the rows against real Azure evidence


class ProbeUnavailable(Exception):
    """The probe cannot read its source (e.g. no event stream when the app has no revision)."""


def _latest(revisions: list[dict[str, Any]]) -> dict[str, Any] | None:
    return max(revisions, key=lambda r: r["createdTime"]) if revisions else None


def _probe_value(check: ProbeCheck, case: dict[str, Any]) -> Any:
    """What each probe returns for a captured case (the probes' documented semantics, on plain data)."""
    args = check.args
    latest = _latest(case["revisions"])
    if check.probe == "revision_health":
        return latest["healthState"] if latest else "NoRevision"
    if check.probe == "revision_state":
        if latest is None:
            raise ProbeUnavailable("no revision")
        return latest[args["field"]]
    if check.probe == "app_image":
        return case["app"]["image"]
    if check.probe == "image_tag":
        return "present" if args["tag"] in case["registry_tags"] else "absent"
    if check.probe == "deployment_errors":
        return [op["statusMessage"]["error"]["message"] for op in case["deployment_operations"]]
    if check.probe == "system_logs":
        if case["system_logs"] is None:
            raise ProbeUnavailable("no eventStreamEndpoint")
        records = case["system_logs"]
        if "reason" in args:
            records = [r for r in records if r["Reason_s"] == args["reason"]]
        if "message" in args:
            records = [r for r in records if re.search(args["message"], r["Log_s"] or "")]
        if "type" in args:
            records = [r for r in records if r["Type_s"] == args["type"]]
        if args.get("revision") == "latest" and latest is not None:
            records = [r for r in records if r["RevisionName_s"] == latest["name"]]
        return records
    raise AssertionError(check.probe)


def holds(check: Check, case: dict[str, Any]) -> bool:
    if isinstance(check, ActionCheck):
        outcome = case.get("action_outcomes", {}).get(check.action_id)
        return outcome is not None and check.expect.evaluate(outcome).ok
    if isinstance(check, AllOfCheck):
        return all(holds(c, case) for c in check.checks)
    if isinstance(check, AnyOfCheck):
        return any(holds(c, case) for c in check.checks)
    try:
        value = _probe_value(check, case)
    except ProbeUnavailable:
        return False
    return check.expect.evaluate(value).ok


@pytest.mark.parametrize("case", ["case_a_missing_tag_on_create", "case_b_pull_fails_later"])
def test_failing_rows_hold_in_both_real_failure_cases(lab: Lab, case: str) -> None:
    for row in lab.rows:
        assert holds(row.failing, EVIDENCE[case]), row.item_id("failing")


@pytest.mark.parametrize("case", ["case_a_missing_tag_on_create", "case_b_pull_fails_later"])
def test_recovered_rows_do_not_hold_before_recovery(lab: Lab, case: str) -> None:
    for row in lab.rows:
        assert not holds(row.recovered, EVIDENCE[case]), row.item_id("recovered")


def test_recovered_rows_hold_after_the_real_fix(lab: Lab) -> None:
    for row in lab.rows:
        assert holds(row.recovered, EVIDENCE["after_fix"]), row.item_id("recovered")


def test_failing_rows_tell_the_fix_apart(lab: Lab) -> None:
    # system-log-evidence[failing] reads the (historic) lab deployment, still failed after the fix: it is
    # only ever checked right after the trigger.
    for row in lab.rows:
        if row.key != "system-log-evidence":
            assert not holds(row.failing, EVIDENCE["after_fix"]), row.item_id("failing")
