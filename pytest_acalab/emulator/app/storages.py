"""Environment storages (``managedEnvironments/storages``) and the Azure Files mounts of app templates.

An environment storage names an Azure Files share (account, key, share, access mode). Azure does not
check the account or the key when the storage is set (microsoft/azure-container-apps#1355: a wrong name or
key only shows when a replica mounts it), so neither does the emulator. An app's template is checked
when it is sent:

- every ``volumeMounts[].volumeName`` names a volume of the template: else 400
  ``ContainerAppInvalidVolumeMount`` "Invalid Request: Volume '<v>' to mount doesn't defined in the
  Container App '<app>'." (sic; MicrosoftDocs/azure-docs#103756);
- an ``AzureFile`` volume's ``storageName`` names a storage of the app's environment: else
  ``ManagedEnvironmentStorageNotFound`` "Storage <name> not found under managed environment"
  (DFE-Digital/terraform-azurerm-container-apps-hosting#281; the status, 404, is a guess);
- other checks (volume name, storage type, absolute mount path) answer ``ContainerAppInvalidVolume``/
  ``ContainerAppInvalidVolumeMount`` with wording of our own (guess: not captured).
"""

from __future__ import annotations

import re
from typing import Any

from pytest_acalab.emulator.platform.errors import ArmError

STORAGE_TYPE = "Microsoft.App/managedEnvironments/storages"
STORAGE_TYPES = ("AzureFile", "EmptyDir", "Secret", "NfsAzureFile")
ACCESS_MODES = ("ReadOnly", "ReadWrite")
_VOLUME_NAME = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")


def validate_storage(name: str, body: Any) -> dict[str, Any]:
    """The ``azureFile`` (or ``nfsAzureFile``) properties of a storage PUT, as kept (key included)."""
    props = (body or {}).get("properties") if isinstance(body, dict) else None
    if not isinstance(props, dict):
        raise ArmError(400, "InvalidRequestContent", "The request content must have a 'properties' object.")
    kind = "azureFile" if props.get("azureFile") is not None else "nfsAzureFile" \
        if props.get("nfsAzureFile") is not None else None
    if kind is None:
        raise ArmError(400, "InvalidRequestParameterWithDetails",
                       f"Storage '{name}' must set 'properties.azureFile' or 'properties.nfsAzureFile'.")
    if not isinstance(props[kind], dict):
        raise ArmError(400, "InvalidRequestContent", f"Storage '{name}': '{kind}' must be an object.")
    spec = dict(props[kind])
    required = ("accountName", "accountKey", "shareName") if kind == "azureFile" else ("server", "shareName")
    for key in required:
        if not spec.get(key):
            raise ArmError(400, "InvalidRequestParameterWithDetails",
                           f"Storage '{name}': '{kind}.{key}' is required.")
    mode = spec.get("accessMode") or "ReadWrite"
    if mode not in ACCESS_MODES:
        raise ArmError(400, "InvalidRequestParameterWithDetails",
                       f"Storage '{name}': '{kind}.accessMode' must be ReadOnly or ReadWrite, not '{mode}'.")
    spec["accessMode"] = mode
    return {kind: spec}


def storage_body(env_id: str, name: str, spec: dict[str, Any]) -> dict[str, Any]:
    """GET's answer: the account key is not returned (guess: answered as null, like other secrets)."""
    props = {kind: {**value, **({"accountKey": None} if "accountKey" in value else {})}
             for kind, value in spec.items()}
    return {"id": f"{env_id}/storages/{name}", "name": name, "type": STORAGE_TYPE, "properties": props}


def check_volumes(app: str, template: dict[str, Any], storages: dict[str, Any]) -> None:
    """Volumes and volume mounts of a normalised template, against the environment's storages."""
    volumes: dict[str, dict[str, Any]] = {}
    for volume in template.get("volumes") or []:
        if not isinstance(volume, dict):
            raise ArmError(400, "ContainerAppInvalidVolume", "Invalid Request: each volume must be an object.")
        vname = volume.get("name")
        if not isinstance(vname, str) or not _VOLUME_NAME.match(vname):
            raise ArmError(400, "ContainerAppInvalidVolume",
                           f"Invalid Request: Volume name '{vname}' must consist of lower case alphanumeric "
                           "characters or '-' and start and end with an alphanumeric character.")
        kind = volume.get("storageType") or "EmptyDir"
        if kind not in STORAGE_TYPES:
            raise ArmError(400, "ContainerAppInvalidVolume",
                           f"Invalid Request: Volume '{vname}' has storage type '{kind}'; expected one of "
                           f"{', '.join(STORAGE_TYPES)}.")
        if kind in ("AzureFile", "NfsAzureFile"):
            storage = volume.get("storageName")
            if not storage or storage not in storages:
                raise ArmError(404, "ManagedEnvironmentStorageNotFound",
                               f"Storage {storage} not found under managed environment")
        volumes[vname] = volume
    for container in template.get("containers") or []:
        for mount in container.get("volumeMounts") or []:
            if not isinstance(mount, dict):
                raise ArmError(400, "ContainerAppInvalidVolumeMount",
                               "Invalid Request: each volume mount must be an object.")
            vname = mount.get("volumeName")
            if vname not in volumes:
                raise ArmError(400, "ContainerAppInvalidVolumeMount",
                               f"Invalid Request: Volume '{vname}' to mount doesn't defined in the Container App "
                               f"'{app}'.")
            path = mount.get("mountPath")
            if not isinstance(path, str) or not path.startswith("/"):
                raise ArmError(400, "ContainerAppInvalidVolumeMount",
                               f"Invalid Request: the mount path '{path}' of volume '{vname}' in container "
                               f"'{container.get('name')}' must be an absolute path.")
