"""Every probe against the emulator, on the project's acr_pull_failure lab in case A.

Case A (as captured live: tests/contract/data/acr-pull-failure-*.json): the deployment fails with
MANIFEST_UNKNOWN, the app exists with provisioningState Failed, no revision, no event stream, and no
system-log table yet.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from helpers.probekit import context, copy_acr_lab
from pytest_acalab.backends.emulator import EmulatorBackend
from pytest_acalab.builtins import PROBES
from pytest_acalab.context import LabContext
from pytest_acalab.context.deployments import deploy_template
from pytest_acalab.errors import ProbeError
from pytest_acalab.probes import run_probe
from pytest_acalab.probes.checks import evaluate


@pytest.fixture(scope="module")
def case_a(tmp_path_factory) -> Iterator[LabContext]:
    backend = EmulatorBackend(profile="fast")
    try:
        lab = copy_acr_lab(tmp_path_factory.mktemp("lab"))
        ctx = context(lab, backend, create_group=True)
        outcome = deploy_template(ctx)
        assert str(getattr(outcome["state"], "value", outcome["state"])) == "Failed"
        ctx.refresh_resources()
        yield ctx
    finally:
        backend.close()


def probe(ctx: LabContext, name: str, **args: Any) -> Any:
    return run_probe(ctx, name, args, deadline=5)


def test_registry_lists_every_probe_of_the_lab_format() -> None:
    assert sorted(PROBES) == sorted(["revision_health", "revision_state", "revisions", "app_state", "app_image",
                                     "system_logs", "deployment_errors", "image_tag", "http_endpoint",
                                     "registry_state", "replicas", "console_logs", "ingress", "role_assignments",
                                     "log_rows", "environment_state", "metric"])


def test_no_revision_and_the_evidence_says_why(case_a) -> None:
    obs = probe(case_a, "revision_health", app="app")
    assert obs.value == "NoRevision"
    assert "has no revision" in obs.excerpt and "provisioningState: Failed" in obs.excerpt
    assert probe(case_a, "revisions", app="app").value == []
    assert probe(case_a, "revision_state", app="app", field="healthState").value is None


def test_app_state_after_a_failed_create(case_a) -> None:
    assert probe(case_a, "app_state", app="app", field="provisioningState").value == "Failed"
    assert probe(case_a, "app_state", app="app", field="latestRevisionName").value is None
    assert probe(case_a, "app_state", app="app", field="eventStreamEndpoint").value is None
    assert probe(case_a, "app_state", app="app", field="configuration.ingress.targetPort").value == 8000


def test_app_image_is_the_missing_tag(case_a) -> None:
    login = case_a.resource("registry").field("loginServer")
    assert probe(case_a, "app_image", app="app").value == f"{login}/labacr:does-not-exist"
    assert probe(case_a, "app_image", app="app", container="app").value.endswith(":does-not-exist")
    missing = probe(case_a, "app_image", app="app", container="sidecar")
    assert missing.value is None and "no container 'sidecar'" in missing.excerpt


def test_deployment_errors_carry_manifest_unknown(case_a) -> None:
    obs = probe(case_a, "deployment_errors")
    assert any("MANIFEST_UNKNOWN" in m and "does-not-exist" in m for m in obs.value)
    assert obs.source == "deployment_operations"
    with pytest.raises(ProbeError, match="gave up after .* no-such-deployment|no-such-deployment.*gave up"):
        run_probe(case_a, "deployment_errors", {"deployment": "no-such-deployment"}, deadline=0.3)


def test_image_tag_absent_and_missing_repository(case_a) -> None:
    assert probe(case_a, "image_tag", registry="registry", repository="labacr", tag="does-not-exist").value == "absent"
    assert probe(case_a, "image_tag", registry="registry", repository="nothing-here", tag="v1").value == "absent"


def test_system_logs_without_event_stream_endpoint(case_a) -> None:
    obs = probe(case_a, "system_logs", app="app")
    assert obs.value == [] and "no eventStreamEndpoint" in obs.excerpt and "Failed" in obs.excerpt


def test_system_logs_table_not_created_yet_is_zero_rows_not_an_error(case_a) -> None:
    obs = probe(case_a, "system_logs", app="app", source="log_analytics", since="lab")
    assert obs.value == [] and obs.source == "log_analytics"
    assert "ContainerAppSystemLogs_CL does not exist yet" in obs.excerpt


def test_http_endpoint_without_fqdn(case_a) -> None:
    obs = probe(case_a, "http_endpoint", app="app")
    assert obs.value == [] and "no ingress fqdn" in obs.excerpt


def test_unknown_alias_is_a_probe_error(case_a) -> None:
    with pytest.raises(ProbeError, match="no-such-alias"):
        probe(case_a, "revision_health", app="no-such-alias")


def test_every_failing_row_of_the_lab_holds_in_case_a(case_a) -> None:
    for row in case_a.lab.rows:
        outcome = evaluate(case_a, row.failing, default_within=5)
        assert outcome.ok, outcome.failure_message()
    any_of = evaluate(case_a, case_a.lab.row("system-log-evidence").failing, default_within=5)
    assert any_of.source == "deployment_operations" and "(tried: deployment_operations, eventstream)" in any_of.excerpt


def test_log_analytics_reads_the_revision_asked_for_past_a_flood_of_other_rows(case_a) -> None:
    """A crash loop writes thousands of rows: the probe filters by revision in the query and reads the newest
    rows, so one row of the revision asked for is found behind 1,500 of another (they were the oldest 1,000
    read, then filtered, before)."""
    import datetime as dt

    from pytest_acalab.emulator.app.syslog import LEGACY_TABLE
    from pytest_acalab.probes.logs import LA_ROW_LIMIT

    emu = case_a.backend._emulator  # type: ignore[attr-defined]
    app = case_a.resource("app")
    env = case_a.clients.apps.managed_environments.get(case_a.resource_group, case_a.resource("environment").name)
    customer_id = env.app_logs_configuration.log_analytics_configuration.customer_id
    now = emu.platform.clock.now()

    def row(revision: str, reason: str, i: int) -> dict[str, Any]:
        return {"TimeGenerated": now - dt.timedelta(microseconds=2 * LA_ROW_LIMIT - i),  # in order, past
                "Reason_s": reason, "Log_s": f"line {i}",
                "Type_s": "Normal", "RevisionName_s": revision, "ContainerAppName_s": app.name, "Count_d": 1.0}

    flood = [row(f"{app.name}--crashing", "BackOff", i) for i in range(LA_ROW_LIMIT + 500)]
    visible = now - dt.timedelta(minutes=5)  # ingested as if written minutes ago: queryable at once
    emu.platform.services.logs.ingest(customer_id, LEGACY_TABLE, flood, visible)
    emu.platform.services.logs.ingest(customer_id, LEGACY_TABLE, [row(f"{app.name}--healthy", "KEDAScalersStarted",
                                                                       LA_ROW_LIMIT + 600)], visible)
    found = run_probe(case_a, "system_logs", {"app": "app", "source": "log_analytics", "since": "lab",
                                               "revision": f"{app.name}--healthy"}, deadline=30)
    assert [r["reason"] for r in found.value] == ["KEDAScalersStarted"], (found.excerpt, found.value)
    every = run_probe(case_a, "system_logs", {"app": "app", "source": "log_analytics", "since": "lab",
                                               "reason": "KEDAScalersStarted"}, deadline=30)
    assert len(every.value) == 1 and f"the newest {LA_ROW_LIMIT}" in every.excerpt, every.excerpt
