"""Cloud-faithful mode: Azure's host names in every answer, reached through the emulator's proxy and CA,
and the Azure backend run unmodified against it (in this process; tests/cloudmode/test_offline_namespace.py
does the same from a shell in a loopback-only network namespace)."""

from __future__ import annotations

import json
import re
import socket
import ssl
import xml.etree.ElementTree as ET
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import requests

from helpers.livekit import LABS, copy_lab
from pytest_acalab.emulator import Emulator
from pytest_acalab.emulator.platform.http import Response

ARM = "https://management.azure.com"
# ARM's per-subscription token buckets (reads 250, writes 200, deletes 200; refills 25/10/10 per second):
# https://learn.microsoft.com/azure/azure-resource-manager/management/request-limits-and-throttling
BUCKETS = {"read": 250, "write": 200, "delete": 200}
LAB_NAMES = sorted(p.name for p in LABS.iterdir() if (p / "lab.yaml").is_file())
CLOUD_MAX_WAIT = "15s"
"""Every wait of the Azure backend capped at 15 real seconds (the README suggests 60 s): the cloud-faithful
emulator's clock is fast, so a lab's 60 s observation window or 90 s load is over in Azure terms long before;
what the cap leaves is room for real processes (workloads starting, builds) on a loaded machine."""


def _get(emu: Emulator, url: str, **kwargs) -> requests.Response:
    return requests.get(url, proxies=emu.proxies(), verify=emu.ca_bundle, timeout=30, **kwargs)


def _arm(emu: Emulator) -> requests.Session:
    session = requests.Session()
    session.trust_env = False
    session.verify = emu.ca_bundle
    session.proxies = emu.proxies()
    session.headers["Authorization"] = f"Bearer {emu.credential().get_token(f'{ARM}/.default').token}"
    return session


# --------------------------------------------------------------------------------------- the token authority
def test_an_sdk_credential_with_the_default_authority_gets_a_token_through_the_proxy(cloud_emu: Emulator) -> None:
    from azure.identity import ClientSecretCredential

    cloud_emu.platform.traffic.clear()
    cred = ClientSecretCredential(cloud_emu.tenant_id, cloud_emu.client_id, cloud_emu.client_secret,
                                  connection_verify=cloud_emu.ca_bundle, proxies=cloud_emu.proxies())
    token = cred.get_token(f"{ARM}/.default")  # no authority given: Azure's default
    assert token.token.count(".") == 2 and token.expires_on > 0
    assert {(h, m) for h, m, _ in cloud_emu.platform.traffic} == {("login.microsoftonline.com", "GET"),
                                                                 ("login.microsoftonline.com", "POST")}


def test_tenant_discovery_names_azures_hosts(cloud_emu: Emulator) -> None:
    config = _get(cloud_emu, f"https://login.microsoftonline.com/{cloud_emu.tenant_id}/v2.0/"
                             ".well-known/openid-configuration").json()
    for key in ("token_endpoint", "authorization_endpoint", "device_authorization_endpoint", "issuer"):
        assert urlsplit(config[key]).hostname == "login.microsoftonline.com", (key, config[key])
    assert config["token_endpoint"] == f"https://login.microsoftonline.com/{cloud_emu.tenant_id}/oauth2/v2.0/token"


def test_instance_discovery_answers_as_azure_does(cloud_emu: Emulator) -> None:
    base = "https://login.microsoftonline.com/common/discovery/instance?api-version=1.1&authorization_endpoint="
    known = _get(cloud_emu, base + f"https://login.windows.net/{cloud_emu.tenant_id}/oauth2/v2.0/authorize")
    assert known.status_code == 200
    body = known.json()
    assert body["tenant_discovery_endpoint"] == (f"https://login.windows.net/{cloud_emu.tenant_id}/v2.0/"
                                                 ".well-known/openid-configuration")
    assert "login.microsoftonline.com" in body["metadata"][0]["aliases"]
    unknown = _get(cloud_emu, base + "https://127.0.0.1:1/tenant/oauth2/v2.0/authorize")
    assert unknown.status_code == 400 and unknown.json()["error"] == "invalid_instance"
    assert "AADSTS50049" in unknown.json()["error_description"]


def test_an_unknown_authority_fails_with_msals_invalid_instance_error(cloud_emu: Emulator) -> None:
    from azure.core.exceptions import ClientAuthenticationError
    from azure.identity import ClientSecretCredential

    cred = ClientSecretCredential(cloud_emu.tenant_id, cloud_emu.client_id, cloud_emu.client_secret,
                                  authority="https://login.contoso.example", connection_verify=cloud_emu.ca_bundle,
                                  proxies=cloud_emu.proxies())
    cloud_emu.platform.traffic.clear()
    with pytest.raises(ClientAuthenticationError, match="is not well-known") as caught:
        cred.get_token(f"{ARM}/.default")
    cause = caught.value.__context__ or caught.value.__cause__
    assert "invalid_instance" in repr(cause) or "invalid_instance" in str(getattr(cause, "__context__", ""))
    assert ("login.microsoftonline.com", "GET", "common") in cloud_emu.platform.traffic  # asked, and answered


def test_cloud_metadata_is_azure_clouds(cloud_emu: Emulator) -> None:
    meta = _get(cloud_emu, f"{ARM}/metadata/endpoints?api-version=2022-09-01").json()
    assert meta["name"] == "AzureCloud"
    assert meta["resourceManager"] == f"{ARM}/"
    assert meta["authentication"]["loginEndpoint"] == "https://login.microsoftonline.com"


# --------------------------------------------------------------------------------------- hosts and certificates
def _handshake(emu: Emulator, host: str) -> tuple[int, dict]:
    """CONNECT through the proxy, then TLS with SNI ``host`` verified against the emulator's CA."""
    port = int(urlsplit(emu.proxy_url).port or 0)
    raw = socket.create_connection(("127.0.0.1", port), timeout=10)
    raw.sendall(f"CONNECT {host}:443 HTTP/1.1\r\nHost: {host}:443\r\n\r\n".encode())
    status = int(raw.recv(4096).split()[1])
    if status != 200:
        raw.close()
        return status, {}
    ctx = ssl.create_default_context(cafile=emu.ca_bundle)
    with ctx.wrap_socket(raw, server_hostname=host) as tls:
        return status, tls.getpeercert()


@pytest.mark.parametrize("host", ["management.azure.com", "login.microsoftonline.com", "login.windows.net",
                                  "api.loganalytics.io", "acrtaskmanaged01.blob.core.windows.net",
                                  "koreacentral.azurecontainerapps.dev",
                                  "koreacentral-0.in.applicationinsights.azure.com"])
def test_azure_hosts_are_served_with_a_certificate_that_names_them(cloud_emu: Emulator, host: str) -> None:
    status, cert = _handshake(cloud_emu, host)
    assert status == 200 and cert  # verified: the certificate's names cover the host


def test_a_vault_name_resolves_only_while_the_vault_exists(cloud_emu: Emulator) -> None:
    status, _ = _handshake(cloud_emu, "mykeys.vault.azure.net")
    assert status == 403  # no such vault: the proxy refuses the name, as DNS would not resolve it


def test_app_fqdns_at_any_depth_get_a_leaf_certificate_of_their_own() -> None:
    # an emulator of its own: this test replaces the app route and the ingress, which the module's shared
    # emulator must keep for the labs run against it below
    with Emulator(profile="fast", cloud=True) as own:
        _app_fqdns_at_any_depth(own)


def _app_fqdns_at_any_depth(cloud_emu: Emulator) -> None:
    deep = "ca-lab--0000001.happy-river-1a2b3c4d.koreacentral.azurecontainerapps.io"
    status, _ = _handshake(cloud_emu, deep)
    assert status == 403  # like DNS: no environment owns that domain
    domain = deep.split(".", 1)[1]
    main_port = cloud_emu.hosts.resolve("management.azure.com")
    cloud_emu.hosts.add_suffix(".azurecontainerapps.io",
                               lambda host: main_port if host.endswith("." + domain) else None, any_depth=True)
    status, cert = _handshake(cloud_emu, deep)
    assert status == 200
    assert ("DNS", deep) in cert["subjectAltName"]  # a wildcard cannot cover four labels
    # the default ingress says plainly that nothing runs behind it; the runtime replaces platform.ingress
    answer = _get(cloud_emu, f"https://{deep}/")
    assert answer.status_code == 502 and answer.json()["error"]["code"] == "NoIngress"
    cloud_emu.platform.ingress = lambda req: Response.json(200, {"host": req.authority, "path": req.path})
    assert _get(cloud_emu, f"https://{deep}/hello").json() == {"host": deep, "path": "/hello"}


def test_hosts_the_emulator_does_not_serve_are_refused(cloud_emu: Emulator) -> None:
    for host in ("example.com", "a.b.azurecr.io", "nosuchregistry.azurecr.io", "deep.er.blob.core.windows.net"):
        assert _handshake(cloud_emu, host)[0] == 403, host


# --------------------------------------------------------------------------------------- URLs it hands out
def test_long_running_operations_poll_on_management_azure_com(cloud_emu: Emulator) -> None:
    arm = _arm(cloud_emu)
    group = f"{ARM}/subscriptions/{cloud_emu.subscription_id}/resourcegroups/rg-cloud-lro"
    assert arm.put(f"{group}?api-version=2025-04-01", json={"location": "koreacentral"}).status_code == 201
    deleted = arm.delete(f"{group}?api-version=2025-04-01")
    assert deleted.status_code == 202
    assert urlsplit(deleted.headers["Location"]).hostname == "management.azure.com"


# --------------------------------------------------------------------------------------- the Azure backend
def _hosts_used(emu: Emulator) -> dict[str, int]:
    out: dict[str, int] = {}
    for (host, _method, _segment), count in emu.platform.traffic.items():
        out[host] = out.get(host, 0) + count
    return out


def arm_requests(traffic: dict[tuple[str, str, str], int]) -> dict[str, int]:
    """ARM requests by ARM's throttling categories: reads (GET/HEAD), writes (PUT/PATCH/POST), deletes."""
    out = {"read": 0, "write": 0, "delete": 0}
    for (host, method, _segment), count in traffic.items():
        if host == "management.azure.com":
            out[{"GET": "read", "HEAD": "read", "DELETE": "delete"}.get(method, "write")] += count
    return out


@pytest.mark.parametrize("lab_name", LAB_NAMES)
def test_the_azure_backend_passes_every_lab_against_the_cloud_faithful_emulator(
        pytester: pytest.Pytester, azure_shell: Emulator, lab_name: str, record_property) -> None:
    """Also counts what one lab asks of ARM, for the nightly's concurrency (docs/live-azure.md)."""
    lab = copy_lab(pytester.path, lab_name)
    azure_shell.platform.traffic.clear()
    result = pytester.runpytest(str(lab), "--acalab-backend", "azure", "--acalab-max-wait", CLOUD_MAX_WAIT,
                                "--acalab-poll-interval", "0.2s", "-rs", "--junitxml", str(pytester.path / "junit.xml"))
    outcomes = result.parseoutcomes()
    assert outcomes.get("passed", 0) > 0 and set(outcomes) <= {"passed", "warnings"}, result.stdout.str()
    counts = arm_requests(azure_shell.platform.traffic)
    record_property("arm_requests", json.dumps(counts))
    print(f"{lab_name}: ARM requests at emulator speed, 0.2 s polls: {counts}")
    lab_text = (lab / "lab.yaml").read_text()
    # the group's DELETE, and each DELETE a lab asks for itself (delete_role_assignment)
    assert counts["write"] > 0 and counts["delete"] == 1 + lab_text.count("action: delete_role_assignment") \
        and counts["read"] > 0
    assert all(counts[k] < BUCKETS[k] for k in BUCKETS), counts  # one lab never empties a bucket on its own
    hosts = _hosts_used(azure_shell)
    assert "loopback" not in hosts, hosts  # every URL the backend followed named an Azure host
    assert {"management.azure.com", "login.microsoftonline.com"} <= set(hosts)
    if "probe: image_tag" in (lab / "lab.yaml").read_text():  # the registry's data plane, on its own host
        assert any(h.endswith(".azurecr.io") for h in hosts), hosts
    log_reads = re.findall(r"probe: system_logs\s*\n\s*with: \{([^}]*)\}", lab_text)
    if any("log_analytics" not in read for read in log_reads):
        assert "koreacentral.azurecontainerapps.dev" in hosts, hosts  # the event stream's real host
    if any("log_analytics" in read for read in log_reads):
        assert "api.loganalytics.io" in hosts, hosts  # Log Analytics' query host
    if "vault" in (lab / "infra" / "main.json").read_text().lower() and "KEY_VAULT_URL" in lab_text:
        assert any(h.endswith(".vault.azure.net") for h in hosts), hosts  # the workload's vault, through the proxy
    if "action: acr_build" in (lab / "lab.yaml").read_text():  # the build context's SAS upload
        assert any(h.endswith(".blob.core.windows.net") for h in hosts), hosts
    # Azure's deletion is requested, not awaited: the report says so (and here the group is gone anyway)
    result.stdout.fnmatch_lines([f"deletion of resource group 'acalab-{lab_name}-*' requested, not awaited*"])
    suite = ET.parse(pytester.path / "junit.xml").getroot().find("testsuite")
    assert suite is not None
    props = {p.get("name"): p.get("value") for p in suite.iter("property")}
    assert props.get("acalab.backend") == "azure", props


def test_shrunk_waits_make_a_regression_fail_in_seconds_not_minutes(
        pytester: pytest.Pytester, azure_shell: Emulator) -> None:
    lab = copy_lab(pytester.path, "acr_pull_failure")
    text = (lab / "lab.yaml").read_text()
    # a "regression": the lab now expects a healthy revision while the deployment fails (within: 5m stays)
    text = text.replace("expect: {one_of: [NoRevision, Unhealthy]}", "expect: {equals: Healthy}")
    (lab / "lab.yaml").write_text(text)
    result = pytester.runpytest(str(lab), "--acalab-backend", "azure", "--acalab-poll-interval", "0.1s",
                                "-k", "revision-health and failing", "--junitxml", str(pytester.path / "j.xml"),
                                "--acalab-max-wait", "2s")
    result.assert_outcomes(failed=1, deselected=8)  # a failure that ran out of its (shrunk) time, not a hang
    junit = ET.parse(pytester.path / "j.xml").getroot()
    props = {p.get("name"): p.get("value") for p in junit.iter("property")}
    assert props["acalab.actual"] == "'NoRevision'"
    assert int(props["acalab.attempts"]) >= 3  # polled at the shrunk interval, not Azure's ten seconds


def test_the_azure_backends_waits_are_azures_unless_shrunk(azure_shell: Emulator) -> None:
    from pytest_acalab.backends.azure import AZURE_DEADLINES, AzureBackend

    azure = AzureBackend(azure_shell.subscription_id)
    assert azure.deadlines == AZURE_DEADLINES and azure.scale_wait(300) == 300 == azure.window_seconds(300)
    assert "polling_interval" not in azure.client_options()
    shrunk = AzureBackend(azure_shell.subscription_id, max_wait=2.0, poll_interval=0.1)
    assert shrunk.scale_wait(300) == 2.0 and shrunk.scale_wait(1) == 1
    assert shrunk.window_seconds(60) == 2.0 and shrunk.window_seconds(1) == 1  # a 'wait' window, a load's duration
    assert shrunk.deadlines.poll_interval == 0.1 and shrunk.client_options()["polling_interval"] == 0.1
    assert max(shrunk.deadlines.probe, shrunk.deadlines.action, shrunk.deadlines.deployment,
               shrunk.deadlines.teardown, shrunk.deadlines.transient) == 2.0


def test_bad_wait_options_are_one_clear_usage_error(pytester: pytest.Pytester, azure_shell: Emulator) -> None:
    result = pytester.runpytest("--acalab-backend", "azure", "--acalab-max-wait", "0s")
    assert result.ret == 4
    result.stderr.fnmatch_lines(["*--acalab-max-wait 0s: expected a duration above zero*"])


def test_a_group_whose_create_never_reached_azure_is_not_created_not_undeletable(
        pytester: pytest.Pytester, azure_shell: Emulator, monkeypatch: pytest.MonkeyPatch) -> None:
    lab = copy_lab(pytester.path, "acr_tag_deleted")
    monkeypatch.setenv("AZURE_CLIENT_SECRET", "not-the-secret")  # every token request is refused
    result = pytester.runpytest(str(lab), "--acalab-backend", "azure", "--acalab-max-wait", "5s",
                                "--acalab-poll-interval", "0.1s")
    out = result.stdout.str()
    assert "could not delete" not in out, out
    result.stdout.fnmatch_lines(["resource group 'acalab-acr_tag_deleted-*' was not created (*): nothing to delete"])
    assert result.parseoutcomes().get("errors", 0) == 9


def test_the_env_script_points_nothing_at_loopback_but_the_proxy(cloud_emu: Emulator, tmp_path: Path) -> None:
    from pytest_acalab.emulator.connect import azure_cli_environment, azure_cli_script

    env = azure_cli_environment(cloud_emu, tmp_path)
    assert env["AZURE_AUTHORITY_HOST"] == "https://login.microsoftonline.com"
    loopback = {k for k, v in env.items() if "127.0.0.1" in v and k not in ("NO_PROXY", "no_proxy")}
    assert loopback == {"HTTPS_PROXY", "https_proxy", "ACALAB_EMULATOR_URL"}
    script = azure_cli_script(cloud_emu)
    assert "az cloud set -n AzureCloud" in script and "az cloud register" not in script
    assert cloud_emu.client_secret not in script.split("if command -v az", 1)[1]


def test_loopback_mode_keeps_the_custom_cloud_and_its_own_url(tmp_path: Path) -> None:
    from pytest_acalab.emulator.connect import azure_cli_environment, azure_cli_script

    with Emulator() as emu:
        env = azure_cli_environment(emu, tmp_path)
        assert env["AZURE_AUTHORITY_HOST"] == emu.url and env["AZURE_CORE_INSTANCE_DISCOVERY"] == "false"
        script = azure_cli_script(emu)
        assert f"--endpoint-resource-manager {emu.url}/" in script and "az cloud set -n AcalabEmulator" in script
        meta = requests.get(f"{emu.url}/metadata/endpoints?api-version=2022-09-01", verify=emu.ca_bundle,
                            timeout=30).json()
        assert meta["name"] == "AcalabEmulator" and meta["resourceManager"] == f"{emu.url}/"
