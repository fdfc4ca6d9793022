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


ARM_AUDIENCES = ("https://management.core.windows.net/", "https://management.core.windows.net",
                 "https://management.azure.com/", "https://management.azure.com")
"""What ARM accepts as a token's ``aud``, in the order its InvalidAuthenticationTokenAudience message lists them."""
LOG_ANALYTICS_AUDIENCES = ("https://api.loganalytics.io", "https://api.loganalytics.io/")
REGISTRY_AUDIENCES = (*ARM_AUDIENCES, "https://containerregistry.azure.net", "https://containerregistry.azure.net/")
"""An ACR ``/oauth2/exchange`` takes Entra tokens for ARM or for the registry's own resource."""
KEY_VAULT_AUDIENCES = ("https://vault.azure.net",)
CLOCK_SKEW = 300
"""Seconds of leeway on ``nbf`` and ``exp`` (Microsoft.IdentityModel's default clock skew)."""


class TokenRefused(Exception):
    """Why a token is not accepted: malformed, signature, expired, not_yet_valid, issuer, audience."""

    def __init__(self, reason: str, claims: dict[str, Any] | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.claims = claims


def _azure_time(epoch: float) -> str:
    """ARM's rendering of a UTC time in its token errors: ``6/15/2026 8:22:51 AM``."""
    t = time.gmtime(epoch)
    hour = t.tm_hour % 12 or 12
    return f"{t.tm_mon}/{t.tm_mday}/{t.tm_year} {hour}:{t.tm_min:02d}:{t.tm_sec:02d} {'AM' if t.tm_hour < 12 else 'PM'}"


def audience_for_scope(scope: str, emulator_url: str) -> str:
    """The ``aud`` Entra puts in a token requested for ``scope`` (``<resource>/.default`` or ``<resource>/<perm>``).

    The emulator's own root stands in for the Log Analytics query endpoint, as ``LogsQueryClient(endpoint=...)``
    derives its scope from the endpoint it is given."""
    resource = scope.removesuffix(".default").rstrip("/") or "https://management.azure.com"
    lowered = resource.lower()
    if lowered.startswith(("https://management.azure.com", "https://management.core.windows.net")):
        return "https://management.core.windows.net/" if "core.windows" in lowered else "https://management.azure.com/"
    if lowered.startswith("https://api.loganalytics.io") or (emulator_url and lowered.rstrip("/") in (
            emulator_url.lower().rstrip("/"), emulator_url.lower().rstrip("/") + "/v1")):
        return "https://api.loganalytics.io"
    return resource


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

    def inspect(self, token: str, key: bytes | None = None, now: float | None = None) -> dict[str, Any]:
        """The token's claims once its signature and lifetime hold, else ``TokenRefused`` saying which failed.

        ``nbf`` and ``exp`` get the five minutes of clock skew Microsoft's token validation allows."""
        try:
            header, payload, sig = token.split(".")
            expected = hmac.new(key or self.key, f"{header}.{payload}".encode(), hashlib.sha256).digest()
            signed = hmac.compare_digest(expected, _unb64(sig))
            claims = json.loads(_unb64(payload)) if signed else None
        except (ValueError, json.JSONDecodeError, UnicodeDecodeError):
            raise TokenRefused("malformed") from None
        if not signed or not isinstance(claims, dict):
            raise TokenRefused("signature")
        t = time.time() if now is None else now
        exp, nbf = claims.get("exp"), claims.get("nbf")
        if not isinstance(exp, int | float) or exp + CLOCK_SKEW < t:
            raise TokenRefused("expired", claims)
        if isinstance(nbf, int | float) and nbf - CLOCK_SKEW > t:
            raise TokenRefused("not_yet_valid", claims)
        return claims

    def verify(self, token: str, key: bytes | None = None) -> dict[str, Any] | None:
        """Claims of a well-signed token within its lifetime, else None (callers with their own error shapes)."""
        try:
            return self.inspect(token, key)
        except TokenRefused:
            return None

    @property
    def issuer(self) -> str:
        return f"https://sts.windows.net/{self.tenant_id}/"

    def issue(self, principal: ServicePrincipal, audience: str) -> str:
        now = int(time.time())
        return self.sign({
            "aud": audience, "iss": self.issuer, "iat": now, "nbf": now,
            "exp": now + self.token_lifetime, "tid": self.tenant_id, "oid": principal.object_id,
            "appid": principal.client_id, "sub": principal.object_id, "idtyp": "app",
            "name": principal.display_name,
        })

    def issue_managed(self, object_id: str, client_id: str, audience: str, resource_id: str,
                      lifetime: int = 86400) -> tuple[str, int]:
        """A token for a managed identity (what Entra mints behind an identity endpoint) and its expiry.

        ``xms_mirid`` names the resource the identity belongs to, as Entra's managed identity tokens do
        (https://learn.microsoft.com/entra/identity-platform/access-token-claims-reference); managed identity
        tokens live about a day (the managed identity docs' token caching section)."""
        now = int(time.time())
        expires = now + lifetime
        return self.sign({
            "aud": audience, "iss": self.issuer, "iat": now, "nbf": now, "exp": expires, "tid": self.tenant_id,
            "oid": object_id, "sub": object_id, "appid": client_id, "idtyp": "app", "xms_mirid": resource_id,
        }), expires

    def check_entra_token(self, token: str, audiences: tuple[str, ...]) -> dict[str, Any]:
        """Claims of an Entra access token for one of ``audiences`` from this tenant, else ``TokenRefused``."""
        claims = self.inspect(token)
        if claims.get("iss") != self.issuer:
            raise TokenRefused("issuer", claims)
        if claims.get("aud") not in audiences:
            raise TokenRefused("audience", claims)
        return claims

    def authenticate(self, req: Request, audiences: tuple[str, ...] = ARM_AUDIENCES,
                     service: str = "arm") -> dict[str, Any]:
        """Claims of the request's bearer token, or the service's refusal (ARM's 401s, Log Analytics' 401/403).

        ARM's codes and wording: InvalidAuthenticationToken, ExpiredAuthenticationToken,
        InvalidAuthenticationTokenAudience, InvalidAuthenticationTokenTenant, worded as ARM's 401 bodies read
        (quoted in public issue trackers of the Azure SDKs and tools). Log Analytics answers 403
        InvalidTokenError for a token meant for another resource."""
        auth = req.headers.get("Authorization") or ""
        if not auth.lower().startswith("bearer "):
            if service == "loganalytics":
                raise ArmError(401, "AuthorizationRequiredError", "Valid authentication was not provided",
                               headers={"WWW-Authenticate": self._challenge("The request is missing a token.")})
            raise ArmError(
                401, "AuthenticationFailed", "Authentication failed. The 'Authorization' header is missing.",
                headers={"WWW-Authenticate": self._challenge(
                    "The authentication failed because of missing 'Authorization' header.")},
            )
        try:
            return self.check_entra_token(auth[7:].strip(), audiences)
        except TokenRefused as refused:
            raise self._refusal(refused, audiences, service) from None

    def _challenge(self, description: str) -> str:
        return (f'Bearer authorization_uri="{self.base_url}/{self.tenant_id}", error="invalid_token", '
                f'error_description="{description}"')

    def _refusal(self, refused: TokenRefused, audiences: tuple[str, ...], service: str) -> ArmError:
        claims = refused.claims or {}
        now = _azure_time(time.time())
        if service == "loganalytics":
            status = 403 if refused.reason == "audience" else 401
            return ArmError(status, "InvalidTokenError", "The provided authentication is not valid for this resource",
                            headers={} if status == 403 else {"WWW-Authenticate": self._challenge("invalid token")})
        if refused.reason == "expired":
            code = "ExpiredAuthenticationToken"
            message = (f"The access token expiry UTC time '{_azure_time(claims.get('exp', 0))}' is earlier than "
                       f"current UTC time '{now}'.")
        elif refused.reason == "not_yet_valid":
            code = "InvalidAuthenticationToken"
            message = (f"The access token is not yet valid. Its validity start UTC time "
                       f"'{_azure_time(claims.get('nbf', 0))}' is later than current UTC time '{now}'.")
        elif refused.reason == "audience":
            code = "InvalidAuthenticationTokenAudience"
            allowed = ",".join(f"'{a}'" for a in audiences)
            message = (f"The access token has been obtained for wrong audience or resource '{claims.get('aud')}'. "
                       f"It should exactly match with one of the allowed audiences {allowed}.")
        elif refused.reason == "issuer":
            code = "InvalidAuthenticationTokenTenant"
            message = (f"The access token is from the wrong issuer '{claims.get('iss')}'. It must match the tenant "
                       f"'{self.issuer}' associated with this subscription. Please use the authority (URL) "
                       f"'{self.base_url}/{self.tenant_id}' to get the token.")
        else:
            code, message = "InvalidAuthenticationToken", "The access token is invalid."
        return ArmError(401, code, message, headers={"WWW-Authenticate": self._challenge(message)})

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
        scope = (form.get("scope") or "https://management.azure.com/.default").split()[0]
        audience = audience_for_scope(scope, self.base_url)
        return Response.json(200, {
            "token_type": "Bearer", "expires_in": self.token_lifetime, "ext_expires_in": self.token_lifetime,
            "access_token": self.issue(sp, audience),
        })
