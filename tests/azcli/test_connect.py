"""Pointing clients at the emulator: the CONNECT proxy, ARM's lenient deployment bodies, and
``acalab emulator serve`` / ``env`` (the secret stays off the terminal)."""

from __future__ import annotations

import json
import os
import signal
import stat
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
import requests
from azcli_helpers import REPO, find_az

from pytest_acalab.emulator import Emulator
from pytest_acalab.emulator.connect import read_exports

ACALAB = [sys.executable, "-m", "pytest_acalab.cli"]
API = "api-version=2025-04-01"


@pytest.fixture(scope="module")
def arm(emulator: Emulator) -> requests.Session:
    token = emulator.credential().get_token("https://management.azure.com/.default").token
    session = requests.Session()
    session.verify = emulator.ca_bundle
    session.trust_env = False
    session.headers["Authorization"] = f"Bearer {token}"
    return session


def _registry(emulator: Emulator, arm: requests.Session) -> str:
    """A registry made through ARM (the registry provider's own code); returns its login server."""
    group = f"rg-proxy-{uuid.uuid4().hex[:6]}"
    base = f"{emulator.url}/subscriptions/{emulator.subscription_id}/resourcegroups/{group}"
    assert arm.put(f"{base}?{API}", json={"location": "koreacentral"}).status_code == 201
    name = f"acrproxy{uuid.uuid4().hex[:6]}"
    resp = arm.put(f"{base}/providers/Microsoft.ContainerRegistry/registries/{name}?api-version=2025-11-01",
                   json={"location": "koreacentral", "sku": {"name": "Basic"}})
    assert resp.status_code in (200, 201), resp.text
    return f"{name}.azurecr.io"


# --- the CONNECT proxy ----------------------------------------------------------------------------
def test_proxy_routes_a_registry_host_name_to_its_listener_with_a_valid_certificate(
        emulator: Emulator, arm: requests.Session) -> None:
    login_server = _registry(emulator, arm)
    resp = requests.get(f"https://{login_server}/v2/", proxies={"https": emulator.proxy_url},
                        verify=emulator.ca_bundle, timeout=10)
    assert resp.status_code == 401  # the registry's own challenge, reached by its real host name
    assert login_server in resp.headers["WWW-Authenticate"]


def test_proxy_routes_other_azure_host_names_to_the_management_listener(emulator: Emulator) -> None:
    resp = requests.get("https://management.azure.com/metadata/endpoints?api-version=2022-09-01",
                        proxies={"https": emulator.proxy_url}, verify=emulator.ca_bundle, timeout=10)
    assert resp.status_code == 200
    assert resp.json()["resourceManager"] == f"{emulator.url}/"


@pytest.mark.parametrize("url", ["https://example.com/", "https://nosuchregistry.azurecr.io/v2/",
                                 "https://a.b.azurecr.io/v2/"])
def test_proxy_refuses_hosts_the_emulator_does_not_serve(emulator: Emulator, url: str) -> None:
    with pytest.raises(requests.exceptions.ProxyError, match="403"):
        requests.get(url, proxies={"https": emulator.proxy_url}, verify=emulator.ca_bundle, timeout=10)


def test_proxy_only_tunnels(emulator: Emulator) -> None:
    resp = requests.get("http://management.azure.com/", proxies={"http": emulator.proxy_url}, timeout=10)
    assert resp.status_code == 405


# --- deployments: the body az sends --------------------------------------------------------------
def test_deployment_accepts_the_cli_body_with_a_raw_template(emulator: Emulator, arm: requests.Session) -> None:
    """``az deployment group create`` splices the template file's text in under an unquoted key."""
    group = f"rg-lenient-{uuid.uuid4().hex[:6]}"
    base = f"{emulator.url}/subscriptions/{emulator.subscription_id}/resourcegroups/{group}"
    assert arm.put(f"{base}?{API}", json={"location": "koreacentral"}).status_code == 201
    template = ('{\r\n  // a comment\r\n  "$schema": "https://schema.management.azure.com/schemas/2019-04-01/'
                'deploymentTemplate.json#",\r\n  "contentVersion": "1.0.0.0", /* another */\r\n'
                '  "parameters": {"who": {"type": "string"}},\r\n  "resources": [],\r\n'
                '  "outputs": {"greeting": {"type": "string", "value": "[concat(\'hi \', parameters(\'who\'))]"}}\r\n}')
    partial = json.dumps({"properties": {"parameters": {"who": {"value": "lab"}}, "mode": "Incremental"}})
    body = (partial[:-2] + ", template:" + template + "}}").encode()  # exactly how azure-cli builds it
    url = f"{base}/providers/Microsoft.Resources/deployments/d1"
    headers = {"Content-Type": "application/json"}
    validated = arm.post(f"{url}/validate?{API}", data=body, headers=headers)
    assert validated.status_code == 200, validated.text
    created = arm.put(f"{url}?{API}", data=body, headers=headers)
    assert created.status_code == 201, created.text
    deadline = time.monotonic() + 10
    while (state := arm.get(f"{url}?{API}").json())["properties"]["provisioningState"] not in ("Succeeded",
                                                                                              "Failed"):
        assert time.monotonic() < deadline
        time.sleep(0.05)
    assert state["properties"]["outputs"]["greeting"]["value"] == "hi lab"

    broken = arm.put(f"{url}?{API}", data=b'{"properties": {template: {"a": }}}', headers=headers)
    assert broken.status_code == 400
    assert broken.json()["error"]["code"] == "InvalidRequestContent"


# --- acalab emulator serve / env -----------------------------------------------------------------
def _serve(env_file: Path) -> tuple[subprocess.Popen[str], str]:
    proc = subprocess.Popen([*ACALAB, "emulator", "serve", "--env-file", str(env_file)], cwd=REPO,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    assert proc.stdout is not None
    lines = []
    for line in proc.stdout:
        lines.append(line)
        if "acalab emulator env --from" in line:
            break
    else:
        proc.wait(5)
        pytest.fail("serve ended early:\n" + "".join(lines))
    return proc, "".join(lines)


def _stop(proc: subprocess.Popen[str]) -> str:
    proc.send_signal(signal.SIGTERM)
    rest, _ = proc.communicate(timeout=15)
    return rest


def test_serve_keeps_the_secret_off_the_terminal_and_env_prints_the_exports(tmp_path: Path) -> None:
    env_file = tmp_path / "acalab.env"
    proc, shown = _serve(env_file)
    try:
        assert stat.S_IMODE(env_file.stat().st_mode) == 0o600
        exports = read_exports(env_file.read_text())
        secret = exports["AZURE_CLIENT_SECRET"]
        assert len(secret) >= 16 and secret not in shown
        assert exports["ACALAB_EMULATOR_URL"] in shown and exports["HTTPS_PROXY"] in shown
        for name, value in (("AZURE_CORE_COLLECT_TELEMETRY", "false"), ("NO_PROXY", "127.0.0.1,localhost"),
                            # cloud-faithful: the credentials' default authority, instance discovery left on
                            ("AZURE_AUTHORITY_HOST", "https://login.microsoftonline.com")):
            assert exports[name] == value
        assert "AZURE_CORE_INSTANCE_DISCOVERY" not in exports
        assert exports["REQUESTS_CA_BUNDLE"] == exports["SSL_CERT_FILE"] == exports["ACALAB_EMULATOR_CA_BUNDLE"]
        assert os.path.isfile(exports["REQUESTS_CA_BUNDLE"])

        printed = subprocess.run([*ACALAB, "emulator", "env", "--from", str(env_file)], cwd=REPO,
                                 capture_output=True, text=True, timeout=30)
        assert printed.returncode == 0, printed.stderr
        assert printed.stdout == env_file.read_text()  # captured by eval: the real values
        assert "az login --service-principal" in printed.stdout and "--identity" not in printed.stdout
        assert "az cloud set -n AzureCloud" in printed.stdout and "az cloud register" not in printed.stdout
        assert secret not in printed.stdout.split("if command -v az", 1)[1]  # login line uses the variable
    finally:
        rest = _stop(proc)
    assert secret not in rest and "emulator stopped" in rest
    assert proc.returncode == 0
    assert not env_file.exists()  # its secret died with the emulator


def test_env_refuses_an_env_file_whose_emulator_is_gone(tmp_path: Path) -> None:
    with Emulator() as emu:
        url, ca = emu.url, emu.ca_bundle
        stale = tmp_path / "stale.env"
        stale.write_text(f"export ACALAB_EMULATOR_URL={url}\nexport ACALAB_EMULATOR_CA_BUNDLE={ca}\n")
        alive = subprocess.run([*ACALAB, "emulator", "env", "--from", str(stale)], capture_output=True,
                               text=True, timeout=30)
        assert alive.returncode == 0, alive.stderr
        kept_ca = tmp_path / "ca.pem"
        kept_ca.write_bytes(Path(ca).read_bytes())
    stale.write_text(f"export ACALAB_EMULATOR_URL={url}\nexport ACALAB_EMULATOR_CA_BUNDLE={kept_ca}\n")
    dead = subprocess.run([*ACALAB, "emulator", "env", "--from", str(stale)], capture_output=True, text=True,
                          timeout=30)
    assert dead.returncode == 2
    assert f"no emulator answers at {url}" in dead.stderr and dead.stdout == ""


@pytest.mark.azcli
def test_eval_of_env_logs_the_cli_in_to_the_served_emulator(tmp_path: Path) -> None:
    az, _ = find_az()
    assert az is not None
    env_file = tmp_path / "acalab.env"
    proc, _shown = _serve(env_file)
    try:
        exports = read_exports(env_file.read_text())
        env = {k: v for k, v in os.environ.items() if not k.startswith(("AZURE_", "ACALAB_EMULATOR"))}
        env["PATH"] = f"{Path(az).parent}{os.pathsep}{env.get('PATH', '')}"
        acalab = " ".join(ACALAB)
        script = (f'eval "$({acalab} emulator env --from {env_file})" && '
                  f'eval "$({acalab} emulator env --from {env_file})" && '  # twice: harmless
                  "az account show -o json && az group create -n rg-eval -l koreacentral -o tsv "
                  "--query properties.provisioningState")
        done = subprocess.run(["bash", "-c", script], env=env, cwd=tmp_path, capture_output=True, text=True,
                              timeout=120)
        assert done.returncode == 0, done.stderr
        decoder = json.JSONDecoder()
        account, end = decoder.raw_decode(done.stdout)
        assert account["environmentName"] == "AzureCloud"  # cloud-faithful: the CLI's own cloud, unchanged
        assert account["id"] == exports["AZURE_SUBSCRIPTION_ID"]
        assert account["user"] == {"name": exports["AZURE_CLIENT_ID"], "type": "servicePrincipal"}
        assert done.stdout[end:].strip() == "Succeeded"
        assert done.stderr == ""  # no warnings from the login lines
        assert exports["AZURE_CLIENT_SECRET"] not in done.stdout + done.stderr
    finally:
        _stop(proc)


def test_serve_stops_cleanly_on_ctrl_c_and_listens_on_loopback_only(tmp_path: Path) -> None:
    proc, shown = _serve(tmp_path / "acalab.env")
    try:
        url = read_exports((tmp_path / "acalab.env").read_text())["ACALAB_EMULATOR_URL"]
        assert url.startswith("https://127.0.0.1:")
        port = int(url.rsplit(":", 1)[1])
        import socket

        with socket.socket() as s:  # the port answers on loopback ...
            s.settimeout(2)
            assert s.connect_ex(("127.0.0.1", port)) == 0
        listening = Path("/proc/net/tcp").read_text().splitlines()[1:]
        local = [line.split()[1] for line in listening if line.split()[3] == "0A"]  # LISTEN
        assert f"0100007F:{port:04X}" in local and f"00000000:{port:04X}" not in local  # ... and only there
    finally:
        proc.send_signal(signal.SIGINT)
        rest, _ = proc.communicate(timeout=15)
    assert "emulator stopped" in rest and "Traceback" not in rest
    assert proc.returncode == 0
