"""Transient faults on ARM (429 / 503 / connection resets, stalled operations) and 404 right after create."""

from __future__ import annotations

import threading
import time
import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from helpers.livekit import copy_lab, groups
from pytest_acalab.emulator import Emulator

FAST_RETRY = 0.02
"""Seconds the injected 429/503 answers ask for (sent as retry-after-ms), so the test stays fast."""


def _run_lab(pytester: pytest.Pytester, lab: Path, *args: str) -> tuple[pytest.RunResult, float]:
    started = time.monotonic()
    result = pytester.runpytest(str(lab), "--acalab-min-wait", "2s", "--junitxml", str(lab.parent / "junit.xml"),
                                *args)
    return result, time.monotonic() - started


@pytest.mark.parametrize("seed", [2026, 7, 11])
def test_acr_lab_passes_under_20_percent_transient_faults(pytester: pytest.Pytester, attached: Emulator, seed: int,
                                                          record_property) -> None:
    lab = copy_lab(pytester.path, "acr_pull_failure")
    before = set(groups(attached))
    attached.platform.faults.configure(0.2, kinds=("429", "503", "reset"), seed=seed, retry_after=FAST_RETRY)
    result, elapsed = _run_lab(pytester, lab)
    injected = dict(attached.platform.faults.injected)
    attached.platform.faults.configure(0.0)
    result.assert_outcomes(passed=9)
    assert sum(injected.values()) >= 5, injected  # about 50 ARM requests per run: some 10 faults
    assert set(groups(attached)) == before  # deleted, despite the faults
    result.stdout.fnmatch_lines(["deleted resource group 'acalab-acr_pull_failure-*-main'"])
    record_property("faults_injected", injected)
    record_property("lab_seconds", round(elapsed, 2))
    print(f"20% faults, seed {seed}: injected {injected}; lab ran in {elapsed:.2f}s")


def test_persistent_throttling_fails_clearly_and_leaves_the_group_to_the_sweeper(
        pytester: pytest.Pytester, attached: Emulator, record_property: Any) -> None:
    lab = copy_lab(pytester.path, "acr_pull_failure")
    attached.platform.faults.configure(1.0, kinds=("429", "503"), seed=1, retry_after=FAST_RETRY)
    result, elapsed = _run_lab(pytester, lab)
    attached.platform.faults.configure(0.0)
    result.assert_outcomes(errors=9)
    out = result.stdout.str()
    # which request, what Azure answered, how often and for how long
    result.stdout.fnmatch_lines([
        "*lab 'acr_pull_failure' could not be provisioned: create resource group 'acalab-acr_pull_failure-*-main':"
        " Azure was still * after * attempts over *s (each attempt includes the Azure SDK's own retries);"
        " last answer: *"])
    assert "throttled (HTTP 429)" in out or "unavailable (HTTP 503)" in out
    result.stdout.fnmatch_lines([
        # its create got no answer, so the group may exist: teardown asks (still throttled) and says so
        "could not delete resource group 'acalab-acr_pull_failure-*-main': check whether resource group *"
        "Azure was still *; it is left with its DeleteAfter tag for 'acalab sweep' to remove"])
    junit = ET.parse(lab.parent / "junit.xml").getroot()
    messages = [e.get("message", "") for e in junit.iter("error")]
    assert len(messages) == 9 and all("attempts over" in m for m in messages), messages
    assert "Traceback" not in out
    # given up on by the transient budget, not the lab's deadlines: the message says which request gave up
    # (a figure of elapsed time would be a wall-clock assertion; the budget's figures live in benchmarks)
    assert all("create resource group" in m for m in messages), messages
    record_property("lab_seconds", round(elapsed, 2))


def test_a_stalled_operation_takes_three_times_longer_then_fails_with_an_arm_error(live_emu: Emulator) -> None:
    ops = live_emu.platform.operations
    applied: list[bool] = []
    live_emu.platform.faults.configure(0.0, stall_then_fail=1.0, seed=3)
    try:
        t0 = time.monotonic()
        op = ops.start(lambda oid: f"https://x/operationStatuses/{oid}", 0.2, lambda: applied.append(True) or None)
        t1 = time.monotonic()
    finally:
        live_emu.platform.faults.configure(0.0)
    assert t0 + 0.6 <= op.due <= t1 + 0.6  # three times the 0.2 s it would take
    # the scheduler is driven at explicit instants, so a loaded machine cannot move them
    live_emu.platform.scheduler.run_due(now=op.due - 0.3)
    assert not op.done  # a normal operation (0.2 s) would be over by now
    live_emu.platform.scheduler.run_due(now=op.due)
    assert op.status == "Failed" and op.error["code"] == "InternalServerError" and applied == []
    body = ops.status_response(op)
    assert b'"InternalServerError"' in body.body and b'"Failed"' in body.body
    n0 = time.monotonic()
    normal = ops.start(lambda oid: f"https://x/operationStatuses/{oid}", 0.2, lambda: None)
    n1 = time.monotonic()
    assert n0 + 0.2 <= normal.due <= n1 + 0.2


def test_a_stalled_registry_creation_reaches_the_sdk_as_a_failed_operation(live_emu: Emulator,
                                                                           resource_client) -> None:
    from azure.core.exceptions import HttpResponseError
    from azure.mgmt.containerregistry import ContainerRegistryManagementClient

    acr = ContainerRegistryManagementClient(live_emu.credential(), live_emu.subscription_id, polling_interval=0,
                                            **live_emu.client_kwargs())
    group = f"rg-stall-{int(time.time() * 1000)}"
    resource_client.resource_groups.create_or_update(group, {"location": "koreacentral"})
    try:
        live_emu.platform.faults.configure(0.0, stall_then_fail=1.0)
        try:
            poller = acr.registries.begin_create(group, "acrstalled", {"location": "koreacentral",
                                                                       "sku": {"name": "Basic"}})
        finally:
            live_emu.platform.faults.configure(0.0)
        with pytest.raises(HttpResponseError) as info:
            poller.result(timeout=30)
        assert getattr(info.value.error, "code", None) == "InternalServerError", info.value
        assert acr.registries.get(group, "acrstalled").provisioning_state != "Succeeded"  # never finished
    finally:
        resource_client.resource_groups.begin_delete(group).result()


def test_the_fault_switch_of_a_standalone_emulator_over_https(live_emu: Emulator) -> None:
    import requests

    token = live_emu.credential().get_token("https://management.azure.com/.default").token
    url = f"{live_emu.url}/acalab/faults"
    assert requests.put(url, json={"share": 0.5}, verify=live_emu.ca_bundle, timeout=10).status_code == 401
    try:
        answer = requests.put(url, json={"share": 1.0, "kinds": ["503"], "retry_after": 0.02},
                              headers={"Authorization": f"Bearer {token}"}, verify=live_emu.ca_bundle, timeout=10)
        assert answer.status_code == 200 and answer.json()["share"] == 1.0
        arm = requests.get(f"{live_emu.url}/subscriptions/{live_emu.subscription_id}/resourcegroups",
                           params={"api-version": "2024-03-01"}, headers={"Authorization": f"Bearer {token}"},
                           verify=live_emu.ca_bundle, timeout=10)
        assert arm.status_code == 503 and arm.headers["retry-after-ms"] == "20" and "Retry-After" not in arm.headers
        assert arm.json()["error"]["code"] == "ServiceUnavailable"
        bad = requests.put(url, json={"share": 2}, headers={"Authorization": f"Bearer {token}"},
                           verify=live_emu.ca_bundle, timeout=10)
        assert bad.status_code == 400 and "between 0 and 1" in bad.json()["error"]["message"]
        state = requests.get(url, headers={"Authorization": f"Bearer {token}"}, verify=live_emu.ca_bundle,
                             timeout=10).json()
        assert state["injected"] == {"503": 1}
    finally:
        live_emu.platform.faults.configure(0.0)


def test_a_probe_rides_out_404_right_after_create(live_emu: Emulator, attached: Emulator, tmp_path: Path,
                                                   resource_client) -> None:
    """ARM's eventual consistency: the app answers 404 for a moment after the phase started; the probe
    retries it (within 60 s of the phase start) and sees the app once it exists. A timer is the fault."""
    from azure.mgmt.appcontainers import ContainerAppsAPIClient

    from pytest_acalab.backends.clients import Clients
    from pytest_acalab.backends.emulator import EmulatorBackend
    from pytest_acalab.context import LabContext, ResourceRef
    from pytest_acalab.errors import ProbeError
    from pytest_acalab.extensions import builtin_vocabulary
    from pytest_acalab.labfile import load_lab
    from pytest_acalab.probes import run_probe
    from pytest_acalab.reports.journal import Journal
    from pytest_acalab.reports.scrub import Scrubber

    group = f"rg-later-{int(time.time() * 1000)}"
    resource_client.resource_groups.create_or_update(group, {"location": "koreacentral"})
    apps = ContainerAppsAPIClient(live_emu.credential(), live_emu.subscription_id, polling_interval=0,
                                  **live_emu.client_kwargs())
    env = apps.managed_environments.begin_create_or_update(group, "env-later", {"location": "koreacentral"}).result()
    backend = EmulatorBackend()
    lab = load_lab(copy_lab(tmp_path, "acr_pull_failure"))
    app_id = f"/subscriptions/{live_emu.subscription_id}/resourceGroups/{group}/providers/Microsoft.App/containerApps/"
    ctx = LabContext(lab=lab, backend=backend, clients=Clients(backend), resource_group=group,
                     deployment_name="d", location="koreacentral", run_id="r", journal=Journal("t", Scrubber()),
                     scrubber=Scrubber(), vocabulary=builtin_vocabulary())
    ctx.resources["app"] = ResourceRef("app", app_id + "ca-later", "ca-later", "Microsoft.App/containerApps", {})
    ctx.resources["old"] = ResourceRef("old", app_id + "ca-never", "ca-never", "Microsoft.App/containerApps", {})

    def create() -> None:
        apps.container_apps.begin_create_or_update(group, "ca-later", {
            "location": "koreacentral", "properties": {
                "managedEnvironmentId": env.id,
                "template": {"containers": [{"name": "app", "image": "mcr.microsoft.com/k8se/quickstart:latest"}]}},
        }).result()

    try:
        ctx.phase_started["failing"] = datetime.now(UTC)
        timer = threading.Timer(0.6, create)
        timer.start()
        started = time.monotonic()
        obs = run_probe(ctx, "app_state", {"app": "app", "field": "provisioningState"}, deadline=20)
        waited = time.monotonic() - started
        timer.join()
        assert obs.value in ("InProgress", "Succeeded") and waited >= 0.5

        # past the 60 s grace after the phase start, a 404 is an answer at once
        ctx.phase_started["failing"] = datetime.now(UTC) - timedelta(seconds=61)
        import pytest_acalab.probes.base as retry_module  # patched where run_probe calls it

        tries: list[int] = []
        real_call = retry_module.call

        def counting_call(fn, *args, **kwargs):
            return real_call(lambda: (tries.append(1), fn())[1], *args, **kwargs)

        retry_module.call = counting_call
        try:
            with pytest.raises(ProbeError, match="ca-never"):
                run_probe(ctx, "app_state", {"app": "old", "field": "provisioningState"}, deadline=20)
        finally:
            retry_module.call = real_call
        assert len(tries) == 1  # answered at the first 404, not retried
    finally:
        backend.close()
        resource_client.resource_groups.begin_delete(group).result()
