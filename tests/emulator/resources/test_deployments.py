"""Template deployments through ResourceManagementClient, as `az deployment group create` sends them."""

from __future__ import annotations

import time

import pytest
from azure.core.exceptions import HttpResponseError

from pytest_acalab.emulator.resources.templates import unique_string

SCHEMA = "https://schema.management.azure.com/schemas/2019-04-01/deploymentTemplate.json#"


def _template(**parts):
    return {"$schema": SCHEMA, "contentVersion": "1.0.0.0", "resources": [], **parts}


def _deploy(client, group, template, parameters=None, name="main"):
    body = {"properties": {"mode": "Incremental", "template": template,
                           "parameters": {k: {"value": v} for k, v in (parameters or {}).items()}}}
    return client.deployments.begin_create_or_update(group, name, body)


def test_outputs_and_functions_evaluated_with_real_unique_string(deployment_client, group, emu) -> None:
    template = _template(
        parameters={"baseName": {"type": "string"}, "n": {"type": "int", "defaultValue": 3}},
        variables={"suffix": "[take(uniqueString(resourceGroup().id, parameters('baseName')), 6)]"},
        outputs={
            "name": {"type": "string", "value": "[format('ca-{0}-{1}', parameters('baseName'), variables('suffix'))]"},
            "upper": {"type": "string", "value": "[toUpper(concat(parameters('baseName'), '-x'))]"},
            "count": {"type": "int", "value": "[add(parameters('n'), 1)]"},
            "location": {"type": "string", "value": "[resourceGroup().location]"},
        },
    )
    result = _deploy(deployment_client, group, template, {"baseName": "labacr"}).result()
    assert result.properties.provisioning_state == "Succeeded"
    outputs = result.properties.outputs
    group_id = f"/subscriptions/{emu.subscription_id}/resourceGroups/{group}"
    assert outputs["name"]["value"] == f"ca-labacr-{unique_string(group_id, 'labacr')[:6]}"
    assert outputs["upper"]["value"] == "LABACR-X"
    assert outputs["count"] == {"type": "Int", "value": 4}
    assert outputs["location"]["value"] == "koreacentral"
    listed = [d.name for d in deployment_client.deployments.list_by_resource_group(group)]
    assert listed == ["main"]


@pytest.mark.parametrize(
    ("template", "parameters", "code", "words"),
    [
        (_template(outputs={"x": {"type": "string", "value": "[concat('a']"}}), {}, "InvalidTemplate", "concat"),
        (_template(outputs={"x": {"type": "string", "value": "[noSuchFunction('a')]"}}), {}, "InvalidTemplate",
         "noSuchFunction"),
        (_template(parameters={"baseName": {"type": "string"}}), {}, "InvalidTemplate", "baseName"),
        (_template(resources=[
            {"type": "Microsoft.App/containerApps", "apiVersion": "2025-07-01", "name": "a", "location": "x",
             "dependsOn": ["[resourceId('Microsoft.App/containerApps', 'b')]"], "properties": {}},
            {"type": "Microsoft.App/containerApps", "apiVersion": "2025-07-01", "name": "b", "location": "x",
             "dependsOn": ["[resourceId('Microsoft.App/containerApps', 'a')]"], "properties": {}},
        ]), {}, "InvalidTemplate", "ircular"),
    ],
    ids=["syntax-error", "unknown-function", "missing-parameter", "circular-dependson"],
)
def test_bad_templates_fail_with_invalid_template_and_deploy_nothing(
    deployment_client, resource_client, group, template, parameters, code, words,
) -> None:
    with pytest.raises(HttpResponseError) as info:
        _deploy(deployment_client, group, template, parameters, name="bad").result()
    assert info.value.error.code == code
    assert words in info.value.error.message
    assert [r.name for r in resource_client.resources.list_by_resource_group(group)] == []
    assert list(deployment_client.deployments.list_by_resource_group(group)) == []


def test_deployment_into_missing_group_is_resource_group_not_found(deployment_client) -> None:
    with pytest.raises(HttpResponseError) as info:
        _deploy(deployment_client, "rg-missing", _template()).result()
    assert info.value.error.code == "ResourceGroupNotFound"


def test_deployment_without_template_is_invalid_request_content(deployment_client, group) -> None:
    with pytest.raises(HttpResponseError) as info:
        deployment_client.deployments.begin_create_or_update(group, "x", {"properties": {"mode": "Incremental"}})
    assert info.value.error.code == "InvalidRequestContent"


def test_deleting_a_group_removes_everything_in_it(resource_client, deployment_client, group) -> None:
    import json
    from pathlib import Path

    template = json.loads((Path(__file__).parents[3] / "labs" / "acr_tag_deleted" / "infra" / "main.json").read_text())
    _deploy(deployment_client, group, template, {"baseName": "casc"}).result()
    types = sorted(r.type for r in resource_client.resources.list_by_resource_group(group))
    assert types == ["Microsoft.App/containerApps", "Microsoft.App/managedEnvironments",
                     "Microsoft.ContainerRegistry/registries", "Microsoft.OperationalInsights/workspaces"]
    ids = [r.id for r in resource_client.resources.list_by_resource_group(group)]
    resource_client.resource_groups.begin_delete(group).result()
    assert not resource_client.resource_groups.check_existence(group)
    everywhere = {r.id for r in resource_client.resources.list()}
    assert not set(ids) & everywhere


def test_a_group_shows_deleting_until_its_delete_operation_ends() -> None:
    from azure.mgmt.resource.resources import ResourceManagementClient

    from pytest_acalab.emulator import Emulator

    # At 1/100 speed a group delete lasts 4,500 real s: it ends when the test runs the scheduler to its end, not
    # by racing a loaded machine (at speed 100 it lasted 0.45 s, the whole window for the GET below).
    with Emulator(profile="realistic", speed=0.01) as emu:
        client = ResourceManagementClient(emu.credential(), emu.subscription_id, polling_interval=0,
                                          **emu.client_kwargs())
        client.resource_groups.create_or_update("rg-slow", {"location": "koreacentral"})
        poller = client.resource_groups.begin_delete("rg-slow")
        assert client.resource_groups.get("rg-slow").properties.provisioning_state == "Deleting"
        assert not poller.done()
        emu.platform.scheduler.run_due(now=time.monotonic() + emu.clock.duration("resource_group.delete"))
        poller.result()
        assert not client.resource_groups.check_existence("rg-slow")
