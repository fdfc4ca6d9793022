"""Managed identity in the runtime: the app's ``identity`` block as Azure answers it, and inside each replica
Azure's identity endpoint (``IDENTITY_ENDPOINT`` + ``IDENTITY_HEADER`` on the replica's own loopback) minting
tokens from the emulator's authority, which unmodified ``azure-identity`` in the workload uses.

The workload imports this machine's ``azure-identity`` (its folder is handed in ``HOST_SITE``) rather than
pip-installing it into the image: the SDK code is the same, the test stays offline and quick.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

import azure.identity
import pytest
import requests
from app_helpers import Lab, python_image, wait_until

from pytest_acalab.emulator.managedidentity.responses import IDENTITY_TYPE

IMAGE = "acrlab.azurecr.io/identity:v1"
HOST_SITE = str(__import__("pathlib").Path(azure.identity.__file__).parents[2])

WORKLOAD = b'''
import base64, json, os, sys
sys.path.append(os.environ["HOST_SITE"])
from http.server import BaseHTTPRequestHandler, HTTPServer
from urllib.parse import parse_qs, urlsplit

def claims(token):
    payload = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))

class Handler(BaseHTTPRequestHandler):
    def do_GET(self):
        query = {k: v[0] for k, v in parse_qs(urlsplit(self.path).query).items()}
        body = {"endpoint": os.environ.get("IDENTITY_ENDPOINT"), "has_header": bool(os.environ.get("IDENTITY_HEADER"))}
        if self.path.startswith("/token"):
            try:
                from azure.identity import ManagedIdentityCredential
                cred = ManagedIdentityCredential(client_id=query.get("client_id"))
                body["claims"] = claims(cred.get_token(query["scope"]).token)
            except Exception as exc:
                body["error"] = type(exc).__name__ + ": " + str(exc)
        data = json.dumps(body).encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

HTTPServer(("0.0.0.0", 8000), Handler).serve_forever()
'''


@pytest.fixture
def identity_lab(lab: Lab) -> Lab:
    lab.registry.content[IMAGE] = python_image(["python", "/app/app.py"], {"app.py": WORKLOAD},
                                               env=["PYTHONUNBUFFERED=1", f"HOST_SITE={HOST_SITE}"])
    return lab


def _ask(lab: Lab, app: Any, path: str) -> dict[str, Any]:
    url = lab.emu.ingress_url(app.configuration.ingress.fqdn) + path

    def call() -> dict[str, Any] | None:
        try:
            resp = requests.get(url, verify=lab.emu.ca_bundle, timeout=30)
        except requests.RequestException:
            return None
        return resp.json() if resp.status_code == 200 else None

    return wait_until(call, f"the workload answering {path}", timeout=60)


def _user_identity(lab: Lab, name: str) -> dict[str, Any]:
    from azure.mgmt.resource.resources import ResourceManagementClient

    rm: ResourceManagementClient = lab.rm
    res = rm.resources.begin_create_or_update_by_id(
        f"/subscriptions/{lab.emu.subscription_id}/resourceGroups/{lab.rg}/providers/{IDENTITY_TYPE}/{name}",
        {"location": "koreacentral"}, api_version="2023-01-31").result()
    return res.as_dict()


def test_system_assigned_identity_gets_a_token_for_the_resource_asked(identity_lab: Lab) -> None:
    lab = identity_lab
    app = lab.client.container_apps.begin_create_or_update(lab.rg, "ca-mi", {
        **lab.app_body(IMAGE), "identity": {"type": "SystemAssigned"}}).result()
    assert app.identity.type == "SystemAssigned"
    assert uuid.UUID(app.identity.principal_id) and app.identity.tenant_id == lab.emu.tenant_id
    answer = _ask(lab, app, "/token?scope=https://vault.azure.net/.default")
    assert answer["endpoint"] == "http://localhost:42356/msi/token" and answer["has_header"]
    assert "error" not in answer, answer
    claims = answer["claims"]
    assert claims["aud"] == "https://vault.azure.net"
    assert claims["oid"] == app.identity.principal_id
    assert claims["tid"] == lab.emu.tenant_id
    assert claims["xms_mirid"].lower() == app.id.lower()
    arm = _ask(lab, app, "/token?scope=https://management.azure.com/.default")["claims"]
    assert arm["aud"] == "https://management.azure.com/"


def test_user_assigned_identity_by_client_id_and_an_unknown_one_refused(identity_lab: Lab) -> None:
    lab = identity_lab
    uai = _user_identity(lab, "id-lab")
    assert uai["type"] == IDENTITY_TYPE
    props = uai["properties"]
    assert props["tenantId"] == lab.emu.tenant_id and uuid.UUID(props["principalId"])
    app = lab.client.container_apps.begin_create_or_update(lab.rg, "ca-uai", {
        **lab.app_body(IMAGE), "identity": {"type": "UserAssigned", "userAssignedIdentities": {uai["id"]: {}}}
    }).result()
    shown = app.identity.user_assigned_identities[uai["id"]]
    assert shown.principal_id == props["principalId"] and shown.client_id == props["clientId"]
    answer = _ask(lab, app, f"/token?scope=https://vault.azure.net/.default&client_id={props['clientId']}")
    assert answer["claims"]["oid"] == props["principalId"], answer
    # no system-assigned identity, and an identity the app does not have: the endpoint's 400
    for query in ("", f"&client_id={uuid.uuid4()}"):
        refused = _ask(lab, app, f"/token?scope=https://vault.azure.net/.default{query}")
        assert "claims" not in refused and "No User Assigned or Delegated Managed Identity" in refused["error"]


def test_an_app_without_identity_has_no_endpoint(identity_lab: Lab) -> None:
    lab = identity_lab
    app = lab.create("ca-none", IMAGE)
    assert app.identity is None or app.identity.type == "None"
    answer = _ask(lab, app, "/")
    assert answer["endpoint"] is None and not answer["has_header"]


def test_the_identity_header_and_tokens_never_reach_the_logs(identity_lab: Lab) -> None:
    lab = identity_lab
    app = lab.client.container_apps.begin_create_or_update(lab.rg, "ca-leak", {
        **lab.app_body(IMAGE), "identity": {"type": "SystemAssigned"}}).result()
    claims = _ask(lab, app, "/token?scope=https://vault.azure.net/.default")["claims"]
    assert claims["oid"] == app.identity.principal_id
    secrets = lab.emu.platform.secrets
    assert len(secrets) >= 2  # the replica's header and the minted token are remembered, so reports scrub them
    text = json.dumps(lab.system_lines("ca-leak"))
    assert not [s for s in secrets if s and s in text]

