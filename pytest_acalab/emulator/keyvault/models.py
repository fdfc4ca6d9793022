"""Key vaults and their secrets as state, and who may do what on the data plane (no HTTP here).

A vault authorizes data-plane calls either by Azure RBAC (``enableRbacAuthorization: true``: the caller's
role assignments at the vault or above) or by its access policies (``accessPolicies[].permissions.secrets``
for the caller's object id). Role names and their data actions are Azure's built-in roles
(https://learn.microsoft.com/azure/key-vault/general/rbac-guide#azure-built-in-roles-for-key-vault-data-plane-operations).
"""

from __future__ import annotations

import re
import secrets as random
import time
from dataclasses import dataclass, field
from typing import Any

from pytest_acalab.emulator.platform.errors import ArmError

VAULT_TYPE = "Microsoft.KeyVault/vaults"
SECRET_TYPE = "Microsoft.KeyVault/vaults/secrets"
VAULT_NAME = re.compile(r"^[a-zA-Z](?!.*--)[a-zA-Z0-9-]{1,22}[a-zA-Z0-9]$")
SECRET_NAME = re.compile(r"^[0-9a-zA-Z-]{1,127}$")

GET_SECRET = "Microsoft.KeyVault/vaults/secrets/getSecret/action"
SET_SECRET = "Microsoft.KeyVault/vaults/secrets/setSecret/action"
DELETE_SECRET = "Microsoft.KeyVault/vaults/secrets/delete"
READ_METADATA = "Microsoft.KeyVault/vaults/secrets/readMetadata/action"

ROLE_DATA_ACTIONS: dict[str, set[str]] = {
    "Key Vault Administrator": {GET_SECRET, SET_SECRET, DELETE_SECRET, READ_METADATA},
    "Key Vault Secrets Officer": {GET_SECRET, SET_SECRET, DELETE_SECRET, READ_METADATA},
    "Key Vault Secrets User": {GET_SECRET, READ_METADATA},
    "Key Vault Reader": {READ_METADATA},
}
"""Built-in roles granting secret data actions; Owner and Contributor grant none (management plane only)."""
POLICY_PERMISSION = {GET_SECRET: "get", SET_SECRET: "set", DELETE_SECRET: "delete", READ_METADATA: "list"}


@dataclass
class SecretVersion:
    version: str
    value: str
    content_type: str | None
    enabled: bool
    created: int
    updated: int
    tags: dict[str, str] = field(default_factory=dict)


@dataclass
class Vault:
    id: str
    name: str
    location: str
    tenant_id: str
    properties: dict[str, Any]
    tags: dict[str, str] = field(default_factory=dict)
    secrets: dict[str, list[SecretVersion]] = field(default_factory=dict)
    """name (lower case) -> versions, newest last."""
    secret_names: dict[str, str] = field(default_factory=dict)
    """name (lower case) -> the name as first written."""
    deleted: dict[str, tuple[str, SecretVersion, int]] = field(default_factory=dict)

    @property
    def uri(self) -> str:
        return f"https://{self.name.lower()}.vault.azure.net/"

    @property
    def rbac(self) -> bool:
        return bool(self.properties.get("enableRbacAuthorization"))

    def body(self) -> dict[str, Any]:
        return {"id": self.id, "name": self.name, "type": VAULT_TYPE, "location": self.location,
                "tags": self.tags, "properties": {**self.properties, "vaultUri": self.uri}}

    def set_secret(self, name: str, value: str, content_type: str | None = None, enabled: bool = True,
                   tags: dict[str, str] | None = None) -> SecretVersion:
        if not SECRET_NAME.match(name):
            raise ArmError(400, "BadParameter",
                           "The request URI contains an invalid name: " + name)
        now = int(time.time())
        version = SecretVersion(random.token_hex(16), value, content_type, enabled, now, now, tags or {})
        key = name.lower()
        self.secret_names.setdefault(key, name)
        self.secrets.setdefault(key, []).append(version)
        self.deleted.pop(key, None)
        return version

    def latest(self, name: str) -> SecretVersion | None:
        versions = self.secrets.get(name.lower())
        return versions[-1] if versions else None

    def version(self, name: str, version: str) -> SecretVersion | None:
        return next((v for v in self.secrets.get(name.lower(), []) if v.version == version), None)

    def policy_allows(self, object_id: str, action: str) -> bool:
        wanted = POLICY_PERMISSION[action]
        for policy in self.properties.get("accessPolicies") or []:
            if str((policy or {}).get("objectId", "")).lower() != object_id.lower():
                continue
            granted = {str(p).lower() for p in ((policy.get("permissions") or {}).get("secrets") or [])}
            if wanted in granted or "all" in granted:
                return True
        return False


def vault_properties(body: Any, tenant_id: str, current: Vault | None) -> tuple[str, dict[str, Any], dict[str, str]]:
    """Location, properties (with Azure's defaults) and tags of a vault PUT; ArmError for bad input."""
    if not isinstance(body, dict):
        raise ArmError(400, "InvalidRequestContent", "The request content was invalid and could not be deserialized.")
    location = body.get("location") or (current.location if current else None)
    if not location:
        raise ArmError(400, "LocationRequired", "The location property is required for this definition.")
    props = body.get("properties")
    if not isinstance(props, dict):
        raise ArmError(400, "BadRequest", "The parameter properties has an invalid value.")
    sku = props.get("sku") or {}
    if not sku.get("name") or not props.get("tenantId"):
        raise ArmError(400, "BadRequest", "The parameter properties.sku or properties.tenantId has an invalid value.")
    out = {
        "sku": {"family": sku.get("family") or "A", "name": sku["name"]},
        "tenantId": props["tenantId"],
        "accessPolicies": props.get("accessPolicies") or [],
        "enabledForDeployment": bool(props.get("enabledForDeployment", False)),
        "enabledForDiskEncryption": bool(props.get("enabledForDiskEncryption", False)),
        "enabledForTemplateDeployment": bool(props.get("enabledForTemplateDeployment", False)),
        "enableSoftDelete": props.get("enableSoftDelete", True),
        "softDeleteRetentionInDays": props.get("softDeleteRetentionInDays", 90),
        "enableRbacAuthorization": bool(props.get("enableRbacAuthorization", False)),
        "provisioningState": "Succeeded",
        "publicNetworkAccess": props.get("publicNetworkAccess") or "Enabled",
    }
    return str(location).lower().replace(" ", ""), out, body.get("tags") or {}
