"""Key Vault references in Container Apps secrets (``keyVaultUrl`` + ``identity``): fetched with the app's
managed identity when Azure accepts the app, refused with Azure's words when the identity cannot read them."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest
from app_helpers import Lab
from azure.core.exceptions import HttpResponseError

IMAGE = "acrlab.azurecr.io/labacr:v1"
SECRETS_USER = "4633458b-17de-408a-b874-0445c86b69e6"


def _vault_with_secret(lab: Lab) -> tuple[str, str]:
    name = f"kv-{uuid.uuid4().hex[:10]}"
    vault_id = (f"/subscriptions/{lab.emu.subscription_id}/resourceGroups/{lab.rg}/providers/"
                f"Microsoft.KeyVault/vaults/{name}")
    lab.rm.resources.begin_create_or_update_by_id(vault_id, api_version="2023-07-01", parameters={
        "location": "koreacentral", "properties": {"tenantId": lab.emu.tenant_id, "sku": {"name": "standard"},
                                                   "enableRbacAuthorization": True}}).result()
    lab.rm.resources.begin_create_or_update_by_id(f"{vault_id}/secrets/db-password", api_version="2023-07-01",
                                                  parameters={"properties": {"value": "from-the-vault"}}).result()
    return vault_id, f"https://{name}.vault.azure.net/secrets/db-password"


def _with_kv_secret(lab: Lab, app: Any, url: str) -> dict[str, Any]:
    body = lab.app_body(IMAGE)
    body["identity"] = {"type": "SystemAssigned"}
    body["properties"]["configuration"]["secrets"] = [{"name": "db-password", "keyVaultUrl": url,
                                                       "identity": "system"}]
    body["properties"]["template"]["containers"][0]["env"] = [{"name": "DB_PASSWORD", "secretRef": "db-password"}]
    return body


def test_a_reference_the_identity_cannot_read_is_refused_then_resolved(lab: Lab) -> None:
    vault_id, url = _vault_with_secret(lab)
    app = lab.client.container_apps.begin_create_or_update(lab.rg, "ca-kvref", {
        **lab.app_body(IMAGE), "identity": {"type": "SystemAssigned"}}).result()
    with pytest.raises(HttpResponseError) as refused:
        lab.client.container_apps.begin_create_or_update(lab.rg, "ca-kvref", _with_kv_secret(lab, app, url)).result()
    err = refused.value
    assert err.status_code == 400 and err.error.code == "InvalidParameterValueInContainerTemplate"
    assert err.error.message == (
        "The following field(s) are either invalid or missing. Field 'configuration.secrets' is invalid with "
        "details: 'Invalid value: \"db-password\": Unable to get value using Managed identity system for secret "
        "db-password. Error: unable to fetch secret 'db-password' using Managed identity 'system'';.")
    lab.rm.resources.begin_create_or_update_by_id(
        f"{vault_id}/providers/Microsoft.Authorization/roleAssignments/{uuid.uuid4()}", api_version="2022-04-01",
        parameters={"properties": {"principalId": app.identity.principal_id, "principalType": "ServicePrincipal",
                                   "roleDefinitionId": f"/subscriptions/{lab.emu.subscription_id}/providers/"
                                                       f"Microsoft.Authorization/roleDefinitions/{SECRETS_USER}"}}
    ).result()
    updated = lab.client.container_apps.begin_create_or_update(lab.rg, "ca-kvref",
                                                                _with_kv_secret(lab, app, url)).result()
    shown = updated.configuration.secrets[0]
    assert shown.key_vault_url == url and shown.identity == "system" and shown.value is None
    listed = {s.name: s.value for s in lab.client.container_apps.list_secrets(lab.rg, "ca-kvref").value}
    assert listed == {"db-password": "from-the-vault"}


def test_a_reference_without_identity_is_invalid(lab: Lab) -> None:
    body = lab.app_body(IMAGE)
    body["properties"]["configuration"]["secrets"] = [{"name": "s", "keyVaultUrl": "https://kv.vault.azure.net/secrets/s"}]
    with pytest.raises(HttpResponseError) as bad:
        lab.client.container_apps.begin_create_or_update(lab.rg, "ca-noid", body).result()
    assert bad.value.error.code == "ContainerAppSecretInvalid"
    assert bad.value.error.message == ("Invalid Request: Container app secret(s) with name(s) 's' are invalid: value "
                                       "or keyVaultUrl and identity should be provided.")


KV_WORKLOAD = b'''
import json, os, sys
sys.path.append(os.environ["HOST_SITE"])
from http.server import BaseHTTPRequestHandler, HTTPServer

class Handler(BaseHTTPRequestHandler):
    def do_GET(self):
        from azure.identity import DefaultAzureCredential
        from azure.keyvault.secrets import SecretClient
        try:
            client = SecretClient(vault_url=os.environ["KEY_VAULT_URL"], credential=DefaultAzureCredential())
            value = client.get_secret(os.environ["SECRET_NAME"]).value
            status, body = 200, {"status": "ok", "secretLength": str(len(value))}
        except Exception as exc:
            status, body = 500, {"status": "error", "message": f"Access denied or Key Vault read failed: {exc}"}
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

HTTPServer(("0.0.0.0", 8000), Handler).serve_forever()
'''


def test_a_workload_reads_the_vault_with_its_managed_identity(lab: Lab) -> None:
    """The Practical Guide's managed-identity-key-vault-failure in one test: unmodified azure-identity and
    azure-keyvault-secrets in the replica; 500 with Key Vault's ForbiddenByRbac until the identity holds Key Vault
    Secrets User on the vault, then 200: Key Vault checks the roles on every call, so the same token then works."""
    import azure.identity
    import requests
    from app_helpers import python_image, wait_until

    host_site = str(__import__("pathlib").Path(azure.identity.__file__).parents[2])
    vault_id, url = _vault_with_secret(lab)
    vault_uri = url.split("/secrets/")[0] + "/"
    lab.registry.content["acrlab.azurecr.io/kv:v1"] = python_image(
        ["python", "/app/app.py"], {"app.py": KV_WORKLOAD}, env=["PYTHONUNBUFFERED=1", f"HOST_SITE={host_site}"])
    body = lab.app_body("acrlab.azurecr.io/kv:v1")
    body["identity"] = {"type": "SystemAssigned"}
    body["properties"]["template"]["containers"][0]["env"] = [
        {"name": "KEY_VAULT_URL", "value": vault_uri}, {"name": "SECRET_NAME", "value": "db-password"}]
    app = lab.client.container_apps.begin_create_or_update(lab.rg, "ca-kvread", body).result()
    endpoint = lab.emu.ingress_url(app.configuration.ingress.fqdn) + "/health"

    def answer(status: int) -> dict[str, Any] | None:
        try:
            resp = requests.get(endpoint, verify=lab.emu.ca_bundle, timeout=30)
        except requests.RequestException:
            return None
        return resp.json() if resp.status_code == status else None

    failed = wait_until(lambda: answer(500), "the workload's 500", timeout=60)
    assert "(Forbidden) Caller is not authorized to perform action on resource." in failed["message"]
    assert "ForbiddenByRbac" in failed["message"] and f"oid={app.identity.principal_id}" in failed["message"]
    assert "from-the-vault" not in json.dumps(failed)
    lab.rm.resources.begin_create_or_update_by_id(
        f"{vault_id}/providers/Microsoft.Authorization/roleAssignments/{uuid.uuid4()}", api_version="2022-04-01",
        parameters={"properties": {"principalId": app.identity.principal_id, "principalType": "ServicePrincipal",
                                   "roleDefinitionId": f"/subscriptions/{lab.emu.subscription_id}/providers/"
                                                       f"Microsoft.Authorization/roleDefinitions/{SECRETS_USER}"}}
    ).result()
    recovered = wait_until(lambda: answer(200), "the workload's 200", timeout=60)
    assert recovered == {"status": "ok", "secretLength": str(len("from-the-vault"))}
