"""ARM platform answers compared with interactions recorded from real Azure (status codes, body keys).

The recordings hold no template deployment; deployments are compared with the live-Azure capture of the
ACR pull-failure lab (its deployment result and operations), in test_deployment_failure_contract below.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from urllib.parse import urlsplit

import requests

DATA = Path(__file__).parent / "data"
OBSERVED = Path(__file__).parents[2] / "labs"


def _recorded() -> list[dict]:
    return json.loads((DATA / "platform_interactions.json").read_text())["interactions"]


def _replay(emu, interaction: dict, group: str) -> requests.Response:
    parts = urlsplit(interaction["uri"])
    path = re.sub(r"/subscriptions/[^/]+", f"/subscriptions/{emu.subscription_id}", parts.path)
    path = re.sub(r"(?i)/resourcegroups/[^/]+", f"/resourcegroups/{group}", path)
    token = emu.credential().get_token("https://management.azure.com/.default").token
    return requests.request(interaction["method"], f"{emu.url}{path}?{parts.query}", verify=emu.ca_bundle,
                            headers={"Authorization": f"Bearer {token}"}, timeout=10)


def test_recorded_platform_interactions_have_the_same_status_and_keys(emu, group, resource_client) -> None:
    from azure.mgmt.containerregistry import ContainerRegistryManagementClient

    acr = ContainerRegistryManagementClient(emu.credential(), emu.subscription_id, polling_interval=0,
                                            **emu.client_kwargs())
    acr.registries.begin_create(group, f"acrcontract{group[-6:]}", {"location": "eastus",
                                                                    "sku": {"name": "Basic"}}).result()
    for interaction in _recorded():
        got = _replay(emu, interaction, group)
        assert got.status_code == interaction["status"], interaction["source"]
        if not interaction["body"]:
            continue
        want = json.loads(interaction["body"])
        body = got.json()
        if "value" in want:
            assert want["value"] and body["value"], interaction["source"]
            missing = set(want["value"][0]) - set(body["value"][0])
            assert not missing, (interaction["source"], missing)
            assert body["value"][0]["type"] == want["value"][0]["type"]
        else:
            missing = set(want) - set(body)
            assert not missing, (interaction["source"], missing)
            assert body["registrationState"] == want["registrationState"] == "Registered"
            want_types = {t["resourceType"] for t in want["resourceTypes"]}
            assert {"containerApps", "managedEnvironments"} <= want_types & {
                t["resourceType"] for t in body["resourceTypes"]}


def test_deployment_failure_contract(emu, group, deployment_client) -> None:
    """The ACR lab's template fails in the emulator exactly as the live capture shows (case A)."""
    import pytest
    from azure.core.exceptions import HttpResponseError

    template = json.loads((OBSERVED / "acr_pull_failure" / "infra" / "main.json").read_text())
    body = {"properties": {"mode": "Incremental", "template": template,
                           "parameters": {"baseName": {"value": "labacr"}}}}
    with pytest.raises(HttpResponseError) as info:
        deployment_client.deployments.begin_create_or_update(group, "main", body).result()
    assert info.value.error.code == "DeploymentFailed"
    real = json.loads((DATA / "acr-pull-failure-01-deployment-result.json").read_text())
    deployment = deployment_client.deployments.get(group, "main")
    props = deployment.properties
    assert props.provisioning_state == real["provisioningState"] == "Failed"
    assert props.outputs is None
    error = props.error.as_dict()
    assert error["code"] == real["error"]["code"] and error["message"] == real["error"]["message"]
    assert error["target"].endswith("/providers/Microsoft.Resources/deployments/main")
    [detail] = error["details"]
    real_detail = real["error"]["details"][0]
    assert (detail["code"], detail["message"]) == (real_detail["code"], real_detail["message"])
    assert "/providers/Microsoft.App/containerApps/ca-labacr-" in detail["target"]

    ops = [op.as_dict() for op in deployment_client.deployment_operations.list(group, "main")]
    failed = [op for op in ops if op["properties"]["provisioningState"] == "Failed"]
    [real_op] = json.loads((DATA / "acr-pull-failure-01-deployment-operations-failed.json").read_text())
    assert len(failed) == 1
    op = failed[0]["properties"]
    assert op["targetResource"]["resourceType"] == real_op["resourceType"]
    app_name = op["targetResource"]["resourceName"]
    assert re.fullmatch(r"ca-labacr-[a-z0-9]{6}", app_name)
    assert set(op["statusMessage"]) >= {"status", "error"} and op["statusMessage"]["status"] == "Failed"
    got = op["statusMessage"]["error"]
    want = real_op["statusMessage"]["error"]
    assert got["code"] == want["code"] == "ContainerAppOperationError"
    login = f"acrlabacr{app_name[-6:]}.azurecr.io"
    expected = want["message"].replace("ca-labacr-rnnljl", app_name).replace("acrlabacrrnnljl.azurecr.io", login)
    assert got["message"] == expected
