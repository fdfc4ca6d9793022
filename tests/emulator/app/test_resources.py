"""Managed environments and container apps through azure-mgmt-appcontainers and raw HTTP."""

from __future__ import annotations

import re
import uuid
from typing import Any

import pytest
from app_helpers import LOCATION, Lab, wait_until
from azure.core.exceptions import HttpResponseError, ResourceNotFoundError

GOOD = "acrlab.azurecr.io/labacr:v1"


def _raw(lab: Lab, method: str, path: str, body: Any = None) -> Any:
    token = lab.emu.credential().get_token("https://management.azure.com/.default").token
    sep = "&" if "?" in path else "?"
    return lab.session.request(method, f"{lab.emu.url}{path}{sep}api-version=2026-07-01", json=body,
                               headers={"Authorization": f"Bearer {token}"}, verify=lab.emu.ca_bundle, timeout=10)


def _rg_path(lab: Lab, kind: str, name: str) -> str:
    return f"/subscriptions/{lab.emu.subscription_id}/resourceGroups/{lab.rg}/providers/Microsoft.App/{kind}/{name}"


# environments -------------------------------------------------------------------------------------
def test_environment_create_lro_and_shape(lab: Lab) -> None:
    body = {"location": LOCATION, "properties": {"appLogsConfiguration": {
        "destination": "log-analytics",
        "logAnalyticsConfiguration": {"customerId": lab.customer_id, "sharedKey": lab.shared_key}}}}
    resp = _raw(lab, "PUT", _rg_path(lab, "managedEnvironments", "env-two"), body)
    assert resp.status_code == 201
    assert re.search(r"/providers/Microsoft\.App/locations/koreacentral/managedEnvironmentOperationStatuses/"
                     r"[0-9a-f-]{36}\?api-version=2026-07-01&azureAsyncOperation=true$",
                     resp.headers["Azure-AsyncOperation"])
    assert resp.json()["properties"]["provisioningState"] == "Waiting"
    assert lab.shared_key not in resp.text
    env = wait_until(lambda: (e := lab.client.managed_environments.get(lab.rg, "env-two")).provisioning_state
                     == "Succeeded" and e, "environment provisioned")
    assert re.fullmatch(r"[a-z]+-[0-9a-f]{8}\.koreacentral\.azurecontainerapps\.io", env.default_domain)
    assert re.fullmatch(r"\d+\.\d+\.\d+\.\d+", env.static_ip)
    assert env.app_logs_configuration.log_analytics_configuration.shared_key is None
    assert env.event_stream_endpoint.endswith(f"/resourceGroups/{lab.rg}/managedEnvironments/env-two/eventstream")
    assert "env-two" in [e.name for e in lab.client.managed_environments.list_by_resource_group(lab.rg)]
    assert "env-two" in [e.name for e in lab.client.managed_environments.list_by_subscription()]


@pytest.mark.parametrize("customer, key, message", [
    ("use-lab", "wrong-key", "LogAnalyticsConfiguration is invalid.  Must provide a valid LogAnalyticsConfiguration"),
    ("not-a-guid", "k", "LogAnalyticsConfiguration.CustomerId is invalid.  CustomerId must be a GUID without "
                        "additional whiteSpace."),
])
def test_environment_bad_log_analytics_config_is_refused(lab: Lab, customer: str, key: str, message: str) -> None:
    customer = lab.customer_id if customer == "use-lab" else customer
    with pytest.raises(HttpResponseError) as err:
        lab.client.managed_environments.begin_create_or_update(lab.rg, "env-bad", {
            "location": LOCATION, "properties": {"appLogsConfiguration": {
                "destination": "log-analytics",
                "logAnalyticsConfiguration": {"customerId": customer, "sharedKey": key}}}}).result()
    assert err.value.status_code == 400 and err.value.error.code == "InvalidRequestParameterWithDetails"
    assert err.value.error.message == message
    with pytest.raises(ResourceNotFoundError):
        lab.client.managed_environments.get(lab.rg, "env-bad")


def test_environment_auth_token_both_spellings(lab: Lab) -> None:
    assert lab.client.managed_environments.get_auth_token(lab.rg, "env-lab").token  # SDK: getAuthtoken
    resp = _raw(lab, "POST", _rg_path(lab, "managedEnvironments", "env-lab") + "/getAuthToken")
    assert resp.status_code == 200 and resp.json()["properties"]["token"].count(".") == 2


def test_environment_patch_and_delete(lab: Lab) -> None:
    env = lab.client.managed_environments.begin_update(lab.rg, "env-lab", {"tags": {"k": "v"}}).result()
    assert env.tags == {"k": "v"}
    lab.client.managed_environments.begin_delete(lab.rg, "env-lab").result()
    with pytest.raises(ResourceNotFoundError):
        lab.client.managed_environments.get(lab.rg, "env-lab")


# container apps -----------------------------------------------------------------------------------
def test_app_create_patch_delete_on_the_wire(lab: Lab) -> None:
    path = _rg_path(lab, "containerApps", "ca-wire")
    resp = _raw(lab, "PUT", path, lab.app_body(GOOD))
    assert resp.status_code == 201
    assert resp.headers["x-ms-async-operation-timeout"] == "PT15M"
    assert "/locations/koreacentral/containerappOperationStatuses/" in resp.headers["Azure-AsyncOperation"]
    assert resp.json()["properties"]["provisioningState"] == "InProgress"
    wait_until(lambda: _raw(lab, "GET", path).json()["properties"]["provisioningState"] == "Succeeded", "created")
    resp = _raw(lab, "PATCH", path, {"properties": {"template": {"scale": {"minReplicas": 0}, "revisionSuffix": None}}})
    assert resp.status_code == 202
    assert "/containerappOperationResults/" in resp.headers["Location"]
    assert "/containerappOperationStatuses/" in resp.headers["Azure-AsyncOperation"]
    resp = _raw(lab, "DELETE", path)
    assert resp.status_code == 202 and "/containerappOperationResults/" in resp.headers["Location"]
    wait_until(lambda: _raw(lab, "GET", path).status_code == 404, "deleted")


def test_app_shape_secrets_identity_and_lists(lab: Lab) -> None:
    config = {"activeRevisionsMode": "Single", "ingress": {"external": True, "targetPort": 8000},
              "secrets": [{"name": "acr-password", "value": "s3cret-value"}],
              "registries": [{"server": "acrlab.azurecr.io", "username": "acrlab",
                              "passwordSecretRef": "acr-password"}]}
    body = lab.app_body(GOOD, configuration=config)
    body["identity"] = {"type": "SystemAssigned"}
    app = lab.client.container_apps.begin_create_or_update(lab.rg, "ca-shape", body).result()
    env = lab.client.managed_environments.get(lab.rg, "env-lab")
    assert app.configuration.ingress.fqdn == f"ca-shape.{env.default_domain}"
    assert app.latest_revision_fqdn == f"{app.latest_revision_name}.{env.default_domain}"
    assert re.fullmatch(r"ca-shape--[a-z0-9]{7}", app.latest_revision_name)
    assert app.running_status == "Running" and app.outbound_ip_addresses
    assert app.identity.principal_id and uuid.UUID(app.identity.principal_id)
    assert app.event_stream_endpoint.endswith(f"/resourceGroups/{lab.rg}/containerApps/ca-shape/eventstream")
    raw = _raw(lab, "GET", _rg_path(lab, "containerApps", "ca-shape")).text
    assert "s3cret-value" not in raw
    secrets = lab.client.container_apps.list_secrets(lab.rg, "ca-shape").value
    assert [(s.name, s.value) for s in secrets] == [("acr-password", "s3cret-value")]
    image, auth = lab.registry.calls[0]
    assert (image, auth.username, auth.password) == (GOOD, "acrlab", "s3cret-value")
    assert "ca-shape" in [a.name for a in lab.client.container_apps.list_by_resource_group(lab.rg)]
    assert "ca-shape" in [a.name for a in lab.client.container_apps.list_by_subscription()]
    assert lab.client.container_apps.get_auth_token(lab.rg, "ca-shape").token


def test_new_revision_only_when_the_template_changes(lab: Lab) -> None:
    first = lab.create("ca-rev", GOOD).latest_revision_name
    body = lab.app_body(GOOD)
    body["properties"]["configuration"]["ingress"]["external"] = False
    assert lab.client.container_apps.begin_create_or_update(lab.rg, "ca-rev", body).result() \
        .latest_revision_name == first
    body["properties"]["template"]["revisionSuffix"] = "v2"
    second = lab.client.container_apps.begin_create_or_update(lab.rg, "ca-rev", body).result().latest_revision_name
    assert second == "ca-rev--v2"
    body["properties"]["template"]["containers"][0]["env"] = [{"name": "A", "value": "1"}]
    with pytest.raises(HttpResponseError) as err:  # same suffix, new template: names are unique
        lab.client.container_apps.begin_create_or_update(lab.rg, "ca-rev", body).result()
    assert err.value.error.code == "ContainerAppOperationError"  # the LRO fails, see the suffix test below
    assert set(lab.revisions("ca-rev")) == {first, second}


def test_replicas_names_and_states(lab: Lab) -> None:
    app = lab.create("ca-rep", GOOD)
    rev = lab.revision_when("ca-rep", app.latest_revision_name, lambda r: r.health_state == "Healthy", "healthy")
    replicas = lab.client.container_apps_revision_replicas.list_replicas(lab.rg, "ca-rep", rev.name).value
    assert len(replicas) == 1
    assert re.fullmatch(rf"{rev.name}-[0-9a-f]{{10}}-[a-z0-9]{{5}}", replicas[0].name)
    one = lab.client.container_apps_revision_replicas.get_replica(lab.rg, "ca-rep", rev.name, replicas[0].name)
    assert one.running_state == "Running" and one.containers[0].running_state == "Running"
    assert one.containers[0].ready is True


def test_single_mode_deactivates_and_multiple_mode_keeps_revisions(lab: Lab) -> None:
    for mode in ("Single", "Multiple"):
        name = f"ca-{mode.lower()}"
        body = lab.app_body(GOOD)
        body["properties"]["configuration"]["activeRevisionsMode"] = mode
        first = lab.client.container_apps.begin_create_or_update(lab.rg, name, body).result().latest_revision_name
        lab.revision_when(name, first, lambda r: r.health_state == "Healthy", "first healthy")
        body["properties"]["template"]["containers"][0]["image"] = "acrlab.azurecr.io/labacr:v2"
        if mode == "Multiple":
            body["properties"]["configuration"]["ingress"]["traffic"] = [
                {"revisionName": first, "weight": 80}, {"latestRevision": True, "weight": 20}]
        second = lab.client.container_apps.begin_create_or_update(lab.rg, name, body).result().latest_revision_name
        lab.revision_when(name, second, lambda r: r.health_state == "Healthy", "second healthy")
        if mode == "Single":
            old = lab.revision_when(name, first, lambda r: not r.active, "first deactivated")
            assert old.running_state == "Stopped" and old.traffic_weight == 0
            assert "RevisionDeactivating" in [x["Reason"] for x in lab.system_lines(name)]
        else:
            revs = lab.revisions(name)
            assert revs[first].active and revs[second].active
            assert (revs[first].traffic_weight, revs[second].traffic_weight) == (80, 20)
            lab.client.container_apps_revisions.deactivate_revision(lab.rg, name, first)
            assert not lab.revisions(name)[first].active
            lab.client.container_apps_revisions.activate_revision(lab.rg, name, first)
            lab.revision_when(name, first, lambda r: r.active and r.health_state == "Healthy", "reactivated")


# (mutation, code, a fragment of the message). Sources of the real answers: missing image
# Azure-Samples/container-apps-store-api-microservice#27; scale MicrosoftDocs/azure-docs#89742; no environment id
# microsoft/azure-container-apps#194; env secretRef pulumi/pulumi-azure-native#1715. The rest are unsourced.
BAD_INPUTS = {
    "missing image": (lambda b: b["properties"]["template"]["containers"][0].pop("image"), "ContainerAppImageRequired",
                      "Container with name 'app' must have an 'Image' property specified."),
    "bad container name": (lambda b: b["properties"]["template"]["containers"][0].update(name="App_1"),
                           "InvalidParameterValueInContainerTemplate", "App_1"),
    "cpu/memory pair": (lambda b: b["properties"]["template"]["containers"][0].update(
        resources={"cpu": 0.5, "memory": "0.5Gi"}), "ContainerAppInvalidResourceTotal", ""),
    "negative replicas": (lambda b: b["properties"]["template"]["scale"].update(minReplicas=-1),
                          "ContainerAppInvalidScaleSpec", "The scale options provided for Container App '"),
    "min above max": (lambda b: b["properties"]["template"]["scale"].update(minReplicas=5, maxReplicas=2),
                      "ContainerAppInvalidScaleSpec", "maxReplicas must not be less than minReplicas"),
    "no environment": (lambda b: b["properties"].pop("environmentId"),
                       "InvalidManagedEnvironmentId", "Invalid ManagedEnvironmentId value ''."),
    "unknown environment": (lambda b: b["properties"].update(environmentId=b["properties"]["environmentId"] + "x"),
                            "ManagedEnvironmentNotFound", ""),
    "unknown registry secret ref": (lambda b: b["properties"]["configuration"].update(
        registries=[{"server": "acrlab.azurecr.io", "username": "u", "passwordSecretRef": "nope"}]),
        "ContainerAppRegistriesPasswordSecretRefNotFound",
        "PasswordSecretRef 'nope' defined for registry server 'acrlab.azurecr.io' not found."),
    "unknown env secret ref": (lambda b: b["properties"]["template"]["containers"][0].update(
        env=[{"name": "TOKEN", "secretRef": "nope"}]),
        "ContainerAppSecretRefNotFound", "SecretRef 'nope' defined for container 'app' not found."),
}


@pytest.mark.parametrize("case", list(BAD_INPUTS))
def test_bad_input_is_refused_without_state_change(lab: Lab, case: str) -> None:
    mutate, code, fragment = BAD_INPUTS[case]
    before = lab.create("ca-ok", GOOD).as_dict()
    for name in ("ca-new", "ca-ok"):
        body = lab.app_body(GOOD)
        mutate(body)
        with pytest.raises(HttpResponseError) as err:
            lab.client.container_apps.begin_create_or_update(lab.rg, name, body).result()
        assert err.value.error.code == code
        assert fragment in err.value.error.message
    with pytest.raises(ResourceNotFoundError):
        lab.client.container_apps.get(lab.rg, "ca-new")
    after = lab.client.container_apps.get(lab.rg, "ca-ok").as_dict()
    assert after["properties"]["template"] == before["properties"]["template"]
    assert after["properties"]["provisioningState"] == "Succeeded"


def test_env_secret_ref_to_a_defined_secret_is_accepted(lab: Lab) -> None:
    body = lab.app_body(GOOD)
    body["properties"]["configuration"]["secrets"] = [{"name": "token", "value": "s3cret"}]
    body["properties"]["template"]["containers"][0]["env"] = [{"name": "TOKEN", "secretRef": "token"}]
    app = lab.client.container_apps.begin_create_or_update(lab.rg, "ca-secret", body).result()
    assert app.template.containers[0].env[0].secret_ref == "token"


def test_reused_revision_suffix_fails_the_operation(lab: Lab) -> None:
    # Real shape: the LRO fails with case A's wording, field 'template.revisionsuffix'
    # (Azure/terraform-azurerm-avm-res-app-containerapp#115, microsoft/azure-container-apps#1278).
    body = lab.app_body(GOOD)
    body["properties"]["template"]["revisionSuffix"] = "one"
    lab.client.container_apps.begin_create_or_update(lab.rg, "ca-suffix", body).result()
    body["properties"]["template"]["revisionSuffix"] = "two"
    lab.client.container_apps.begin_create_or_update(lab.rg, "ca-suffix", body).result()
    body["properties"]["template"]["revisionSuffix"] = "one"
    body["properties"]["template"]["containers"][0]["image"] = "acrlab.azurecr.io/labacr:v2"
    with pytest.raises(HttpResponseError) as err:
        lab.client.container_apps.begin_create_or_update(lab.rg, "ca-suffix", body).result()
    assert err.value.error.code == "ContainerAppOperationError"
    assert err.value.error.message.startswith("Failed to provision revision for container app 'ca-suffix'.")
    assert "Field 'template.revisionsuffix' is invalid with details: 'Invalid value: \"one\": revision with " \
           "suffix one already exists'" in err.value.error.message
    assert sorted(lab.revisions("ca-suffix")) == ["ca-suffix--one", "ca-suffix--two"]


def test_cpu_memory_message_lists_the_allowed_pairs(lab: Lab) -> None:
    body = lab.app_body(GOOD)
    body["properties"]["template"]["containers"][0]["resources"] = {"cpu": 4, "memory": "8Gi"}
    with pytest.raises(HttpResponseError) as err:
        lab.client.container_apps.begin_create_or_update(lab.rg, "ca-big", body).result()
    assert err.value.error.message == (
        "The total requested CPU and memory resources for this application (CPU: 4, memory: 8) is invalid. Total CPU "
        "and memory for all containers defined in a Container App must add up to one of the following CPU - Memory "
        "combinations: [cpu: 0.25, memory: 0.5Gi]; [cpu: 0.5, memory: 1.0Gi]; [cpu: 0.75, memory: 1.5Gi]; "
        "[cpu: 1.0, memory: 2.0Gi]; [cpu: 1.25, memory: 2.5Gi]; [cpu: 1.5, memory: 3.0Gi]; [cpu: 1.75, memory: 3.5Gi]; "
        "[cpu: 2.0, memory: 4.0Gi]")


def test_without_a_registry_service_no_container_is_pretended_to_run(lab: Lab) -> None:
    """No registry provider: the pull is not refused, but no image content exists to run: never a Healthy."""
    lab.emu.platform.services.registry = None
    app = lab.create("ca-noreg", "nowhere.example/none:v9")
    rev = lab.revision_json_when("ca-noreg", app.latest_revision_name,
                                 lambda r: "content is not available" in (r.get("runningStateDetails") or ""),
                                 "the reason")["properties"]
    assert rev["healthState"] == "None" and rev["runningState"] == "Activating" and lab.registry.calls == []
    reasons = lab.emu.platform.unmodelled_under(app.id.rsplit("/providers/", 1)[0])
    assert reasons and "nowhere.example/none:v9" in reasons[0]


def test_each_new_revision_shows_a_later_created_time_even_on_the_fast_clock(lab: Lab) -> None:
    """Azure answers createdTime to the second and an update takes it 15 s or more, so successive revisions always
    show increasing times (the Practical Guide's observability-tracing H2 gate compares them); the fast clock
    makes three updates in well under a second, and their order must survive."""
    made = [lab.create("times", "mcr.microsoft.com/k8se/quickstart:latest").latest_revision_name]
    for value in ("1", "2", "3"):
        containers = lab.client.container_apps.get(lab.rg, "times").as_dict()["properties"]["template"]["containers"]
        containers[0]["env"] = [{"name": "STEP", "value": value}]
        lab.client.container_apps.begin_update(lab.rg, "times", {"properties": {"template": {
            "containers": containers}}}).result()
        made.append(lab.client.container_apps.get(lab.rg, "times").latest_revision_name)
    listed = _raw(lab, "GET", _rg_path(lab, "containerApps", "times") + "/revisions").json()["value"]
    created = {r["name"]: r["properties"]["createdTime"] for r in listed}
    times = [created[name] for name in made]
    assert len(set(made)) == 4 and all(re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+00:00", t) for t in times)
    assert sorted(set(times)) == times  # strictly increasing, in the order the revisions were made
