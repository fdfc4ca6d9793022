"""Every template function the emulator supports, evaluated in a real deployment sent by the SDK.

The engine's own unit tests (tests/emulator/resources/templates) check each function in depth against published
values; this checks they all work end to end through DeploymentsMgmtClient, as `az deployment group
create` uses them.
"""

from __future__ import annotations

import uuid

from pytest_acalab.emulator.resources.templates import arm_guid, unique_string

SCHEMA = "https://schema.management.azure.com/schemas/2019-04-01/deploymentTemplate.json#"
REG = "[resourceId('Microsoft.ContainerRegistry/registries', variables('registryName'))]"
WS = "[resourceId('Microsoft.OperationalInsights/workspaces', variables('workspaceName'))]"


def _out(value: object, kind: str = "string") -> dict:
    return {"type": kind, "value": value}


TEMPLATE = {
    "$schema": SCHEMA,
    "contentVersion": "1.0.0.0",
    "parameters": {
        "baseName": {"type": "string", "minLength": 3},
        "count": {"type": "int", "defaultValue": 2},
        "flag": {"type": "bool", "defaultValue": True},
        "extra": {"type": "object", "defaultValue": {"b": 2}},
    },
    "variables": {
        "suffix": "[take(uniqueString(resourceGroup().id, parameters('baseName')), 6)]",
        "registryName": "[toLower(concat('acr', parameters('baseName'), variables('suffix')))]",
        "workspaceName": "[format('log-{0}-{1}', parameters('baseName'), variables('suffix'))]",
    },
    "resources": [
        {"type": "Microsoft.ContainerRegistry/registries", "apiVersion": "2023-07-01",
         "name": "[variables('registryName')]", "location": "[resourceGroup().location]",
         "sku": {"name": "Basic"}, "properties": {"adminUserEnabled": True}},
        {"type": "Microsoft.OperationalInsights/workspaces", "apiVersion": "2023-09-01",
         "name": "[variables('workspaceName')]", "location": "[resourceGroup().location]",
         "properties": {"sku": {"name": "PerGB2018"}, "retentionInDays": 30}},
    ],
    "outputs": {
        "parameters": _out("[parameters('baseName')]"),
        "variables": _out("[variables('suffix')]"),
        "resourceGroup": _out("[resourceGroup().name]"),
        "subscription": _out("[subscription().subscriptionId]"),
        "deployment": _out("[deployment().name]"),
        "uniqueString": _out("[uniqueString('aaa')]"),
        "guid": _out("[guid('asdf')]"),
        "take": _out("[take('abcdef', 3)]"),
        "concat": _out("[concat('a', 'b', 'c')]"),
        "format": _out("[format('{0}-{1}', 'x', 7)]"),
        "toLower": _out("[toLower('ABC')]"),
        "toUpper": _out("[toUpper('abc')]"),
        "replace": _out("[replace('a-b-c', '-', '.')]"),
        "substring": _out("[substring('abcdef', 1, 3)]"),
        "length": _out("[length(createArray(1, 2, 3))]", "int"),
        "empty": _out("[empty('')]", "bool"),
        "contains": _out("[contains('hello', 'ell')]", "bool"),
        "equals": _out("[equals(parameters('count'), 2)]", "bool"),
        "not": _out("[not(parameters('flag'))]", "bool"),
        "and": _out("[and(true(), parameters('flag'))]", "bool"),
        "or": _out("[or(false(), false())]", "bool"),
        "if": _out("[if(parameters('flag'), 'yes', 'no')]"),
        "union": _out("[union(createObject('a', 1), parameters('extra'))]", "object"),
        "createObject": _out("[createObject('k', 'v')]", "object"),
        "createArray": _out("[createArray('x', 'y')]", "array"),
        "string": _out("[string(parameters('count'))]"),
        "int": _out("[int('42')]", "int"),
        "bool": _out("[bool('true')]", "bool"),
        "resourceId": _out(REG),
        "reference": _out(f"[reference({REG[1:-1]}, '2023-07-01').loginServer]"),
        "referenceFull": _out(f"[reference({REG[1:-1]}, '2023-07-01', 'Full').sku.name]"),
        "listKeys": _out(f"[length(listKeys({WS[1:-1]}, '2023-09-01').primarySharedKey)]", "int"),
        "listCredentials": _out(f"[listCredentials({REG[1:-1]}, '2023-07-01').username]"),
        "interpolation": _out("[format('{0}/{1}:{2}', reference(" + REG[1:-1] + ", '2023-07-01').loginServer, "
                              "parameters('baseName'), 'v1')]"),
    },
}


def test_every_supported_function_in_a_real_deployment(deployment_client, group, emu) -> None:
    name = f"fn-{uuid.uuid4().hex[:6]}"
    body = {"properties": {"mode": "Incremental", "template": TEMPLATE,
                           "parameters": {"baseName": {"value": "fnlab"}}}}
    result = deployment_client.deployments.begin_create_or_update(group, name, body).result()
    assert result.properties.provisioning_state == "Succeeded", result.properties.error
    out = {k: v["value"] for k, v in result.properties.outputs.items()}
    group_id = f"/subscriptions/{emu.subscription_id}/resourceGroups/{group}"
    suffix = unique_string(group_id, "fnlab")[:6]
    registry = f"acrfnlab{suffix}"
    assert out["parameters"] == "fnlab" and out["variables"] == suffix
    assert out["resourceGroup"] == group and out["subscription"] == emu.subscription_id
    assert out["deployment"] == name
    assert out["uniqueString"] == "zavj67f3en4hc"  # published value for uniqueString('aaa')
    assert out["guid"] == str(arm_guid("asdf")) == "228d27cc-6fdb-5934-b7ac-1efccebade04"
    assert (out["take"], out["concat"], out["format"]) == ("abc", "abc", "x-7")
    assert (out["toLower"], out["toUpper"], out["replace"], out["substring"]) == ("abc", "ABC", "a.b.c", "bcd")
    assert (out["length"], out["empty"], out["contains"], out["equals"]) == (3, True, True, True)
    assert (out["not"], out["and"], out["or"], out["if"]) == (False, True, False, "yes")
    assert out["union"] == {"a": 1, "b": 2} and out["createObject"] == {"k": "v"}
    assert out["createArray"] == ["x", "y"]
    assert (out["string"], out["int"], out["bool"]) == ("2", 42, True)
    assert out["resourceId"] == f"{group_id}/providers/Microsoft.ContainerRegistry/registries/{registry}"
    assert out["reference"] == f"{registry}.azurecr.io" and out["referenceFull"] == "Basic"
    assert out["listKeys"] > 20 and out["listCredentials"] == registry
    assert out["interpolation"] == f"{registry}.azurecr.io/fnlab:v1"


def test_a_parameter_of_the_wrong_type_or_too_short_is_invalid_template(deployment_client, group) -> None:
    import pytest
    from azure.core.exceptions import HttpResponseError

    for params, words in (({"baseName": {"value": "ab"}}, "baseName"),
                          ({"baseName": {"value": "fnlab"}, "count": {"value": "two"}}, "count")):
        body = {"properties": {"mode": "Incremental", "template": TEMPLATE, "parameters": params}}
        with pytest.raises(HttpResponseError) as info:
            deployment_client.deployments.begin_create_or_update(group, "bad-params", body).result()
        assert info.value.error.code == "InvalidTemplate" and words in info.value.error.message
