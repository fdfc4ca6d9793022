"""Microsoft.Authorization/roleAssignments at resource, group and subscription scope (extension resources)."""

from __future__ import annotations

import uuid

import pytest
import requests
from azure.core.exceptions import HttpResponseError, ResourceNotFoundError

from pytest_acalab.emulator import Emulator

API = "2022-04-01"
ACR_PULL = "7f951dda-4ed3-4680-a7ca-43fe172d538d"
READER = "acdd72a7-3385-48ef-bd42-f606fba81ae7"


def _role(emu: Emulator, guid: str) -> str:
    return f"/subscriptions/{emu.subscription_id}/providers/Microsoft.Authorization/roleDefinitions/{guid}"


@pytest.fixture
def registry_id(emu: Emulator, resource_client, group: str) -> str:
    from azure.mgmt.containerregistry import ContainerRegistryManagementClient

    client = ContainerRegistryManagementClient(emu.credential(), emu.subscription_id, polling_interval=0,
                                               **emu.client_kwargs())
    name = f"acr{uuid.uuid4().hex[:10]}"
    return client.registries.begin_create(group, name, {"location": "koreacentral", "sku": {"name": "Basic"}}
                                          ).result().id


def _auth(emu: Emulator) -> dict[str, str]:
    return {"Authorization": "Bearer " + emu.credential().get_token("https://management.azure.com/.default").token}


def test_put_get_list_delete_at_a_registry_scope(emu: Emulator, resource_client, registry_id: str) -> None:
    principal = str(uuid.uuid4())
    rid = f"{registry_id}/providers/Microsoft.Authorization/roleAssignments/{uuid.uuid4()}"
    created = resource_client.resources.begin_create_or_update_by_id(rid, api_version=API, parameters={
        "properties": {"roleDefinitionId": _role(emu, ACR_PULL), "principalId": principal,
                       "principalType": "ServicePrincipal"}}).result()
    assert created.type == "Microsoft.Authorization/roleAssignments"
    assert created.properties["scope"] == registry_id and created.properties["principalId"] == principal
    assert resource_client.resources.get_by_id(rid, api_version=API).id == rid
    listed = requests.get(f"{emu.url}{registry_id}/providers/Microsoft.Authorization/roleAssignments",
                          params={"api-version": API, "$filter": f"principalId eq '{principal}'"},
                          headers=_auth(emu), verify=emu.ca_bundle).json()["value"]
    assert [a["id"] for a in listed] == [rid]
    group_scope = registry_id.split("/providers/")[0]
    at_group = requests.get(f"{emu.url}{group_scope}/providers/Microsoft.Authorization/roleAssignments",
                            params={"api-version": API, "$filter": "atScope()"}, headers=_auth(emu),
                            verify=emu.ca_bundle).json()["value"]
    assert rid not in [a["id"] for a in at_group]  # below the group, not at it
    resource_client.resources.begin_delete_by_id(rid, api_version=API).result()
    with pytest.raises(ResourceNotFoundError):
        resource_client.resources.get_by_id(rid, api_version=API)


def test_bad_requests_get_arm_errors(emu: Emulator, resource_client, registry_id: str) -> None:
    principal = str(uuid.uuid4())
    props = {"roleDefinitionId": _role(emu, ACR_PULL), "principalId": principal}
    base = f"{registry_id}/providers/Microsoft.Authorization/roleAssignments"
    with pytest.raises(HttpResponseError) as not_guid:
        resource_client.resources.begin_create_or_update_by_id(f"{base}/not-a-guid", api_version=API,
                                                               parameters={"properties": props}).result()
    assert not_guid.value.error.code == "InvalidRoleAssignmentId"
    with pytest.raises(HttpResponseError) as unknown_role:
        resource_client.resources.begin_create_or_update_by_id(
            f"{base}/{uuid.uuid4()}", api_version=API,
            parameters={"properties": {**props, "roleDefinitionId": _role(emu, str(uuid.uuid4()))}}).result()
    assert unknown_role.value.error.code == "RoleDefinitionDoesNotExist"
    first = uuid.uuid4()
    resource_client.resources.begin_create_or_update_by_id(f"{base}/{first}", api_version=API,
                                                           parameters={"properties": props}).result()
    with pytest.raises(HttpResponseError) as duplicate:
        resource_client.resources.begin_create_or_update_by_id(f"{base}/{uuid.uuid4()}", api_version=API,
                                                               parameters={"properties": props}).result()
    assert duplicate.value.status_code == 409 and duplicate.value.error.code == "RoleAssignmentExists"
    # Azure's words (the Practical Guide's cd-reconnect-rbac-conflict capture): the existing one's name, unhyphenated
    assert duplicate.value.error.message == ("The role assignment already exists. The ID of the existing role "
                                             f"assignment is {first.hex}.")
    # the same name again with the same content is not a conflict: ARM answers the existing assignment
    again = resource_client.resources.begin_create_or_update_by_id(f"{base}/{first}", api_version=API,
                                                                   parameters={"properties": props}).result()
    assert again.name == str(first)
    missing_scope = registry_id[:-3] + "zzz"
    with pytest.raises(HttpResponseError) as no_scope:
        resource_client.resources.begin_create_or_update_by_id(
            f"{missing_scope}/providers/Microsoft.Authorization/roleAssignments/{uuid.uuid4()}", api_version=API,
            parameters={"properties": props}).result()
    assert no_scope.value.status_code == 404 and no_scope.value.error.code == "ResourceNotFound"


def test_assignments_go_with_their_scope(emu: Emulator, resource_client, registry_id: str) -> None:
    rid = f"{registry_id}/providers/Microsoft.Authorization/roleAssignments/{uuid.uuid4()}"
    principal = str(uuid.uuid4())
    resource_client.resources.begin_create_or_update_by_id(rid, api_version=API, parameters={
        "properties": {"roleDefinitionId": _role(emu, READER), "principalId": principal}}).result()
    assignments = emu.platform.services.authorization
    assert assignments.roles_for(principal, registry_id) == {"Reader"}
    resource_client.resources.begin_delete_by_id(registry_id, api_version="2023-07-01").result()
    assert assignments.roles_for(principal, registry_id) == set()


def test_group_scope_is_inherited_and_deployable(emu: Emulator, deployment_client, registry_id: str,
                                                 group: str) -> None:
    principal = str(uuid.uuid4())
    name = str(uuid.uuid4())
    acr_name = registry_id.rsplit("/", 1)[-1]
    template = {
        "$schema": "https://schema.management.azure.com/schemas/2019-04-01/deploymentTemplate.json#",
        "contentVersion": "1.0.0.0",
        "resources": [{
            "type": "Microsoft.Authorization/roleAssignments", "apiVersion": API, "name": name,
            "scope": f"[resourceId('Microsoft.ContainerRegistry/registries', '{acr_name}')]",
            "properties": {"roleDefinitionId": f"[subscriptionResourceId('Microsoft.Authorization/roleDefinitions', "
                                               f"'{ACR_PULL}')]",
                           "principalId": principal, "principalType": "ServicePrincipal"},
        }],
    }
    result = deployment_client.deployments.begin_create_or_update(
        group, "ra", {"properties": {"mode": "Incremental", "template": template}}).result()
    assert result.properties.provisioning_state == "Succeeded"
    assignments = emu.platform.services.authorization
    assert assignments.roles_for(principal, registry_id) == {"AcrPull"}
    group_id = registry_id.split("/providers/")[0]
    other = str(uuid.uuid4())
    resp = requests.put(f"{emu.url}{group_id}/providers/Microsoft.Authorization/roleAssignments/{uuid.uuid4()}",
                        params={"api-version": API}, headers=_auth(emu), verify=emu.ca_bundle,
                        json={"properties": {"roleDefinitionId": _role(emu, READER), "principalId": other}})
    assert resp.status_code == 201
    assert assignments.roles_for(other, registry_id) == {"Reader"}  # inherited from the group
