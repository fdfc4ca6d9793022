"""A registry's data plane on its own listener: OCI distribution (``/v2/``), ACR's ``/acr/v1/`` and tokens.

Authentication follows ACR: an unauthenticated call gets ``401 UNAUTHORIZED`` with a Bearer challenge
(``realm``, ``service``, ``scope``); clients then exchange an Entra token (``/oauth2/exchange``) or
admin credentials for an access token (``/oauth2/token``). ``Authorization: Basic`` with the admin
user (or a service principal's id and secret) is also accepted on every route, as registry:2-style
clients such as ``oras`` send it.

The challenge's ``realm`` is built from the request's ``Host`` header: ``https://<name>.azurecr.io/
oauth2/token`` when the client came by the login server (a CONNECT proxy), and the loopback address
it used otherwise, so every client can reach it.
"""

from __future__ import annotations

import base64
import binascii
import functools
import time
import uuid
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qsl, quote, unquote

from pytest_acalab.emulator.platform.core import Platform
from pytest_acalab.emulator.platform.http import Request, Response
from pytest_acalab.emulator.platform.identity import REGISTRY_AUDIENCES, TokenRefused
from pytest_acalab.emulator.platform.validation import loads as strict_json

from . import oci
from .content import RegistryContent, RegistryError, is_valid_repository_name
from .models import ANONYMOUS, Access, Registry, RegistryState, Subject

UNAUTHORIZED_MESSAGE = "authentication required, visit https://aka.ms/acr/authorization for more information."
DENIED_MESSAGE = "requested access to the resource is denied"
REFRESH_LIFETIME = 3 * 3600
ACCESS_LIFETIME = 75 * 60
TOKEN_USER = "00000000-0000-0000-0000-000000000000"


class _Fail(Exception):
    def __init__(self, response: Response) -> None:
        super().__init__(response.status)
        self.response = response


def error_response(status: int, code: str, message: str, detail: Any = None,
                   headers: dict[str, str] | None = None) -> Response:
    resp = Response.json(status, RegistryError(status, code, message, detail).to_json(), headers)
    resp.headers["Docker-Distribution-API-Version"] = "registry/2.0"
    return resp


def _ok(status: int, body: bytes | dict[str, Any] | list[Any] | None = None, headers: dict[str, str] | None = None,
        content_type: str | None = None) -> Response:
    if isinstance(body, dict | list):
        resp = Response.json(status, body, headers)
    else:
        resp = Response(status, body or b"")
        for k, v in (headers or {}).items():
            resp.headers[k] = v
        if content_type:
            resp.headers["Content-Type"] = content_type
    resp.headers["Docker-Distribution-API-Version"] = "registry/2.0"
    return resp


def _form(req: Request) -> dict[str, str]:
    out = dict(req.query)
    if req.method == "POST" and req.body:
        out.update(dict(parse_qsl(req.body.decode("utf-8", "replace"), keep_blank_values=True)))
    return out


def _page_params(req: Request) -> tuple[int | None, str | None]:
    raw_n = req.query.get("n")
    n = None
    if raw_n not in (None, ""):
        try:
            n = int(raw_n)
        except ValueError:
            raise RegistryError(400, "PAGINATION_NUMBER_INVALID", "invalid number of results requested",
                                {"n": raw_n}) from None
    return n, req.query.get("last") or None


class DataPlane:
    def __init__(self, platform: Platform, state: RegistryState, access: Access) -> None:
        self.p = platform
        self.state = state
        self.access = access

    # --- plumbing -------------------------------------------------------------------------------

    def _registry(self, req: Request) -> Registry:
        reg = self.state.by_host(req.host)
        if reg is None or reg.provisioning_state == "Deleting":
            raise _Fail(error_response(404, "NAME_UNKNOWN", f"registry '{req.host}' does not exist"))
        return reg

    def _challenge(self, req: Request, reg: Registry, scope: str | None, error: str | None = None) -> str:
        host = req.headers.get("Host") or reg.login_server
        text = f'Bearer realm="https://{host}/oauth2/token",service="{reg.login_server}"'
        if scope:
            text += f',scope="{scope}"'
        if error:
            text += f',error="{error}"'
        return text

    def _basic(self, reg: Registry, header: str) -> Subject | None:
        try:
            raw = base64.b64decode(header.split(None, 1)[1].strip(), validate=True).decode("utf-8")
        except (IndexError, ValueError, binascii.Error, UnicodeDecodeError):
            return None
        username, _, password = raw.partition(":")
        return self.subject_for_login(reg, username, password)

    def subject_for_login(self, reg: Registry, username: str | None, password: str | None) -> Subject | None:
        """Admin user, a service principal (client id + secret) or the token user of ``az acr login``."""
        if not username or not password:
            return None
        if reg.admin_login_ok(username, password):
            return Subject("admin")
        sp = self.p.identity.principals.get(username)
        if sp is not None and sp.secret == password:
            return Subject("principal", sp.object_id)
        if username == TOKEN_USER:
            return self._refresh_subject(reg, password)
        return None

    def _refresh_subject(self, reg: Registry, token: str) -> Subject | None:
        claims = self.p.identity.verify(token, self.state.token_key)
        if not claims or claims.get("typ") != "refresh" or claims.get("aud") != reg.login_server:
            return None
        return Subject(str(claims.get("kind")), str(claims.get("sub") or ""))

    def authorize(self, req: Request, reg: Registry, resource_type: str, name: str,
                  actions: tuple[str, ...]) -> Subject:
        """Let the request through or raise the registry's 401 (UNAUTHORIZED / DENIED)."""
        scope = f"{resource_type}:{name}:{','.join(actions)}"
        detail = [{"Type": resource_type, "Name": name, "Action": a} for a in actions]
        header = req.headers.get("Authorization") or ""
        lower = header.lower()

        def fail(code: str, message: str, error: str | None) -> _Fail:
            # DENIED (valid credentials, not enough rights or a token too narrow) is a 403 carrying the
            # challenge, so token clients (oras) fetch a token for the wider scope and retry once.
            status = 403 if code == "DENIED" else 401
            return _Fail(error_response(status, code, message, detail,
                                        {"WWW-Authenticate": self._challenge(req, reg, scope, error)}))

        if lower.startswith("basic "):
            subject = self._basic(reg, header)
            if subject is None:
                raise fail("UNAUTHORIZED", UNAUTHORIZED_MESSAGE, "invalid_token")
            if set(self.access.grant(reg, subject, resource_type, name, actions)) >= set(actions):
                return subject
            raise fail("DENIED", DENIED_MESSAGE, "insufficient_scope")
        if lower.startswith("bearer "):
            claims = self.p.identity.verify(header[7:].strip(), self.state.token_key)
            if not claims or claims.get("typ") != "access" or claims.get("aud") != reg.login_server:
                raise fail("UNAUTHORIZED", UNAUTHORIZED_MESSAGE, "invalid_token")
            subject = Subject(str(claims.get("kind")), str(claims.get("sub") or ""))
            granted: set[str] = set()
            for entry in claims.get("access") or []:
                if entry.get("type") == resource_type and entry.get("name") == name:
                    granted |= set(entry.get("actions") or [])
            if granted >= set(actions):
                return subject
            raise fail("DENIED", DENIED_MESSAGE, "insufficient_scope")
        raise fail("UNAUTHORIZED", UNAUTHORIZED_MESSAGE, None)

    def _handler(self, fn: Callable[..., Response]) -> Callable[..., Response]:
        @functools.wraps(fn)
        def wrapped(req: Request, **params: str) -> Response:
            params = {k: unquote(v) for k, v in params.items()}
            try:
                reg = self._registry(req)
                return fn(req, reg, **params)
            except _Fail as exc:
                return exc.response
            except RegistryError as exc:
                return error_response(exc.status, exc.code, exc.message, exc.detail)
        return wrapped

    # --- tokens ---------------------------------------------------------------------------------

    def _mint(self, claims: dict[str, Any], lifetime: int) -> tuple[str, int]:
        now = int(time.time())
        exp = now + lifetime
        claims = {"jti": str(uuid.uuid4()), "iat": now, "nbf": now, "exp": exp,
                  "iss": "Azure Container Registry", "version": "1.0", **claims}
        return self.p.remember_secret(self.p.identity.sign(claims, self.state.token_key)), exp

    def exchange(self, req: Request, reg: Registry) -> Response:
        """``POST /oauth2/exchange``: an Entra access token (or admin credentials) → an ACR refresh token."""
        form = _form(req)
        grant = form.get("grant_type", "")
        if grant in ("access_token", "access_token_refresh_token"):
            try:
                claims = self.p.identity.check_entra_token(form.get("access_token", ""), REGISTRY_AUDIENCES)
            except TokenRefused as refused:
                why = {"audience": "was issued for another audience", "issuer": "is from another tenant",
                       "expired": "has expired", "not_yet_valid": "is not valid yet"}.get(refused.reason,
                                                                                       "is invalid")
                raise _Fail(error_response(401, "UNAUTHORIZED", f"the access token {why}")) from None
            if not claims.get("oid"):
                raise _Fail(error_response(401, "UNAUTHORIZED", "the access token is invalid or expired"))
            subject = Subject("principal", str(claims["oid"]))
        elif grant == "password":
            found = self.subject_for_login(reg, form.get("username"), form.get("password"))
            if found is None:
                raise _Fail(error_response(401, "UNAUTHORIZED", UNAUTHORIZED_MESSAGE))
            subject = found
        else:
            raise _Fail(error_response(400, "UNSUPPORTED", f"grant_type '{grant}' is not supported; use "
                                                           "access_token or password"))
        token, _ = self._mint({"typ": "refresh", "grant_type": "refresh_token", "aud": reg.login_server,
                               "kind": subject.kind, "sub": subject.principal_id or subject.kind,
                               "tenant": self.p.store.tenant_id}, REFRESH_LIFETIME)
        return _ok(200, {"refresh_token": token})

    def token(self, req: Request, reg: Registry) -> Response:
        """``/oauth2/token`` (GET docker-style with Basic, or POST with a refresh token / password)."""
        form = _form(req)
        grant = form.get("grant_type", "")
        subject: Subject | None
        if grant == "refresh_token":
            subject = self._refresh_subject(reg, form.get("refresh_token", ""))
        elif grant == "password" and form.get("username"):
            subject = self.subject_for_login(reg, form.get("username"), form.get("password"))
        elif grant == "password" and form.get("refresh_token"):
            subject = self._refresh_subject(reg, form["refresh_token"])
        elif (req.headers.get("Authorization") or "").lower().startswith("basic "):
            subject = self._basic(reg, req.headers["Authorization"])
        else:
            subject = ANONYMOUS if reg.anonymous_pull_enabled else None
        if subject is None:
            raise _Fail(error_response(401, "UNAUTHORIZED", UNAUTHORIZED_MESSAGE))
        access = []
        for scope in (form.get("scope") or "").split():
            kind, _, rest = scope.partition(":")
            name, _, actions = rest.rpartition(":")
            if not kind or not name:
                continue
            granted = self.access.grant(reg, subject, kind, name, actions.split(","))
            access.append({"type": kind, "name": name, "actions": granted})
        token, exp = self._mint({"typ": "access", "grant_type": grant or "basic", "aud": reg.login_server,
                                 "kind": subject.kind, "sub": subject.principal_id or subject.kind,
                                 "access": access}, ACCESS_LIFETIME)
        return _ok(200, {"access_token": token, "expires_in": exp - int(time.time())})

    # --- /v2/ -----------------------------------------------------------------------------------

    def base(self, req: Request, reg: Registry) -> Response:
        header = req.headers.get("Authorization") or ""
        ok = False
        if header.lower().startswith("basic "):
            ok = self._basic(reg, header) is not None
        elif header.lower().startswith("bearer "):
            claims = self.p.identity.verify(header[7:].strip(), self.state.token_key)
            ok = bool(claims and claims.get("typ") == "access" and claims.get("aud") == reg.login_server)
        if not ok:
            raise _Fail(error_response(401, "UNAUTHORIZED", UNAUTHORIZED_MESSAGE, None,
                                       {"WWW-Authenticate": self._challenge(req, reg, None)}))
        return _ok(200, {})

    def catalog(self, req: Request, reg: Registry, prefix: str = "/v2/_catalog") -> Response:
        self.authorize(req, reg, "registry", "catalog", ("*",))
        n, last = _page_params(req)
        names = reg.content.list_repositories(n, last)
        headers = {}
        if n and len(names) == n:
            headers["Link"] = f'<{prefix}?last={quote(names[-1], safe="")}&n={n}>; rel="next"'
        return _ok(200, {"repositories": names}, headers)

    def acr_catalog(self, req: Request, reg: Registry) -> Response:
        return self.catalog(req, reg, "/acr/v1/_catalog")

    def tags_list(self, req: Request, reg: Registry, name: str) -> Response:
        self.authorize(req, reg, "repository", name, ("pull",))
        n, last = _page_params(req)
        tags = reg.content.list_tags(name, n, last)
        headers = {}
        if n and len(tags) == n:
            headers["Link"] = f'</v2/{name}/tags/list?last={quote(tags[-1], safe="")}&n={n}>; rel="next"'
        return _ok(200, {"name": name, "tags": tags}, headers)

    # manifests
    def manifest(self, req: Request, reg: Registry, name: str, reference: str) -> Response:
        content = reg.content
        if req.method in ("GET", "HEAD"):
            self.authorize(req, reg, "repository", name, ("pull",))
            record = content.get_manifest(name, reference)
            accept = ",".join(v for k, v in req.headers.items() if k.lower() == "accept")
            offered = {a.split(";")[0].strip() for a in accept.split(",") if a.strip()}
            # As distribution does: OCI content only for clients that name the OCI type in Accept
            # (``*/*`` is not enough); Docker types are served to everyone.
            if record.media_type == oci.OCI_MANIFEST and oci.OCI_MANIFEST not in offered:
                raise RegistryError(404, "MANIFEST_UNKNOWN",
                                    "OCI manifest found, but accept header does not support OCI manifests")
            if record.media_type == oci.OCI_INDEX and oci.OCI_INDEX not in offered:
                raise RegistryError(404, "MANIFEST_UNKNOWN",
                                    "OCI index found, but accept header does not support OCI indexes")
            return _ok(200, record.body, {"Docker-Content-Digest": record.digest, "ETag": f'"{record.digest}"'},
                       record.media_type)
        if req.method == "PUT":
            self.authorize(req, reg, "repository", name, ("pull", "push"))
            media_type = (req.headers.get("Content-Type") or "").split(";")[0].strip() or None
            if media_type in ("application/octet-stream", "application/json"):
                media_type = None
            digest = content.put_manifest(name, reference, media_type, req.body)
            return _ok(201, b"", {"Location": f"/v2/{name}/manifests/{digest}", "Docker-Content-Digest": digest})
        self.authorize(req, reg, "repository", name, ("delete",))
        content.delete_manifest(name, reference)
        return _ok(202, b"")

    # blobs
    def blob(self, req: Request, reg: Registry, name: str, digest: str) -> Response:
        content = reg.content
        if req.method == "DELETE":
            self.authorize(req, reg, "repository", name, ("delete",))
            content.delete_blob(name, digest)
            return _ok(202, b"", {"Docker-Content-Digest": digest})
        self.authorize(req, reg, "repository", name, ("pull",))
        data = content.get_blob(name, digest)
        headers = {"Docker-Content-Digest": digest, "ETag": f'"{digest}"', "Accept-Ranges": "bytes"}
        rng = req.headers.get("Range")
        if rng and rng.startswith("bytes=") and data:
            start_s, _, end_s = rng[6:].partition("-")
            try:
                start = int(start_s) if start_s else max(len(data) - int(end_s), 0)
                end = min(int(end_s), len(data) - 1) if (end_s and start_s) else len(data) - 1
            except ValueError:
                start, end = -1, -1
            if start < 0 or start >= len(data) or end < start:
                return error_response(416, "BLOB_UNKNOWN", "requested range not satisfiable", digest,
                                      {"Content-Range": f"bytes */{len(data)}"})
            headers["Content-Range"] = f"bytes {start}-{end}/{len(data)}"
            return _ok(206, data[start:end + 1], headers, "application/octet-stream")
        return _ok(200, data, headers, "application/octet-stream")

    # uploads
    def _upload_headers(self, name: str, upload_id: str, size: int) -> dict[str, str]:
        return {"Location": f"/v2/{name}/blobs/uploads/{upload_id}", "Range": f"0-{max(size - 1, 0)}",
                "Docker-Upload-UUID": upload_id}

    def start_upload(self, req: Request, reg: Registry, name: str) -> Response:
        self.authorize(req, reg, "repository", name, ("pull", "push"))
        content = reg.content
        mount, source = req.query.get("mount"), req.query.get("from")
        if mount and source and content.mount_blob(name, mount, source):
            return _ok(201, b"", {"Location": f"/v2/{name}/blobs/{mount}", "Docker-Content-Digest": mount})
        digest = req.query.get("digest")
        if digest:
            stored = content.put_blob(req.body, digest)
            return _ok(201, b"", {"Location": f"/v2/{name}/blobs/{stored}", "Docker-Content-Digest": stored})
        upload_id = content.start_upload(name)
        if req.body:
            content.append_upload(name, upload_id, req.body)
        return _ok(202, b"", self._upload_headers(name, upload_id, content.upload_size(name, upload_id)))

    def upload(self, req: Request, reg: Registry, name: str, upload_id: str) -> Response:
        self.authorize(req, reg, "repository", name, ("pull", "push"))
        content = reg.content
        if req.method in ("GET", "HEAD"):
            return _ok(204, b"", self._upload_headers(name, upload_id, content.upload_size(name, upload_id)))
        if req.method == "DELETE":
            content.cancel_upload(name, upload_id)
            return _ok(204, b"")
        if req.method == "PATCH":
            offset = None
            crange = req.headers.get("Content-Range")
            if crange:
                try:
                    offset = int(crange.replace("bytes", "").strip().split("-")[0])
                except ValueError:
                    raise RegistryError(416, "BLOB_UPLOAD_INVALID", "blob upload invalid",
                                        f"malformed Content-Range {crange!r}") from None
            size = content.append_upload(name, upload_id, req.body, offset)
            return _ok(202, b"", self._upload_headers(name, upload_id, size))
        digest = req.query.get("digest", "")
        stored = content.finish_upload(name, upload_id, digest, req.body)
        return _ok(201, b"", {"Location": f"/v2/{name}/blobs/{stored}", "Docker-Content-Digest": stored})

    # --- /acr/v1/ -------------------------------------------------------------------------------

    def acr_repository(self, req: Request, reg: Registry, name: str) -> Response:
        content: RegistryContent = reg.content
        if req.method == "DELETE":
            self.authorize(req, reg, "repository", name, ("delete",))
            manifests, tags = content.delete_repository(name)
            return _ok(202, {"manifestsDeleted": manifests, "tagsDeleted": tags})
        if req.method == "PATCH":
            self.authorize(req, reg, "repository", name, ("metadata_write",))
            return _ok(200, content.update_repository_attributes(name, _json(req)))
        self.authorize(req, reg, "repository", name, ("metadata_read",))
        return _ok(200, content.repository_attributes(name))

    def acr_tags(self, req: Request, reg: Registry, name: str) -> Response:
        self.authorize(req, reg, "repository", name, ("metadata_read",))
        n, last = _page_params(req)
        body = reg.content.list_tag_attributes(name, n, last)
        digest = req.query.get("digest")
        if digest:
            body["tags"] = [t for t in body["tags"] if t["digest"] == digest]
        if (req.query.get("orderby") or "").lower() == "timedesc":
            body["tags"].sort(key=lambda t: t["lastUpdateTime"], reverse=True)
        elif (req.query.get("orderby") or "").lower() == "timeasc":
            body["tags"].sort(key=lambda t: t["lastUpdateTime"])
        headers = {}
        if n and len(body["tags"]) == n:
            last_tag = quote(body["tags"][-1]["name"], safe="")
            headers["Link"] = f'</acr/v1/{name}/_tags?last={last_tag}&n={n}>; rel="next"'
        return _ok(200, body, headers)

    def acr_tag(self, req: Request, reg: Registry, name: str, reference: str) -> Response:
        content = reg.content
        if not is_valid_repository_name(name):
            # ACR's router does not match such a name: a plain-text 404 before any challenge (recorded for
            # GET /acr/v1/Nonexistent/_tags/Nonexistent), which SDK clients read as "not found".
            return _ok(404, b"404 page not found\n", content_type="text/plain; charset=utf-8")
        if req.method == "DELETE":
            self.authorize(req, reg, "repository", name, ("delete",))
            content.delete_tag(name, reference)
            return _ok(202, b"")
        if req.method == "PATCH":
            self.authorize(req, reg, "repository", name, ("metadata_write",))
            return _ok(200, content.update_tag_attributes(name, reference, _json(req)))
        self.authorize(req, reg, "repository", name, ("metadata_read",))
        return _ok(200, content.tag_attributes(name, reference))

    def acr_manifests(self, req: Request, reg: Registry, name: str) -> Response:
        self.authorize(req, reg, "repository", name, ("metadata_read",))
        content = reg.content
        items = [content.manifest_attributes(name, d)["manifest"] for d in content.list_manifests(name)]
        n, last = _page_params(req)
        if last:
            items = [m for m in items if m["digest"] > last]
        if n is not None:
            items = items[:n]
        return _ok(200, {"registry": reg.login_server, "imageName": name, "manifests": items})

    def acr_manifest(self, req: Request, reg: Registry, name: str, digest: str) -> Response:
        content = reg.content
        if req.method == "DELETE":
            self.authorize(req, reg, "repository", name, ("delete",))
            content.delete_manifest(name, digest)
            return _ok(202, b"")
        if req.method == "PATCH":
            self.authorize(req, reg, "repository", name, ("metadata_write",))
            return _ok(200, content.update_manifest_attributes(name, digest, _json(req)))
        self.authorize(req, reg, "repository", name, ("metadata_read",))
        return _ok(200, content.manifest_attributes(name, digest))

    # --- registration ---------------------------------------------------------------------------

    def register(self) -> None:
        p, h = self.p, self._handler

        def route(methods: str, pattern: str, fn: Callable[..., Response]) -> None:
            p.route(methods, pattern, h(fn), host="registry", auth=False)

        route("POST", "/oauth2/exchange", self.exchange)
        route("GET POST", "/oauth2/token", self.token)
        route("GET", "/v2/", self.base)
        route("GET", "/v2/_catalog", self.catalog)
        route("GET", "/v2/{name:path}/tags/list", self.tags_list)
        route("GET PUT DELETE", "/v2/{name:path}/manifests/{reference}", self.manifest)
        route("POST", "/v2/{name:path}/blobs/uploads", self.start_upload)
        route("GET PATCH PUT DELETE", "/v2/{name:path}/blobs/uploads/{upload_id}", self.upload)
        route("GET DELETE", "/v2/{name:path}/blobs/{digest}", self.blob)
        route("GET", "/acr/v1/_catalog", self.acr_catalog)
        route("GET PATCH DELETE", "/acr/v1/{name:path}/_tags/{reference}", self.acr_tag)
        route("GET", "/acr/v1/{name:path}/_tags", self.acr_tags)
        route("GET PATCH DELETE", "/acr/v1/{name:path}/_manifests/{digest}", self.acr_manifest)
        route("GET", "/acr/v1/{name:path}/_manifests", self.acr_manifests)
        route("GET PATCH DELETE", "/acr/v1/{name:path}", self.acr_repository)


def _json(req: Request) -> dict[str, Any]:
    try:
        body = strict_json(req.body or b"{}")
    except ValueError:
        raise RegistryError(400, "INVALID_REQUEST", "invalid changeable attributes", "body is not JSON") from None
    if not isinstance(body, dict):
        raise RegistryError(400, "INVALID_REQUEST", "invalid changeable attributes", "body must be an object")
    return body
