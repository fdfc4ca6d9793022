"""Safety on a shared subscription: unique names, sweeping only our expired groups, reuse and keep."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from helpers.livekit import copy_lab, groups
from pytest_acalab import cli
from pytest_acalab.emulator import Emulator
from pytest_acalab.lifecycle.naming import MAX_GROUP_NAME, group_name, group_tags, new_run_id

# Azure: 1-90 characters, alphanumerics, underscores, parentheses, hyphens, periods; no trailing period.
RG_NAME = re.compile(r"^[-\w._()]{1,90}$")


# ---------------------------------------------------------------------------------------------- names
def test_run_ids_and_group_names_are_unique_per_run_and_worker() -> None:
    run_ids = [new_run_id() for _ in range(20_000)]
    assert len(set(run_ids)) == len(run_ids)
    names = {group_name("acr_pull_failure", run, worker) for run in run_ids[:2000] for worker in ("gw0", "gw1")}
    assert len(names) == 4000
    assert all(RG_NAME.match(n) and not n.endswith(".") for n in names)


def test_long_lab_ids_and_workers_never_lose_the_unique_suffix() -> None:
    long_lab = "a-lab-with-a-very-long-identifier-" * 4
    a = group_name(long_lab, "0123abcd", "gw12")
    b = group_name(long_lab, "0123abcd", "gw13")
    assert a != b and len(a) <= MAX_GROUP_NAME and a.endswith("-0123abcd-gw12")
    odd = group_name("lab with spaces/and:colons", "0123abcd", "worker/7")
    assert RG_NAME.match(odd) and odd.endswith("-0123abcd-worker-7")


def test_two_xdist_workers_create_distinct_groups_tagged_with_one_run(
        pytester: pytest.Pytester, attached: Emulator, drop_groups: list[str]) -> None:
    copy_lab(pytester.path / "labs", "acr_pull_failure")
    copy_lab(pytester.path / "labs", "acr_tag_deleted")
    before = set(groups(attached))
    result = pytester.runpytest(str(pytester.path / "labs"), "-n", "2", "--acalab-keep")
    result.assert_outcomes(passed=18)
    new = [g for name, g in groups(attached).items() if name not in before]
    drop_groups.extend(g.name for g in new)
    assert len(new) == 2
    tags = [g.tags for g in new]
    assert tags[0]["acalab-run"] == tags[1]["acalab-run"]  # one run id, shared by the controller
    workers = {t["acalab-worker"] for t in tags}
    assert workers == {"gw0", "gw1"}, workers
    for g in new:
        assert g.name.endswith(f"-{g.tags['acalab-run']}-{g.tags['acalab-worker']}")


# ---------------------------------------------------------------------------------------------- sweep
def _tagged(now: datetime, *, created_ago: timedelta, delete_after_in: timedelta,
            lease_in: timedelta | None = None) -> dict[str, str]:
    """Tags as a run writes them; ``lease_in`` is where the run's last renewal left the lease (default: it
    equals DeleteAfter, as a run that ended keeping the group leaves it)."""
    tags = group_tags("some_lab", new_run_id(), created_ago + delete_after_in, now=now - created_ago)
    assert tags["DeleteAfter"] == (now + delete_after_in).isoformat(timespec="seconds")
    tags["acalab-lease-until"] = (now + (delete_after_in if lease_in is None else lease_in)).isoformat(
        timespec="seconds")
    return tags


@pytest.fixture
def sweep_groups(resource_client, drop_groups: list[str]) -> dict[str, str]:
    now = datetime.now(UTC)
    hour = timedelta(hours=1)
    suffix = uuid.uuid4().hex[:6]
    specs = {
        "expired": _tagged(now, created_ago=3 * hour, delete_after_in=-hour),
        "expired-young": _tagged(now, created_ago=timedelta(minutes=30), delete_after_in=-timedelta(minutes=1)),
        "future": _tagged(now, created_ago=3 * hour, delete_after_in=2 * hour),
        # a live run renews its lease: never swept, even past --older-than
        "leased": _tagged(now, created_ago=3 * hour, delete_after_in=2 * hour, lease_in=timedelta(minutes=2)),
        # a run killed with SIGKILL stopped renewing: swept minutes later, not at DeleteAfter
        "dead-run": _tagged(now, created_ago=3 * hour, delete_after_in=2 * hour, lease_in=-timedelta(minutes=1)),
        "untagged": {},
        # someone else's sweeper tag, expired, with our naming pattern: still not ours
        "foreign": {"DeleteAfter": (now - hour).isoformat(timespec="seconds"), "owner": "another-team"},
    }
    names = {}
    for key, tags in specs.items():
        name = f"acalab-sweep-{key}-{suffix}"
        resource_client.resource_groups.create_or_update(name, {"location": "koreacentral", "tags": tags})
        names[key] = name
        drop_groups.append(name)
    return names


def _sweep(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = cli.main(["sweep", "--backend", "emulator-url", *args])
    out = capsys.readouterr()
    return code, out.out, out.err


def test_sweep_dry_run_lists_only_our_groups_and_deletes_nothing(
        attached: Emulator, sweep_groups: dict[str, str], capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = _sweep(capsys, "--dry-run")
    assert code == 0, err
    assert f"would delete {sweep_groups['expired']}: DeleteAfter" in out
    assert f"would delete {sweep_groups['expired-young']}:" in out
    assert f"keeping {sweep_groups['future']}: DeleteAfter" in out and "not reached" in out
    assert f"keeping {sweep_groups['leased']}: its run holds a lease until" in out
    assert f"would delete {sweep_groups['dead-run']}: lease" in out and "lapsed" in out
    assert sweep_groups["untagged"] not in out and sweep_groups["foreign"] not in out
    assert set(sweep_groups.values()) <= set(groups(attached))  # nothing deleted


def test_sweep_older_than_spares_young_groups_then_a_plain_sweep_takes_them(
        attached: Emulator, sweep_groups: dict[str, str], capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = _sweep(capsys, "--older-than", "2h")
    assert code == 0, err
    left = set(groups(attached))
    assert sweep_groups["expired"] not in left
    assert f"deleted {sweep_groups['expired']}" in out
    assert f"keeping {sweep_groups['expired-young']}: created" in out and "not older than 2:00:00" in out
    assert sweep_groups["dead-run"] not in left  # old enough, and its run is gone
    assert {sweep_groups[k] for k in ("expired-young", "future", "leased", "untagged", "foreign")} <= left
    assert sweep_groups["untagged"] not in out and sweep_groups["foreign"] not in out

    code, out, _ = _sweep(capsys)
    assert code == 0
    left = set(groups(attached))
    assert sweep_groups["expired-young"] not in left
    assert {sweep_groups[k] for k in ("future", "leased", "untagged", "foreign")} <= left


def test_sweep_bad_input_is_one_line(attached: Emulator, capsys: pytest.CaptureFixture[str],
                                     clean_env: pytest.MonkeyPatch) -> None:
    code, _, err = _sweep(capsys, "--older-than", "two hours")
    assert code == 2 and err.count("\n") == 1 and "--older-than two hours" in err
    clean_env.delenv("ACALAB_EMULATOR_URL")
    code, _, err = _sweep(capsys, "--dry-run")
    assert code == 2 and err.count("\n") == 1 and "ACALAB_EMULATOR_URL" in err


def test_sweep_through_the_console_script(attached: Emulator, sweep_groups: dict[str, str]) -> None:
    import shutil
    import subprocess
    import sys

    exe = shutil.which("acalab")
    command = [exe] if exe else [sys.executable, "-m", "pytest_acalab.cli"]
    done = subprocess.run([*command, "sweep", "--backend", "emulator-url", "--dry-run"], capture_output=True,
                          text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    assert f"would delete {sweep_groups['expired']}" in done.stdout
    assert sweep_groups["untagged"] not in done.stdout


# ---------------------------------------------------------------------------------------------- reuse, keep
def test_reused_group_is_never_deleted_and_its_content_survives(
        pytester: pytest.Pytester, attached: Emulator, resource_client, drop_groups: list[str]) -> None:
    name = f"rg-existing-{uuid.uuid4().hex[:6]}"
    resource_client.resource_groups.create_or_update(name, {"location": "koreacentral", "tags": {"team": "x"}})
    drop_groups.append(name)
    ws_id = (f"/subscriptions/{attached.subscription_id}/resourceGroups/{name}/providers/"
             "Microsoft.OperationalInsights/workspaces/zz-preexisting-logs")
    resource_client.resources.begin_create_or_update_by_id(
        ws_id, api_version="2023-09-01",
        parameters={"location": "koreacentral", "properties": {"sku": {"name": "PerGB2018"}}}).result()
    lab = copy_lab(pytester.path, "acr_tag_deleted")
    result = pytester.runpytest(str(lab), "--acalab-resource-group", name)
    result.assert_outcomes(passed=9)
    result.stdout.fnmatch_lines([f"reused resource group '{name}' left in place (not created by this run)"])
    assert name.lower() in groups(attached)
    assert resource_client.resource_groups.get(name).tags == {"team": "x"}
    assert resource_client.resources.get_by_id(ws_id, api_version="2023-09-01").name == "zz-preexisting-logs"
    assert len(list(resource_client.resources.list_by_resource_group(name))) > 1  # the lab deployed into it


def test_reusing_a_missing_group_is_one_clear_error(pytester: pytest.Pytester, attached: Emulator) -> None:
    lab = copy_lab(pytester.path, "acr_tag_deleted")
    result = pytester.runpytest(str(lab), "--acalab-resource-group", "rg-does-not-exist")
    result.assert_outcomes(errors=9)
    result.stdout.fnmatch_lines(["*--acalab-resource-group rg-does-not-exist: no such resource group*"])
    assert "rg-does-not-exist" not in groups(attached)


def _new_groups(emu: Emulator, before: set[str]) -> list[object]:
    return [g for name, g in groups(emu).items() if name not in before]


def test_keep_keeps_the_group_and_says_how_to_reach_it(
        pytester: pytest.Pytester, attached: Emulator, drop_groups: list[str]) -> None:
    lab = copy_lab(pytester.path, "acr_pull_failure")
    before = set(groups(attached))
    result = pytester.runpytest(str(lab), "--acalab-keep")
    result.assert_outcomes(passed=9)
    new = _new_groups(attached, before)
    drop_groups.extend(g.name for g in new)
    assert len(new) == 1
    name = new[0].name
    result.stdout.fnmatch_lines([
        f"kept resource group '{name}' (--acalab-keep) in the standalone emulator at {attached.url}; "
        f"inspect with: az group show -n {name}; rerun its checks with --acalab-resource-group {name}"])


def _failing_copy(root: Path) -> Path:
    lab = copy_lab(root, "acr_pull_failure")
    text = (lab / "lab.yaml").read_text(encoding="utf-8")
    (lab / "lab.yaml").write_text(text.replace("  expect: Failed\n", "  expect: Succeeded\n", 1), encoding="utf-8")
    return lab


def test_keep_on_failure_keeps_a_failed_lab(pytester: pytest.Pytester, attached: Emulator,
                                            drop_groups: list[str]) -> None:
    lab = _failing_copy(pytester.path)
    before = set(groups(attached))
    result = pytester.runpytest(str(lab), "--acalab-keep-on-failure")
    result.assert_outcomes(passed=8, failed=1)
    new = _new_groups(attached, before)
    drop_groups.extend(g.name for g in new)
    assert len(new) == 1
    result.stdout.fnmatch_lines([f"kept resource group '{new[0].name}' (--acalab-keep-on-failure) in the "
                                 f"standalone emulator at {attached.url}; inspect with: az group show -n *"])


def test_keep_on_failure_deletes_when_everything_passed(pytester: pytest.Pytester, attached: Emulator,
                                                        drop_groups: list[str]) -> None:
    lab = copy_lab(pytester.path, "acr_pull_failure")
    before = set(groups(attached))
    result = pytester.runpytest(str(lab), "--acalab-keep-on-failure")
    result.assert_outcomes(passed=9)
    assert _new_groups(attached, before) == []
    result.stdout.fnmatch_lines(["deleted resource group 'acalab-acr_pull_failure-*-main'"])
    assert "kept resource group" not in result.stdout.str()


def test_a_failed_lab_without_keep_options_is_deleted(pytester: pytest.Pytester, attached: Emulator) -> None:
    lab = _failing_copy(pytester.path)
    before = set(groups(attached))
    result = pytester.runpytest(str(lab))
    result.assert_outcomes(passed=8, failed=1)
    assert _new_groups(attached, before) == []
