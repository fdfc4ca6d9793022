"""Environment storages and Azure Files mounts through the real ContainerAppsAPIClient."""

from __future__ import annotations

from typing import Any

import pytest
from app_helpers import Lab, wait_until
from azure.core.exceptions import HttpResponseError, ResourceNotFoundError

SHARE = {"properties": {"azureFile": {"accountName": "stlab", "accountKey": "key-abc", "shareName": "data",
                                      "accessMode": "ReadWrite"}}}


def _mounted(lab: Lab, storage: str = "files", volume: str = "data", mount: str = "data",
             path: str = "/mnt/data") -> dict[str, Any]:
    body = lab.app_body("mcr.microsoft.com/k8se/quickstart:latest")
    body["properties"]["template"]["volumes"] = [{"name": volume, "storageType": "AzureFile",
                                                  "storageName": storage}]
    body["properties"]["template"]["containers"][0]["volumeMounts"] = [{"volumeName": mount, "mountPath": path}]
    return body


def test_a_storage_is_set_read_and_mounted(lab: Lab) -> None:
    stores = lab.client.managed_environments_storages
    saved = stores.create_or_update(lab.rg, "env-lab", "files", SHARE)
    assert (saved.name, saved.properties.azure_file.share_name) == ("files", "data")
    assert saved.properties.azure_file.account_key is None  # the key is not answered back
    assert "key-abc" in lab.emu.platform.secrets
    assert [s.name for s in stores.list(lab.rg, "env-lab").value] == ["files"]
    app = lab.client.container_apps.begin_create_or_update(lab.rg, "mounts", _mounted(lab)).result()
    assert app.provisioning_state == "Succeeded"
    assert app.template.volumes[0].storage_name == "files"
    assert app.template.containers[0].volume_mounts[0].mount_path == "/mnt/data"
    # the runtime does not mount it: recorded as unmodelled (a lab probe in this group errors), never a pass
    reasons = wait_until(lambda: lab.emu.platform.unmodelled_under(app.id), "the unmodelled mount")
    assert reasons == ["volume 'data' (AzureFile, storage 'files') mounted at '/mnt/data' in container 'app': "
                       "the emulator's runtime does not mount volumes; the process runs without it"]
    with pytest.raises(HttpResponseError) as err:  # in use
        stores.delete(lab.rg, "env-lab", "files")
    assert err.value.status_code == 409
    lab.client.container_apps.begin_delete(lab.rg, "mounts").result()
    stores.delete(lab.rg, "env-lab", "files")
    with pytest.raises(ResourceNotFoundError):
        stores.get(lab.rg, "env-lab", "files")


@pytest.mark.parametrize(("change", "code", "words"), [
    ({"storage": "nope"}, "ManagedEnvironmentStorageNotFound", "Storage nope not found under managed environment"),
    ({"mount": "other"}, "ContainerAppInvalidVolumeMount",
     "Invalid Request: Volume 'other' to mount doesn't defined in the Container App 'mounts'."),
    ({"path": "relative/dir"}, "ContainerAppInvalidVolumeMount", "must be an absolute path"),
    ({"volume": "Bad.Name", "mount": "Bad.Name"}, "ContainerAppInvalidVolume", "Volume name 'Bad.Name'"),
])
def test_a_bad_mount_is_refused_and_nothing_is_created(lab: Lab, change: dict[str, str], code: str,
                                                       words: str) -> None:
    lab.client.managed_environments_storages.create_or_update(lab.rg, "env-lab", "files", SHARE)
    with pytest.raises(HttpResponseError) as err:
        lab.client.container_apps.begin_create_or_update(lab.rg, "mounts", _mounted(lab, **change)).result()
    assert err.value.error.code == code and words in err.value.error.message
    with pytest.raises(ResourceNotFoundError):
        lab.client.container_apps.get(lab.rg, "mounts")


def test_a_storage_without_its_share_is_refused(lab: Lab) -> None:
    body = {"properties": {"azureFile": {"accountName": "stlab", "accountKey": "k", "accessMode": "ReadWrite"}}}
    with pytest.raises(HttpResponseError) as err:
        lab.client.managed_environments_storages.create_or_update(lab.rg, "env-lab", "files", body)
    assert "'azureFile.shareName' is required" in err.value.error.message
