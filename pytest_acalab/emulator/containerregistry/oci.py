"""OCI / Docker image content: media types, digests, deterministic layers, configs and manifests.

Everything here is pure and deterministic: the same files, config and history always give the
same bytes and therefore the same digests (fixed mtimes, uid/gid 0, sorted entries, gzip mtime 0).
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import re
import tarfile
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

# --- media types -------------------------------------------------------------------------------

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER_TAR_GZIP = "application/vnd.oci.image.layer.v1.tar+gzip"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_MANIFEST_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
DOCKER_CONFIG = "application/vnd.docker.container.image.v1+json"
DOCKER_LAYER_TAR_GZIP = "application/vnd.docker.image.rootfs.diff.tar.gzip"

#: Manifest media types that carry ``config`` + ``layers``.
IMAGE_MANIFEST_TYPES = frozenset({OCI_MANIFEST, DOCKER_MANIFEST})
#: Manifest media types that carry ``manifests`` (multi-platform indexes).
INDEX_MANIFEST_TYPES = frozenset({OCI_INDEX, DOCKER_MANIFEST_LIST})
MANIFEST_TYPES = IMAGE_MANIFEST_TYPES | INDEX_MANIFEST_TYPES

#: ``"docker"`` is what ``az acr build`` (docker build + push) produces; ``"oci"`` the OCI types.
ManifestFormat = Literal["docker", "oci"]

_FORMATS: dict[str, tuple[str, str, str]] = {
    # format: (manifest, config, layer)
    "docker": (DOCKER_MANIFEST, DOCKER_CONFIG, DOCKER_LAYER_TAR_GZIP),
    "oci": (OCI_MANIFEST, OCI_CONFIG, OCI_LAYER_TAR_GZIP),
}

# --- digests -----------------------------------------------------------------------------------

_DIGEST_RE = re.compile(r"^(sha256:[a-f0-9]{64}|sha512:[a-f0-9]{128})$")


def sha256_digest(data: bytes) -> str:
    """``sha256:<hex>`` of ``data``."""
    return "sha256:" + hashlib.sha256(data).hexdigest()


def is_digest(value: str) -> bool:
    """True for a well-formed ``sha256:<64 hex>`` or ``sha512:<128 hex>`` digest."""
    return bool(_DIGEST_RE.match(value))


def digest_matches(data: bytes, digest: str) -> bool:
    """True when ``digest`` is well formed and is the digest of ``data``."""
    if not is_digest(digest):
        return False
    algorithm, _, hexpart = digest.partition(":")
    return hashlib.new(algorithm, data).hexdigest() == hexpart


def short_id(digest: str) -> str:
    """The 12-character id docker prints for a digest."""
    return digest.partition(":")[2][:12]


def canonical_json(value: Any) -> bytes:
    """Compact, key-order-preserving JSON: the exact bytes that get digested."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


# --- layers ------------------------------------------------------------------------------------

#: Fixed mtime for every tar entry (2000-01-01T00:00:00Z), so layers are reproducible.
LAYER_MTIME = 946684800

FileMap = Mapping[str, tuple[bytes, int]]


@dataclass(frozen=True)
class Layer:
    """One compressed layer blob and its identities."""

    blob: bytes  # the tar.gz as stored in the registry
    digest: str  # sha256 of ``blob``
    diff_id: str  # sha256 of the uncompressed tar
    media_type: str = DOCKER_LAYER_TAR_GZIP

    @property
    def size(self) -> int:
        return len(self.blob)

    def descriptor(self) -> Descriptor:
        return Descriptor(self.media_type, self.digest, self.size)


def normalize_path(path: str) -> str:
    """Image-relative path without leading ``/`` or ``./``; ``..`` components are rejected."""
    parts: list[str] = []
    for part in path.replace("\\", "/").split("/"):
        if part in ("", "."):
            continue
        if part == "..":
            raise ValueError(f"path {path!r} escapes the root")
        parts.append(part)
    return "/".join(parts)


def _parents(path: str) -> Iterable[str]:
    parts = path.split("/")
    for i in range(1, len(parts)):
        yield "/".join(parts[:i])


def layer_tar(files: FileMap) -> bytes:
    """Uncompressed, reproducible tar of ``files`` ({path: (content, mode)}).

    A path ending in ``/`` is a directory (content must be empty). Parent directories are added
    (mode 0755) so the tar is self-contained. Entries are sorted, owned by 0:0, mtime fixed.
    """
    entries: dict[str, tuple[bytes | None, int]] = {}
    for raw_path, (content, mode) in files.items():
        is_dir = raw_path.endswith("/")
        path = normalize_path(raw_path)
        if not path:
            continue
        for parent in _parents(path):
            entries.setdefault(parent, (None, 0o755))
        if is_dir:
            if content:
                raise ValueError(f"directory entry {raw_path!r} has content")
            entries[path] = (None, mode & 0o7777)
        else:
            entries[path] = (bytes(content), mode & 0o7777)
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for path in sorted(entries):
            entry, mode = entries[path]
            info = tarfile.TarInfo(path)
            info.mtime = LAYER_MTIME
            info.uid = info.gid = 0
            info.uname = info.gname = ""
            info.mode = mode
            if entry is None:
                info.type = tarfile.DIRTYPE
                tar.addfile(info)
            else:
                info.size = len(entry)
                tar.addfile(info, io.BytesIO(entry))
    return buf.getvalue()


def make_layer(files: FileMap, media_type: str = DOCKER_LAYER_TAR_GZIP) -> Layer:
    """A gzip-compressed layer of ``files``; same files → same ``digest`` and ``diff_id``."""
    tar_bytes = layer_tar(files)
    blob = gzip.compress(tar_bytes, compresslevel=6, mtime=0)
    return Layer(blob=blob, digest=sha256_digest(blob), diff_id=sha256_digest(tar_bytes), media_type=media_type)


def read_layer(blob: bytes) -> dict[str, tuple[bytes, int]]:
    """Files of a (gzip or plain) tar layer: {path: (content, mode)}; directories end with ``/``."""
    data = gzip.decompress(blob) if blob[:2] == b"\x1f\x8b" else blob
    out: dict[str, tuple[bytes, int]] = {}
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:") as tar:
        for member in tar.getmembers():
            path = normalize_path(member.name)
            if member.isdir():
                out[path + "/"] = (b"", member.mode)
            elif member.isfile():
                extracted = tar.extractfile(member)
                out[path] = (extracted.read() if extracted else b"", member.mode)
    return out


# --- config ------------------------------------------------------------------------------------


@dataclass
class ContainerConfig:
    """The runtime part of an image config (``config`` in the JSON)."""

    env: list[str] = field(default_factory=list)
    cmd: list[str] | None = None
    entrypoint: list[str] | None = None
    working_dir: str = ""
    exposed_ports: list[str] = field(default_factory=list)  # e.g. ["8000/tcp"]
    user: str = ""
    labels: dict[str, str] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if self.user:
            out["User"] = self.user
        if self.exposed_ports:
            out["ExposedPorts"] = {port: {} for port in sorted(set(self.exposed_ports))}
        if self.env:
            out["Env"] = list(self.env)
        if self.entrypoint is not None:
            out["Entrypoint"] = list(self.entrypoint)
        if self.cmd is not None:
            out["Cmd"] = list(self.cmd)
        if self.working_dir:
            out["WorkingDir"] = self.working_dir
        if self.labels:
            out["Labels"] = dict(sorted(self.labels.items()))
        return out

    @classmethod
    def from_json(cls, data: Mapping[str, Any] | None) -> ContainerConfig:
        data = data or {}
        return cls(
            env=list(data.get("Env") or []),
            cmd=list(data["Cmd"]) if data.get("Cmd") is not None else None,
            entrypoint=list(data["Entrypoint"]) if data.get("Entrypoint") is not None else None,
            working_dir=data.get("WorkingDir") or "",
            exposed_ports=sorted((data.get("ExposedPorts") or {}).keys()),
            user=data.get("User") or "",
            labels=dict(data.get("Labels") or {}),
        )

    def env_dict(self) -> dict[str, str]:
        return dict(item.partition("=")[::2] for item in self.env)

    def set_env(self, key: str, value: str) -> None:
        """Replace or append ``key=value``, keeping first-definition order like docker."""
        entry = f"{key}={value}"
        for i, item in enumerate(self.env):
            if item.split("=", 1)[0] == key:
                self.env[i] = entry
                return
        self.env.append(entry)

    def copy(self) -> ContainerConfig:
        return ContainerConfig.from_json(self.to_json())


@dataclass(frozen=True)
class HistoryEntry:
    created_by: str
    empty_layer: bool = False
    comment: str = ""

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"created_by": self.created_by}
        if self.comment:
            out["comment"] = self.comment
        if self.empty_layer:
            out["empty_layer"] = True
        return out

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> HistoryEntry:
        return cls(
            created_by=str(data.get("created_by", "")),
            empty_layer=bool(data.get("empty_layer", False)),
            comment=str(data.get("comment", "")),
        )


def image_config_json(
    config: ContainerConfig,
    diff_ids: Sequence[str],
    history: Sequence[HistoryEntry],
    *,
    architecture: str = "amd64",
    os: str = "linux",
    created: str | None = None,
) -> bytes:
    """Image config bytes. ``created`` is omitted unless given, to keep builds reproducible."""
    doc: dict[str, Any] = {"architecture": architecture, "os": os}
    if created:
        doc["created"] = created
    doc["config"] = config.to_json()
    doc["rootfs"] = {"type": "layers", "diff_ids": list(diff_ids)}
    doc["history"] = [entry.to_json() for entry in history]
    return canonical_json(doc)


# --- manifests ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Descriptor:
    media_type: str
    digest: str
    size: int

    def to_json(self) -> dict[str, Any]:
        return {"mediaType": self.media_type, "digest": self.digest, "size": self.size}


def manifest_json(config: Descriptor, layers: Sequence[Descriptor], media_type: str = DOCKER_MANIFEST) -> bytes:
    """Image manifest bytes (schemaVersion 2) for a config and its layers."""
    doc = {
        "schemaVersion": 2,
        "mediaType": media_type,
        "config": config.to_json(),
        "layers": [layer.to_json() for layer in layers],
    }
    return canonical_json(doc)


@dataclass(frozen=True)
class BuiltImage:
    """A complete single-platform image: what a registry needs to serve it."""

    manifest: bytes
    manifest_media_type: str
    digest: str  # digest of ``manifest``
    config: bytes
    config_digest: str
    layers: tuple[Layer, ...]


    @property
    def image_id(self) -> str:
        """Docker's image id: the config digest."""
        return self.config_digest

    def config_doc(self) -> dict[str, Any]:
        return json.loads(self.config)

    def container_config(self) -> ContainerConfig:
        return ContainerConfig.from_json(self.config_doc().get("config"))

    def history(self) -> list[HistoryEntry]:
        return [HistoryEntry.from_json(item) for item in self.config_doc().get("history", [])]

    def blobs(self) -> dict[str, bytes]:
        """Every blob the manifest refers to (config and layers), by digest."""
        out = {self.config_digest: self.config}
        out.update({layer.digest: layer.blob for layer in self.layers})
        return out

    def files(self) -> dict[str, tuple[bytes, int]]:
        """The flattened root filesystem (later layers win; ``.wh.`` whiteouts applied)."""
        return flatten_layers(layer.blob for layer in self.layers)


def flatten_layers(blobs: Iterable[bytes]) -> dict[str, tuple[bytes, int]]:
    """The root filesystem of layer blobs applied in order (later layers win; ``.wh.`` whiteouts applied)."""
    out: dict[str, tuple[bytes, int]] = {}
    for blob in blobs:
        for path, value in read_layer(blob).items():
            head, _, name = path.rstrip("/").rpartition("/")
            if name.startswith(".wh."):
                gone = (head + "/" if head else "") + name[4:]
                for key in [k for k in out if k.rstrip("/") == gone or k.startswith(gone + "/")]:
                    del out[key]
                continue
            out[path] = value
    return out


def assemble_image(
    layers: Sequence[Layer],
    config: ContainerConfig,
    history: Sequence[HistoryEntry],
    *,
    manifest_format: ManifestFormat = "docker",
    architecture: str = "amd64",
    os: str = "linux",
) -> BuiltImage:
    """Config + manifest for ``layers``. Layer media types are rewritten to the chosen format."""
    manifest_type, config_type, layer_type = _FORMATS[manifest_format]
    layers = tuple(
        layer if layer.media_type == layer_type else Layer(layer.blob, layer.digest, layer.diff_id, layer_type)
        for layer in layers
    )
    config_bytes = image_config_json(
        config, [layer.diff_id for layer in layers], history, architecture=architecture, os=os
    )
    config_digest = sha256_digest(config_bytes)
    manifest = manifest_json(
        Descriptor(config_type, config_digest, len(config_bytes)),
        [layer.descriptor() for layer in layers],
        manifest_type,
    )
    return BuiltImage(
        manifest=manifest,
        manifest_media_type=manifest_type,
        digest=sha256_digest(manifest),
        config=config_bytes,
        config_digest=config_digest,
        layers=layers,
    )
