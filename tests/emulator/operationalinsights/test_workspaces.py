"""Microsoft.OperationalInsights/workspaces through azure-mgmt-loganalytics (and raw ARM where the SDK hides)."""

from __future__ import annotations

import base64
import re
import time
import uuid

import pytest
from azure.core.exceptions import HttpResponseError, ResourceNotFoundError

SCHEMA = "https://schema.management.azure.com/schemas/2019-04-01/deploymentTemplate.json#"
GUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
AZ_TIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{7}Z$")


def _path(emu, group: str, name: str) -> str:
    return (f"/subscriptions/{emu.subscription_id}/resourceGroups/{group}/providers/"
            f"Microsoft.OperationalInsights/workspaces/{name}")


def test_put_answers_201_creating_then_get_succeeded(emu, group, http, arm_token) -> None:
    path = _path(emu, group, "ws-raw")
    put = http("PUT", f"{path}?api-version=2021-12-01-preview", arm_token,
               json={"location": "Korea Central", "properties": {"retentionInDays": 30, "sku": {"name": "PerGB2018"}}})
    assert put.status_code == 201
    body = put.json()
    assert body["properties"]["provisioningState"] == "Creating"
    assert put.headers["Location"] == f"{emu.url}{path}?api-version=2021-12-01-preview"
    assert (body["id"], body["name"], body["location"]) == (path, "ws-raw", "koreacentral")
    props = body["properties"]
    assert GUID.match(props["customerId"])
    assert props["sku"]["name"] == "PerGB2018" and AZ_TIME.match(props["sku"]["lastSkuUpdate"])
    assert props["retentionInDays"] == 30
    assert props["features"]["enableLogAccessUsingOnlyResourcePermissions"] is True
    assert props["workspaceCapping"]["dailyQuotaGb"] == -1.0
    assert props["publicNetworkAccessForIngestion"] == props["publicNetworkAccessForQuery"] == "Enabled"
    assert AZ_TIME.match(props["createdDate"]) and AZ_TIME.match(props["modifiedDate"])
    deadline = time.monotonic() + 2
    while True:
        got = http("GET", f"{path}?api-version=2021-12-01-preview", arm_token).json()
        if got["properties"]["provisioningState"] == "Succeeded" or time.monotonic() > deadline:
            break
        time.sleep(0.005)
    assert got["properties"]["provisioningState"] == "Succeeded"
    assert got["properties"]["customerId"] == props["customerId"]
    again = http("PUT", f"{path}?api-version=2021-12-01-preview", arm_token,
                 json={"location": "koreacentral", "properties": {"retentionInDays": 60}})
    assert again.status_code == 200
    assert again.json()["properties"]["customerId"] == props["customerId"]
    assert again.json()["properties"]["retentionInDays"] == 60


def test_sdk_create_get_list_and_update(la_client, group) -> None:
    names = [f"ws-list-{i}" for i in range(6)]
    for name in names:
        la_client.workspaces.begin_create_or_update(group, name, {"location": "koreacentral"}).result()
    ws = la_client.workspaces.get(group, names[0])
    assert ws.provisioning_state == "Succeeded"
    assert ws.sku.name == "PerGB2018" and ws.retention_in_days == 30
    # session page size is 5: six workspaces need the nextLink
    assert sorted(w.name for w in la_client.workspaces.list_by_resource_group(group)) == names
    assert set(names) <= {w.name for w in la_client.workspaces.list()}
    before = ws.modified_date
    updated = la_client.workspaces.update(group, names[0], {"tags": {"lab": "acr"}, "properties": {
        "retentionInDays": 90, "workspaceCapping": {"dailyQuotaGb": 2.0}}})
    assert updated.retention_in_days == 90 and updated.tags == {"lab": "acr"}
    assert updated.workspace_capping.daily_quota_gb == 2.0
    assert updated.modified_date >= before and updated.customer_id == ws.customer_id
    assert la_client.workspaces.get(group, names[0]).retention_in_days == 90


@pytest.mark.parametrize("retention", [7, 29, 731])
def test_retention_out_of_range_is_refused_and_nothing_created(la_client, group, retention) -> None:
    with pytest.raises(HttpResponseError) as err:
        la_client.workspaces.begin_create_or_update(
            group, "ws-bad", {"location": "koreacentral", "properties": {"retentionInDays": retention}}).result()
    assert err.value.status_code == 400
    assert err.value.error.code == "BadRequest"
    assert "The value provided for retention is invalid" in err.value.error.message
    assert "between 30 to 730" in err.value.error.message
    with pytest.raises(ResourceNotFoundError):
        la_client.workspaces.get(group, "ws-bad")


def test_patch_with_bad_retention_changes_nothing(la_client, group, workspace) -> None:
    with pytest.raises(HttpResponseError) as err:
        la_client.workspaces.update(group, workspace.name,
                                    {"properties": {"retentionInDays": 1000}, "tags": {"x": "y"}})
    assert err.value.status_code == 400
    after = la_client.workspaces.get(group, workspace.name)
    assert after.retention_in_days == 30 and not after.tags


def test_shared_keys_are_secrets_and_regenerate(emu, la_client, group, workspace) -> None:
    keys = la_client.shared_keys.get_shared_keys(group, workspace.name)
    for key in (keys.primary_shared_key, keys.secondary_shared_key):
        assert len(base64.b64decode(key)) == 64
        assert key in emu.platform.secrets
    assert keys.primary_shared_key != keys.secondary_shared_key
    sink = emu.platform.services.logs
    assert sink.check_shared_key(workspace.customer_id, keys.secondary_shared_key)
    fresh = la_client.shared_keys.regenerate(group, workspace.name)
    assert fresh.primary_shared_key != keys.primary_shared_key
    assert not sink.check_shared_key(workspace.customer_id, keys.primary_shared_key)
    assert sink.check_shared_key(workspace.customer_id, fresh.primary_shared_key)
    assert la_client.shared_keys.get_shared_keys(group, workspace.name).primary_shared_key == fresh.primary_shared_key


def test_listkeys_action_the_old_name(emu, group, workspace, http, arm_token) -> None:
    resp = http("POST", f"{_path(emu, group, workspace.name)}/listKeys?api-version=2015-03-20", arm_token)
    assert resp.status_code == 200
    assert set(resp.json()) == {"primarySharedKey", "secondarySharedKey"}


def test_delete_is_soft_unless_forced(la_client, group) -> None:
    first = la_client.workspaces.begin_create_or_update(group, "ws-del", {"location": "koreacentral"}).result()
    la_client.workspaces.begin_delete(group, "ws-del").result()
    with pytest.raises(ResourceNotFoundError):
        la_client.workspaces.get(group, "ws-del")
    recovered = la_client.workspaces.begin_create_or_update(group, "ws-del", {"location": "koreacentral"}).result()
    assert recovered.customer_id == first.customer_id
    la_client.workspaces.begin_delete(group, "ws-del", force=True).result()
    new = la_client.workspaces.begin_create_or_update(group, "ws-del", {"location": "koreacentral"}).result()
    assert new.customer_id != first.customer_id


def test_template_reads_customer_id_and_shared_key(emu, deployment_client, la_client, group) -> None:
    template = {
        "$schema": SCHEMA, "contentVersion": "1.0.0.0",
        "parameters": {"name": {"type": "string"}},
        "resources": [{"type": "Microsoft.OperationalInsights/workspaces", "apiVersion": "2023-09-01",
                       "name": "[parameters('name')]", "location": "[resourceGroup().location]",
                       "properties": {"sku": {"name": "PerGB2018"}, "retentionInDays": 30}}],
        "outputs": {
            "customerId": {"type": "string", "value": "[reference(resourceId('Microsoft.OperationalInsights/"
                                                        "workspaces', parameters('name')), '2023-09-01').customerId]"},
            "key": {"type": "string", "value": "[listKeys(resourceId('Microsoft.OperationalInsights/"
                                                     "workspaces', parameters('name')), '2023-09-01')"
                                                     ".primarySharedKey]"},
        },
    }
    body = {"properties": {"mode": "Incremental", "template": template,
                           "parameters": {"name": {"value": "ws-tpl"}}}}
    result = deployment_client.deployments.begin_create_or_update(group, "la", body).result()
    assert result.properties.provisioning_state == "Succeeded", result.properties.error
    ws = la_client.workspaces.get(group, "ws-tpl")
    assert result.properties.outputs["customerId"]["value"] == ws.customer_id
    keys = la_client.shared_keys.get_shared_keys(group, "ws-tpl")
    assert result.properties.outputs["key"]["value"] == keys.primary_shared_key
    assert emu.platform.services.logs.check_shared_key(ws.customer_id, keys.primary_shared_key)


def test_group_delete_removes_workspace_and_its_query_endpoint(emu, resource_client, la_client, http,
                                                               logs_token) -> None:
    group = f"rg-la-{uuid.uuid4().hex[:6]}"
    resource_client.resource_groups.create_or_update(group, {"location": "koreacentral"})
    ws = la_client.workspaces.begin_create_or_update(group, "ws-gone", {"location": "koreacentral"}).result()
    ok = http("POST", f"/v1/workspaces/{ws.customer_id}/query", logs_token, json={"query": "print 1"})
    assert ok.status_code == 200
    resource_client.resource_groups.begin_delete(group).result()
    gone = http("POST", f"/v1/workspaces/{ws.customer_id}/query", logs_token, json={"query": "print 1"})
    assert gone.status_code == 404
    assert gone.json()["error"]["code"] == "PathNotFoundError"
