"""The platform through the real SDK clients and raw HTTPS: resource groups, ARM errors, paging."""

from __future__ import annotations

import json
import uuid

import pytest
import requests
from azure.core.exceptions import HttpResponseError, ResourceNotFoundError

from pytest_acalab.emulator import Emulator


def _token(emu: Emulator) -> str:
    return emu.credential().get_token("https://management.azure.com/.default").token


def _raw(emu: Emulator, method: str, path: str, **kw) -> requests.Response:
    headers = kw.pop("headers", {})
    headers.setdefault("Authorization", f"Bearer {_token(emu)}")
    return requests.request(method, emu.url + path, headers=headers, verify=emu.ca_bundle, timeout=10, **kw)


def test_resource_group_create_get_tags_and_filter(resource_client) -> None:
    name = f"rg-{uuid.uuid4().hex[:6]}"
    created = resource_client.resource_groups.create_or_update(
        name, {"location": "koreacentral", "tags": {"acalab-lab": "demo", "team": "x"}})
    assert created.name == name and created.properties.provisioning_state == "Succeeded"
    assert resource_client.resource_groups.get(name.upper()).name == name  # case-insensitive
    other = f"rg-{uuid.uuid4().hex[:6]}"
    resource_client.resource_groups.create_or_update(other, {"location": "koreacentral", "tags": {"team": "y"}})
    by_tag = [g.name for g in resource_client.resource_groups.list(filter="tagName eq 'team' and tagValue eq 'x'")]
    assert by_tag == [name]
    by_name = {g.name for g in resource_client.resource_groups.list(filter="tagName eq 'team'")}
    assert {name, other} <= by_name
    resource_client.resource_groups.begin_delete(name).result()
    resource_client.resource_groups.begin_delete(other).result()
    assert not resource_client.resource_groups.check_existence(name)


def test_missing_group_is_arm_error(resource_client) -> None:
    with pytest.raises(ResourceNotFoundError) as info:
        resource_client.resource_groups.get("does-not-exist")
    assert info.value.error.code == "ResourceGroupNotFound"
    assert "Resource group 'does-not-exist' could not be found." in str(info.value)


def test_paging_follows_next_link(resource_client, emu: Emulator) -> None:
    names = [f"rg-page-{i}-{uuid.uuid4().hex[:4]}" for i in range(12)]
    for n in names:
        resource_client.resource_groups.create_or_update(n, {"location": "koreacentral", "tags": {"page": "1"}})
    raw = _raw(emu, "GET", f"/subscriptions/{emu.subscription_id}/resourcegroups?api-version=2024-03-01"
                           "&$filter=tagName eq 'page'")
    assert raw.status_code == 200 and "nextLink" in raw.json() and len(raw.json()["value"]) == 5
    listed = [g.name for g in resource_client.resource_groups.list(filter="tagName eq 'page'")]
    assert sorted(listed) == sorted(names)
    for n in names:
        resource_client.resource_groups.begin_delete(n).result()


def test_every_answer_carries_request_ids(emu: Emulator) -> None:
    r = _raw(emu, "GET", f"/subscriptions/{emu.subscription_id}?api-version=2022-12-01",
             headers={"x-ms-correlation-request-id": "corr-1", "Authorization": f"Bearer {_token(emu)}"})
    assert r.status_code == 200
    assert r.headers["x-ms-correlation-request-id"] == "corr-1"
    uuid.UUID(r.headers["x-ms-request-id"])
    bad = _raw(emu, "GET", f"/subscriptions/{emu.subscription_id}/resourcegroups/nope?api-version=2024-03-01")
    assert bad.status_code == 404 and "x-ms-request-id" in bad.headers


@pytest.mark.parametrize(
    ("method", "path", "body", "status", "code"),
    [
        ("GET", "/subscriptions/{s}/resourcegroups", None, 400, "MissingApiVersionParameter"),
        ("GET", "/subscriptions/{s}/resourcegroups?api-version=latest", None, 400, "InvalidApiVersionParameter"),
        ("GET", "/subscriptions/{s}/resourceGroups/{g}/providers/Microsoft.App/containerApps/x?api-version=2025",
         None, 400, "InvalidApiVersionParameter"),
        ("PUT", "/subscriptions/{s}/resourcegroups/rg-bad-json?api-version=2024-03-01", b"{not json", 400,
         "InvalidRequestContent"),
        ("PUT", "/subscriptions/{s}/resourcegroups/rg-no-location?api-version=2024-03-01", b"{}", 400,
         "LocationRequired"),
        ("GET", "/subscriptions/{s}/resourceGroups/{g}/providers/Microsoft.Foo/bars/x?api-version=2024-01-01",
         None, 404, "InvalidResourceNamespace"),
        ("GET", "/subscriptions/{s}/resourceGroups/{g}/providers/Microsoft.Web/sites/x"
                "?api-version=2023-01-01", None, 400, "NoRegisteredProviderFound"),
        ("GET", "/subscriptions/00000000-0000-0000-0000-000000000001/resourcegroups?api-version=2024-03-01",
         None, 404, "SubscriptionNotFound"),
    ],
)
def test_bad_requests_get_arm_errors_and_the_emulator_keeps_serving(
    emu: Emulator, group: str, method: str, path: str, body: bytes | None, status: int, code: str,
) -> None:
    r = _raw(emu, method, path.format(s=emu.subscription_id, g=group), data=body,
             headers={"Authorization": f"Bearer {_token(emu)}", "Content-Type": "application/json"})
    assert r.status_code == status, r.text
    assert r.json()["error"]["code"] == code
    assert set(r.json()["error"]) >= {"code", "message"}
    ok = _raw(emu, "GET", f"/subscriptions/{emu.subscription_id}/resourcegroups/{group}?api-version=2024-03-01")
    assert ok.status_code == 200


def test_unknown_type_in_known_namespace_is_invalid_resource_type(emu: Emulator, group: str) -> None:
    r = _raw(emu, "GET", f"/subscriptions/{emu.subscription_id}/resourceGroups/{group}/providers/"
                         "Microsoft.Resources/notAType/x?api-version=2024-03-01")
    assert r.status_code == 400 and r.json()["error"]["code"] == "InvalidResourceType"


def test_a_path_under_a_missing_resource_is_that_resources_404(emu: Emulator, group: str) -> None:
    """Recorded (az containerapp up, 2023): an environment id pasted after an environment path."""
    env = f"/subscriptions/{emu.subscription_id}/resourceGroups/{group}/providers/Microsoft.App/managedEnvironments"
    r = _raw(emu, "GET", f"{env}{env}/env1?api-version=2023-04-01-preview")
    assert r.status_code == 404 and r.json()["error"] == {
        "code": "ResourceNotFound",
        "message": f"The Resource 'Microsoft.App/managedEnvironments/subscriptions' under resource group '{group}' "
                   "was not found. For more details please go to https://aka.ms/ARMResourceNotFoundFix"}
    # an action on a resource that does not exist yet is still the action's (deployment validate)
    validate = (f"/subscriptions/{emu.subscription_id}/resourcegroups/{group}/providers/Microsoft.Resources/"
                "deployments/d-missing/validate?api-version=2024-03-01")
    assert _raw(emu, "POST", validate, data=b"{}").status_code != 404


def test_oversized_body_is_refused(emu: Emulator, group: str) -> None:
    from pytest_acalab.emulator.platform import server

    big = b'{"location":"x","tags":{"a":"' + b"x" * (server.MAX_BODY + 1) + b'"}}'
    r = _raw(emu, "PUT", f"/subscriptions/{emu.subscription_id}/resourcegroups/{group}?api-version=2024-03-01",
             data=big, headers={"Authorization": f"Bearer {_token(emu)}", "Content-Type": "application/json"})
    assert r.status_code == 413 and r.json()["error"]["code"] == "RequestEntityTooLarge"


def test_tokens_are_checked(emu: Emulator) -> None:
    path = f"/subscriptions/{emu.subscription_id}/resourcegroups?api-version=2024-03-01"
    assert _raw(emu, "GET", path, headers={"Authorization": ""}).json()["error"]["code"] == "AuthenticationFailed"
    forged = _token(emu)[:-4] + "AAAA"
    r = _raw(emu, "GET", path, headers={"Authorization": f"Bearer {forged}"})
    assert r.status_code == 401 and r.json()["error"]["code"] == "InvalidAuthenticationToken"


def test_wrong_client_secret_is_refused(emu: Emulator) -> None:
    from azure.core.exceptions import ClientAuthenticationError
    from azure.identity import ClientSecretCredential

    cred = ClientSecretCredential(emu.tenant_id, emu.client_id, "wrong", authority=emu.url,
                                  disable_instance_discovery=True, connection_verify=emu.ca_bundle)
    with pytest.raises(ClientAuthenticationError, match="AADSTS7000215"):
        cred.get_token("https://management.azure.com/.default")


def test_case_insensitive_paths_and_double_slashes(emu: Emulator, group: str) -> None:
    r = _raw(emu, "GET", f"//SUBSCRIPTIONS/{emu.subscription_id}/ResourceGroups/{group.upper()}"
                         "?api-version=2024-03-01")
    assert r.status_code == 200 and json.loads(r.text)["name"] == group


def test_delete_group_is_an_lro_with_location(emu: Emulator, resource_client) -> None:
    name = f"rg-del-{uuid.uuid4().hex[:6]}"
    resource_client.resource_groups.create_or_update(name, {"location": "koreacentral"})
    r = _raw(emu, "DELETE", f"/subscriptions/{emu.subscription_id}/resourcegroups/{name}?api-version=2024-03-01")
    assert r.status_code == 202
    assert "Location" in r.headers and int(r.headers["retry-after-ms"]) >= 1
    # follow this deletion's own Location (202 while running, then 200): a second DELETE could race it
    statuses = []
    for _ in range(1000):
        polled = requests.get(r.headers["Location"], headers={"Authorization": f"Bearer {_token(emu)}"},
                              verify=emu.ca_bundle, timeout=10)
        statuses.append(polled.status_code)
        if polled.status_code != 202:
            break
    assert statuses[-1] == 200 and set(statuses[:-1]) <= {202}, statuses
    assert not resource_client.resource_groups.check_existence(name)
    # the SDK's poller follows the same Location to the end
    other = f"rg-del-{uuid.uuid4().hex[:6]}"
    resource_client.resource_groups.create_or_update(other, {"location": "koreacentral"})
    resource_client.resource_groups.begin_delete(other).result()
    assert not resource_client.resource_groups.check_existence(other)


def test_emulator_refuses_bad_profile() -> None:
    with pytest.raises(ValueError, match="unknown clock profile"):
        Emulator(profile="slow")


def test_throttling_when_faults_are_on(emu: Emulator, resource_client) -> None:
    emu.platform.faults.configure(1.0, kinds=("429",))
    try:
        r = _raw(emu, "GET", f"/subscriptions/{emu.subscription_id}/resourcegroups?api-version=2024-03-01")
        assert r.status_code == 429 and r.headers["Retry-After"] == "1"
    finally:
        emu.platform.faults.configure(0.0)
    assert resource_client.resource_groups.check_existence("rg-not-there") is False  # serving normally again


def test_a_group_whose_delete_stalled_and_failed_can_be_deleted_again(emu: Emulator, resource_client) -> None:
    name = f"rg-stall-{uuid.uuid4().hex[:6]}"
    resource_client.resource_groups.create_or_update(name, {"location": "koreacentral"})
    emu.platform.faults.configure(0.0, stall_then_fail=1.0)
    try:
        with pytest.raises(HttpResponseError):
            resource_client.resource_groups.begin_delete(name).result()
    finally:
        emu.platform.faults.configure(0.0)
    assert resource_client.resource_groups.get(name).properties.provisioning_state == "Succeeded"
    resource_client.resource_groups.begin_delete(name).result()
    assert not resource_client.resource_groups.check_existence(name)
