"""Microsoft.KeyVault through the real clients: vaults on ARM (``ResourceManagementClient``), secrets through
``azure-keyvault-secrets`` unmodified on ``https://<vault>.vault.azure.net`` (the emulator's proxy), with Key
Vault's authorization: RBAC roles or access policies, Azure's 401/403/404 bodies, audiences kept apart."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import requests
from azure.core.exceptions import (
    HttpResponseError,
    ResourceNotFoundError,
    ServiceRequestError,
)
from azure.keyvault.secrets import SecretClient

from pytest_acalab.emulator import Emulator

VAULT_API = "2023-07-01"
ROLE_API = "2022-04-01"
SECRETS_USER = "4633458b-17de-408a-b874-0445c86b69e6"
SECRETS_OFFICER = "b86a8fe4-44ce-4948-aee5-eccb2c155cd7"
CONTRIBUTOR = "b24988ac-6180-42a0-ab88-20f7382dd24c"


def _vault(emu: Emulator, resource_client: Any, group: str, rbac: bool = True,
           policies: list[dict[str, Any]] | None = None) -> Any:
    name = f"kv-{uuid.uuid4().hex[:10]}"
    rid = (f"/subscriptions/{emu.subscription_id}/resourceGroups/{group}/providers/Microsoft.KeyVault/vaults/"
           f"{name}")
    return resource_client.resources.begin_create_or_update_by_id(rid, api_version=VAULT_API, parameters={
        "location": "koreacentral",
        "properties": {"tenantId": emu.tenant_id, "sku": {"family": "A", "name": "standard"},
                       "enableRbacAuthorization": rbac, "accessPolicies": policies or []}}).result()


def _assign(emu: Emulator, resource_client: Any, scope: str, role: str, principal: str) -> None:
    resource_client.resources.begin_create_or_update_by_id(
        f"{scope}/providers/Microsoft.Authorization/roleAssignments/{uuid.uuid4()}", api_version=ROLE_API,
        parameters={"properties": {"principalId": principal, "principalType": "ServicePrincipal",
                                   "roleDefinitionId": f"/subscriptions/{emu.subscription_id}/providers/"
                                                       f"Microsoft.Authorization/roleDefinitions/{role}"}}).result()


def _client(emu: Emulator, uri: str) -> SecretClient:
    return SecretClient(uri, emu.credential(), connection_verify=emu.ca_bundle, proxies=emu.proxies())


@pytest.fixture
def vault(emu: Emulator, resource_client: Any, group: str) -> Iterator[Any]:
    yield _vault(emu, resource_client, group)


def test_vault_body_and_the_secrets_data_plane(emu: Emulator, resource_client: Any, vault: Any) -> None:
    props = vault.properties
    assert vault.type == "Microsoft.KeyVault/vaults"
    assert props["vaultUri"] == f"https://{vault.name}.vault.azure.net/" and props["enableRbacAuthorization"]
    assert props["tenantId"] == emu.tenant_id and props["provisioningState"] == "Succeeded"
    _assign(emu, resource_client, vault.id, SECRETS_OFFICER, emu.principal.object_id)
    client = _client(emu, props["vaultUri"])
    written = client.set_secret("demo-secret", "lab-value-1")
    assert written.value == "lab-value-1" and written.properties.vault_url.rstrip("/") == props["vaultUri"].rstrip("/")
    client.set_secret("demo-secret", "lab-value-2")
    assert client.get_secret("demo-secret").value == "lab-value-2"
    assert client.get_secret("demo-secret", written.properties.version).value == "lab-value-1"
    assert [p.name for p in client.list_properties_of_secrets()] == ["demo-secret"]
    client.begin_delete_secret("demo-secret").result()
    with pytest.raises(ResourceNotFoundError) as missing:
        client.get_secret("demo-secret")
    assert missing.value.status_code == 404 and missing.value.error.code == "SecretNotFound"
    assert missing.value.error.message.startswith(
        "A secret with (name/id) demo-secret was not found in this key vault.")


def test_rbac_vault_refuses_a_caller_without_a_data_role(emu: Emulator, resource_client: Any, vault: Any) -> None:
    """Contributor manages the vault but reads no secret: Azure's ForbiddenByRbac, then a role fixes it."""
    _assign(emu, resource_client, vault.id.rsplit("/providers/", 1)[0], CONTRIBUTOR, emu.principal.object_id)
    secret_rid = f"{vault.id}/secrets/demo-secret"
    resource_client.resources.begin_create_or_update_by_id(secret_rid, api_version=VAULT_API, parameters={
        "properties": {"value": "aca-lab-secret-value"}}).result()  # the management plane writes it
    client = _client(emu, vault.properties["vaultUri"])
    with pytest.raises(HttpResponseError) as denied:
        client.get_secret("demo-secret")
    err = denied.value
    assert err.status_code == 403 and err.error.code == "Forbidden"
    assert "ForbiddenByRbac" in str(err)
    message = err.error.message
    assert message.startswith("Caller is not authorized to perform action on resource.\r\n")
    assert f"oid={emu.principal.object_id};iss=https://sts.windows.net/{emu.tenant_id}/" in message
    assert "Action: 'Microsoft.KeyVault/vaults/secrets/getSecret/action'" in message
    assert f"Resource: '{secret_rid.lower()}'" in message and "Assignment: (not found)" in message
    assert f"Vault: {vault.name};location=koreacentral" in message
    _assign(emu, resource_client, vault.id, SECRETS_USER, emu.principal.object_id)
    assert client.get_secret("demo-secret").value == "aca-lab-secret-value"
    with pytest.raises(HttpResponseError) as read_only:
        client.set_secret("other", "x")  # Secrets User reads, never writes
    assert read_only.value.status_code == 403


def test_access_policy_vault(emu: Emulator, resource_client: Any, group: str) -> None:
    vault = _vault(emu, resource_client, group, rbac=False, policies=[{
        "tenantId": emu.tenant_id, "objectId": emu.principal.object_id, "permissions": {"secrets": ["set", "list"]}}])
    client = _client(emu, vault.properties["vaultUri"])
    client.set_secret("s1", "v1")
    with pytest.raises(HttpResponseError) as denied:
        client.get_secret("s1")
    err = denied.value
    assert err.status_code == 403 and "AccessDenied" in str(err)
    assert err.error.message.startswith(f"The user, group or application 'appid={emu.client_id};"
                                        f"oid={emu.principal.object_id};")
    assert f"does not have secrets get permission on key vault '{vault.name};location=koreacentral'" \
        in err.error.message


def test_unknown_vault_does_not_resolve(emu: Emulator) -> None:
    client = _client(emu, f"https://kv-{uuid.uuid4().hex[:10]}.vault.azure.net/")
    with pytest.raises(ServiceRequestError):
        client.get_secret("anything", retry_total=0)


def test_audiences_are_kept_apart(emu: Emulator, resource_client: Any, vault: Any) -> None:
    vault_token = emu.credential().get_token("https://vault.azure.net/.default").token
    arm_token = emu.credential().get_token("https://management.azure.com/.default").token
    arm = requests.get(f"{emu.url}{vault.id}", params={"api-version": VAULT_API},
                       headers={"Authorization": f"Bearer {vault_token}"}, verify=emu.ca_bundle, timeout=10)
    assert arm.status_code == 401 and arm.json()["error"]["code"] == "InvalidAuthenticationTokenAudience"
    data = requests.get(f"{vault.properties['vaultUri']}secrets/x", params={"api-version": "7.5"},
                        headers={"Authorization": f"Bearer {arm_token}"}, verify=emu.ca_bundle,
                        proxies=emu.proxies(), timeout=10)
    assert data.status_code == 401
    assert data.json()["error"] == {"code": "Unauthorized", "message": "AKV10022: Invalid audience. Expected "
                                    "https://vault.azure.net, found: https://management.azure.com/."}
    bare = requests.get(f"{vault.properties['vaultUri']}secrets/x", params={"api-version": "7.5"},
                        verify=emu.ca_bundle, proxies=emu.proxies(), timeout=10)
    assert bare.status_code == 401 and 'resource="https://vault.azure.net"' in bare.headers["WWW-Authenticate"]


def test_bad_vault_input(emu: Emulator, resource_client: Any, group: str) -> None:
    rid = f"/subscriptions/{emu.subscription_id}/resourceGroups/{group}/providers/Microsoft.KeyVault/vaults/1bad--name"
    with pytest.raises(HttpResponseError) as bad:
        resource_client.resources.begin_create_or_update_by_id(rid, api_version=VAULT_API, parameters={
            "location": "koreacentral", "properties": {"tenantId": emu.tenant_id, "sku": {"name": "standard"}}}
        ).result()
    assert bad.value.status_code == 400 and "1bad--name" in bad.value.message
    with pytest.raises(ResourceNotFoundError) as no_vault:
        resource_client.resources.begin_create_or_update_by_id(
            rid.replace("1bad--name", "kv-missing") + "/secrets/s", api_version=VAULT_API,
            parameters={"properties": {"value": "v"}}).result()
    assert no_vault.value.error.code == "ResourceNotFound"
