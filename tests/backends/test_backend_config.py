"""``--acalab-backend azure``: a missing credential or subscription stops the run once, in one line, offline."""

from __future__ import annotations

import socket
import threading
from pathlib import Path

import pytest

from helpers.livekit import copy_lab, empty_path_dir, groups
from pytest_acalab.backends.azure import AzureBackend
from pytest_acalab.emulator import Emulator


@pytest.fixture
def no_network(monkeypatch: pytest.MonkeyPatch) -> list[object]:
    """Every socket connect the test attempts (the test asserts there is none).

    Threads that were running before the test (an emulator or a lease kept by an earlier test of this worker)
    connect to loopback as they please; they are let through and not counted."""
    attempts: list[object] = []
    real_connect = socket.socket.connect
    earlier = {t.ident for t in threading.enumerate()} - {threading.get_ident()}

    def connect(self: socket.socket, address: object) -> None:
        if threading.get_ident() in earlier:
            return real_connect(self, address)
        attempts.append(address)
        raise OSError(f"test: no network allowed (connect to {address})")

    monkeypatch.setattr(socket.socket, "connect", connect)
    yield attempts
    monkeypatch.setattr(socket.socket, "connect", real_connect)


def _labs(pytester: pytest.Pytester) -> Path:
    copy_lab(pytester.path / "labs", "acr_pull_failure")
    copy_lab(pytester.path / "labs", "acr_tag_deleted")
    return pytester.path / "labs"


def _one_line_usage_error(result: pytest.RunResult, *needles: str) -> str:
    errors = [line for line in result.errlines if line.strip()]
    assert result.ret == pytest.ExitCode.USAGE_ERROR, result.stdout.str() + result.stderr.str()
    assert len(errors) == 1, errors
    line = errors[0]
    for needle in needles:
        assert needle in line, line
    text = result.stdout.str() + result.stderr.str()
    assert "Traceback" not in text and "ConfigurationError" not in text
    assert "PASSED" not in text and "ERROR labs" not in text  # no item ran
    return line


def test_no_credentials_fail_fast_once_without_network(
        pytester: pytest.Pytester, clean_env: pytest.MonkeyPatch, tmp_path: Path, no_network: list[object]) -> None:
    labs = _labs(pytester)
    clean_env.setenv("PATH", empty_path_dir(tmp_path))  # no az on PATH
    clean_env.setenv("AZURE_SUBSCRIPTION_ID", "00000000-0000-0000-0000-000000000001")
    result = pytester.runpytest(str(labs), "--acalab-backend", "azure")
    line = _one_line_usage_error(result, "no Azure credentials", "az login", "AZURE_CLIENT_ID",
                                 "AZURE_CLIENT_SECRET", "AZURE_FEDERATED_TOKEN_FILE")
    assert line.startswith("ERROR: pytest-acalab (--acalab-backend azure)")
    assert no_network == []


def test_missing_subscription_from_the_environment_variable_backend(
        pytester: pytest.Pytester, clean_env: pytest.MonkeyPatch, tmp_path: Path, no_network: list[object]) -> None:
    labs = _labs(pytester)
    clean_env.setenv("PATH", empty_path_dir(tmp_path))
    clean_env.setenv("ACALAB_BACKEND", "azure")
    for name, value in (("AZURE_TENANT_ID", "t"), ("AZURE_CLIENT_ID", "c"), ("AZURE_CLIENT_SECRET", "not-a-secret")):
        clean_env.setenv(name, value)
    result = pytester.runpytest(str(labs))
    _one_line_usage_error(result, "no Azure subscription", "--acalab-subscription", "AZURE_SUBSCRIPTION_ID")
    assert no_network == []


def test_under_xdist_the_controller_stops_before_starting_workers(
        pytester: pytest.Pytester, clean_env: pytest.MonkeyPatch, tmp_path: Path) -> None:
    labs = _labs(pytester)
    clean_env.setenv("PATH", empty_path_dir(tmp_path))
    result = pytester.runpytest(str(labs), "--acalab-backend", "azure", "-n", "2")
    _one_line_usage_error(result, "no Azure credentials")
    assert "gw0" not in result.stdout.str()  # no worker was started


def test_collect_only_needs_no_credentials(pytester: pytest.Pytester, clean_env: pytest.MonkeyPatch,
                                           tmp_path: Path) -> None:
    labs = _labs(pytester)
    clean_env.setenv("PATH", empty_path_dir(tmp_path))
    result = pytester.runpytest(str(labs), "--acalab-backend", "azure", "--collect-only", "-q")
    assert result.ret == pytest.ExitCode.OK, result.stderr.str()
    result.stdout.fnmatch_lines(["*acr_pull_failure/lab.yaml::deployment", "*18 tests collected*"])


def test_non_lab_tests_are_not_stopped_by_a_missing_azure_configuration(
        pytester: pytest.Pytester, clean_env: pytest.MonkeyPatch, tmp_path: Path) -> None:
    pytester.makepyfile(test_plain="def test_one():\n    assert True\n")
    clean_env.setenv("PATH", empty_path_dir(tmp_path))
    result = pytester.runpytest("--acalab-backend", "azure")
    result.assert_outcomes(passed=1)


def _chain(backend: AzureBackend) -> list[str]:
    return [type(c).__name__ for c in backend.credential().credentials]


def test_managed_identity_is_left_out_unless_its_endpoint_is_configured(
        clean_env: pytest.MonkeyPatch, tmp_path: Path, no_network: list[object]) -> None:
    """Otherwise DefaultAzureCredential's managed-identity leg would probe the instance-metadata address."""
    clean_env.setenv("PATH", empty_path_dir(tmp_path))
    for name, value in (("AZURE_TENANT_ID", "t"), ("AZURE_CLIENT_ID", "c"), ("AZURE_CLIENT_SECRET", "s3cret-value")):
        clean_env.setenv(name, value)
    chain = _chain(AzureBackend("00000000-0000-0000-0000-000000000002"))
    assert "EnvironmentCredential" in chain
    assert "ManagedIdentityCredential" not in chain
    assert "AzureCliCredential" in chain  # harmless: it runs 'az', which is not on PATH here

    clean_env.setenv("IDENTITY_ENDPOINT", "http://127.0.0.1:40342/metadata/identity/oauth2/token")
    clean_env.setenv("IDENTITY_HEADER", "h")
    backend = AzureBackend("00000000-0000-0000-0000-000000000002")
    assert "managed-identity" in backend.sources
    assert "ManagedIdentityCredential" in _chain(backend)
    assert no_network == []  # building credentials touched nothing


def test_location_override_reaches_the_created_group_and_its_resources(
        pytester: pytest.Pytester, attached: Emulator, drop_groups: list[str]) -> None:
    lab = copy_lab(pytester.path, "acr_tag_deleted")
    before = set(groups(attached))
    result = pytester.runpytest(str(lab), "--acalab-location", "westeurope", "--acalab-keep")
    result.assert_outcomes(passed=9)
    new = [g for name, g in groups(attached).items() if name not in before]
    drop_groups.extend(g.name for g in new)
    assert len(new) == 1 and new[0].location == "westeurope"
    top_level = {r.type: r.location for r in attached.platform.store.in_group(new[0].name)
                 if r.type.count("/") == 1 and r.type != "Microsoft.Resources/deployments"}
    assert set(top_level) >= {"Microsoft.App/containerApps", "Microsoft.App/managedEnvironments",
                              "Microsoft.ContainerRegistry/registries", "Microsoft.OperationalInsights/workspaces"}
    assert set(top_level.values()) == {"westeurope"}, top_level


def test_half_configured_emulator_attach_is_one_line_too(pytester: pytest.Pytester,
                                                         clean_env: pytest.MonkeyPatch) -> None:
    labs = _labs(pytester)
    clean_env.setenv("ACALAB_EMULATOR_URL", "https://127.0.0.1:1")
    result = pytester.runpytest(str(labs))
    _one_line_usage_error(result, "ACALAB_EMULATOR_URL is set but", "ACALAB_EMULATOR_CA_BUNDLE",
                          "AZURE_CLIENT_SECRET", "acalab emulator env --from")
