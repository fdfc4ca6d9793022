"""The identity endpoint Container Apps runs inside every replica of an app with a managed identity.

Azure sets ``IDENTITY_ENDPOINT`` (and ``MSI_ENDPOINT``) to ``http://localhost:42356/msi/token`` and
``IDENTITY_HEADER`` to a per-replica value that must come back as the ``X-IDENTITY-HEADER`` request header
(https://learn.microsoft.com/azure/container-apps/managed-identity#rest-endpoint-reference; the port as
printed by ``printenv`` inside real replicas in public issues, e.g. microsoft/azure-container-apps#502).
A ``GET ?api-version=2019-08-01&resource=<audience>`` answers a token for the system-assigned identity,
or for the user-assigned one named by ``client_id``, ``principal_id``/``object_id`` or ``mi_res_id``.

The tokens come from the emulator's own authority (``platform.identity``), so every provider checks them
like any other Entra token: the audience asked decides which service accepts it.
"""

from __future__ import annotations

import hmac
import json
import uuid
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from pytest_acalab.emulator.platform.identity import Identity, audience_for_scope

PORT = 42356
PATH = "/msi/token"
ENDPOINT = f"http://localhost:{PORT}{PATH}"
API_VERSIONS = ("2019-08-01",)


@dataclass(frozen=True)
class ManagedIdentity:
    principal_id: str
    client_id: str
    resource_id: str
    """The app (system-assigned) or the user-assigned identity resource: the token's ``xms_mirid``."""


def identities_of(app_id: str, identity: dict[str, Any]) -> tuple[ManagedIdentity | None, list[ManagedIdentity]]:
    """The system-assigned identity (or None) and the user-assigned ones of an app's ``identity`` block."""
    system = None
    if identity.get("principalId"):
        principal = str(identity["principalId"])
        # Azure does not show a system-assigned identity's client id on the app; Entra has one.
        system = ManagedIdentity(principal, str(uuid.uuid5(uuid.NAMESPACE_URL, "client:" + principal)), app_id)
    users = [ManagedIdentity(str(info.get("principalId")), str(info.get("clientId")), uid)
             for uid, info in (identity.get("userAssignedIdentities") or {}).items()]
    return system, users


class IdentityEndpoint:
    """What one replica's endpoint answers: the app's identities at the replica's start, and its header."""

    def __init__(self, authority: Identity, app_id: str, identity: dict[str, Any], header: str,
                 base_url: str) -> None:
        self.authority = authority
        self.system, self.users = identities_of(app_id, identity)
        self.header = header
        self.base_url = base_url

    def answer(self, path: str, headers: dict[str, str]) -> tuple[int, dict[str, Any]]:
        parts = urlsplit(path)
        if parts.path.rstrip("/").lower() != PATH:
            return 404, {"error": {"code": "NotFound", "message": f"No route for {parts.path}."}}
        query = {k.lower(): v for k, v in parse_qsl(parts.query)}
        if query.get("api-version") not in API_VERSIONS:
            # Azure's code (microsoft/azure-container-apps#297); the sentence is the emulator's.
            return 400, {"error": {"code": "UnsupportedApiVersion",
                                   "message": f"The HTTP resource that matches the request URI does not support "
                                              f"the API version '{query.get('api-version', '')}'."}}
        sent = next((v for k, v in headers.items() if k.lower() == "x-identity-header"), "")
        if not hmac.compare_digest(sent, self.header):
            # Guess: a wrong or missing header is refused; Azure's exact answer is not captured.
            return 401, {"statusCode": 401, "message": "The X-IDENTITY-HEADER header is missing or not valid."}
        resource = query.get("resource") or ""
        if not resource:
            return 400, {"statusCode": 400, "message": "The 'resource' parameter is required."}
        chosen = self._choose(query)
        if chosen is None:
            # App Service's wording for an identity the app does not have (the same token service).
            return 400, {"statusCode": 400, "message": "No User Assigned or Delegated Managed Identity found for "
                                                       "specified ClientId/ResourceId/PrincipalId."}
        audience = audience_for_scope(resource, self.base_url)
        token, expires = self.authority.issue_managed(chosen.principal_id, chosen.client_id, audience,
                                                      chosen.resource_id)
        return 200, {"access_token": token, "expires_on": str(expires), "resource": resource,
                     "token_type": "Bearer", "client_id": chosen.client_id}

    def _choose(self, query: dict[str, str]) -> ManagedIdentity | None:
        for key, attr in (("client_id", "client_id"), ("clientid", "client_id"), ("principal_id", "principal_id"),
                          ("object_id", "principal_id"), ("mi_res_id", "resource_id")):
            wanted = query.get(key)
            if wanted:
                return next((u for u in self.users if getattr(u, attr).lower() == wanted.lower()), None)
        return self.system


class IdentityRequestHandler(BaseHTTPRequestHandler):
    """HTTP/1.1 around ``IdentityEndpoint.answer``; the server object carries ``endpoint`` and ``on_token``."""

    protocol_version = "HTTP/1.1"
    server_version = "acalab-identity"

    def do_GET(self) -> None:
        endpoint: IdentityEndpoint = self.server.endpoint  # type: ignore[attr-defined]
        status, body = endpoint.answer(self.path, dict(self.headers.items()))
        if status == 200:
            self.server.on_token(body["access_token"])  # type: ignore[attr-defined]
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:
        return
