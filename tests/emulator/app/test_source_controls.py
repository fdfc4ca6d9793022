"""GitHub Actions source control on container apps (``containerApps/sourcecontrols``) through the real
``ContainerAppsAPIClient.container_apps_source_controls``: shapes and long-running operations as the REST spec
(Microsoft.App SourceControls.json) and its examples give them, secrets never answered, bad input refused."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
from app_helpers import Lab
from azure.core.exceptions import HttpResponseError, ResourceNotFoundError

PAT, CLIENT_SECRET, REGISTRY_PASSWORD = "ghp-pat-never-shown", "sp-secret-never-shown", "acr-password-never-shown"
ENVELOPE = {"properties": {
    "repoUrl": "https://github.com/contoso/ghatest", "branch": "main",
    "githubActionConfiguration": {
        "registryInfo": {"registryUrl": "acrlab.azurecr.io", "registryUserName": "acrlab",
                         "registryPassword": REGISTRY_PASSWORD},
        "azureCredentials": {"clientId": "00000000-0000-0000-0000-00000000c11d", "clientSecret": CLIENT_SECRET,
                             "tenantId": "00000000-0000-0000-0000-0000000000aa", "kind": "feature",
                             "subscriptionId": "00000000-0000-0000-0000-000000000000"},
        "contextPath": "./", "image": "ghatest:latest", "githubPersonalAccessToken": PAT}}}


def _raw(lab: Lab, app: str, name: str) -> dict[str, Any]:
    return lab.client.container_apps_source_controls.get(
        lab.rg, app, name, cls=lambda response, _model, _headers: response.http_response.json())


def test_a_source_control_is_created_read_listed_and_deleted(lab: Lab) -> None:
    app = lab.create("cd-app", "mcr.microsoft.com/k8se/quickstart:latest")
    api = lab.client.container_apps_source_controls
    done = api.begin_create_or_update(lab.rg, "cd-app", "current", ENVELOPE).result()
    assert (done.name, done.type, done.id.lower()) == ("current", "Microsoft.App/containerapps/sourcecontrols",
                                                       f"{app.id}/sourcecontrols/current".lower())
    assert done.properties.operation_state == "Succeeded"
    assert (done.properties.repo_url, done.properties.branch) == ("https://github.com/contoso/ghatest", "main")
    # what the spec's example answers: the readable fields, never the secrets nor the write-only ones
    raw = _raw(lab, "cd-app", "current")
    config = raw["properties"]["githubActionConfiguration"]
    assert config == {"registryInfo": {"registryUrl": "acrlab.azurecr.io", "registryUserName": "acrlab"},
                      "azureCredentials": {"subscriptionId": "00000000-0000-0000-0000-000000000000"},
                      "contextPath": "./", "image": "ghatest:latest"}
    assert set(raw) == {"id", "name", "type", "properties"}
    text = json.dumps(raw)
    for secret in (PAT, CLIENT_SECRET, REGISTRY_PASSWORD):
        assert secret not in text and secret in lab.emu.platform.secrets
    assert [s.name for s in api.list_by_container_app(lab.rg, "cd-app")] == ["current"]
    # GitHub is out of reach: said, so a lab relying on it gets no verdict
    reasons = lab.emu.platform.unmodelled_under(app.id)
    assert len(reasons) == 1 and "does not reach GitHub" in reasons[0] and "current" in reasons[0]
    # no revision is minted by connecting (the workflow, which never runs here, would do that)
    assert list(lab.revisions("cd-app")) == [app.latest_revision_name]
    api.begin_delete(lab.rg, "cd-app", "current").result()
    with pytest.raises(ResourceNotFoundError) as gone:
        api.get(lab.rg, "cd-app", "current")
    assert gone.value.error.code == "ResourceNotFound" and "sourcecontrols/current" in gone.value.error.message
    assert list(api.list_by_container_app(lab.rg, "cd-app")) == []
    api.begin_delete(lab.rg, "cd-app", "current").result()  # 204: "does not exist" is not an error


def test_the_put_is_a_long_running_operation_with_a_location(lab: Lab) -> None:
    lab.create("cd-app", "mcr.microsoft.com/k8se/quickstart:latest")
    url = (f"{lab.emu.url}/subscriptions/{lab.emu.subscription_id}/resourceGroups/{lab.rg}/providers/"
           "Microsoft.App/containerApps/cd-app/sourcecontrols/current?api-version=2024-03-01")
    from azure.core.rest import HttpRequest

    created = lab.client._client.send_request(HttpRequest("PUT", url, json=ENVELOPE))
    assert created.status_code == 201 and created.json()["properties"]["operationState"] == "InProgress"
    location = created.headers["Location"]
    assert "/sourcecontrols/currentInOperationModel/operationresults/" in location
    again = lab.client._client.send_request(HttpRequest("PUT", url, json=ENVELOPE))
    assert again.status_code == 200  # an existing source control is updated


def _bad(envelope: dict[str, Any], path: tuple[str, ...], value: Any) -> dict[str, Any]:
    out = copy.deepcopy(envelope)
    cur = out
    for key in path[:-1]:
        cur = cur[key]
    if value is None:
        del cur[path[-1]]
    else:
        cur[path[-1]] = value
    return out


@pytest.mark.parametrize(("body", "code", "words"), [
    ({}, "InvalidRequestContent", "must have a 'properties' object"),
    (_bad(ENVELOPE, ("properties", "repoUrl"), None), "InvalidRequestParameterWithDetails",
     "SourceControl 'current' of container app 'cd-app': 'properties.repoUrl' is required."),
    (_bad(ENVELOPE, ("properties", "repoUrl"), "https://gitlab.com/contoso/ghatest"),
     "InvalidRequestParameterWithDetails", "must be a GitHub repository URL"),
    (_bad(ENVELOPE, ("properties", "branch"), None), "InvalidRequestParameterWithDetails",
     "'properties.branch' is required."),
    (_bad(ENVELOPE, ("properties", "githubActionConfiguration", "registryInfo"), "acrlab"),
     "InvalidRequestContent", "'properties.githubActionConfiguration.registryInfo' must be an object."),
])
def test_bad_input_is_refused_with_what_and_where_and_nothing_is_kept(lab: Lab, body: dict[str, Any], code: str,
                                                                      words: str) -> None:
    lab.create("cd-app", "mcr.microsoft.com/k8se/quickstart:latest")
    api = lab.client.container_apps_source_controls
    with pytest.raises(HttpResponseError) as err:
        api.begin_create_or_update(lab.rg, "cd-app", "current", body).result()
    assert err.value.status_code == 400
    assert err.value.error.code == code and words in err.value.error.message
    assert list(api.list_by_container_app(lab.rg, "cd-app")) == []
    assert lab.emu.platform.unmodelled_under(f"/subscriptions/{lab.emu.subscription_id}/resourceGroups/{lab.rg}") \
        == []


def test_a_source_control_of_a_missing_app_is_azure_s_resource_not_found(lab: Lab) -> None:
    api = lab.client.container_apps_source_controls
    with pytest.raises(ResourceNotFoundError) as err:
        api.begin_create_or_update(lab.rg, "no-such-app", "current", ENVELOPE).result()
    assert err.value.error.code == "ResourceNotFound"
    assert "Microsoft.App/containerApps/no-such-app" in err.value.error.message
    with pytest.raises(ResourceNotFoundError):
        list(api.list_by_container_app(lab.rg, "no-such-app"))


def test_a_template_deployment_writes_a_source_control_through_the_same_provider(lab: Lab) -> None:
    from azure.mgmt.resource.deployments import DeploymentsMgmtClient

    lab.create("cd-app", "mcr.microsoft.com/k8se/quickstart:latest")
    deployments = DeploymentsMgmtClient(lab.emu.credential(), lab.emu.subscription_id, **lab.emu.client_kwargs())
    template = {"$schema": "https://schema.management.azure.com/schemas/2019-04-01/deploymentTemplate.json#",
                "contentVersion": "1.0.0.0", "resources": [{
                    "type": "Microsoft.App/containerApps/sourcecontrols", "apiVersion": "2024-03-01",
                    "name": "cd-app/current", "properties": ENVELOPE["properties"]}]}
    done = deployments.deployments.begin_create_or_update(
        lab.rg, "cd", {"properties": {"mode": "Incremental", "template": template}}).result()
    assert done.properties.provisioning_state == "Succeeded"
    shown = lab.client.container_apps_source_controls.get(lab.rg, "cd-app", "current")
    assert shown.properties.operation_state == "Succeeded" and shown.properties.branch == "main"
    bad = {**template, "resources": [{**template["resources"][0], "properties": {"branch": "main"}}]}
    with pytest.raises(HttpResponseError) as err:
        deployments.deployments.begin_create_or_update(
            lab.rg, "cd-bad", {"properties": {"mode": "Incremental", "template": bad}}).result()
    assert "'properties.repoUrl' is required." in str(err.value)
