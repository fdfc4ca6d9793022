"""The ImageResolver service (``platform.services.registry``) answers from the registry state now."""

from __future__ import annotations

import uuid

import pytest
from acr_testkit import create_registry, mgmt_client, unique_name

from pytest_acalab.emulator import Emulator
from pytest_acalab.emulator.containerregistry import catalog
from pytest_acalab.emulator.platform.services import PullAuth

ACR_PULL = "7f951dda-4ed3-4680-a7ca-43fe172d538d"


@pytest.fixture(scope="module")
def client(emu: Emulator):
    return mgmt_client(emu)


@pytest.fixture
def image(client, group: str):
    """A private registry holding ``<login>/app:v1`` (imported from the catalogue)."""
    reg = create_registry(client, group)
    client.registries.begin_import_image(group, reg.name, {
        "source": {"registryUri": "mcr.microsoft.com", "sourceImage": "k8se/quickstart:latest"},
        "targetTags": ["app:v1"]}).result()
    return reg


def test_the_https_default_port_names_the_same_registry(emu: Emulator, client, group: str, image) -> None:
    """Recorded (containerapp test_containerapp_private_registry_port): an app pulls through
    ``<acr>.azurecr.io:443`` and succeeds; another port is another host."""
    resolver = emu.platform.services.registry
    password = client.registries.list_credentials(group, image.name).passwords[0].value
    auth = PullAuth(username=image.name, password=password)
    assert resolver.check_pull(f"{image.login_server}:443/app:v1", auth).ok
    assert resolver.fetch(f"{image.login_server}:443/app:v1") is not None
    assert resolver.check_pull(f"{image.login_server}:8443/app:v1", auth).code == "NO_SUCH_HOST"


def test_admin_credentials_follow_the_registry(emu: Emulator, client, group: str, image) -> None:
    resolver = emu.platform.services.registry
    ref = f"{image.login_server}/app:v1"
    password = client.registries.list_credentials(group, image.name).passwords[0].value
    ok = resolver.check_pull(ref, PullAuth(username=image.name, password=password))
    expected = catalog.lookup("mcr.microsoft.com", "k8se/quickstart", "latest")
    assert ok.ok and ok.digest == expected.digest and ok.size > len(expected.manifest)
    wrong = resolver.check_pull(ref, PullAuth(username=image.name, password="nope"))
    assert (wrong.ok, wrong.code) == (False, "UNAUTHORIZED")
    assert wrong.message.startswith("authentication required")
    assert resolver.check_pull(ref, PullAuth()).code == "UNAUTHORIZED"
    client.registries.regenerate_credential(group, image.name, {"name": "password"})
    assert resolver.check_pull(ref, PullAuth(username=image.name, password=password)).code == "UNAUTHORIZED"
    fresh = client.registries.list_credentials(group, image.name).passwords[0].value
    assert resolver.check_pull(ref, PullAuth(username=image.name, password=fresh)).ok
    client.registries.begin_update(group, image.name, {"properties": {"adminUserEnabled": False}}).result()
    assert resolver.check_pull(ref, PullAuth(username=image.name, password=fresh)).code == "UNAUTHORIZED"


def test_missing_tag_and_repository(emu: Emulator, client, group: str, image) -> None:
    resolver = emu.platform.services.registry
    password = client.registries.list_credentials(group, image.name).passwords[0].value
    auth = PullAuth(username=image.name, password=password)
    missing = resolver.check_pull(f"{image.login_server}/app:v9", auth)
    assert (missing.ok, missing.code, missing.message, missing.detail) == (
        False, "MANIFEST_UNKNOWN", 'manifest tagged by "v9" is not found', {"Tag": "v9"})
    assert resolver.check_pull(f"{image.login_server}/other:v1", auth).code == "MANIFEST_UNKNOWN"
    by_digest = resolver.check_pull(f"{image.login_server}/app@sha256:{'1' * 64}", auth)
    assert by_digest.code == "MANIFEST_UNKNOWN"


def test_managed_identity_needs_a_pull_role(emu: Emulator, resource_client, image) -> None:
    resolver = emu.platform.services.registry
    principal = str(uuid.uuid4())
    ref = f"{image.login_server}/app:v1"
    assert resolver.check_pull(ref, PullAuth(principal_id=principal)).code == "UNAUTHORIZED"
    assignment = f"{image.id}/providers/Microsoft.Authorization/roleAssignments/{uuid.uuid4()}"
    resource_client.resources.begin_create_or_update_by_id(assignment, api_version="2022-04-01", parameters={
        "properties": {"roleDefinitionId": f"/subscriptions/{emu.subscription_id}/providers/"
                                           f"Microsoft.Authorization/roleDefinitions/{ACR_PULL}",
                       "principalId": principal}}).result()
    assert resolver.check_pull(ref, PullAuth(principal_id=principal)).ok
    assert resolver.check_pull(ref, PullAuth(principal_id=str(uuid.uuid4()))).code == "UNAUTHORIZED"
    resource_client.resources.begin_delete_by_id(assignment, api_version="2022-04-01").result()
    assert resolver.check_pull(ref, PullAuth(principal_id=principal)).code == "UNAUTHORIZED"


def test_anonymous_pull(emu: Emulator, client, group: str, image) -> None:
    resolver = emu.platform.services.registry
    client.registries.begin_update(group, image.name, {"properties": {"anonymousPullEnabled": True}}).result()
    assert resolver.check_pull(f"{image.login_server}/app:v1", PullAuth()).ok


def test_public_catalogue_and_unknown_hosts(emu: Emulator, client, group: str, resource_client) -> None:
    resolver = emu.platform.services.registry
    assert resolver.check_pull("mcr.microsoft.com/k8se/quickstart:latest", PullAuth()).ok
    miss = resolver.check_pull("mcr.microsoft.com/k8se/quickstart:nope", PullAuth())
    assert (miss.code, miss.detail) == ("MANIFEST_UNKNOWN", {"Tag": "nope"})
    assert resolver.check_pull("nosuchacr.azurecr.io/app:v1", PullAuth()).code == "NO_SUCH_HOST"
    rg = f"rg-{unique_name('r')}"
    resource_client.resource_groups.create_or_update(rg, {"location": "koreacentral"})
    reg = create_registry(client, rg, anonymous=True)
    assert resolver.check_pull(f"{reg.login_server}/x:1", PullAuth()).code == "MANIFEST_UNKNOWN"
    resource_client.resource_groups.begin_delete(rg).result()
    assert resolver.check_pull(f"{reg.login_server}/x:1", PullAuth()).code == "NO_SUCH_HOST"
