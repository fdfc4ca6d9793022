"""A registry's data plane through ContainerRegistryClient (azure-containerregistry 1.2.0), oras and requests."""

from __future__ import annotations

import base64
import hashlib
import io
import json
import uuid
from pathlib import Path

import pytest
import requests
from acr_testkit import create_registry, data_client, mgmt_client
from azure.containerregistry import ContainerRegistryClient
from azure.core.exceptions import ClientAuthenticationError, HttpResponseError, ResourceNotFoundError

from pytest_acalab.emulator import Emulator

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
ACR_UNAUTHORIZED = "authentication required, visit https://aka.ms/acr/authorization for more information."


@pytest.fixture(scope="module")
def client(emu: Emulator):
    return mgmt_client(emu)


@pytest.fixture
def registry(client, group: str):
    return create_registry(client, group)


def _basic(user: str, password: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


def _admin(client, group: str, reg) -> dict[str, str]:
    return _basic(reg.name, client.registries.list_credentials(group, reg.name).passwords[0].value)


def _push(acr: ContainerRegistryClient, repo: str, tag: str, payload: bytes) -> tuple[str, str]:
    """An OCI artifact (config + one layer) pushed with the SDK; returns (manifest digest, layer digest)."""
    config_digest, config_size = acr.upload_blob(repo, io.BytesIO(b"{}"))
    layer_digest, layer_size = acr.upload_blob(repo, io.BytesIO(payload))
    manifest = {"schemaVersion": 2, "mediaType": OCI_MANIFEST,
                "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": config_digest,
                           "size": config_size},
                "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": layer_digest,
                            "size": layer_size}]}
    return acr.set_manifest(repo, manifest, tag=tag, media_type=OCI_MANIFEST), layer_digest


def test_unauthenticated_calls_get_acrs_bearer_challenge(emu: Emulator, registry) -> None:
    endpoint = emu.registry_endpoint(registry.login_server)
    resp = requests.get(f"{endpoint}/v2/", verify=emu.ca_bundle)
    assert resp.status_code == 401
    assert resp.headers["WWW-Authenticate"] == (
        f'Bearer realm="{endpoint}/oauth2/token",service="{registry.login_server}"')
    assert resp.json() == {"errors": [{"code": "UNAUTHORIZED", "message": ACR_UNAUTHORIZED}]}
    # reached by its login server (as through the CLI's proxy), the realm names the login server
    resp = requests.get(f"{endpoint}/v2/app/manifests/v1", verify=emu.ca_bundle,
                        headers={"Host": registry.login_server})
    assert resp.headers["WWW-Authenticate"] == (
        f'Bearer realm="https://{registry.login_server}/oauth2/token",service="{registry.login_server}",'
        'scope="repository:app:pull"')
    assert resp.json()["errors"][0]["detail"] == [{"Type": "repository", "Name": "app", "Action": "pull"}]


def test_sdk_round_trip(emu: Emulator, registry) -> None:
    acr = data_client(emu, registry.login_server)
    digest, layer = _push(acr, "team/hello", "v1", b"hello world")
    assert list(acr.list_repository_names()) == ["team/hello"]
    assert [t.name for t in acr.list_tag_properties("team/hello")] == ["v1"]
    assert acr.get_tag_properties("team/hello", "v1").digest == digest
    props = acr.get_manifest_properties("team/hello", "v1")
    assert props.digest == digest and props.tags == ["v1"]
    got = acr.get_manifest("team/hello", digest)
    assert got.media_type == OCI_MANIFEST and got.manifest["layers"][0]["digest"] == layer
    assert b"".join(acr.download_blob("team/hello", layer)) == b"hello world"
    acr.update_manifest_properties("team/hello", digest, can_delete=False)
    assert acr.get_manifest_properties("team/hello", digest).can_delete is False
    acr.delete_tag("team/hello", "v1")
    with pytest.raises(ResourceNotFoundError):
        acr.get_tag_properties("team/hello", "v1")
    acr.delete_repository("team/hello")
    assert list(acr.list_repository_names()) == []


def test_registry_errors_in_acr_shape(emu: Emulator, client, group: str, registry) -> None:
    endpoint = emu.registry_endpoint(registry.login_server)
    auth = _admin(client, group, registry)
    _push(data_client(emu, registry.login_server), "app", "v1", b"x")
    missing_tag = requests.get(f"{endpoint}/v2/app/manifests/v2", headers=auth, verify=emu.ca_bundle)
    assert missing_tag.status_code == 404
    assert missing_tag.json() == {"errors": [{"code": "MANIFEST_UNKNOWN",
                                              "message": 'manifest tagged by "v2" is not found',
                                              "detail": {"Tag": "v2"}}]}
    head = requests.head(f"{endpoint}/v2/app/manifests/v2", headers=auth, verify=emu.ca_bundle)
    assert head.status_code == 404 and head.content == b""
    no_repo = requests.get(f"{endpoint}/v2/nope/tags/list", headers=auth, verify=emu.ca_bundle)
    assert no_repo.status_code == 404 and no_repo.json()["errors"][0]["code"] == "NAME_UNKNOWN"
    no_blob = requests.get(f"{endpoint}/v2/app/blobs/sha256:{'0' * 64}", headers=auth, verify=emu.ca_bundle)
    assert no_blob.status_code == 404 and no_blob.json()["errors"][0]["code"] == "BLOB_UNKNOWN"


def test_bad_uploads_store_nothing(emu: Emulator, client, group: str, registry) -> None:
    endpoint = emu.registry_endpoint(registry.login_server)
    auth = _admin(client, group, registry)
    start = requests.post(f"{endpoint}/v2/app/blobs/uploads/", headers=auth, verify=emu.ca_bundle)
    assert start.status_code == 202 and start.headers["Docker-Upload-UUID"]
    location = start.headers["Location"]
    wrong = "sha256:" + hashlib.sha256(b"other").hexdigest()
    put = requests.put(f"{endpoint}{location}?digest={wrong}", data=b"payload", headers=auth, verify=emu.ca_bundle)
    assert put.status_code == 400 and put.json()["errors"][0]["code"] == "DIGEST_INVALID"
    state = emu.platform.services.extra["containerregistry"].by_host(registry.login_server)
    assert not state.content.has_blob(wrong)
    assert not state.content.has_blob("sha256:" + hashlib.sha256(b"payload").hexdigest())
    manifest = {"schemaVersion": 2, "mediaType": OCI_MANIFEST,
                "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": wrong, "size": 5},
                "layers": []}
    resp = requests.put(f"{endpoint}/v2/app/manifests/v1", data=json.dumps(manifest), verify=emu.ca_bundle,
                        headers={**auth, "Content-Type": OCI_MANIFEST})
    assert resp.status_code == 400
    assert resp.json() == {"errors": [{"code": "MANIFEST_BLOB_UNKNOWN", "message": "blob unknown to registry",
                                       "detail": wrong}]}
    assert state.content.list_repositories() == []


def test_chunked_upload_and_tag_paging(emu: Emulator, client, group: str, registry) -> None:
    endpoint = emu.registry_endpoint(registry.login_server)
    auth = _admin(client, group, registry)
    start = requests.post(f"{endpoint}/v2/app/blobs/uploads/", headers=auth, verify=emu.ca_bundle)
    loc = start.headers["Location"]
    first = requests.patch(f"{endpoint}{loc}", data=b"abc", verify=emu.ca_bundle,
                           headers={**auth, "Content-Range": "0-2", "Content-Type": "application/octet-stream"})
    assert first.status_code == 202 and first.headers["Range"] == "0-2"
    digest = "sha256:" + hashlib.sha256(b"abcdef").hexdigest()
    done = requests.put(f"{endpoint}{first.headers['Location']}?digest={digest}", data=b"def", headers=auth,
                        verify=emu.ca_bundle)
    assert done.status_code == 201 and done.headers["Docker-Content-Digest"] == digest
    acr = data_client(emu, registry.login_server)
    for tag in ("a", "b", "c"):
        _push(acr, "app", tag, tag.encode())
    page = requests.get(f"{endpoint}/v2/app/tags/list?n=2", headers=auth, verify=emu.ca_bundle)
    assert page.json() == {"name": "app", "tags": ["a", "b"]}
    assert page.headers["Link"] == '</v2/app/tags/list?last=b&n=2>; rel="next"'
    rest = requests.get(f"{endpoint}/v2/app/tags/list?n=2&last=b", headers=auth, verify=emu.ca_bundle)
    assert rest.json()["tags"] == ["c"] and "Link" not in rest.headers


def test_admin_basic_auth_follows_the_admin_switch(emu: Emulator, client, group: str, registry) -> None:
    endpoint = emu.registry_endpoint(registry.login_server)
    old = _admin(client, group, registry)
    assert requests.get(f"{endpoint}/v2/_catalog", headers=old, verify=emu.ca_bundle).status_code == 200
    client.registries.regenerate_credential(group, registry.name, {"name": "password"})
    assert requests.get(f"{endpoint}/v2/_catalog", headers=old, verify=emu.ca_bundle).status_code == 401
    new = _admin(client, group, registry)
    assert requests.get(f"{endpoint}/v2/_catalog", headers=new, verify=emu.ca_bundle).status_code == 200
    client.registries.begin_update(group, registry.name, {"properties": {"adminUserEnabled": False}}).result()
    denied = requests.get(f"{endpoint}/v2/_catalog", headers=new, verify=emu.ca_bundle)
    assert denied.status_code == 401 and denied.json()["errors"][0]["code"] == "UNAUTHORIZED"


def test_a_principal_pulls_only_through_a_role_assignment(emu: Emulator, resource_client, registry) -> None:
    from azure.identity import ClientSecretCredential

    owner = data_client(emu, registry.login_server)
    _push(owner, "app", "v1", b"payload")
    sp = emu.platform.identity.add_principal("pull-only-sp")
    emu.platform.remember_secret(sp.secret)
    cred = ClientSecretCredential(emu.tenant_id, sp.client_id, sp.secret, authority=emu.url,
                                  disable_instance_discovery=True, connection_verify=emu.ca_bundle)
    acr = ContainerRegistryClient(emu.registry_endpoint(registry.login_server), cred,
                                  audience="https://management.azure.com", connection_verify=emu.ca_bundle)
    with pytest.raises(HttpResponseError) as before:
        acr.get_manifest("app", "v1")
    assert before.value.status_code == 403  # a valid principal without a role: DENIED
    assignment = f"{registry.id}/providers/Microsoft.Authorization/roleAssignments/{uuid.uuid4()}"
    resource_client.resources.begin_create_or_update_by_id(assignment, api_version="2022-04-01", parameters={
        "properties": {
            "roleDefinitionId": f"/subscriptions/{emu.subscription_id}/providers/Microsoft.Authorization/"
                                "roleDefinitions/7f951dda-4ed3-4680-a7ca-43fe172d538d",
            "principalId": sp.object_id, "principalType": "ServicePrincipal"}}).result()
    acr = ContainerRegistryClient(emu.registry_endpoint(registry.login_server), cred,
                                  audience="https://management.azure.com", connection_verify=emu.ca_bundle)
    assert acr.get_manifest("app", "v1").manifest["schemaVersion"] == 2
    with pytest.raises(HttpResponseError) as push:
        acr.upload_blob("app", io.BytesIO(b"new layer"))
    assert push.value.status_code == 403
    assert json.loads(push.value.response.text())["errors"][0] == {
        "code": "DENIED", "message": "requested access to the resource is denied",
        "detail": [{"Type": "repository", "Name": "app", "Action": "pull"},
                   {"Type": "repository", "Name": "app", "Action": "push"}]}


def test_anonymous_pull_only_when_enabled(emu: Emulator, client, group: str) -> None:
    reg = create_registry(client, group, anonymous=False)
    _push(data_client(emu, reg.login_server), "app", "v1", b"x")
    anonymous = ContainerRegistryClient(emu.registry_endpoint(reg.login_server), None,
                                        audience="https://management.azure.com", connection_verify=emu.ca_bundle)
    with pytest.raises(ClientAuthenticationError):
        anonymous.get_manifest("app", "v1")
    client.registries.begin_update(group, reg.name, {"properties": {"anonymousPullEnabled": True}}).result()
    anonymous = ContainerRegistryClient(emu.registry_endpoint(reg.login_server), None,
                                        audience="https://management.azure.com", connection_verify=emu.ca_bundle)
    assert anonymous.get_manifest("app", "v1").manifest["schemaVersion"] == 2


@pytest.mark.parametrize("backend", ["token", "basic"])
def test_oras_pushes_and_pulls_with_admin_credentials(emu: Emulator, client, group: str, registry, tmp_path: Path,
                                                      backend: str) -> None:
    import oras.client

    endpoint = emu.registry_endpoint(registry.login_server)
    host = endpoint.removeprefix("https://")
    creds = client.registries.list_credentials(group, registry.name)
    oc = oras.client.OrasClient(hostname=host, tls_verify=emu.ca_bundle, auth_backend=backend)
    oc.auth.set_basic_auth(creds.username, creds.passwords[1].value)
    artifact = tmp_path / "notes.txt"
    artifact.write_text("pushed by oras\n")
    resp = oc.push(target=f"{host}/artifacts/notes:v1", files=[str(artifact)], disable_path_validation=True,
                   quiet=True)
    assert resp.status_code == 201
    assert oc.get_tags(f"{host}/artifacts/notes") == ["v1"]
    out = tmp_path / "out"
    files = oc.pull(target=f"{host}/artifacts/notes:v1", outdir=str(out))
    assert [Path(f).read_text() for f in files] == ["pushed by oras\n"]


def test_monolithic_post_and_cross_repository_mount(emu: Emulator, client, group: str, registry) -> None:
    endpoint = emu.registry_endpoint(registry.login_server)
    auth = _admin(client, group, registry)
    data = b"single request upload"
    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    resp = requests.post(f"{endpoint}/v2/one/blobs/uploads/?digest={digest}", data=data, headers=auth,
                         verify=emu.ca_bundle)
    assert resp.status_code == 201 and resp.headers["Docker-Content-Digest"] == digest
    assert resp.headers["Location"] == f"/v2/one/blobs/{digest}"
    mount = requests.post(f"{endpoint}/v2/two/blobs/uploads/?mount={digest}&from=one", headers=auth,
                          verify=emu.ca_bundle)
    assert mount.status_code == 201
    ranged = requests.get(f"{endpoint}/v2/two/blobs/{digest}", headers={**auth, "Range": "bytes=0-5"},
                          verify=emu.ca_bundle)
    assert ranged.status_code == 206 and ranged.content == b"single"
    assert ranged.headers["Content-Range"] == f"bytes 0-5/{len(data)}"


def test_token_endpoints(emu: Emulator, client, group: str, registry) -> None:
    endpoint = emu.registry_endpoint(registry.login_server)
    password = client.registries.list_credentials(group, registry.name).passwords[0].value
    login = registry.login_server
    exchanged = requests.post(f"{endpoint}/oauth2/exchange", verify=emu.ca_bundle, data={
        "grant_type": "password", "service": login, "username": registry.name, "password": password})
    refresh = exchanged.json()["refresh_token"]
    claims = json.loads(base64.urlsafe_b64decode(refresh.split(".")[1] + "=="))
    assert claims["exp"] > claims["iat"] and refresh in emu.platform.secrets
    # az acr login --expose-token: the refresh token as the password of the all-zero user
    token_user = _basic("00000000-0000-0000-0000-000000000000", refresh)
    assert requests.get(f"{endpoint}/v2/_catalog", headers=token_user, verify=emu.ca_bundle).status_code == 200
    access = requests.post(f"{endpoint}/oauth2/token", verify=emu.ca_bundle, data={
        "grant_type": "refresh_token", "service": login, "scope": "registry:catalog:*",
        "refresh_token": refresh}).json()["access_token"]
    bearer = {"Authorization": f"Bearer {access}"}
    assert requests.get(f"{endpoint}/v2/_catalog", headers=bearer, verify=emu.ca_bundle).status_code == 200
    narrow = requests.get(f"{endpoint}/v2/app/tags/list", headers=bearer, verify=emu.ca_bundle)
    assert narrow.status_code == 403 and narrow.json()["errors"][0]["code"] == "DENIED"
    assert 'scope="repository:app:pull"' in narrow.headers["WWW-Authenticate"]
    bad = requests.post(f"{endpoint}/oauth2/token", verify=emu.ca_bundle, data={
        "grant_type": "refresh_token", "service": login, "scope": "registry:catalog:*", "refresh_token": "x.y.z"})
    assert bad.status_code == 401 and bad.json()["errors"][0]["code"] == "UNAUTHORIZED"
    anonymous = requests.get(f"{endpoint}/oauth2/token", params={"service": login, "scope": "repository:app:pull"},
                             verify=emu.ca_bundle)
    assert anonymous.status_code == 401  # anonymous pull is off
    unknown = requests.get(f"{emu.registry_endpoint('ghost.azurecr.io')}/v2/", verify=emu.ca_bundle)
    assert unknown.status_code == 404 and unknown.json()["errors"][0]["code"] == "NAME_UNKNOWN"
