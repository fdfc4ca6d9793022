"""Microsoft.ContainerRegistry/registries through azure-mgmt-containerregistry (15.0.0)."""

from __future__ import annotations

import pytest
import requests
from acr_testkit import create_registry, mgmt_client, unique_name
from azure.core.exceptions import HttpResponseError, ResourceNotFoundError

from pytest_acalab.emulator import Emulator


@pytest.fixture(scope="module")
def client(emu: Emulator):
    return mgmt_client(emu)


def test_create_answers_201_with_async_operation_then_succeeds(emu: Emulator, client, group: str) -> None:
    name = unique_name("Acr")
    url = f"{emu.url}/subscriptions/{emu.subscription_id}/resourceGroups/{group}/providers/" \
          f"Microsoft.ContainerRegistry/registries/{name}?api-version=2023-07-01"
    token = emu.credential().get_token("https://management.azure.com/.default").token
    resp = requests.put(url, json={"location": "koreacentral", "sku": {"name": "Standard"},
                                   "properties": {"adminUserEnabled": True}},
                        headers={"Authorization": f"Bearer {token}"}, verify=emu.ca_bundle)
    assert resp.status_code == 201
    assert resp.json()["properties"]["provisioningState"] == "Creating"
    status_url = resp.headers["Azure-AsyncOperation"]
    assert f"/registries/{name}/operationStatuses/registries-" in status_url
    reg = client.registries.get(group, name)
    assert reg.provisioning_state == "Succeeded"
    assert reg.login_server == f"{name.lower()}.azurecr.io"
    assert reg.admin_user_enabled is True
    assert reg.sku.name == "Standard" and reg.creation_date is not None
    usages = {u.name: u.limit for u in client.registries.list_usages(group, name).value}
    assert usages["Size"] == 100 * 1024 ** 3
    status = requests.get(status_url, headers={"Authorization": f"Bearer {token}"}, verify=emu.ca_bundle)
    assert status.json()["status"] == "Succeeded"


def test_list_patch_and_delete(client, group: str) -> None:
    reg = create_registry(client, group, admin=False)
    assert reg.name in [r.name for r in client.registries.list_by_resource_group(group)]
    assert reg.name in [r.name for r in client.registries.list()]
    updated = client.registries.begin_update(group, reg.name, {
        "sku": {"name": "Premium"}, "tags": {"team": "lab"},
        "properties": {"adminUserEnabled": True, "anonymousPullEnabled": True}}).result()
    assert (updated.sku.name, updated.tags, updated.admin_user_enabled, updated.anonymous_pull_enabled) == \
        ("Premium", {"team": "lab"}, True, True)
    client.registries.begin_delete(group, reg.name).result()
    with pytest.raises(ResourceNotFoundError):
        client.registries.get(group, reg.name)


def test_names_are_validated_and_globally_unique(client, group: str, resource_client) -> None:
    with pytest.raises(HttpResponseError) as bad:
        create_registry(client, group, "ab-c")
    assert bad.value.error.code == "InvalidResourceName"
    reg = create_registry(client, group)
    other = f"{group}-2"
    resource_client.resource_groups.create_or_update(other, {"location": "koreacentral"})
    try:
        with pytest.raises(HttpResponseError) as taken:
            create_registry(client, other, reg.name.upper())
        assert taken.value.error.code == "AlreadyInUse"  # real code and message: MicrosoftDocs/azure-dev-docs#1303
        assert f"{reg.name}.azurecr.io is already in use" in taken.value.error.message
        check = client.registries.check_name_availability(
            {"name": reg.name, "type": "Microsoft.ContainerRegistry/registries"})
        assert check.name_available is False and check.reason == "AlreadyExists"
    finally:
        resource_client.resource_groups.begin_delete(other).result()


def test_bad_sku_is_refused(client, group: str) -> None:
    with pytest.raises(HttpResponseError) as exc:
        create_registry(client, group, sku="Gold")
    assert exc.value.error.code == "InvalidSku"
    # Real answer to Classic: hashicorp/terraform-provider-azurerm#17248.
    with pytest.raises(HttpResponseError) as classic:
        create_registry(client, group, sku="Classic")
    assert classic.value.status_code == 400
    assert classic.value.error.code == "ClassicSkuDeprecated"
    assert classic.value.error.message.startswith("Classic SKU is now deprecated. Please select a managed SKU.")


def test_credentials_regenerate_and_disabled_admin(emu: Emulator, client, group: str) -> None:
    reg = create_registry(client, group)
    creds = client.registries.list_credentials(group, reg.name)
    assert creds.username == reg.name
    assert [p.name for p in creds.passwords] == ["password", "password2"]
    values = {p.name: p.value for p in creds.passwords}
    assert values["password"] != values["password2"] and all(v in emu.platform.secrets for v in values.values())
    again = client.registries.regenerate_credential(group, reg.name, {"name": "password2"})
    new = {p.name: p.value for p in again.passwords}
    assert new["password"] == values["password"] and new["password2"] != values["password2"]
    client.registries.begin_update(group, reg.name, {"properties": {"adminUserEnabled": False}}).result()
    with pytest.raises(HttpResponseError) as exc:
        client.registries.list_credentials(group, reg.name)
    assert exc.value.status_code == 400
    assert exc.value.error.code == "UnAuthorizedForCredentialOperations"
    assert "as admin user is disabled. Kindly enable admin user" in exc.value.error.message


def test_group_delete_cascades_to_the_registry(emu: Emulator, client, resource_client) -> None:
    rg = f"rg-acr-{unique_name('c')}"
    resource_client.resource_groups.create_or_update(rg, {"location": "koreacentral"})
    reg = create_registry(client, rg)
    state = emu.platform.services.extra["containerregistry"]
    assert state.by_host(reg.login_server) is not None
    resource_client.resource_groups.begin_delete(rg).result()
    assert state.by_host(reg.login_server) is None
    assert emu.platform.store.get(reg.id) is None


def test_registry_in_a_template_deployment(emu: Emulator, deployment_client, group: str) -> None:
    name = unique_name()
    rid = f"[resourceId('Microsoft.ContainerRegistry/registries', '{name}')]"
    template = {
        "$schema": "https://schema.management.azure.com/schemas/2019-04-01/deploymentTemplate.json#",
        "contentVersion": "1.0.0.0",
        "resources": [{"type": "Microsoft.ContainerRegistry/registries", "apiVersion": "2023-07-01", "name": name,
                       "location": "koreacentral", "sku": {"name": "Basic"},
                       "properties": {"adminUserEnabled": True}}],
        "outputs": {
            "login": {"type": "string", "value": f"[reference({rid[1:-1]}, '2023-07-01').loginServer]"},
            "user": {"type": "string", "value": f"[listCredentials({rid[1:-1]}, '2023-07-01').username]"},
            "pw": {"type": "string", "value": f"[listCredentials({rid[1:-1]}, '2023-07-01').passwords[0].value]"},
        },
    }
    result = deployment_client.deployments.begin_create_or_update(
        group, "acr", {"properties": {"mode": "Incremental", "template": template}}).result()
    outputs = result.properties.outputs
    assert outputs["login"]["value"] == f"{name}.azurecr.io"
    assert outputs["user"]["value"] == name
    creds = mgmt_client(emu).registries.list_credentials(group, name)
    assert outputs["pw"]["value"] == creds.passwords[0].value
