"""The tiny Azure Blob endpoint ACR Tasks needs: build-source upload and run logs.

Path-style URLs on the emulator's main endpoint, as Azurite serves them for an IP host:
``{emulator}/{account}/{container}/{blob}?sv=...&se=...&sr=b&sp=...&sig=...``. Only SAS
authorisation exists (the signature is checked); ``PUT`` takes a block blob under ``source/``;
``HEAD``/``GET`` read a source blob or a run's append-blob log ``logs/{runId}/rawtext.log``, with
ranges (``x-ms-range`` / ``Range`` → 206) and ``x-ms-meta-Complete`` once the run ended. Errors are
Blob storage's XML bodies with ``x-ms-error-code``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import uuid
from datetime import UTC, datetime
from email.utils import format_datetime

from pytest_acalab.emulator.platform.core import Platform
from pytest_acalab.emulator.platform.http import Headers, Request, Response

from .models import BLOB_ACCOUNT, Registry, RegistryState

STORAGE_VERSION = "2021-06-08"


def _http_date(dt: datetime) -> str:
    return format_datetime(dt.astimezone(UTC), usegmt=True)


def storage_error(status: int, code: str, message: str, detail: str | None = None) -> Response:
    now = datetime.now(UTC)
    text = f"{message}\nRequestId:{uuid.uuid4()}\nTime:{now.strftime('%Y-%m-%dT%H:%M:%S.%f')}0Z"
    xml = f'<?xml version="1.0" encoding="utf-8"?><Error><Code>{code}</Code><Message>{text}</Message>'
    if detail:
        tag = "AuthenticationErrorDetail" if code == "AuthenticationFailed" else "Detail"
        xml += f"<{tag}>{detail}</{tag}>"
    xml += "</Error>"
    resp = Response(status, xml.encode())
    resp.headers["Content-Type"] = "application/xml"
    resp.headers["x-ms-error-code"] = code
    resp.headers["x-ms-version"] = STORAGE_VERSION
    return resp


class Blobs:
    def __init__(self, platform: Platform, state: RegistryState) -> None:
        self.p = platform
        self.state = state

    def _check_sas(self, req: Request, container: str, blob: str, need: str) -> Response | None:
        q = req.query
        sig, expiry, perms = q.get("sig"), q.get("se"), q.get("sp", "")
        path = f"/{BLOB_ACCOUNT}/{container}/{blob}"
        if not sig or not expiry:
            return storage_error(404 if req.method != "PUT" else 401, "ResourceNotFound" if req.method != "PUT"
                                 else "NoAuthenticationInformation",
                                 "The specified resource does not exist." if req.method != "PUT" else
                                 "Server failed to authenticate the request. Please refer to the information in "
                                 "the www-authenticate header.")
        expected = self.state.sas_signature(path, perms, expiry)
        if not hmac.compare_digest(expected, sig):
            return storage_error(403, "AuthenticationFailed",
                                 "Server failed to authenticate the request. Make sure the value of Authorization "
                                 "header is formed correctly including the signature.",
                                 f"Signature did not match. String to sign used was {perms}\n{expiry}\n{path}")
        try:
            ends = datetime.strptime(expiry, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
        except ValueError:
            ends = datetime.min.replace(tzinfo=UTC)
        now = datetime.now(UTC)
        if ends < now:
            return storage_error(403, "AuthenticationFailed",
                                 "Server failed to authenticate the request. Make sure the value of Authorization "
                                 "header is formed correctly including the signature.",
                                 f"Signed expiry time [{_http_date(ends)}] must be after signed start time "
                                 f"[{_http_date(now)}]")
        if not any(c in perms for c in need):
            return storage_error(403, "AuthorizationPermissionMismatch",
                                 "This request is not authorized to perform this operation using this permission.")
        return None

    def handle(self, req: Request, container: str, blob: str) -> Response:
        reg = self.state.by_container(container)
        if reg is None:
            return storage_error(404, "ContainerNotFound", "The specified container does not exist.")
        denied = self._check_sas(req, container, blob, "cw" if req.method == "PUT" else "r")
        if denied is not None:
            return denied
        if req.method == "PUT":
            return self._put(req, reg, blob)
        return self._read(req, reg, blob)

    def _put(self, req: Request, reg: Registry, blob: str) -> Response:
        kind = req.headers.get("x-ms-blob-type")
        if not kind:
            return storage_error(400, "MissingRequiredHeader",
                                 "An HTTP header that's mandatory for this request is not specified.",
                                 "x-ms-blob-type")
        if kind != "BlockBlob":
            return storage_error(400, "InvalidHeaderValue",
                                 "The value for one of the HTTP headers is not in the correct format.",
                                 f"x-ms-blob-type: {kind}")
        if not blob.startswith("source/"):
            return storage_error(403, "AuthorizationPermissionMismatch",
                                 "This request is not authorized to perform this operation using this permission.")
        with self.p.lock:
            reg.build_sources[blob] = bytes(req.body)
        now = datetime.now(UTC)
        return Response.empty(201, {
            "Content-MD5": base64.b64encode(hashlib.md5(req.body).digest()).decode(),  # as Azure
            "ETag": f'"0x{uuid.uuid4().hex[:15].upper()}"', "Last-Modified": _http_date(now),
            "x-ms-request-server-encrypted": "true", "x-ms-version": STORAGE_VERSION,
        })

    def _read(self, req: Request, reg: Registry, blob: str) -> Response:
        meta: dict[str, str] = {}
        if blob.startswith("logs/") and blob.endswith("/rawtext.log"):
            run = reg.runs.get(blob.split("/")[1].lower())
            if run is None or run.log_created is None:
                return storage_error(404, "BlobNotFound", "The specified blob does not exist.")
            with self.p.lock:
                data = bytes(run.log)
                complete = run.log_complete
                created, modified = run.log_created, run.log_modified or run.log_created
            kind, content_type = "AppendBlob", "text/plain; charset=utf-8"
            if complete:
                meta["x-ms-meta-Complete"] = complete
        elif blob in reg.build_sources:
            data = reg.build_sources[blob]
            created = modified = reg.created
            kind, content_type = "BlockBlob", "application/octet-stream"
        else:
            return storage_error(404, "BlobNotFound", "The specified blob does not exist.")
        headers = {
            "Accept-Ranges": "bytes", "Content-Type": content_type, "x-ms-blob-type": kind,
            "ETag": f'"0x{hashlib.sha1(data).hexdigest()[:15].upper()}"',  # an ETag, not security
            "Last-Modified": _http_date(modified), "x-ms-creation-time": _http_date(created),
            "x-ms-lease-state": "available", "x-ms-lease-status": "unlocked", "x-ms-server-encrypted": "true",
            "x-ms-version": STORAGE_VERSION, **meta,
        }
        if kind == "AppendBlob":
            headers["x-ms-blob-committed-block-count"] = str(max(1, data.count(b"\n")))
        rng = req.headers.get("x-ms-range") or req.headers.get("Range")
        if rng and req.method == "GET":
            try:
                start_s, _, end_s = rng.strip().removeprefix("bytes=").partition("-")
                start = int(start_s)
                end = int(end_s) if end_s else len(data) - 1
            except ValueError:
                return storage_error(400, "InvalidHeaderValue",
                                     "The value for one of the HTTP headers is not in the correct format.", rng)
            if start >= len(data) or end < start:
                return storage_error(416, "InvalidRange",
                                     "The range specified is invalid for the current size of the resource.")
            end = min(end, len(data) - 1)
            headers["Content-Range"] = f"bytes {start}-{end}/{len(data)}"
            return Response(206, data[start:end + 1], _headers(headers))
        resp = Response(200, data if req.method == "GET" else b"", _headers(headers))
        resp.headers["Content-Length"] = str(len(data))
        return resp

    def register(self) -> None:
        self.p.route("GET PUT", f"/{BLOB_ACCOUNT}/{{container}}/{{blob:path}}", self.handle, auth=False)


def _headers(values: dict[str, str]) -> Headers:
    return Headers(values.items())
