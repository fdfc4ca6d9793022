"""Microsoft.Storage through the real azure-mgmt-storage client: account create (202 + asyncoperations
Location, as recorded), keys, file shares, and the errors of bad names."""

from __future__ import annotations

import uuid

import pytest
from azure.core.exceptions import HttpResponseError, ResourceNotFoundError

from pytest_acalab.emulator import Emulator

storage = pytest.importorskip("azure.mgmt.storage")


@pytest.fixture
def client(emu: Emulator):  # noqa: ANN201
    return storage.StorageManagementClient(emu.credential(), emu.subscription_id, polling_interval=0,
                                           **emu.client_kwargs())


def _name() -> str:
    return "st" + uuid.uuid4().hex[:12]


def test_create_poll_keys_and_shares(client, group: str, emu: Emulator) -> None:  # noqa: ANN001
    name = _name()
    account = client.storage_accounts.begin_create(group, name, {
        "sku": {"name": "Standard_RAGRS"}, "kind": "StorageV2", "location": "eastus",
        "properties": {"supportsHttpsTrafficOnly": True}}).result()
    assert (account.name, account.provisioning_state, account.sku.tier) == (name, "Succeeded", "Standard")
    assert account.primary_endpoints.file == f"https://{name}.file.core.windows.net/"
    assert account.secondary_location == "westus"  # RA-GRS, paired region as recorded
    keys = client.storage_accounts.list_keys(group, name)["keys"]  # a model attribute named like dict.keys
    assert [k.key_name for k in keys] == ["key1", "key2"] and keys[0].value != keys[1].value
    assert keys[0].value in emu.platform.secrets
    share = client.file_shares.create(group, name, "data", {"properties": {"shareQuota": 100}})
    assert (share.name, share.share_quota) == ("data", 100)
    assert [s.name for s in client.file_shares.list(group, name)] == ["data"]
    assert client.file_shares.get(group, name, "data").share_quota == 100
    client.file_shares.delete(group, name, "data")
    with pytest.raises(ResourceNotFoundError):
        client.file_shares.get(group, name, "data")
    client.storage_accounts.delete(group, name)
    with pytest.raises(ResourceNotFoundError):
        client.storage_accounts.get_properties(group, name)


def test_the_first_answer_is_202_with_an_asyncoperations_location(emu: Emulator, group: str) -> None:
    import requests

    token = emu.credential().get_token("https://management.azure.com/.default").token
    url = (f"{emu.url}/subscriptions/{emu.subscription_id}/resourceGroups/{group}/providers/Microsoft.Storage/"
           f"storageAccounts/{_name()}?api-version=2022-09-01")
    resp = requests.put(url, json={"sku": {"name": "Standard_LRS"}, "kind": "StorageV2", "location": "eastus"},
                        headers={"Authorization": f"Bearer {token}"}, verify=emu.ca_bundle, timeout=10)
    assert resp.status_code == 202 and not resp.content
    assert "/providers/Microsoft.Storage/locations/eastus/asyncoperations/" in resp.headers["Location"]
    assert "monitor=true" in resp.headers["Location"]


@pytest.mark.parametrize("name", ["UPPER", "ab", "has-dash", "x" * 25])
def test_an_invalid_account_name_is_refused(client, group: str, name: str) -> None:  # noqa: ANN001
    with pytest.raises(HttpResponseError) as err:
        client.storage_accounts.begin_create(group, name, {"sku": {"name": "Standard_LRS"}, "kind": "StorageV2",
                                                           "location": "eastus"}).result()
    assert err.value.error.code == "AccountNameInvalid" and name in err.value.error.message


@pytest.mark.parametrize("body", [{"sku": "Standard_LRS", "location": "eastus"},
                                  {"sku": {"name": 1}, "location": "eastus"},
                                  {"sku": {"name": "Standard_LRS"}, "location": "eastus", "properties": "x"},
                                  {"location": "eastus"}])
def test_a_body_of_the_wrong_shape_gets_one_clear_error_and_no_account(emu: Emulator, group: str,
                                                                       body: dict) -> None:
    import requests

    token = emu.credential().get_token("https://management.azure.com/.default").token
    path = (f"{emu.url}/subscriptions/{emu.subscription_id}/resourceGroups/{group}/providers/Microsoft.Storage/"
            "storageAccounts/stshape1")
    resp = requests.put(f"{path}?api-version=2022-09-01", json=body, headers={"Authorization": f"Bearer {token}"},
                        verify=emu.ca_bundle, timeout=10)
    assert resp.status_code == 400 and resp.json()["error"]["code"] == "InvalidRequestContent"
    culprit = "properties" if isinstance(body.get("properties"), str) else "sku"
    assert culprit in resp.json()["error"]["message"]  # the message names the field that is wrong
    missing = requests.get(f"{path}?api-version=2022-09-01", headers={"Authorization": f"Bearer {token}"},
                           verify=emu.ca_bundle, timeout=10)
    assert missing.status_code == 404
