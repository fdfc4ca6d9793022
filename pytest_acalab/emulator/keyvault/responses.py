"""Microsoft.KeyVault over HTTP: vaults and secrets on ARM, and the secrets data plane on
``https://<vault>.vault.azure.net`` (reached through the emulator's proxy, as ``azure-keyvault-secrets`` sends it).

Every data-plane call is authorized as Key Vault does it: an Entra token whose audience is
``https://vault.azure.net`` (ARM's audience is refused with AKV10022, and ARM refuses a vault token with
InvalidAuthenticationTokenAudience), then the vault's RBAC (role assignments at the vault or above) or its
access policies. The 403 bodies are Azure's, as captured by the Practical Guide's
managed-identity-key-vault-failure lab (``ForbiddenByRbac``) and as documented for access policies
(https://learn.microsoft.com/azure/key-vault/general/troubleshooting-access-issues).

Other providers resolve Key Vault references (Container Apps secrets with ``keyVaultUrl``) through
``platform.services.secrets``: the same checks, for a managed identity's object id.
"""

from __future__ import annotations

import time
from typing import Any
from urllib.parse import urlsplit

from pytest_acalab.emulator.keyvault.models import (
    DELETE_SECRET,
    GET_SECRET,
    POLICY_PERMISSION,
    READ_METADATA,
    ROLE_DATA_ACTIONS,
    SECRET_TYPE,
    SET_SECRET,
    VAULT_NAME,
    VAULT_TYPE,
    SecretVersion,
    Vault,
    vault_properties,
)
from pytest_acalab.emulator.platform.core import Platform
from pytest_acalab.emulator.platform.errors import ArmError
from pytest_acalab.emulator.platform.http import Request, Response
from pytest_acalab.emulator.platform.identity import KEY_VAULT_AUDIENCES, TokenRefused
from pytest_acalab.emulator.platform.resource_types import Ctx, ResourceId, ResourceType
from pytest_acalab.emulator.platform.services import SecretLookup
from pytest_acalab.emulator.platform.store import Resource

NOT_FOUND_HELP = "https://go.microsoft.com/fwlink/?linkid=2125182"
POLICY_HELP = "https://go.microsoft.com/fwlink/?linkid=2125287"
RECOVERY_DAYS = 90


def _kv_error(status: int, code: str, message: str, inner: str | None = None,
              headers: dict[str, str] | None = None) -> Response:
    error: dict[str, Any] = {"code": code, "message": message}
    if inner:
        error["innererror"] = {"code": inner}
    return Response.json(status, {"error": error}, headers or {})


class KeyVaultService:
    """Vaults by lower-cased name (names are global, like their DNS names) and the data-plane checks."""

    def __init__(self, platform: Platform) -> None:
        self.p = platform
        self.vaults: dict[str, Vault] = {}

    # lookups -----------------------------------------------------------------------------------
    def by_name(self, name: str) -> Vault | None:
        vault = self.vaults.get(name.lower())
        if vault is not None and self.p.store.get(vault.id) is None:
            self.vaults.pop(name.lower(), None)  # its group was deleted
            return None
        return vault

    def serves(self, host: str) -> bool:
        """Whether ``<name>.vault.azure.net`` resolves: only existing vaults have a DNS name."""
        return self.by_name(host.split(".", 1)[0]) is not None

    # authorization -----------------------------------------------------------------------------
    def denial(self, vault: Vault, claims: dict[str, Any], action: str, secret: str | None) -> Response | None:
        """None when the caller may do ``action``; else Key Vault's 403."""
        oid = str(claims.get("oid") or "")
        caller = f"appid={claims.get('appid', '')};oid={oid};iss={claims.get('iss', '')}"
        where = f"{vault.name};location={vault.location}"
        if vault.rbac:
            authority = self.p.services.authorization
            roles = authority.roles_for(oid, vault.id) if authority is not None else set()
            if any(action in ROLE_DATA_ACTIONS.get(role, set()) for role in roles):
                return None
            resource = vault.id.lower() + (f"/secrets/{secret.lower()}" if secret else "")
            message = ("Caller is not authorized to perform action on resource.\r\n"
                       "If role assignments, deny assignments or role definitions were changed recently, please "
                       "observe propagation time.\r\n"
                       f"Caller: {caller}\r\nAction: '{action}'\r\nResource: '{resource}'\r\n"
                       "Assignment: (not found)\r\nDenyAssignmentId: null\r\nDecisionReason: null \r\n"
                       f"Vault: {where}\r\n")
            return _kv_error(403, "Forbidden", message, "ForbiddenByRbac")
        if vault.policy_allows(oid, action):
            return None
        message = (f"The user, group or application '{caller}' does not have secrets {POLICY_PERMISSION[action]} "
                   f"permission on key vault '{where}'. For help resolving this issue, please see {POLICY_HELP}")
        return _kv_error(403, "Forbidden", message, "AccessDenied")

    def authenticate(self, req: Request) -> dict[str, Any] | Response:
        """The bearer token's claims, or Key Vault's 401 with the challenge ``azure-keyvault-secrets`` follows."""
        challenge = {"WWW-Authenticate": f'Bearer authorization="{self.p.identity.base_url}/'
                                          f'{self.p.identity.tenant_id}", resource="{KEY_VAULT_AUDIENCES[0]}"'}
        auth = req.headers.get("Authorization") or ""
        if not auth.lower().startswith("bearer "):
            return _kv_error(401, "Unauthorized", "AKV10000: Request is missing a Bearer or PoP token.",
                             headers=challenge)
        try:
            return self.p.identity.check_entra_token(auth[7:].strip(), KEY_VAULT_AUDIENCES)
        except TokenRefused as refused:
            claims = refused.claims or {}
            if refused.reason == "audience":
                message = f"AKV10022: Invalid audience. Expected {KEY_VAULT_AUDIENCES[0]}, found: {claims.get('aud')}."
            elif refused.reason == "issuer":
                message = (f"AKV10032: Invalid issuer. Expected one of {self.p.identity.issuer}, "
                           f"found {claims.get('iss')}.")
            else:
                # Guess: Key Vault's exact sentence for an expired or forged token is not captured.
                message = f"AKV10000: The token is not valid ({refused.reason})."
            return _kv_error(401, "Unauthorized", message, headers=challenge)

    # bodies ------------------------------------------------------------------------------------
    @staticmethod
    def attributes(v: SecretVersion) -> dict[str, Any]:
        return {"enabled": v.enabled, "created": v.created, "updated": v.updated,
                "recoveryLevel": "Recoverable+Purgeable", "recoverableDays": RECOVERY_DAYS}

    def bundle(self, vault: Vault, name: str, v: SecretVersion, with_value: bool = True) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if with_value:
            out["value"] = v.value
        if v.content_type:
            out["contentType"] = v.content_type
        out.update({"id": f"{vault.uri}secrets/{name}/{v.version}", "attributes": self.attributes(v), "tags": v.tags})
        return out

    # Key Vault references (services.secrets) -------------------------------------------------------
    def lookup(self, url: str, principal_id: str) -> tuple[str | None, str]:
        """``(value, "")`` when the identity may read the secret ``url`` names, else ``(None, why)``."""
        parts = urlsplit(url)
        host = (parts.hostname or "").lower()
        segments = [s for s in parts.path.split("/") if s]
        if not host.endswith(".vault.azure.net") or len(segments) < 2 or segments[0].lower() != "secrets":
            return None, f"'{url}' is not a Key Vault secret URL"
        vault = self.by_name(host.split(".", 1)[0])
        if vault is None:
            return None, f"no such host {host}"
        claims = {"oid": principal_id, "appid": "", "iss": self.p.identity.issuer}
        denied = self.denial(vault, claims, GET_SECRET, segments[1])
        if denied is not None:
            return None, "Forbidden"
        version = vault.version(segments[1], segments[2]) if len(segments) > 2 else vault.latest(segments[1])
        if version is None or not version.enabled:
            return None, "SecretNotFound"
        return version.value, ""

    # data plane --------------------------------------------------------------------------------
    def data_plane(self, req: Request, vault: str, rest: str = "") -> Response:
        found = self.by_name(vault)
        if found is None:
            return Response.json(404, {"error": {"code": "NotFound", "message": f"No vault named {vault}."}})
        claims = self.authenticate(req)
        if isinstance(claims, Response):
            return claims
        segments = [s for s in rest.split("/") if s]
        with self.p.lock:
            return self._secrets(req, found, claims, segments)

    def _secrets(self, req: Request, vault: Vault, claims: dict[str, Any], seg: list[str]) -> Response:
        method = req.method
        if seg and seg[0].lower() == "deletedsecrets" and len(seg) == 2:
            return self._deleted(req, vault, claims, seg[1])
        if not seg or seg[0].lower() != "secrets":
            return _kv_error(400, "BadParameter", f"The request URI is not valid: /{'/'.join(seg)}")
        if len(seg) == 1 and method == "GET":
            denied = self.denial(vault, claims, READ_METADATA, None)
            if denied is not None:
                return denied
            items = []
            for key, versions in sorted(vault.secrets.items()):
                latest = versions[-1]
                item: dict[str, Any] = {"id": f"{vault.uri}secrets/{vault.secret_names[key]}",
                                        "attributes": self.attributes(latest), "tags": latest.tags}
                if latest.content_type:
                    item["contentType"] = latest.content_type
                items.append(item)
            return Response.json(200, {"value": items, "nextLink": None})
        name = seg[1]
        if method == "PUT" and len(seg) == 2:
            denied = self.denial(vault, claims, SET_SECRET, name)
            if denied is not None:
                return denied
            body = req.json()
            if not isinstance(body, dict) or not isinstance(body.get("value"), str):
                return _kv_error(400, "BadParameter", "Property 'value' is required and must be a string.")
            try:
                version = vault.set_secret(name, body["value"], body.get("contentType"),
                                           bool((body.get("attributes") or {}).get("enabled", True)), body.get("tags"))
            except ArmError as exc:
                return _kv_error(exc.status, exc.code, exc.message)
            self.p.remember_secret(body["value"])
            return Response.json(200, self.bundle(vault, vault.secret_names[name.lower()], version))
        if method == "DELETE" and len(seg) == 2:
            denied = self.denial(vault, claims, DELETE_SECRET, name)
            if denied is not None:
                return denied
            gone = vault.latest(name)
            if gone is None:
                return self._not_found(name)
            shown = vault.secret_names[name.lower()]
            vault.secrets.pop(name.lower())
            deleted_at = int(time.time())
            vault.deleted[name.lower()] = (shown, gone, deleted_at)
            return Response.json(200, self._deleted_body(vault, shown, gone, deleted_at))
        if method == "GET" and len(seg) in (2, 3):
            denied = self.denial(vault, claims, GET_SECRET, name)
            if denied is not None:
                return denied
            found = vault.version(name, seg[2]) if len(seg) == 3 and seg[2] else vault.latest(name)
            if found is None:
                return self._not_found(name if len(seg) == 2 else f"{name}/{seg[2]}")
            if not found.enabled:
                return _kv_error(403, "Forbidden", "Operation get is not allowed on a disabled secret.",
                                 "SecretDisabled")
            return Response.json(200, self.bundle(vault, vault.secret_names[name.lower()], found))
        return _kv_error(405, "BadParameter", f"The method {method} is not allowed on this path.")

    def _deleted(self, req: Request, vault: Vault, claims: dict[str, Any], name: str) -> Response:
        entry = vault.deleted.get(name.lower())
        if req.method == "GET":
            denied = self.denial(vault, claims, READ_METADATA, name)
            if denied is not None:
                return denied
            if entry is None:
                return _kv_error(404, "SecretNotFound", f"Deleted Secret not found: {name}")
            return Response.json(200, self._deleted_body(vault, *entry))
        if req.method == "DELETE":
            denied = self.denial(vault, claims, DELETE_SECRET, name)
            if denied is not None:
                return denied
            if entry is None:
                return _kv_error(404, "SecretNotFound", f"Deleted Secret not found: {name}")
            vault.deleted.pop(name.lower())
            return Response.empty(204)
        return _kv_error(405, "BadParameter", f"The method {req.method} is not allowed on this path.")

    def _deleted_body(self, vault: Vault, name: str, v: SecretVersion, deleted_at: int) -> dict[str, Any]:
        return {**self.bundle(vault, name, v, with_value=False), "recoveryId": f"{vault.uri}deletedsecrets/{name}",
                "deletedDate": deleted_at, "scheduledPurgeDate": deleted_at + RECOVERY_DAYS * 86400}

    @staticmethod
    def _not_found(name: str) -> Response:
        # Azure's sentence (e.g. Azure/azure-sdk-for-python issues quoting SecretNotFound).
        return _kv_error(404, "SecretNotFound",
                         f"A secret with (name/id) {name} was not found in this key vault. If you recently deleted "
                         "this secret you may be able to recover it using the correct recovery command. For help "
                         f"resolving this issue, please see {NOT_FOUND_HELP}")


class Vaults(ResourceType):
    namespace = "Microsoft.KeyVault"
    type_name = "vaults"

    def __init__(self, service: KeyVaultService) -> None:
        self.svc = service

    def put(self, ctx: Ctx, rid: ResourceId, body: Any) -> Response:
        if not VAULT_NAME.match(rid.name):
            # Azure's rule (the vault name docs); the code and sentence are the emulator's reading of them.
            raise ArmError(400, "VaultNameNotValid",
                           f"The vault name '{rid.name}' is invalid. A vault's name must be between 3-24 alphanumeric "
                           "characters. The name must begin with a letter, end with a letter or digit, and not "
                           "contain consecutive hyphens.")
        with ctx.platform.lock:
            current = self.svc.by_name(rid.name)
            if current is not None and current.id.lower() != rid.id.lower():
                raise ArmError(409, "VaultAlreadyExists",
                               f"The vault name '{rid.name}' is already in use. Vault names are globally unique so "
                               "it is possible that the name is already taken.")
            location, props, tags = vault_properties(body, ctx.store.tenant_id, current)
            if current is None:
                vault = Vault(rid.id, rid.name, location, ctx.store.tenant_id, props, tags)
                self.svc.vaults[rid.name.lower()] = vault
                ctx.store.add(Resource(rid.id, rid.name, VAULT_TYPE, rid.resource_group, location, vault.body(),
                                       vault, ctx.clock.now()))
            else:
                vault = current
                vault.properties, vault.tags = props, tags
                res = ctx.store.get(rid.id)
                if res is not None:
                    res.body = vault.body()
            return Response.json(200 if current is not None else 200, vault.body())

    def get(self, ctx: Ctx, rid: ResourceId) -> Response:
        vault = self._vault(ctx, rid)
        return Response.json(200, vault.body())

    def _vault(self, ctx: Ctx, rid: ResourceId) -> Vault:
        vault = self.svc.by_name(rid.name)
        if vault is None or vault.id.lower() != rid.id.lower():
            raise self.not_found(rid)
        return vault

    def delete(self, ctx: Ctx, rid: ResourceId) -> Response:
        with ctx.platform.lock:
            vault = self.svc.by_name(rid.name)
            if vault is None or vault.id.lower() != rid.id.lower():
                return Response.empty(204)
            self.remove(ctx, rid)
            return Response.empty(200)

    def remove(self, ctx: Ctx, rid: ResourceId) -> None:
        self.svc.vaults.pop(rid.name.lower(), None)
        ctx.store.remove(rid.id)
        for res in [r for r in ctx.store.of_type(SECRET_TYPE) if r.id.lower().startswith(rid.id.lower() + "/")]:
            ctx.store.remove(res.id)
        authority = ctx.platform.services.authorization
        if authority is not None:
            authority.remove_under(rid.id)


class VaultSecrets(ResourceType):
    """``vaults/secrets`` on ARM: how templates write a secret (management plane: no data-plane RBAC applies)."""

    namespace = "Microsoft.KeyVault"
    type_name = "vaults/secrets"

    def __init__(self, service: KeyVaultService) -> None:
        self.svc = service

    def _vault(self, ctx: Ctx, rid: ResourceId) -> Vault:
        parent = rid.parent()
        vault = self.svc.by_name(parent.name)
        if vault is None or vault.id.lower() != parent.id.lower():
            raise ArmError(404, "ResourceNotFound",
                           f"The Resource 'Microsoft.KeyVault/vaults/{parent.name}' under resource group "
                           f"'{rid.resource_group}' was not found. For more details please go to "
                           "https://aka.ms/ARMResourceNotFoundFix")
        return vault

    def _body(self, vault: Vault, rid: ResourceId, v: SecretVersion) -> dict[str, Any]:
        name = rid.name
        return {"id": rid.id, "name": name, "type": SECRET_TYPE, "location": vault.location,
                "properties": {"attributes": {"enabled": v.enabled, "created": v.created, "updated": v.updated},
                               "secretUri": f"{vault.uri}secrets/{name}",
                               "secretUriWithVersion": f"{vault.uri}secrets/{name}/{v.version}"}}

    def put(self, ctx: Ctx, rid: ResourceId, body: Any) -> Response:
        with ctx.platform.lock:
            vault = self._vault(ctx, rid)
            props = (body or {}).get("properties") if isinstance(body, dict) else None
            if not isinstance(props, dict) or not isinstance(props.get("value"), str):
                raise ArmError(400, "BadRequest", "The parameter properties.value has an invalid value.")
            created = vault.latest(rid.name) is None
            version = vault.set_secret(rid.name, props["value"], props.get("contentType"),
                                       bool((props.get("attributes") or {}).get("enabled", True)))
            ctx.platform.remember_secret(props["value"])
            out = self._body(vault, rid, version)
            ctx.store.add(Resource(rid.id, rid.name, SECRET_TYPE, rid.resource_group, vault.location, out, None,
                                   ctx.clock.now()))
            return Response.json(201 if created else 200, out)

    def get(self, ctx: Ctx, rid: ResourceId) -> Response:
        vault = self._vault(ctx, rid)
        latest = vault.latest(rid.name)
        if latest is None:
            raise self.not_found(rid)
        return Response.json(200, self._body(vault, rid, latest))


def register(platform: Platform) -> KeyVaultService:
    service = KeyVaultService(platform)
    platform.register_type(Vaults(service))
    platform.register_type(VaultSecrets(service))
    platform.route("GET PUT DELETE POST PATCH", "/keyvault/{vault}", service.data_plane, auth=False)
    platform.route("GET PUT DELETE POST PATCH", "/keyvault/{vault}/{rest:path}", service.data_plane, auth=False)
    lookup: SecretLookup = service.lookup
    platform.services.secrets = lookup
    platform.services.extra["keyvault"] = service
    return service
