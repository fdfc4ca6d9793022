"""What one container registry holds: blobs, repositories (manifests, tags), upload sessions.

``RegistryContent`` is the state machine behind the OCI distribution routes (``/v2/...``) and
ACR's ``/acr/v1/...`` routes; it speaks no HTTP. Every operation either succeeds completely or
raises :class:`RegistryError` and leaves the content unchanged. All public methods take an
internal lock, so one instance can be shared between server threads.

Error codes and messages are those of CNCF distribution (registry:2, what ACR is built on),
``registry/api/v2/errors.go``; where ACR words an error differently (a missing tag), ACR's
wording is used.
"""

from __future__ import annotations

import json
import re
import threading
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, NamedTuple

from pytest_acalab.emulator.platform.validation import loads as strict_json

from . import oci

MAX_MANIFEST_BYTES = 4 * 1024 * 1024  # registry:2's limit on a manifest body

# Repository names and tags as the distribution reference grammar defines them.
_PATH_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|[-]+)[a-z0-9]+)*"
_REPOSITORY_RE = re.compile(rf"^{_PATH_COMPONENT}(?:/{_PATH_COMPONENT})*$")
_TAG_RE = re.compile(r"^[\w][\w.-]{0,127}$")
MAX_REPOSITORY_LENGTH = 255


class RegistryError(Exception):
    """A registry API error, rendered by the HTTP layer as ``{"errors": [{code, message, detail}]}``."""

    def __init__(self, status: int, code: str, message: str, detail: object = None) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message
        self.detail = detail

    def to_json(self) -> dict[str, Any]:
        """The error envelope body (``detail`` left out when None, as registry:2 does)."""
        entry: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.detail is not None:
            entry["detail"] = self.detail
        return {"errors": [entry]}


# Constructors for the errors the distribution spec defines (status, code, message).


def name_invalid(repository: str, reason: str) -> RegistryError:
    return RegistryError(400, "NAME_INVALID", "invalid repository name", {"name": repository, "reason": reason})


def name_unknown(repository: str) -> RegistryError:
    return RegistryError(404, "NAME_UNKNOWN", "repository name not known to registry", {"name": repository})


def tag_invalid(detail: object) -> RegistryError:
    return RegistryError(400, "TAG_INVALID", "manifest tag did not match URI", detail)


def manifest_unknown_tag(tag: str) -> RegistryError:
    # ACR's wording (registry:2 says "manifest unknown" with the same detail).
    return RegistryError(404, "MANIFEST_UNKNOWN", f'manifest tagged by "{tag}" is not found', {"Tag": tag})


def tag_unknown() -> RegistryError:
    # ACR's answer on /acr/v1/{repo}/_tags/{tag} for a missing tag or repository: TAG_UNKNOWN, no detail
    # (recorded by the Azure SDK team: tests/contract/data/acr-sdk-delete-tag-does-not-exist.json).
    return RegistryError(404, "TAG_UNKNOWN", "the specified tag does not exist")


def manifest_unknown_digest(repository: str, digest: str) -> RegistryError:
    return RegistryError(404, "MANIFEST_UNKNOWN", "manifest unknown", {"Name": repository, "Revision": digest})


def manifest_invalid(reason: str) -> RegistryError:
    return RegistryError(400, "MANIFEST_INVALID", "manifest invalid", reason)


def manifest_blob_unknown(digest: str) -> RegistryError:
    return RegistryError(400, "MANIFEST_BLOB_UNKNOWN", "blob unknown to registry", digest)


def blob_unknown(digest: str) -> RegistryError:
    return RegistryError(404, "BLOB_UNKNOWN", "blob unknown to registry", digest)


def digest_invalid(digest: str, reason: str) -> RegistryError:
    return RegistryError(
        400, "DIGEST_INVALID", "provided digest did not match uploaded content", {"digest": digest, "reason": reason}
    )


def blob_upload_unknown(upload_id: str) -> RegistryError:
    return RegistryError(404, "BLOB_UPLOAD_UNKNOWN", "blob upload unknown to registry", {"uuid": upload_id})


def blob_upload_invalid(reason: str, status: int = 416) -> RegistryError:
    return RegistryError(status, "BLOB_UPLOAD_INVALID", "blob upload invalid", reason)


def validate_repository_name(repository: str) -> None:
    """Raise NAME_INVALID unless ``repository`` follows the distribution name grammar."""
    if not repository:
        raise name_invalid(repository, "repository name must not be empty")
    if len(repository) > MAX_REPOSITORY_LENGTH:
        raise name_invalid(repository, f"repository name must not be longer than {MAX_REPOSITORY_LENGTH} characters")
    if not _REPOSITORY_RE.match(repository):
        raise name_invalid(
            repository,
            "repository name must be lowercase path components of [a-z0-9] separated by '.', '_', '__' or "
            "'-', joined by '/'",
        )


def is_valid_repository_name(repository: str) -> bool:
    try:
        validate_repository_name(repository)
    except RegistryError:
        return False
    return True


def is_valid_tag(tag: str) -> bool:
    return bool(_TAG_RE.match(tag))


def _iso(moment: datetime) -> str:
    """ACR's timestamp shape: ``2021-03-17T00:12:34.1234567Z``."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f") + "0Z"


@dataclass(frozen=True)
class ChangeableAttributes:
    """ACR's per-repository / per-tag / per-manifest switches (``changeableAttributes``)."""

    delete_enabled: bool = True
    write_enabled: bool = True
    read_enabled: bool = True
    list_enabled: bool = True

    def to_json(self) -> dict[str, bool]:
        return {
            "deleteEnabled": self.delete_enabled,
            "writeEnabled": self.write_enabled,
            "readEnabled": self.read_enabled,
            "listEnabled": self.list_enabled,
        }

    def updated(self, changes: dict[str, Any]) -> ChangeableAttributes:
        """Apply an ACR PATCH body (camelCase keys); unknown keys raise ValueError."""
        names = {
            "deleteEnabled": "delete_enabled",
            "writeEnabled": "write_enabled",
            "readEnabled": "read_enabled",
            "listEnabled": "list_enabled",
        }
        values = {
            "delete_enabled": self.delete_enabled,
            "write_enabled": self.write_enabled,
            "read_enabled": self.read_enabled,
            "list_enabled": self.list_enabled,
        }
        for key, value in changes.items():
            if key not in names or not isinstance(value, bool):
                raise ValueError(f"unknown or non-boolean changeable attribute {key!r}")
            values[names[key]] = value
        return ChangeableAttributes(**values)


class ManifestRecord(NamedTuple):
    """A manifest as served: unpacks as ``(media_type, body, digest)``."""

    media_type: str
    body: bytes
    digest: str


@dataclass
class _Manifest:
    media_type: str
    body: bytes
    created: datetime
    updated: datetime
    attributes: ChangeableAttributes = field(default_factory=ChangeableAttributes)


@dataclass
class _Tag:
    digest: str
    created: datetime
    updated: datetime
    attributes: ChangeableAttributes = field(default_factory=ChangeableAttributes)


@dataclass
class _Repository:
    created: datetime
    updated: datetime
    manifests: dict[str, _Manifest] = field(default_factory=dict)
    tags: dict[str, _Tag] = field(default_factory=dict)
    attributes: ChangeableAttributes = field(default_factory=ChangeableAttributes)


@dataclass
class _Upload:
    repository: str
    data: bytearray
    started: datetime


class RegistryContent:
    """Blobs, repositories and upload sessions of one registry (thread-safe).

    Blobs are content-addressed and shared by all repositories of the registry, as in ACR's
    storage; a repository exists once a manifest has been pushed to it.
    """

    def __init__(self, login_server: str = "", clock: Callable[[], datetime] | None = None) -> None:
        self.login_server = login_server
        self._clock = clock or (lambda: datetime.now(UTC))
        self._lock = threading.RLock()
        self._blobs: dict[str, bytes] = {}
        self._repos: dict[str, _Repository] = {}
        self._uploads: dict[str, _Upload] = {}

    # --- blobs ---------------------------------------------------------------------------------

    def put_blob(self, data: bytes, digest: str | None = None) -> str:
        """Store ``data``; when ``digest`` is given it must match (DIGEST_INVALID otherwise)."""
        data = bytes(data)
        actual = oci.sha256_digest(data)
        if digest is not None:
            self._check_digest(data, digest)
            actual = digest
        with self._lock:
            self._blobs.setdefault(actual, data)
        return actual

    def has_blob(self, digest: str) -> bool:
        with self._lock:
            return digest in self._blobs

    def get_blob(self, repository: str, digest: str) -> bytes:
        """Blob bytes; NAME_INVALID for a bad name, BLOB_UNKNOWN when absent."""
        validate_repository_name(repository)
        with self._lock:
            try:
                return self._blobs[digest]
            except KeyError:
                raise blob_unknown(digest) from None


    def delete_blob(self, repository: str, digest: str) -> None:
        validate_repository_name(repository)
        with self._lock:
            if digest not in self._blobs:
                raise blob_unknown(digest)
            del self._blobs[digest]

    def mount_blob(self, repository: str, digest: str, from_repository: str) -> bool:
        """Cross-repository mount: True when the blob is already here (201), False → upload (202)."""
        validate_repository_name(repository)
        validate_repository_name(from_repository)
        return self.has_blob(digest)

    # --- upload sessions -----------------------------------------------------------------------

    def start_upload(self, repository: str) -> str:
        """Open an upload session and return its id (the ``<uuid>`` of the Location URL)."""
        validate_repository_name(repository)
        upload_id = str(uuid.uuid4())
        with self._lock:
            self._uploads[upload_id] = _Upload(repository, bytearray(), self._clock())
        return upload_id

    def upload_size(self, repository: str, upload_id: str) -> int:
        """Bytes received so far (for ``Range: 0-<size-1>``)."""
        with self._lock:
            return len(self._upload(repository, upload_id).data)

    def append_upload(self, repository: str, upload_id: str, data: bytes, offset: int | None = None) -> int:
        """Append a chunk; ``offset`` (from Content-Range) must equal the current size. Returns new size."""
        with self._lock:
            upload = self._upload(repository, upload_id)
            if offset is not None and offset != len(upload.data):
                raise blob_upload_invalid(
                    f"chunk starts at byte {offset} but the upload holds {len(upload.data)} bytes"
                )
            upload.data.extend(data)
            return len(upload.data)

    def finish_upload(self, repository: str, upload_id: str, digest: str, data: bytes = b"") -> str:
        """Append the last chunk and commit the blob under ``digest``.

        On DIGEST_INVALID the session is discarded (as registry:2 does) and no blob is stored.
        """
        with self._lock:
            upload = self._upload(repository, upload_id)
            content = bytes(upload.data) + bytes(data)
            try:
                self._check_digest(content, digest)
            except RegistryError:
                del self._uploads[upload_id]
                raise
            del self._uploads[upload_id]
            self._blobs.setdefault(digest, content)
            return digest

    def cancel_upload(self, repository: str, upload_id: str) -> None:
        with self._lock:
            self._upload(repository, upload_id)
            del self._uploads[upload_id]

    def _upload(self, repository: str, upload_id: str) -> _Upload:
        validate_repository_name(repository)
        upload = self._uploads.get(upload_id)
        if upload is None or upload.repository != repository:
            raise blob_upload_unknown(upload_id)
        return upload

    @staticmethod
    def _check_digest(data: bytes, digest: str) -> None:
        if not oci.is_digest(digest):
            raise digest_invalid(digest, "digest is not of the form sha256:<64 lowercase hex>")
        if not oci.digest_matches(data, digest):
            raise digest_invalid(digest, f"content digest is {oci.sha256_digest(data)}")

    # --- manifests -----------------------------------------------------------------------------

    def put_manifest(self, repository: str, reference: str, media_type: str | None, body: bytes) -> str:
        """Validate and store a manifest, tagging it when ``reference`` is a tag. Returns its digest.

        ``media_type`` is the request's Content-Type; when empty the body's ``mediaType`` is used.
        Checks, in order: name (NAME_INVALID), reference (TAG_INVALID), JSON and shape
        (MANIFEST_INVALID), digest reference (DIGEST_INVALID), referenced blobs or child
        manifests (MANIFEST_BLOB_UNKNOWN).
        """
        validate_repository_name(repository)
        by_digest = reference.startswith(("sha256:", "sha512:"))
        if by_digest and not oci.is_digest(reference):
            raise digest_invalid(reference, "digest is not of the form sha256:<64 lowercase hex>")
        if not by_digest and not is_valid_tag(reference):
            raise tag_invalid({"tag": reference, "reason": "tag must match [A-Za-z0-9_][A-Za-z0-9_.-]{0,127}"})
        body = bytes(body)
        media_type = self._validate_manifest_body(media_type, body)
        digest = oci.sha256_digest(body)
        if by_digest and reference != digest:
            raise digest_invalid(reference, f"manifest digest is {digest}")
        with self._lock:
            self._check_references(repository, media_type, body)
            now = self._clock()
            repo = self._repos.get(repository)
            if repo is None:
                repo = self._repos[repository] = _Repository(created=now, updated=now)
            existing = repo.manifests.get(digest)
            if existing is None:
                repo.manifests[digest] = _Manifest(media_type, body, now, now)
            else:
                existing.updated = now
            if not by_digest:
                tag = repo.tags.get(reference)
                if tag is None:
                    repo.tags[reference] = _Tag(digest, now, now)
                else:
                    tag.digest, tag.updated = digest, now
            repo.updated = now
        return digest

    @staticmethod
    def _validate_manifest_body(media_type: str | None, body: bytes) -> str:
        if len(body) > MAX_MANIFEST_BYTES:
            raise manifest_invalid(f"manifest is larger than {MAX_MANIFEST_BYTES} bytes")
        try:
            doc = strict_json(body)
        except (ValueError, UnicodeDecodeError) as exc:
            raise manifest_invalid(f"manifest is not valid JSON: {exc}") from None
        if not isinstance(doc, dict):
            raise manifest_invalid("manifest must be a JSON object")
        header_type = (media_type or "").split(";", 1)[0].strip()
        body_type = doc.get("mediaType")
        if body_type is not None and not isinstance(body_type, str):
            raise manifest_invalid("mediaType must be a string")
        if header_type and body_type and header_type != body_type:
            raise manifest_invalid(f"mediaType in manifest ({body_type}) does not match Content-Type ({header_type})")
        effective = header_type or body_type or ""
        if not effective:
            effective = oci.OCI_INDEX if "manifests" in doc else oci.OCI_MANIFEST
        if effective not in oci.MANIFEST_TYPES:
            raise manifest_invalid(f"unsupported manifest media type {effective!r}")
        if doc.get("schemaVersion") != 2:
            raise manifest_invalid("schemaVersion must be 2")
        if effective in oci.IMAGE_MANIFEST_TYPES:
            _descriptor(doc.get("config"), "config")
            layers = doc.get("layers")
            if not isinstance(layers, list):
                raise manifest_invalid("layers must be a list")
            for i, layer in enumerate(layers):
                _descriptor(layer, f"layers[{i}]")
        else:
            children = doc.get("manifests")
            if not isinstance(children, list):
                raise manifest_invalid("manifests must be a list")
            for i, child in enumerate(children):
                _descriptor(child, f"manifests[{i}]")
        return effective

    def _check_references(self, repository: str, media_type: str, body: bytes) -> None:
        doc = json.loads(body)
        if media_type in oci.IMAGE_MANIFEST_TYPES:
            for desc in [doc["config"], *doc["layers"]]:
                if desc["digest"] not in self._blobs:
                    raise manifest_blob_unknown(desc["digest"])
        else:
            known = self._repos.get(repository)
            for desc in doc["manifests"]:
                if known is None or desc["digest"] not in known.manifests:
                    raise manifest_blob_unknown(desc["digest"])

    def get_manifest(self, repository: str, reference: str) -> ManifestRecord:
        """The manifest for a tag or digest; MANIFEST_UNKNOWN when absent (ACR wording for tags)."""
        validate_repository_name(repository)
        with self._lock:
            digest = self._resolve(repository, reference)
            manifest = self._repos[repository].manifests[digest]
            return ManifestRecord(manifest.media_type, manifest.body, digest)

    def resolve(self, repository: str, reference: str) -> str:
        """Digest a tag (or digest) points to; MANIFEST_UNKNOWN when absent."""
        validate_repository_name(repository)
        with self._lock:
            return self._resolve(repository, reference)

    def _resolve(self, repository: str, reference: str) -> str:
        repo = self._repos.get(repository)
        if oci.is_digest(reference):
            if repo is None or reference not in repo.manifests:
                raise manifest_unknown_digest(repository, reference)
            return reference
        if not is_valid_tag(reference):
            raise tag_invalid({"tag": reference})
        if repo is None or reference not in repo.tags:
            raise manifest_unknown_tag(reference)
        return repo.tags[reference].digest

    def delete_manifest(self, repository: str, digest: str) -> list[str]:
        """Delete a manifest by digest and every tag pointing to it; returns the removed tags."""
        validate_repository_name(repository)
        if not oci.is_digest(digest):
            raise digest_invalid(digest, "manifests are deleted by digest")
        with self._lock:
            repo = self._repos.get(repository)
            if repo is None or digest not in repo.manifests:
                raise manifest_unknown_digest(repository, digest)
            removed = sorted(tag for tag, record in repo.tags.items() if record.digest == digest)
            for tag in removed:
                del repo.tags[tag]
            del repo.manifests[digest]
            repo.updated = self._clock()
            return removed

    def delete_tag(self, repository: str, tag: str) -> None:
        """Remove a tag (ACR ``DELETE /acr/v1/{repo}/_tags/{tag}``); the manifest stays."""
        validate_repository_name(repository)
        with self._lock:
            repo = self._repos.get(repository)
            if repo is None or tag not in repo.tags:
                raise tag_unknown()
            del repo.tags[tag]
            repo.updated = self._clock()

    def delete_repository(self, repository: str) -> tuple[list[str], list[str]]:
        """Delete a repository; returns (deleted manifest digests, deleted tags). NAME_UNKNOWN if absent."""
        validate_repository_name(repository)
        with self._lock:
            repo = self._repos.pop(repository, None)
            if repo is None:
                raise name_unknown(repository)
            return sorted(repo.manifests), sorted(repo.tags)

    # --- listings ------------------------------------------------------------------------------

    def list_tags(self, repository: str, n: int | None = None, last: str | None = None) -> list[str]:
        """Sorted tags after ``last``, at most ``n``; NAME_UNKNOWN for an unknown repository.

        The HTTP layer adds ``Link: <...?n=N&last=LAST>; rel="next"`` when a full page came back.
        """
        validate_repository_name(repository)
        with self._lock:
            repo = self._repos.get(repository)
            if repo is None:
                raise name_unknown(repository)
            return _page(repo.tags, n, last)

    def list_repositories(self, n: int | None = None, last: str | None = None) -> list[str]:
        """Sorted repository names (``/v2/_catalog`` and ``/acr/v1/_catalog``)."""
        with self._lock:
            return _page(self._repos, n, last)

    def list_manifests(self, repository: str) -> list[str]:
        """Manifest digests of a repository, oldest first."""
        validate_repository_name(repository)
        with self._lock:
            repo = self._require_repo(repository)
            return [d for d, _ in sorted(repo.manifests.items(), key=lambda item: (item[1].created, item[0]))]

    def _require_repo(self, repository: str) -> _Repository:
        repo = self._repos.get(repository)
        if repo is None:
            raise name_unknown(repository)
        return repo

    # --- ACR /acr/v1 attributes ----------------------------------------------------------------

    def repository_attributes(self, repository: str) -> dict[str, Any]:
        """Body of ``GET /acr/v1/{repo}``."""
        validate_repository_name(repository)
        with self._lock:
            repo = self._require_repo(repository)
            return {
                "registry": self.login_server,
                "imageName": repository,
                "createdTime": _iso(repo.created),
                "lastUpdateTime": _iso(repo.updated),
                "manifestCount": len(repo.manifests),
                "tagCount": len(repo.tags),
                "changeableAttributes": repo.attributes.to_json(),
            }

    def _tag_json(self, name: str, tag: _Tag) -> dict[str, Any]:
        return {
            "name": name,
            "digest": tag.digest,
            "createdTime": _iso(tag.created),
            "lastUpdateTime": _iso(tag.updated),
            "signed": False,
            "changeableAttributes": tag.attributes.to_json(),
        }

    def tag_attributes(self, repository: str, tag: str) -> dict[str, Any]:
        """Body of ``GET /acr/v1/{repo}/_tags/{tag}``."""
        validate_repository_name(repository)
        with self._lock:
            repo = self._repos.get(repository)
            if repo is None or tag not in repo.tags:
                raise tag_unknown()
            return {"registry": self.login_server, "imageName": repository, "tag": self._tag_json(tag, repo.tags[tag])}

    def list_tag_attributes(self, repository: str, n: int | None = None, last: str | None = None) -> dict[str, Any]:
        """Body of ``GET /acr/v1/{repo}/_tags`` (sorted by name, paginated like ``list_tags``)."""
        validate_repository_name(repository)
        with self._lock:
            repo = self._require_repo(repository)
            names = _page(repo.tags, n, last)
            return {
                "registry": self.login_server,
                "imageName": repository,
                "tags": [self._tag_json(name, repo.tags[name]) for name in names],
            }

    def manifest_attributes(self, repository: str, reference: str) -> dict[str, Any]:
        """Body of ``GET /acr/v1/{repo}/_manifests/{digest}``."""
        validate_repository_name(repository)
        with self._lock:
            digest = self._resolve(repository, reference)
            repo = self._repos[repository]
            manifest = repo.manifests[digest]
            attrs: dict[str, Any] = {
                "digest": digest,
                "imageSize": self._image_size(manifest),
                "createdTime": _iso(manifest.created),
                "lastUpdateTime": _iso(manifest.updated),
                "mediaType": manifest.media_type,
            }
            platform = self._platform(manifest)
            if platform:
                attrs["architecture"], attrs["os"] = platform
            attrs["tags"] = sorted(t for t, record in repo.tags.items() if record.digest == digest)
            attrs["changeableAttributes"] = manifest.attributes.to_json()
            return {"registry": self.login_server, "imageName": repository, "manifest": attrs}

    def _image_size(self, manifest: _Manifest) -> int:
        doc = json.loads(manifest.body)
        if manifest.media_type in oci.IMAGE_MANIFEST_TYPES:
            return len(manifest.body) + sum(int(d.get("size", 0)) for d in [doc["config"], *doc["layers"]])
        return len(manifest.body)

    def _platform(self, manifest: _Manifest) -> tuple[str, str] | None:
        if manifest.media_type not in oci.IMAGE_MANIFEST_TYPES:
            return None
        config = self._blobs.get(json.loads(manifest.body)["config"]["digest"])
        try:
            doc = json.loads(config) if config else {}
        except ValueError:
            return None
        if isinstance(doc, dict) and doc.get("architecture") and doc.get("os"):
            return str(doc["architecture"]), str(doc["os"])
        return None

    def update_repository_attributes(self, repository: str, changes: dict[str, Any]) -> dict[str, Any]:
        """``PATCH /acr/v1/{repo}`` with changeable attributes; returns the new attributes body."""
        validate_repository_name(repository)
        with self._lock:
            repo = self._require_repo(repository)
            repo.attributes = _apply(repo.attributes, changes)
            return self.repository_attributes(repository)

    def update_tag_attributes(self, repository: str, tag: str, changes: dict[str, Any]) -> dict[str, Any]:
        """``PATCH /acr/v1/{repo}/_tags/{tag}``; returns the new tag attributes body."""
        validate_repository_name(repository)
        with self._lock:
            repo = self._repos.get(repository)
            if repo is None or tag not in repo.tags:
                raise tag_unknown()
            repo.tags[tag].attributes = _apply(repo.tags[tag].attributes, changes)
            return self.tag_attributes(repository, tag)

    def update_manifest_attributes(self, repository: str, reference: str, changes: dict[str, Any]) -> dict[str, Any]:
        """``PATCH /acr/v1/{repo}/_manifests/{digest}``; returns the new manifest attributes body."""
        validate_repository_name(repository)
        with self._lock:
            digest = self._resolve(repository, reference)
            manifest = self._repos[repository].manifests[digest]
            manifest.attributes = _apply(manifest.attributes, changes)
            return self.manifest_attributes(repository, digest)

    # --- whole images --------------------------------------------------------------------------

    def push_image(self, repository: str, tags: Iterable[str], image: oci.BuiltImage) -> str:
        """Store an image's blobs and manifest, tagging it with each of ``tags``. Returns the digest.

        Validates names first so a bad name leaves nothing behind.
        """
        validate_repository_name(repository)
        tags = list(tags)
        for tag in tags:
            if not is_valid_tag(tag):
                raise tag_invalid({"tag": tag})
        self._validate_manifest_body(image.manifest_media_type, image.manifest)
        with self._lock:
            for digest, data in image.blobs().items():
                self._check_digest(data, digest)
            for digest, data in image.blobs().items():
                self._blobs.setdefault(digest, data)
            self.put_manifest(repository, image.digest, image.manifest_media_type, image.manifest)
            for tag in tags:
                self.put_manifest(repository, tag, image.manifest_media_type, image.manifest)
        return image.digest

    def load_image(self, repository: str, reference: str) -> oci.BuiltImage:
        """Read an image manifest and its blobs back as a :class:`BuiltImage` (e.g. as a build base)."""
        with self._lock:
            record = self.get_manifest(repository, reference)
            if record.media_type not in oci.IMAGE_MANIFEST_TYPES:
                raise manifest_invalid("reference names an index, not a single-platform image manifest")
            doc = json.loads(record.body)
            config = self.get_blob(repository, doc["config"]["digest"])
            config_doc = json.loads(config)
            diff_ids = config_doc.get("rootfs", {}).get("diff_ids", [])
            layers = []
            for i, desc in enumerate(doc["layers"]):
                blob = self.get_blob(repository, desc["digest"])
                diff_id = diff_ids[i] if i < len(diff_ids) else desc["digest"]
                layers.append(oci.Layer(blob, desc["digest"], diff_id, desc["mediaType"]))
            return oci.BuiltImage(
                manifest=record.body,
                manifest_media_type=record.media_type,
                digest=record.digest,
                config=config,
                config_digest=doc["config"]["digest"],
                layers=tuple(layers),
            )


def _descriptor(value: object, where: str) -> None:
    if not isinstance(value, dict):
        raise manifest_invalid(f"{where} must be a descriptor object")
    digest = value.get("digest")
    if not isinstance(digest, str) or not oci.is_digest(digest):
        raise manifest_invalid(f"{where}.digest is missing or not a valid digest")
    if not isinstance(value.get("mediaType", ""), str):
        raise manifest_invalid(f"{where}.mediaType must be a string")
    size = value.get("size")
    if not isinstance(size, int) or isinstance(size, bool) or size < 0:
        raise manifest_invalid(f"{where}.size must be a non-negative integer")


def _page(keys: Iterable[str], n: int | None, last: str | None) -> list[str]:
    names = sorted(keys)
    if last:
        names = [name for name in names if name > last]
    if n is not None:
        if n < 0:
            raise RegistryError(400, "PAGINATION_NUMBER_INVALID", "invalid number of results requested", {"n": n})
        names = names[:n]
    return names


def _apply(current: ChangeableAttributes, changes: dict[str, Any]) -> ChangeableAttributes:
    try:
        return current.updated(changes)
    except ValueError as exc:
        raise RegistryError(400, "INVALID_REQUEST", "invalid changeable attributes", str(exc)) from None
