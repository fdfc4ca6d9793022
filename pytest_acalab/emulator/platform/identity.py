"""A local token authority: the two endpoints azure-identity and the Azure CLI need, and checks.

Tokens are JWT-shaped and signed with HS256 under a key that exists only in this emulator's memory,
so a token minted by another emulator (or anything else) is refused, as Azure would refuse it.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import time
import uuid
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from pytest_acalab.emulator.platform.errors import ArmError
from pytest_acalab.emulator.platform.hosts import LOGIN_ALIASES
from pytest_acalab.emulator.platform.http import Request, Response


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass
class ServicePrincipal:
    client_id: str
    secret: str
    object_id: str
    display_name: str


@dataclass
class Identity:
    tenant_id: str
    base_url: str = ""
    key: bytes = field(default_factory=lambda: secrets.token_bytes(32))
    principals: dict[str, ServicePrincipal] = field(default_factory=dict)
    token_lifetime: int = 3600

    def add_principal(self, display_name: str) -> ServicePrincipal:
        sp = ServicePrincipal(str(uuid.uuid4()), secrets.token_urlsafe(24), str(uuid.uuid4()), display_name)
        self.principals[sp.client_id] = sp
        return sp

    # tokens ----------------------------------------------------------------------------------
    def sign(self, claims: dict[str, Any], key: bytes | None = None) -> str:
        header = _b64(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
        payload = _b64(json.dumps(claims, separators=(",", ":")).encode())
        sig = hmac.new(key or self.key, f"{header}.{payload}".encode(), hashlib.sha256).digest()
        return f"{header}.{payload}.{_b64(sig)}"

    def verify(self, token: str, key: bytes | None = None) -> dict[str, Any] | None:
        try:
            header, payload, sig = token.split(".")
            expected = hmac.new(key or self.key, f"{header}.{payload}".encode(), hashlib.sha256).digest()
            if not hmac.compare_digest(expected, _unb64(sig)):
                return None
            claims = json.loads(_unb64(payload))
        except (ValueError, json.JSONDecodeError):
            return None
        if claims.get("exp", 0) < time.time():
            return None
        return claims

    def issue(self, principal: ServicePrincipal, audience: str) -> str:
        now = int(time.time())
        return self.sign({
            "aud": audience, "iss": f"https://sts.windows.net/{self.tenant_id}/", "iat": now, "nbf": now,
            "exp": now + self.token_lifetime, "tid": self.tenant_id, "oid": principal.object_id,
            "appid": principal.client_id, "sub": principal.object_id, "idtyp": "app",
            "name": principal.display_name,
        })

    def authenticate(self, req: Request) -> dict[str, Any]:
        """Claims of the request's bearer token, or ARM's 401."""
        auth = req.headers.get("Authorization") or ""
        if not auth.lower().startswith("bearer "):
            raise ArmError(
                401, "AuthenticationFailed", "Authentication failed. The 'Authorization' header is missing.",
                headers={"WWW-Authenticate": f'Bearer authorization_uri="{self.base_url}/{self.tenant_id}", '
                                             'error="invalid_token", error_description="The authentication '
                                             'failed because of missing \'Authorization\' header."'},
            )
        claims = self.verify(auth[7:].strip())
        if claims is None:
            raise ArmError(
                401, "InvalidAuthenticationToken",
                "The access token is invalid.",
                headers={"WWW-Authenticate": 'Bearer error="invalid_token", '
                                             'error_description="The access token is invalid."'},
            )
        return claims

    # OAuth endpoints -------------------------------------------------------------------------
    def instance_discovery(self, req: Request) -> Response:
        """``GET /common/discovery/instance?api-version=1.1&authorization_endpoint=...``: MSAL's check that
        an authority host belongs to a known cloud, answered for Azure's public cloud. An unknown host gets
        Azure's ``invalid_instance`` (AADSTS50049), which MSAL turns into a clear error."""
        endpoint = req.query_ci("authorization_endpoint") or ""
        parts = urlsplit(endpoint)
        host = (parts.hostname or "").lower()
        if host not in LOGIN_ALIASES:
            now = time.strftime("%Y-%m-%d %H:%M:%SZ", time.gmtime())
            trace, correlation = str(uuid.uuid4()), str(uuid.uuid4())
            return Response.json(400, {
                "error": "invalid_instance",
                "error_description": f"AADSTS50049: Unknown or invalid instance. Trace ID: {trace} "
                                     f"Correlation ID: {correlation} Timestamp: {now}",
                "error_codes": [50049], "timestamp": now, "trace_id": trace, "correlation_id": correlation,
                "error_uri": f"https://{LOGIN_ALIASES[0]}/error?code=50049"})
        tenant = next((p for p in parts.path.split("/") if p), "common")
        return Response.json(200, {
            "tenant_discovery_endpoint": f"https://{host}/{tenant}/v2.0/.well-known/openid-configuration",
            "api-version": "1.1",
            "metadata": [
                {"preferred_network": LOGIN_ALIASES[0], "preferred_cache": "login.windows.net",
                 "aliases": list(LOGIN_ALIASES)},
                {"preferred_network": "login.partner.microsoftonline.cn",
                 "preferred_cache": "login.partner.microsoftonline.cn",
                 "aliases": ["login.partner.microsoftonline.cn", "login.chinacloudapi.cn"]},
                {"preferred_network": "login.microsoftonline.us", "preferred_cache": "login.microsoftonline.us",
                 "aliases": ["login.microsoftonline.us", "login.usgovcloudapi.net"]},
            ]})

    def openid_configuration(self, req: Request, tenant: str) -> Response:
        base = f"{self.base_url}/{tenant}"
        return Response.json(200, {
            "token_endpoint": f"{base}/oauth2/v2.0/token",
            "token_endpoint_auth_methods_supported": ["client_secret_post", "private_key_jwt", "client_secret_basic"],
            "jwks_uri": f"{base}/discovery/v2.0/keys",
            "response_modes_supported": ["query", "fragment", "form_post"],
            "subject_types_supported": ["pairwise"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "response_types_supported": ["code", "id_token", "code id_token", "id_token token"],
            "scopes_supported": ["openid", "profile", "email", "offline_access"],
            "issuer": f"{base}/v2.0",
            "request_uri_parameter_supported": False,
            "authorization_endpoint": f"{base}/oauth2/v2.0/authorize",
            "device_authorization_endpoint": f"{base}/oauth2/v2.0/devicecode",
            "end_session_endpoint": f"{base}/oauth2/v2.0/logout",
            "tenant_region_scope": "WW",
            "cloud_instance_name": "microsoftonline.com",
            "cloud_graph_host_name": "graph.windows.net",
            "msgraph_host": "graph.microsoft.com",
        })

    def token(self, req: Request, tenant: str) -> Response:
        form = dict(parse_qsl(req.body.decode("utf-8", "replace")))
        def oauth_error(code: str, desc: str, status: int = 400) -> Response:
            return Response.json(status, {"error": code, "error_description": desc, "error_codes": [7000215],
                                          "timestamp": time.strftime("%Y-%m-%d %H:%M:%SZ", time.gmtime()),
                                          "trace_id": str(uuid.uuid4()), "correlation_id": str(uuid.uuid4())})
        if tenant.lower() not in (self.tenant_id.lower(), "organizations", "common"):
            return oauth_error("invalid_tenant", f"AADSTS90002: Tenant '{tenant}' not found.")
        if form.get("grant_type") != "client_credentials":
            return oauth_error("unsupported_grant_type",
                               "AADSTS70003: The app requested an unsupported grant type "
                               f"'{form.get('grant_type')}'. The emulator issues client_credentials tokens.")
        sp = self.principals.get(form.get("client_id", ""))
        if sp is None:
            return oauth_error("unauthorized_client",
                               f"AADSTS700016: Application with identifier '{form.get('client_id')}' "
                               f"was not found in the directory '{tenant}'.")
        if not hmac.compare_digest(sp.secret, form.get("client_secret", "")):
            return oauth_error("invalid_client",
                               "AADSTS7000215: Invalid client secret provided. Ensure the secret being sent "
                               f"in the request is the client secret value, not the client secret ID, for a "
                               f"secret added to app '{sp.client_id}'.", 401)
        scope = form.get("scope", "https://management.azure.com/.default").split()[0]
        audience = scope.removesuffix(".default").rstrip("/") or "https://management.azure.com"
        if audience.startswith("https://management"):
            audience = "https://management.azure.com/"
        return Response.json(200, {
            "token_type": "Bearer", "expires_in": self.token_lifetime, "ext_expires_in": self.token_lifetime,
            "access_token": self.issue(sp, audience),
        })
