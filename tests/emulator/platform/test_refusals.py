"""The emulator refuses what Azure refuses, with Azure's codes: tokens (audience per endpoint, issuer,
signature, exp, nbf) through the real SDK clients, and ARM's input rules (tags on PUT and PATCH,
percent-decoded names, strict JSON, size, depth and expression limits): 400s, never a 500."""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

import pytest
import requests
from azure.core.credentials import AccessToken
from azure.core.exceptions import ClientAuthenticationError, HttpResponseError
from azure.identity import ClientSecretCredential
from azure.mgmt.resource.resources import ResourceManagementClient

from pytest_acalab.emulator import Emulator


class StaticToken:
    """A credential that hands out one given token, as a misconfigured client would."""

    def __init__(self, token: str) -> None:
        self.token = token

    def get_token(self, *scopes: str, **kwargs: Any) -> AccessToken:
        return AccessToken(self.token, int(time.time()) + 3600)


def _claims(emu: Emulator, **overrides: Any) -> dict[str, Any]:
    now = int(time.time())
    sp = next(iter(emu.platform.identity.principals.values()))
    claims = {"aud": "https://management.azure.com/", "iss": emu.platform.identity.issuer, "iat": now, "nbf": now,
              "exp": now + 3600, "tid": emu.tenant_id, "oid": sp.object_id, "appid": sp.client_id}
    claims.update(overrides)
    return claims


def _arm(emu: Emulator, credential: Any) -> ResourceManagementClient:
    return ResourceManagementClient(credential, emu.subscription_id, polling_interval=0, retry_total=0,
                                    **emu.client_kwargs())


def _refused(emu: Emulator, credential: Any) -> dict[str, Any]:
    with pytest.raises(ClientAuthenticationError) as info:
        _arm(emu, credential).resource_groups.get("rg-anything")
    assert info.value.status_code == 401
    return {"code": info.value.error.code, "message": info.value.error.message}


def test_a_token_minted_for_key_vault_is_refused_by_arm(emu: Emulator) -> None:
    cred = ClientSecretCredential(emu.tenant_id, emu.client_id, emu.client_secret, authority=emu.url,
                                  disable_instance_discovery=True, connection_verify=emu.ca_bundle)
    vault_token = cred.get_token("https://vault.azure.net/.default").token
    error = _refused(emu, StaticToken(vault_token))
    assert error["code"] == "InvalidAuthenticationTokenAudience"
    assert error["message"] == (
        "The access token has been obtained for wrong audience or resource 'https://vault.azure.net'. It should "
        "exactly match with one of the allowed audiences 'https://management.core.windows.net/',"
        "'https://management.core.windows.net','https://management.azure.com/','https://management.azure.com'.")
    # the same principal's ARM token works
    assert _arm(emu, StaticToken(cred.get_token("https://management.azure.com/.default").token)
                ).resource_groups.check_existence("rg-anything") is False


def test_a_token_not_yet_valid_is_refused(emu: Emulator) -> None:
    future = emu.platform.identity.sign(_claims(emu, nbf=int(time.time()) + 3600))
    error = _refused(emu, StaticToken(future))
    assert error["code"] == "InvalidAuthenticationToken" and "not yet valid" in error["message"]


def test_an_expired_token_is_refused_with_arms_wording(emu: Emulator) -> None:
    expired = emu.platform.identity.sign(_claims(emu, exp=int(time.time()) - 3600, nbf=int(time.time()) - 7200))
    error = _refused(emu, StaticToken(expired))
    assert error["code"] == "ExpiredAuthenticationToken"
    assert error["message"].startswith("The access token expiry UTC time '") and "is earlier than current UTC time" \
        in error["message"]


def test_a_token_from_another_tenant_or_authority_is_refused(emu: Emulator) -> None:
    other_tenant = emu.platform.identity.sign(_claims(emu, iss="https://sts.windows.net/another-tenant/"))
    assert _refused(emu, StaticToken(other_tenant))["code"] == "InvalidAuthenticationTokenTenant"
    from pytest_acalab.emulator.platform.identity import Identity

    forged = Identity(emu.tenant_id).sign(_claims(emu))  # right claims, another signing key
    assert _refused(emu, StaticToken(forged)) == {"code": "InvalidAuthenticationToken",
                                                  "message": "The access token is invalid."}


def test_log_analytics_refuses_an_arm_token(emu: Emulator) -> None:
    from azure.monitor.query import LogsQueryClient

    arm_only = LogsQueryClient(emu.credential(), endpoint=emu.logs_endpoint, connection_verify=emu.ca_bundle,
                               audience="https://management.azure.com")
    with pytest.raises(HttpResponseError) as info:
        arm_only.query_workspace(str(uuid.uuid4()), "print 1", timespan=None)
    assert info.value.status_code == 403 and info.value.error.code == "InvalidTokenError"


def test_a_registry_exchange_refuses_a_token_for_another_audience(emu: Emulator) -> None:
    cred = ClientSecretCredential(emu.tenant_id, emu.client_id, emu.client_secret, authority=emu.url,
                                  disable_instance_discovery=True, connection_verify=emu.ca_bundle)
    group = f"/subscriptions/{emu.subscription_id}/resourcegroups/rg-refusals"
    assert emu.platform.call("PUT", group, {"location": "koreacentral"}, "2024-03-01").status in (200, 201)
    created = emu.platform.call("PUT", f"{group}/providers/Microsoft.ContainerRegistry/registries/acrrefusals",
                                {"location": "koreacentral", "sku": {"name": "Basic"}}, "2023-07-01")
    assert created.status in (200, 201), created.payload()
    login_server = "acrrefusals.azurecr.io"
    endpoint = emu.registry_endpoint(login_server)
    form = {"grant_type": "access_token", "service": login_server}
    vault = requests.post(f"{endpoint}/oauth2/exchange", verify=emu.ca_bundle, timeout=30,
                          data={**form, "access_token": cred.get_token("https://vault.azure.net/.default").token})
    assert vault.status_code == 401 and vault.json()["errors"][0]["code"] == "UNAUTHORIZED"
    assert "another audience" in vault.json()["errors"][0]["message"]


# ---------------------------------------------------------------------------------------------- input
def _raw(emu: Emulator, method: str, path: str, body: bytes | None = None) -> requests.Response:
    token = emu.credential().get_token("https://management.azure.com/.default").token
    return requests.request(method, emu.url + path, data=body, verify=emu.ca_bundle, timeout=60,
                            headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"})


def _rg(emu: Emulator, name: str) -> str:
    return f"/subscriptions/{emu.subscription_id}/resourcegroups/{name}?api-version=2024-03-01"


@pytest.mark.parametrize("name", ["rg(1)", "rg-été", "rg_日本.x"])
def test_valid_group_names_with_parentheses_and_unicode_letters_are_accepted(resource_client, name: str) -> None:
    created = resource_client.resource_groups.create_or_update(name, {"location": "koreacentral"})
    try:
        assert created.name == name and resource_client.resource_groups.get(name).name == name
    finally:
        resource_client.resource_groups.begin_delete(name).result()


def test_invalid_group_names_name_the_characters(resource_client) -> None:
    with pytest.raises(HttpResponseError) as info:
        resource_client.resource_groups.create_or_update("rg!bad*", {"location": "koreacentral"})
    assert info.value.error.code == "InvalidResourceGroup"
    assert "'!*'" in info.value.error.message and "{0}" not in info.value.error.message
    with pytest.raises(HttpResponseError, match="90 characters"):
        resource_client.resource_groups.create_or_update("a" * 91, {"location": "koreacentral"})


@pytest.mark.parametrize(("tags", "code"), [
    ({f"t{i}": "v" for i in range(51)}, "InvalidTags"),
    ({"n" * 513: "v"}, "InvalidTagName"),
    ({"name": "v" * 257}, "InvalidTagValueLength"),
    ({"a/b": "v"}, "InvalidTagNameCharacters"),
    ({"n": 5}, "InvalidRequestContent"),
    ({"n": {"nested": "x"}}, "InvalidRequestContent"),
    ("not-an-object", "InvalidRequestContent"),
])
@pytest.mark.parametrize("method", ["PUT", "PATCH"])
def test_tag_limits_and_types_hold_on_put_and_patch(emu: Emulator, resource_client, tags: Any, code: str,
                                                    method: str) -> None:
    name = f"rg-tags-{uuid.uuid4().hex[:6]}"
    resource_client.resource_groups.create_or_update(name, {"location": "koreacentral", "tags": {"keep": "me"}})
    try:
        body = {"location": "koreacentral", "tags": tags} if method == "PUT" else {"tags": tags}
        resp = _raw(emu, method, _rg(emu, name), json.dumps(body).encode())
        assert resp.status_code == 400 and resp.json()["error"]["code"] == code, resp.text
        assert resource_client.resource_groups.get(name).tags == {"keep": "me"}  # nothing half-done
    finally:
        resource_client.resource_groups.begin_delete(name).result()
    fifty = {f"t{i}": "v" * 256 for i in range(49)} | {"n" * 512: ""}
    assert len(fifty) == 50  # the limits themselves are allowed (checked once, on PUT)
    if method == "PUT" and code == "InvalidTags":
        ok = resource_client.resource_groups.create_or_update(name, {"location": "koreacentral", "tags": fifty})
        assert ok.tags == fifty
        resource_client.resource_groups.begin_delete(name).result()


@pytest.mark.parametrize("body", [b'{"location": "koreacentral", "tags": {"n": NaN}}',
                                  b'{"location": Infinity}', b'{"location": "koreacentral", "x": -Infinity}'])
def test_nan_and_infinity_are_not_json(emu: Emulator, body: bytes) -> None:
    resp = _raw(emu, "PUT", _rg(emu, f"rg-nan-{uuid.uuid4().hex[:6]}"), body)
    assert resp.status_code == 400 and resp.json()["error"]["code"] == "InvalidRequestContent"


def _deep(depth: int) -> bytes:
    return b'{"location": "koreacentral", "tags": {}, "properties": ' + b"[" * depth + b"]" * depth + b"}"


@pytest.mark.parametrize("where", ["group", "deployment", "generic"])
def test_json_nested_100000_deep_is_a_400(emu: Emulator, resource_client, where: str) -> None:
    group = f"rg-deep-{uuid.uuid4().hex[:6]}"
    resource_client.resource_groups.create_or_update(group, {"location": "koreacentral"})
    try:
        path = {"group": _rg(emu, group),
                "deployment": f"/subscriptions/{emu.subscription_id}/resourcegroups/{group}/providers/"
                              "Microsoft.Resources/deployments/d?api-version=2024-03-01",
                "generic": f"/subscriptions/{emu.subscription_id}/resourcegroups/{group}/providers/"
                           "Microsoft.ContainerRegistry/registries/acrdeep?api-version=2023-07-01"}[where]
        resp = _raw(emu, "PUT", path, _deep(100_000))
        assert resp.status_code == 400, resp.text
        assert resp.json()["error"]["code"] == "InvalidRequestContent" and "MaxDepth" in resp.json()["error"]["message"]
    finally:
        resource_client.resource_groups.begin_delete(group).result()


def test_a_manifest_nested_100000_deep_is_manifest_invalid() -> None:
    from pytest_acalab.emulator.containerregistry.content import RegistryContent, RegistryError

    deep = b'{"schemaVersion": 2, "config": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"
    with pytest.raises(RegistryError) as info:
        RegistryContent._validate_manifest_body("application/vnd.oci.image.manifest.v1+json", deep)
    assert info.value.code == "MANIFEST_INVALID" and "MaxDepth" in str(info.value.detail)


def test_five_thousand_nested_concat_is_an_invalid_template(emu: Emulator, resource_client) -> None:
    group = f"rg-concat-{uuid.uuid4().hex[:6]}"
    resource_client.resource_groups.create_or_update(group, {"location": "koreacentral"})
    expression = "[" + "concat('a', " * 5000 + "'b'" + ")" * 5000 + "]"
    template = {"$schema": "https://schema.management.azure.com/schemas/2019-04-01/deploymentTemplate.json#",
                "contentVersion": "1.0.0.0", "resources": [],
                "outputs": {"o": {"type": "string", "value": expression}}}
    try:
        messages = []
        for expr in (expression, "[" + "concat('a', " * 200 + "'b'" + ")" * 200 + "]"):  # too long, too deep
            template["outputs"]["o"]["value"] = expr
            resp = _raw(emu, "PUT", f"/subscriptions/{emu.subscription_id}/resourcegroups/{group}/providers/"
                                    "Microsoft.Resources/deployments/d?api-version=2024-03-01",
                        json.dumps({"properties": {"mode": "Incremental", "template": template}}).encode())
            assert resp.status_code == 400, resp.text
            assert resp.json()["error"]["code"] == "InvalidTemplate", resp.text
            messages.append(resp.json()["error"]["message"])
        assert "65005 characters long" in messages[0] and "at most 24576 characters" in messages[0]
        assert "nests more than 100 levels" in messages[1]
    finally:
        resource_client.resource_groups.begin_delete(group).result()


@pytest.mark.parametrize("body", [b'{"tags": "x"}', b'{"properties": []}', b'{"location": 7}', b"[1, 2]",
                                  b'"text"', b'{"managedBy": {"a": 1}}'])
def test_wrong_typed_patch_bodies_are_400s(emu: Emulator, resource_client, body: bytes) -> None:
    group = f"rg-patch-{uuid.uuid4().hex[:6]}"
    resource_client.resource_groups.create_or_update(group, {"location": "koreacentral"})
    try:
        resp = _raw(emu, "PATCH", _rg(emu, group), body)
        assert resp.status_code == 400 and resp.json()["error"]["code"] == "InvalidRequestContent", resp.text
    finally:
        resource_client.resource_groups.begin_delete(group).result()


def test_an_arm_body_over_4_mb_is_refused_with_413(emu: Emulator) -> None:
    body = b'{"location": "koreacentral", "tags": {"a": "' + b"x" * (4 * 1024 * 1024) + b'"}}'
    resp = _raw(emu, "PUT", _rg(emu, "rg-big"), body)
    assert resp.status_code == 413 and resp.json()["error"]["code"] == "RequestEntityTooLarge"


@pytest.mark.parametrize(("section", "count"), [("parameters", 257), ("variables", 257), ("outputs", 65)])
def test_template_limits_are_invalid_templates(emu: Emulator, resource_client, section: str, count: int) -> None:
    group = f"rg-limits-{uuid.uuid4().hex[:6]}"
    resource_client.resource_groups.create_or_update(group, {"location": "koreacentral"})
    entry = {"parameters": {"type": "string", "defaultValue": "x"}, "variables": "x",
             "outputs": {"type": "string", "value": "x"}}[section]
    template = {"$schema": "https://schema.management.azure.com/schemas/2019-04-01/deploymentTemplate.json#",
                "contentVersion": "1.0.0.0", "resources": [], section: {f"n{i}": entry for i in range(count)}}
    try:
        resp = _raw(emu, "PUT", f"/subscriptions/{emu.subscription_id}/resourcegroups/{group}/providers/"
                                "Microsoft.Resources/deployments/d?api-version=2024-03-01",
                    json.dumps({"properties": {"mode": "Incremental", "template": template}}).encode())
        assert resp.status_code == 400 and resp.json()["error"]["code"] == "InvalidTemplate", resp.text
        assert f"{count} {section}" in resp.json()["error"]["message"]
    finally:
        resource_client.resource_groups.begin_delete(group).result()
