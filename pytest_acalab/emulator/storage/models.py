"""Storage accounts and file shares (state only, no HTTP).

Body shape from the recorded account (containerapp CLI recording test_containerapp_env_logs_e2e.yaml,
``az storage account create``, api-version 2022-09-01). Keys are minted here, 64 random bytes in base64
like Azure's; file shares follow the Microsoft.Storage REST reference (fileServices/default/shares).
"""

from __future__ import annotations

import base64
import re
import secrets
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from pytest_acalab.emulator.platform.errors import ArmError

ACCOUNT_TYPE = "Microsoft.Storage/storageAccounts"
SHARE_TYPE = "Microsoft.Storage/storageAccounts/fileServices/shares"
_ACCOUNT_NAME = re.compile(r"^[a-z0-9]{3,24}$")
_SHARE_NAME = re.compile(r"^[a-z0-9](?!.*--)[a-z0-9-]{1,61}[a-z0-9]$")
SECONDARY = {"eastus": "westus", "westus": "eastus", "koreacentral": "koreasouth", "westeurope": "northeurope"}
"""Paired regions for the secondary endpoints of RA-GRS accounts (guess outside the recorded eastus/westus)."""


def iso7(dt: datetime) -> str:
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{dt.microsecond:06d}0Z"


def _key() -> str:
    return base64.b64encode(secrets.token_bytes(64)).decode()


@dataclass
class FileShare:
    name: str
    quota_gib: int
    access_tier: str
    created: datetime


@dataclass
class StorageAccount:
    id: str
    name: str
    location: str
    sku: str
    kind: str
    created: datetime
    tags: dict[str, str] = field(default_factory=dict)
    https_only: bool = True
    keys: dict[str, str] = field(default_factory=dict)
    shares: dict[str, FileShare] = field(default_factory=dict)
    provisioning_state: str = "Creating"

    def body(self) -> dict[str, Any]:
        created = iso7(self.created)
        name, loc = self.name, self.location.lower().replace(" ", "")
        endpoints = {kind: f"https://{name}.{kind}.core.windows.net/" for kind in ("dfs", "blob", "queue", "table",
                                                                                   "file")}
        endpoints["web"] = f"https://{name}.z13.web.core.windows.net/"
        props: dict[str, Any] = {
            "keyCreationTime": {"key1": created, "key2": created}, "privateEndpointConnections": [],
            "minimumTlsVersion": "TLS1_0", "allowBlobPublicAccess": True,
            "networkAcls": {"bypass": "AzureServices", "virtualNetworkRules": [], "ipRules": [],
                            "defaultAction": "Allow"},
            "supportsHttpsTrafficOnly": self.https_only,
            "encryption": {"services": {s: {"keyType": "Account", "enabled": True, "lastEnabledTime": created}
                                        for s in ("file", "blob")}, "keySource": "Microsoft.Storage"},
            "accessTier": "Hot", "provisioningState": self.provisioning_state, "creationTime": created,
            "primaryEndpoints": endpoints, "primaryLocation": loc, "statusOfPrimary": "available",
        }
        if self.sku.endswith("GRS"):
            props.update({"secondaryLocation": SECONDARY.get(loc, loc), "statusOfSecondary": "available"})
            if self.sku.startswith("Standard_RA"):
                props["secondaryEndpoints"] = {k: v.replace(f"//{name}.", f"//{name}-secondary.")
                                               for k, v in endpoints.items() if k != "file"}
        return {"sku": {"name": self.sku, "tier": self.sku.split("_")[0]}, "kind": self.kind, "id": self.id,
                "name": self.name, "type": ACCOUNT_TYPE, "location": self.location, "tags": dict(self.tags),
                "properties": props}

    def keys_body(self) -> dict[str, Any]:
        created = iso7(self.created)
        return {"keys": [{"creationTime": created, "keyName": k, "value": v, "permissions": "FULL"}
                         for k, v in self.keys.items()]}

    def share_body(self, share: FileShare) -> dict[str, Any]:
        return {"id": f"{self.id}/fileServices/default/shares/{share.name}", "name": share.name,
                "type": SHARE_TYPE, "etag": f'"0x{abs(hash((self.id, share.name))) % (16 ** 15):015X}"',
                "properties": {"accessTier": share.access_tier, "shareQuota": share.quota_gib,
                               "enabledProtocols": "SMB", "leaseStatus": "unlocked", "leaseState": "available",
                               "lastModifiedTime": share.created.strftime("%Y-%m-%dT%H:%M:%S+00:00")}}


class StorageService:
    """Every storage account of one emulator, by lower-cased id; the names are global, as in Azure."""

    def __init__(self) -> None:
        self.accounts: dict[str, StorageAccount] = {}

    def by_name(self, name: str) -> StorageAccount | None:
        return next((a for a in self.accounts.values() if a.name == name), None)

    def create(self, rid_id: str, name: str, body: dict[str, Any], now: datetime) -> tuple[StorageAccount, bool]:
        if not _ACCOUNT_NAME.match(name):
            raise ArmError(400, "AccountNameInvalid",
                           f"{name} is not a valid storage account name. Storage account name must be between 3 and "
                           "24 characters in length and use numbers and lower-case letters only.")
        current = self.accounts.get(rid_id.lower())
        other = self.by_name(name)
        if other is not None and other is not current:
            raise ArmError(409, "StorageAccountAlreadyTaken",
                           f"The storage account named {name} is already taken.")
        location = body.get("location")
        sku_obj = body.get("sku")
        sku = sku_obj.get("name") if isinstance(sku_obj, dict) else None
        if not location or sku_obj is None:
            missing = "location" if not location else "sku"
            raise ArmError(400, "InvalidRequestContent", f"The request content is missing the '{missing}' property.")
        props = body.get("properties") or {}
        if not isinstance(props, dict) or not isinstance(location, str) or not isinstance(sku, str):
            raise ArmError(400, "InvalidRequestContent", "The request content was invalid: 'location' and 'sku.name' "
                                                         "must be strings and 'properties' an object.")
        if current is not None:
            current.tags = dict(body.get("tags") or current.tags)
            current.https_only = bool(props.get("supportsHttpsTrafficOnly", current.https_only))
            return current, False
        account = StorageAccount(rid_id, name, str(location), str(sku), str(body.get("kind") or "StorageV2"), now,
                                 dict(body.get("tags") or {}), bool(props.get("supportsHttpsTrafficOnly", True)),
                                 {"key1": _key(), "key2": _key()})
        self.accounts[rid_id.lower()] = account
        return account, True

    def put_share(self, account: StorageAccount, name: str, body: dict[str, Any], now: datetime) -> tuple[
            FileShare, bool]:
        if not _SHARE_NAME.match(name):
            raise ArmError(400, "InvalidResourceName",
                           "The specifed resource name contains invalid characters.")  # (sic) Storage's wording
        props = body.get("properties") or {}
        if not isinstance(props, dict):
            raise ArmError(400, "InvalidRequestContent", "The request content was invalid: 'properties' must be an "
                                                         "object.")
        quota = props.get("shareQuota", 5120)
        if not isinstance(quota, int) or not 1 <= quota <= 102400:
            raise ArmError(400, "InvalidHeaderValue",
                           "The value for one of the HTTP headers is not in the correct format.")
        share = account.shares.get(name)
        created = share is None
        if share is None:
            share = FileShare(name, quota, str(props.get("accessTier") or "TransactionOptimized"), now)
            account.shares[name] = share
        else:
            share.quota_gib = quota
        return share, created
