"""``importImage`` (``az acr import``): Location polling, sources, failures."""

from __future__ import annotations

import time

import pytest
import requests
from acr_testkit import create_registry, mgmt_client
from azure.core.exceptions import HttpResponseError

from pytest_acalab.emulator import Emulator
from pytest_acalab.emulator.containerregistry import catalog


@pytest.fixture(scope="module")
def client(emu: Emulator):
    return mgmt_client(emu)


def _state(emu: Emulator):
    return emu.platform.services.extra["containerregistry"]


def test_import_from_mcr_polls_pending_then_succeeded() -> None:
    """The import is pending (202, nothing visible) until its time is up, then Succeeded with the image there.

    A private emulator on the realistic clock at 1/100 speed: the import (8 s on Azure) lasts 800 real s, so it
    ends when the test runs the scheduler to its end, not by racing a loaded machine (at speed 40 it lasted 0.2 s,
    the whole window for the pending GET).
    """
    from azure.mgmt.resource.resources import ResourceManagementClient

    with Emulator(profile="fast") as emu:
        ResourceManagementClient(emu.credential(), emu.subscription_id, **emu.client_kwargs()) \
            .resource_groups.create_or_update("rg-import", {"location": "koreacentral"})
        reg = create_registry(mgmt_client(emu), "rg-import")
        emu.clock.profile, emu.clock.speed = "realistic", 0.01
        token = emu.credential().get_token("https://management.azure.com/.default").token
        auth = {"Authorization": f"Bearer {token}"}
        url = f"{emu.url}{reg.id}/importImage?api-version=2022-02-01-preview"
        # body as the CLI sends it (recordings/test_containerapp_private_registry_port.yaml [22])
        resp = requests.post(url, json={"source": {"registryUri": "mcr.microsoft.com",
                                                   "sourceImage": "k8se/quickstart:latest"},
                                        "targetTags": ["k8se/quickstart:latest"], "mode": "NoForce"},
                             headers=auth, verify=emu.ca_bundle)
        assert resp.status_code == 202
        location = resp.headers["Location"]
        assert "/providers/Microsoft.ContainerRegistry/locations/KOREACENTRAL/operationResults/registries-" in location
        pending = requests.get(location, headers=auth, verify=emu.ca_bundle)
        assert pending.status_code == 202
        assert pending.json() == {"k8se/quickstart:latest": "Pending", "status": "Accepted"}
        content = _state(emu).by_host(reg.login_server).content
        assert content.list_repositories() == []  # nothing visible before the operation ends
        emu.platform.scheduler.run_due(now=time.monotonic() + emu.clock.duration("registry.import"))
        done = requests.get(location, headers=auth, verify=emu.ca_bundle)
        assert done.status_code == 200 and done.json() == {"status": "Succeeded"}
        expected = catalog.lookup("mcr.microsoft.com", "k8se/quickstart", "latest")
        assert content.resolve("k8se/quickstart", "latest") == expected.digest


def test_import_from_another_registry_by_resource_id(emu: Emulator, client, group: str) -> None:
    source = create_registry(client, group)
    target = create_registry(client, group)
    client.registries.begin_import_image(group, source.name, {
        "source": {"registryUri": "mcr.microsoft.com", "sourceImage": "azuredocs/containerapps-helloworld:latest"},
        "targetTags": ["hello:v1"]}).result()
    client.registries.begin_import_image(group, target.name, {
        "source": {"resourceId": source.id, "sourceImage": "hello:v1"}, "targetTags": ["copy/hello:v2"]}).result()
    src = _state(emu).by_host(source.login_server).content
    dst = _state(emu).by_host(target.login_server).content
    assert dst.resolve("copy/hello", "v2") == src.resolve("hello", "v1")


def test_import_by_login_server_checks_credentials(emu: Emulator, client, group: str) -> None:
    source = create_registry(client, group)
    target = create_registry(client, group)
    client.registries.begin_import_image(group, source.name, {
        "source": {"registryUri": "mcr.microsoft.com", "sourceImage": "k8se/quickstart:latest"},
        "targetTags": ["app:1"]}).result()
    password = client.registries.list_credentials(group, source.name).passwords[0].value
    client.registries.begin_import_image(group, target.name, {
        "source": {"registryUri": source.login_server, "sourceImage": "app:1",
                   "credentials": {"username": source.name, "password": password}},
        "targetTags": ["app:1"]}).result()
    with pytest.raises(HttpResponseError) as exc:
        client.registries.begin_import_image(group, target.name, {
            "source": {"registryUri": source.login_server, "sourceImage": "app:1",
                       "credentials": {"username": source.name, "password": "wrong"}},
            "targetTags": ["app:2"]}).result()
    assert exc.value.error.code == "InvalidParameters"
    assert "credentials are not valid" in exc.value.error.message


def test_unknown_source_image_fails_and_stores_nothing(emu: Emulator, client, group: str) -> None:
    reg = create_registry(client, group)
    with pytest.raises(HttpResponseError) as exc:
        client.registries.begin_import_image(group, reg.name, {
            "source": {"registryUri": "mcr.microsoft.com", "sourceImage": "k8se/quickstart:nope"},
            "targetTags": ["k8se/quickstart:nope"]}).result()
    assert exc.value.status_code == 400
    assert exc.value.error.code == "InvalidParameters"
    assert "MANIFEST_UNKNOWN" in exc.value.error.message
    assert _state(emu).by_host(reg.login_server).content.list_repositories() == []


def test_no_force_refuses_to_overwrite_a_different_image(emu: Emulator, client, group: str) -> None:
    reg = create_registry(client, group)
    client.registries.begin_import_image(group, reg.name, {
        "source": {"registryUri": "mcr.microsoft.com", "sourceImage": "k8se/quickstart:latest"},
        "targetTags": ["app:1"]}).result()
    body = {"source": {"registryUri": "mcr.microsoft.com", "sourceImage": "azuredocs/containerapps-helloworld"},
            "targetTags": ["app:1"], "mode": "NoForce"}
    with pytest.raises(HttpResponseError) as exc:
        client.registries.begin_import_image(group, reg.name, body).result()
    assert "already exists" in exc.value.error.message
    client.registries.begin_import_image(group, reg.name, {**body, "mode": "Force"}).result()
    helloworld = catalog.lookup("mcr.microsoft.com", "azuredocs/containerapps-helloworld", "latest")
    assert _state(emu).by_host(reg.login_server).content.resolve("app", "1") == helloworld.digest
