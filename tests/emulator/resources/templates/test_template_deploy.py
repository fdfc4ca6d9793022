"""Running deployments through a host: ordering, failures as ARM reports them, outputs."""

from __future__ import annotations

import re
from typing import Any

from pytest_acalab.emulator.resources.templates import (
    DeploymentContext,
    ResourceOutcome,
    deploy,
    validate,
)

SUB = "00000000-0000-0000-0000-000000000000"
RG_ID = f"/subscriptions/{SUB}/resourceGroups/rg-lab"
DEPLOYMENT_ID = f"{RG_ID}/providers/Microsoft.Resources/deployments/main"
ACR_ID = f"{RG_ID}/providers/Microsoft.ContainerRegistry/registries/acrlab"
LAW_ID = f"{RG_ID}/providers/Microsoft.OperationalInsights/workspaces/law-lab"
ENV_ID = f"{RG_ID}/providers/Microsoft.App/managedEnvironments/cae-lab"
APP_ID = f"{RG_ID}/providers/Microsoft.App/containerApps/ca-lab"

# From the real failed deployment: yeongseon/azure-container-apps-practical-guide (MIT),
# labs/acr-pull-failure/evidence/01-deployment-result.json and 01-deployment-operations-failed.json.
OBSERVED_DEPLOYMENT_MESSAGE = (
    "At least one resource deployment operation failed. Please list deployment operations for details. "
    "Please see https://aka.ms/arm-deployment-operations for usage details."
)
OBSERVED_DETAIL_MESSAGE = (
    "The resource write operation failed to complete successfully, because it reached terminal provisioning "
    "state 'Failed'."
)
OBSERVED_APP_ERROR = {
    "code": "ContainerAppOperationError",
    "message": "Failed to provision revision for container app 'ca-lab'. Error details: The following field(s) are "
    "either invalid or missing. Field 'template.containers.app.image' is invalid with details: 'Invalid value: "
    '"acrlab.azurecr.io/labacr:does-not-exist": GET https:: MANIFEST_UNKNOWN: manifest tagged by '
    "\"does-not-exist\" is not found; map[Tag:does-not-exist]';..",
}


def res(rtype: str, name: str, **extra: Any) -> dict[str, Any]:
    return {"type": rtype, "apiVersion": "2025-07-01", "name": name, "location": "[resourceGroup().location]", **extra}


def tpl(resources: Any, **sections: Any) -> dict[str, Any]:
    return {
        "$schema": "https://schema.management.azure.com/schemas/2019-04-01/deploymentTemplate.json#",
        "contentVersion": "1.0.0.0",
        **sections,
        "resources": resources,
    }


# A template the way `az bicep build` writes a Container Apps lab (registry + workspace + environment + app).
COMPILED_BICEP = {
    "$schema": "https://schema.management.azure.com/schemas/2019-04-01/deploymentTemplate.json#",
    "contentVersion": "1.0.0.0",
    "metadata": {"_generator": {"name": "bicep", "version": "0.30.23.60470", "templateHash": "1"}},
    "parameters": {
        "location": {"type": "string", "defaultValue": "[resourceGroup().location]"},
        "baseName": {"type": "string", "defaultValue": "lab"},
        "imageTag": {"type": "string", "defaultValue": "v1"},
    },
    "variables": {"acrName": "[format('acr{0}', parameters('baseName'))]"},
    "resources": [
        {
            "type": "Microsoft.ContainerRegistry/registries",
            "apiVersion": "2023-07-01",
            "name": "[variables('acrName')]",
            "location": "[parameters('location')]",
            "sku": {"name": "Basic"},
            "properties": {"adminUserEnabled": True},
        },
        {
            "type": "Microsoft.OperationalInsights/workspaces",
            "apiVersion": "2022-10-01",
            "name": "[format('law-{0}', parameters('baseName'))]",
            "location": "[parameters('location')]",
            "properties": {"sku": {"name": "PerGB2018"}, "retentionInDays": 30},
        },
        {
            "type": "Microsoft.App/managedEnvironments",
            "apiVersion": "2025-07-01",
            "name": "[format('cae-{0}', parameters('baseName'))]",
            "location": "[parameters('location')]",
            "properties": {
                "appLogsConfiguration": {
                    "destination": "log-analytics",
                    "logAnalyticsConfiguration": {
                        "customerId": "[reference(resourceId('Microsoft.OperationalInsights/workspaces', "
                        "format('law-{0}', parameters('baseName'))), '2022-10-01').customerId]",
                        "sharedKey": "[listKeys(resourceId('Microsoft.OperationalInsights/workspaces', "
                        "format('law-{0}', parameters('baseName'))), '2022-10-01').primarySharedKey]",
                    },
                }
            },
        },
        {
            "type": "Microsoft.App/containerApps",
            "apiVersion": "2025-07-01",
            "name": "[format('ca-{0}', parameters('baseName'))]",
            "location": "[parameters('location')]",
            "properties": {
                "managedEnvironmentId": "[resourceId('Microsoft.App/managedEnvironments', "
                "format('cae-{0}', parameters('baseName')))]",
                "configuration": {
                    "ingress": {"external": True, "targetPort": 8080},
                    "registries": [
                        {
                            "server": "[reference(resourceId('Microsoft.ContainerRegistry/registries', "
                            "variables('acrName')), '2023-07-01').loginServer]",
                            "username": "[listCredentials(resourceId('Microsoft.ContainerRegistry/registries', "
                            "variables('acrName')), '2023-07-01').username]",
                            "passwordSecretRef": "acr-password",
                        }
                    ],
                    "secrets": [
                        {
                            "name": "acr-password",
                            "value": "[listCredentials(resourceId('Microsoft.ContainerRegistry/registries', "
                            "variables('acrName')), '2023-07-01').passwords[0].value]",
                        }
                    ],
                },
                "template": {
                    "containers": [
                        {
                            "name": "app",
                            "image": "[format('{0}/labacr:{1}', reference(resourceId("
                            "'Microsoft.ContainerRegistry/registries', variables('acrName')), '2023-07-01')"
                            ".loginServer, parameters('imageTag'))]",
                        }
                    ]
                },
            },
            "dependsOn": [
                "[resourceId('Microsoft.App/managedEnvironments', format('cae-{0}', parameters('baseName')))]"
            ],
        },
    ],
    "outputs": {
        "appName": {"type": "string", "value": "[format('ca-{0}', parameters('baseName'))]"},
        "fqdn": {
            "type": "string",
            "value": "[reference(resourceId('Microsoft.App/containerApps', format('ca-{0}', parameters('baseName'))), "
            "'2025-07-01').configuration.ingress.fqdn]",
        },
        "acrLoginServer": {
            "type": "string",
            "value": "[reference(resourceId('Microsoft.ContainerRegistry/registries', variables('acrName')), "
            "'2023-07-01').loginServer]",
        },
    },
}


class LabHost:
    """Wraps the fake host so that registries and workspaces answer like their providers would."""

    def __init__(self, host) -> None:
        self.host = host
        self.calls = host.calls

    def put_resource(self, resource_id: str, api_version: str, body: dict[str, Any]) -> ResourceOutcome:
        outcome = self.host.put_resource(resource_id, api_version, body)
        if outcome.succeeded:
            props = outcome.resource["properties"]
            if "/registries/" in resource_id:
                props["loginServer"] = "acrlab.azurecr.io"
                self.host.actions[(resource_id.lower(), "listcredentials")] = {
                    "username": "acrlab", "passwords": [{"name": "password", "value": "s3cret"}]
                }  # fmt: skip
            if "/workspaces/" in resource_id:
                props["customerId"] = "cid-123"
                self.host.actions[(resource_id.lower(), "listkeys")] = {"primarySharedKey": "k3y"}
            if "/containerApps/" in resource_id:
                props["configuration"]["ingress"]["fqdn"] = "ca-lab.koreacentral.azurecontainerapps.io"
        return outcome

    def get_resource(self, resource_id: str, api_version: str | None) -> dict[str, Any]:
        return self.host.get_resource(resource_id, api_version)

    def invoke_action(self, resource_id: str, action: str, api_version: str, body: Any) -> Any:
        return self.host.invoke_action(resource_id, action, api_version, body)


def test_compiled_bicep_lab_deploys_in_dependency_order(ctx: DeploymentContext, host) -> None:
    lab = LabHost(host)
    shuffled = {**COMPILED_BICEP, "resources": [COMPILED_BICEP["resources"][i] for i in (3, 2, 0, 1)]}
    result = deploy(shuffled, {}, ctx, lab)
    assert result.provisioning_state == "Succeeded", result.error
    written = host.written
    assert set(written) == {ACR_ID, LAW_ID, ENV_ID, APP_ID}
    # implicit (reference/list*) and explicit dependencies are respected
    assert written.index(LAW_ID) < written.index(ENV_ID) < written.index(APP_ID)
    assert written.index(ACR_ID) < written.index(APP_ID)
    app_body = host.resources[APP_ID.lower()]
    assert app_body["location"] == "koreacentral"
    assert app_body["properties"]["template"]["containers"][0]["image"] == "acrlab.azurecr.io/labacr:v1"
    assert app_body["properties"]["configuration"]["secrets"] == [{"name": "acr-password", "value": "s3cret"}]
    assert app_body["properties"]["configuration"]["registries"][0]["username"] == "acrlab"
    assert app_body["properties"]["managedEnvironmentId"] == ENV_ID
    env_logs = host.resources[ENV_ID.lower()]["properties"]["appLogsConfiguration"]["logAnalyticsConfiguration"]
    assert env_logs == {"customerId": "cid-123", "sharedKey": "k3y"}
    assert ("POST", f"{LAW_ID}/listKeys", None) in host.calls
    assert result.outputs == {
        "appName": {"type": "String", "value": "ca-lab"},
        "fqdn": {"type": "String", "value": "ca-lab.koreacentral.azurecontainerapps.io"},
        "acrLoginServer": {"type": "String", "value": "acrlab.azurecr.io"},
    }
    assert result.error is None
    assert result.output_resources == [{"id": i} for i in written]
    assert len(result.operations) == 4
    assert all(op["properties"]["provisioningState"] == "Succeeded" for op in result.operations)
    assert result.operations[0]["properties"]["statusCode"] == "Created"


def test_failed_long_running_operation_is_reported_like_azure(ctx: DeploymentContext, host) -> None:
    lab = LabHost(host)
    host.fail(APP_ID, ResourceOutcome(False, 201, None, dict(OBSERVED_APP_ERROR), provisioning_state="Failed"))
    result = deploy(COMPILED_BICEP, {"imageTag": {"value": "does-not-exist"}}, ctx, lab)
    assert result.provisioning_state == "Failed"
    assert result.outputs is None
    assert result.error == {
        "code": "DeploymentFailed",
        "message": OBSERVED_DEPLOYMENT_MESSAGE,
        "target": DEPLOYMENT_ID,
        "details": [{"code": "ResourceDeploymentFailure", "message": OBSERVED_DETAIL_MESSAGE, "target": APP_ID}],
    }
    failed = [op for op in result.operations if op["properties"]["provisioningState"] == "Failed"]
    assert len(failed) == 1
    props = failed[0]["properties"]
    assert props["statusMessage"] == {"status": "Failed", "error": OBSERVED_APP_ERROR}
    assert props["targetResource"] == {
        "id": APP_ID, "resourceType": "Microsoft.App/containerApps", "resourceName": "ca-lab",
        "apiVersion": "2025-07-01",
    }  # fmt: skip
    assert props["provisioningOperation"] == "Create"
    assert re.fullmatch(r"[0-9A-F]{16}", failed[0]["operationId"])
    assert failed[0]["id"] == f"{DEPLOYMENT_ID}/operations/{failed[0]['operationId']}"
    assert re.fullmatch(r"[0-9a-f-]{36}", props["trackingId"])
    assert re.fullmatch(r"[0-9a-f-]{36}", props["serviceRequestId"])
    assert re.fullmatch(r"PT[0-9.]+S", props["duration"])
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z", props["timestamp"])


def test_dependents_of_a_failure_are_skipped_and_independents_deployed(ctx: DeploymentContext, host) -> None:
    t = tpl(
        [
            res("Microsoft.App/managedEnvironments", "env"),
            res("Microsoft.App/containerApps", "app", dependsOn=["env"]),
            res("Microsoft.App/containerApps", "app2",
                properties={"x": "[reference('app').latestRevisionName]"}),  # implicit, transitive
            res("Microsoft.OperationalInsights/workspaces", "law"),
        ]
    )  # fmt: skip
    env_id = f"{RG_ID}/providers/Microsoft.App/managedEnvironments/env"
    error = {"code": "ManagedEnvironmentInvalid", "message": "nope"}
    host.fail(env_id, ResourceOutcome(False, 200, None, error, provisioning_state="Failed"))
    result = deploy(t, {}, ctx, host)
    assert result.provisioning_state == "Failed"
    assert host.written == [env_id, f"{RG_ID}/providers/Microsoft.OperationalInsights/workspaces/law"]
    assert [d["target"] for d in result.error["details"]] == [env_id]
    assert [op["properties"]["targetResource"]["resourceName"] for op in result.operations] == ["env", "law"]


def test_immediate_rejection_reports_the_providers_own_error(ctx: DeploymentContext, host) -> None:
    t = tpl([res("Microsoft.App/containerApps", "app")])
    app_id = f"{RG_ID}/providers/Microsoft.App/containerApps/app"
    error = {"code": "ContainerAppInvalidName", "message": "Invalid ContainerApp name 'app'.", "target": "name"}
    host.fail(app_id, ResourceOutcome(False, 400, None, dict(error)))
    result = deploy(t, {}, ctx, host)
    assert result.error["code"] == "DeploymentFailed"
    assert result.error["details"] == [error]
    props = result.operations[0]["properties"]
    assert props["statusCode"] == "BadRequest"
    assert props["statusMessage"] == {"status": "Failed", "error": error}


def test_reference_to_a_missing_resource_fails_that_resource_only(ctx: DeploymentContext, host) -> None:
    t = tpl(
        [
            res("Microsoft.App/containerApps", "app",
                properties={"env": "[reference(resourceId('Microsoft.App/managedEnvironments', 'ghost'), '1').x]"}),
            res("Microsoft.App/containerApps", "other"),
        ]
    )  # fmt: skip
    result = deploy(t, {}, ctx, host)
    assert result.provisioning_state == "Failed"
    assert result.error["details"][0]["code"] == "ResourceNotFound"
    assert result.error["details"][0]["target"] == f"{RG_ID}/providers/Microsoft.App/containerApps/app"
    assert host.written == [f"{RG_ID}/providers/Microsoft.App/containerApps/other"]


def test_explicit_dependson_forms_and_template_order(ctx: DeploymentContext, host) -> None:
    t = tpl(
        [
            res("Microsoft.App/containerApps", "c",
                dependsOn=["[resourceId('Microsoft.App/containerApps', 'b')]"]),
            res("Microsoft.App/containerApps", "b", dependsOn=["Microsoft.App/containerApps/a"]),
            res("Microsoft.App/containerApps", "a", dependsOn=["d"]),
            res("Microsoft.App/containerApps", "d"),
            res("Microsoft.App/containerApps", "e"),
        ]
    )  # fmt: skip
    result = deploy(t, {}, ctx, host)
    assert result.provisioning_state == "Succeeded"
    assert [w.rsplit("/", 1)[1] for w in host.written] == ["d", "a", "b", "c", "e"]


def test_condition_false_skips_and_existing_is_read_not_written(ctx: DeploymentContext, host) -> None:
    acr = f"{RG_ID}/providers/Microsoft.ContainerRegistry/registries/shared"
    host.add(acr, {"loginServer": "shared.azurecr.io"})
    t = tpl(
        {
            "acr": {"type": "Microsoft.ContainerRegistry/registries", "apiVersion": "2023-07-01",
                    "name": "shared", "existing": True},
            "skipped": res("Microsoft.App/containerApps", "skipped", condition="[equals(parameters('mode'), 'x')]"),
            "app": res("Microsoft.App/containerApps", "app",
                       properties={"server": "[reference('acr').loginServer]",
                                   "acrLocation": "[reference('acr', '2023-07-01', 'Full').id]"},
                       dependsOn=["acr", "skipped"]),
        },
        languageVersion="2.0",
        parameters={"mode": {"type": "string", "defaultValue": "y"}},
        outputs={"server": {"type": "string", "value": "[reference('acr').loginServer]"}},
    )  # fmt: skip
    result = deploy(t, {}, ctx, host)
    assert result.provisioning_state == "Succeeded", result.error
    assert host.written == [f"{RG_ID}/providers/Microsoft.App/containerApps/app"]
    assert host.resources[host.written[0].lower()]["properties"]["server"] == "shared.azurecr.io"
    assert host.resources[host.written[0].lower()]["properties"]["acrLocation"] == acr
    assert ("GET", acr, "2023-07-01") in host.calls
    assert result.outputs == {"server": {"type": "String", "value": "shared.azurecr.io"}}
    assert [p.symbolic_name for p in validate(t, {}, ctx).resources] == ["acr", "skipped", "app"]


def test_output_types_are_capitalised(ctx: DeploymentContext, host) -> None:
    t = tpl(
        [],
        outputs={
            "s": {"type": "string", "value": "x"},
            "i": {"type": "int", "value": "[add(1, 2)]"},
            "b": {"type": "bool", "value": "[true()]"},
            "o": {"type": "object", "value": {"k": "[resourceGroup().name]"}},
            "a": {"type": "array", "value": "[createArray(1)]"},
            "secret": {"type": "securestring", "value": "hidden"},
            "off": {"type": "string", "condition": "[false()]", "value": "never"},
            "loop": {"type": "array", "copy": {"count": 2, "input": "[concat('n', string(copyIndex()))]"}},
        },
    )
    result = deploy(t, {}, ctx, host)
    assert result.outputs == {
        "s": {"type": "String", "value": "x"},
        "i": {"type": "Int", "value": 3},
        "b": {"type": "Bool", "value": True},
        "o": {"type": "Object", "value": {"k": "rg-lab"}},
        "a": {"type": "Array", "value": [1]},
        "secret": {"type": "SecureString"},
        "loop": {"type": "Array", "value": ["n0", "n1"]},
    }
    assert result.operations == []
    assert result.duration.startswith("PT")


def test_output_that_cannot_be_evaluated_fails_the_deployment(ctx: DeploymentContext, host) -> None:
    t = tpl([res("Microsoft.App/containerApps", "app")],
            outputs={"fqdn": {"type": "string", "value": "[reference('app').configuration.ingress.fqdn]"}})
    result = deploy(t, {}, ctx, host)
    assert result.provisioning_state == "Failed"
    assert result.outputs is None
    assert result.error["code"] == "DeploymentOutputEvaluationFailed"
    assert result.error["details"][0]["target"] == "fqdn"
    assert "configuration" in result.error["details"][0]["message"]
    assert host.written == [f"{RG_ID}/providers/Microsoft.App/containerApps/app"]


def test_output_of_the_wrong_type_fails(ctx: DeploymentContext, host) -> None:
    result = deploy(tpl([], outputs={"n": {"type": "int", "value": "abc"}}), {}, ctx, host)
    assert result.error["code"] == "DeploymentOutputEvaluationFailed"


def test_resource_copy_loop(ctx: DeploymentContext, host) -> None:
    t = tpl(
        [
            res("Microsoft.App/containerApps", "[format('app{0}', copyIndex())]",
                copy={"name": "apps", "count": "[length(parameters('names'))]"},
                tags={"who": "[parameters('names')[copyIndex()]]"}),
            res("Microsoft.App/managedEnvironments", "after", dependsOn=["apps"]),
        ],
        parameters={"names": {"type": "array", "defaultValue": ["x", "y"]}},
    )  # fmt: skip
    result = deploy(t, {}, ctx, host)
    assert result.provisioning_state == "Succeeded"
    assert [w.rsplit("/", 1)[1] for w in host.written] == ["app0", "app1", "after"]
    assert host.resources[f"{RG_ID}/providers/Microsoft.App/containerApps/app1".lower()]["tags"] == {"who": "y"}


def test_nested_child_resources_and_body_fields(ctx: DeploymentContext, host) -> None:
    t = tpl(
        [
            {
                "type": "Microsoft.App/managedEnvironments",
                "apiVersion": "2025-07-01",
                "name": "env",
                "location": "westus",
                "tags": {"a": "b"},
                "sku": {"name": "Consumption"},
                "kind": "k",
                "identity": {"type": "SystemAssigned"},
                "comments": "not sent",
                "properties": {},
                "resources": [
                    {"type": "certificates", "apiVersion": "2025-07-01", "name": "cert", "properties": {"p": 1}}
                ],
            }
        ]
    )
    result = deploy(t, {}, ctx, host)
    assert result.provisioning_state == "Succeeded"
    env_id = f"{RG_ID}/providers/Microsoft.App/managedEnvironments/env"
    assert host.written == [env_id, f"{env_id}/certificates/cert"]
    body = host.calls[0][2]
    assert body == {"location": "westus", "tags": {"a": "b"}, "sku": {"name": "Consumption"}, "kind": "k",
                    "identity": {"type": "SystemAssigned"}, "properties": {}}  # fmt: skip


def test_extension_resource_with_scope_and_guid_name(ctx: DeploymentContext, host) -> None:
    role = "[subscriptionResourceId('Microsoft.Authorization/roleDefinitions', '7f951dda-4ed3-4680-a7ca-43fe172d538d')]"
    t = tpl(
        [
            res("Microsoft.ContainerRegistry/registries", "acrlab"),
            {
                "type": "Microsoft.Authorization/roleAssignments",
                "apiVersion": "2022-04-01",
                "scope": "[format('Microsoft.ContainerRegistry/registries/{0}', 'acrlab')]",
                "name": f"[guid(resourceId('Microsoft.ContainerRegistry/registries', 'acrlab'), 'pid', {role[1:-1]})]",
                "properties": {"roleDefinitionId": role, "principalId": "pid", "principalType": "ServicePrincipal"},
            },
        ]
    )
    result = deploy(t, {}, ctx, host)
    assert result.provisioning_state == "Succeeded"
    assert host.written[0] == ACR_ID
    ra = host.written[1]
    assert ra.startswith(f"{ACR_ID}/providers/Microsoft.Authorization/roleAssignments/")
    assert re.fullmatch(r"[0-9a-f-]{36}", ra.rsplit("/", 1)[1])


def test_validated_template_reports_parameters_and_resources(ctx: DeploymentContext) -> None:
    t = tpl(
        [res("Microsoft.App/containerApps", "app")],
        parameters={"name": {"type": "string", "defaultValue": "x"}, "pw": {"type": "securestring"}},
    )
    v = validate(t, {"pw": {"value": "p"}}, ctx)
    assert v.deployment_parameters == {"name": {"type": "String", "value": "x"}, "pw": {"type": "SecureString"}}
    assert v.validated_resources == [{"id": f"{RG_ID}/providers/Microsoft.App/containerApps/app"}]


class DeploymentsHost:
    """Routes Microsoft.Resources/deployments back into the engine, as the emulator's ARM layer should."""

    def __init__(self, host, ctx: DeploymentContext) -> None:
        self.host = host
        self.ctx = ctx

    def put_resource(self, resource_id: str, api_version: str, body: dict[str, Any]) -> ResourceOutcome:
        if "/Microsoft.Resources/deployments/" not in resource_id:
            return self.host.put_resource(resource_id, api_version, body)
        name = resource_id.rsplit("/", 1)[1]
        child_ctx = DeploymentContext(**{**self.ctx.__dict__, "deployment_name": name})
        result = deploy(body["properties"]["template"], body["properties"].get("parameters"), child_ctx, self)
        stored = {"id": resource_id, "name": name, "type": "Microsoft.Resources/deployments",
                  "properties": {"provisioningState": result.provisioning_state, "outputs": result.outputs}}
        self.host.resources[resource_id.lower()] = stored
        self.host.calls.append(("PUT", resource_id, body))
        if result.provisioning_state == "Succeeded":
            return ResourceOutcome(True, 201, stored)
        return ResourceOutcome(False, 201, None, result.error, provisioning_state="Failed")

    def get_resource(self, resource_id: str, api_version: str | None) -> dict[str, Any]:
        return self.host.get_resource(resource_id, api_version)

    def invoke_action(self, resource_id: str, action: str, api_version: str, body: Any) -> Any:
        return self.host.invoke_action(resource_id, action, api_version, body)


def test_bicep_module_is_a_nested_deployment_with_its_own_scope(ctx: DeploymentContext, host) -> None:
    module_template = {
        "$schema": "https://schema.management.azure.com/schemas/2019-04-01/deploymentTemplate.json#",
        "contentVersion": "1.0.0.0",
        "parameters": {"name": {"type": "string"}},
        "functions": [{"namespace": "__bicep", "members": {"upper": {
            "parameters": [{"name": "v", "type": "string"}],
            "output": {"type": "string", "value": "[toUpper(parameters('v'))]"}}}}],
        "resources": [res("Microsoft.App/managedEnvironments", "[parameters('name')]")],
        "outputs": {
            "envId": {"type": "string",
                      "value": "[resourceId('Microsoft.App/managedEnvironments', parameters('name'))]"},
            "shout": {"type": "string", "value": "[__bicep.upper(parameters('name'))]"},
        },
    }  # fmt: skip
    t = tpl(
        [
            {
                "type": "Microsoft.Resources/deployments",
                "apiVersion": "2022-09-01",
                "name": "env-module",
                "properties": {
                    "expressionEvaluationOptions": {"scope": "inner"},
                    "mode": "Incremental",
                    "parameters": {"name": {"value": "[format('cae-{0}', parameters('baseName'))]"}},
                    "template": module_template,
                },
            },
            res("Microsoft.App/containerApps", "app", properties={
                "managedEnvironmentId": "[reference(resourceId('Microsoft.Resources/deployments', 'env-module'), "
                "'2022-09-01').outputs.envId.value]"}),
        ],
        parameters={"baseName": {"type": "string", "defaultValue": "lab"}},
        outputs={"shout": {"type": "string", "value": "[reference('env-module').outputs.shout.value]"}},
    )  # fmt: skip
    result = deploy(t, {}, ctx, DeploymentsHost(host, ctx))
    assert result.provisioning_state == "Succeeded", result.error
    module_id = f"{RG_ID}/providers/Microsoft.Resources/deployments/env-module"
    assert host.written == [ENV_ID, module_id, f"{RG_ID}/providers/Microsoft.App/containerApps/app"]
    sent = next(body for verb, rid, body in host.calls if rid == module_id)
    assert sent["properties"]["template"] == module_template  # inner scope: passed through unevaluated
    assert sent["properties"]["parameters"] == {"name": {"value": "cae-lab"}}
    assert host.resources[f"{RG_ID}/providers/Microsoft.App/containerApps/app".lower()]["properties"][
        "managedEnvironmentId"
    ] == ENV_ID
    assert result.outputs == {"shout": {"type": "String", "value": "CAE-LAB"}}


def test_deployment_to_another_resource_group(ctx: DeploymentContext) -> None:
    inner = {"mode": "Incremental", "template": {"resources": []}, "expressionEvaluationOptions": {"scope": "inner"}}
    t = tpl([{"type": "Microsoft.Resources/deployments", "apiVersion": "2022-09-01", "name": "m",
              "resourceGroup": "rg-other", "properties": inner}])  # fmt: skip
    plan = validate(t, {}, ctx).resources[0]
    assert plan.id == f"/subscriptions/{SUB}/resourceGroups/rg-other/providers/Microsoft.Resources/deployments/m"


def test_resource_info_of_a_symbolic_resource(ctx: DeploymentContext) -> None:
    t = tpl({"acr": res("Microsoft.ContainerRegistry/registries", "acrlab")}, languageVersion="2.0")
    info = validate(t, {}, ctx).evaluator.evaluate("[resourceInfo('acr')]")
    assert info == {"id": ACR_ID, "name": "acrlab", "type": "Microsoft.ContainerRegistry/registries",
                    "apiVersion": "2025-07-01"}  # fmt: skip


def test_failing_list_action_fails_the_resource_with_the_hosts_error(ctx: DeploymentContext, host) -> None:
    host.add(ACR_ID)
    t = tpl([res("Microsoft.App/containerApps", "app", properties={"pw": f"[listCredentials('{ACR_ID}', '1').x]"})])
    result = deploy(t, {}, ctx, host)
    assert result.error["details"][0]["code"] == "InvalidResourceOperation"
    assert host.written == []
    assert ("POST", f"{ACR_ID}/listCredentials", None) in host.calls
