"""Built-in catalogue of public images the emulator can materialise without a network.

No public registry is reachable from these machines, so a few well-known images that labs
deploy directly (the Container Apps quickstart images) are built here from tiny, fixed content.
They are stand-ins: correct config (ports, command) and a placeholder file, not the real
program. Images such as ``python:3.11-slim`` are deliberately absent; builds record them by name.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache

from . import oci

DOCKER_HUB = "docker.io"
_DOCKER_HUB_ALIASES = frozenset({"docker.io", "index.docker.io", "registry-1.docker.io", "registry.hub.docker.com"})


@dataclass(frozen=True)
class ImageReference:
    """A parsed image reference such as ``mcr.microsoft.com/k8se/quickstart:latest``."""

    registry: str  # "docker.io" for Docker Hub
    repository: str  # "library/python" for an official Docker Hub image
    tag: str | None  # None when only a digest is given
    digest: str | None = None

    def __str__(self) -> str:
        text = f"{self.registry}/{self.repository}"
        if self.tag:
            text += f":{self.tag}"
        if self.digest:
            text += f"@{self.digest}"
        return text

    @property
    def display_registry(self) -> str:
        """Registry host as ACR's dependency report names it (Docker Hub → registry.hub.docker.com)."""
        return "registry.hub.docker.com" if self.registry == DOCKER_HUB else self.registry


_REF_RE = re.compile(r"^[a-z0-9]+(?:[._-][a-z0-9]+)*(?:/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*$")


def parse_reference(text: str) -> ImageReference:
    """Parse ``[registry/]repository[:tag][@digest]``; Docker Hub names are normalised.

    Raises ValueError with docker's wording (``invalid reference format``) for bad references.
    """
    rest, _, digest = text.partition("@")
    if digest and not oci.is_digest(digest):
        raise ValueError(f"invalid reference format: {text!r} has a malformed digest")
    tag: str | None = None
    last = rest.rsplit("/", 1)[-1]
    if ":" in last:
        rest, _, tag = rest.rpartition(":")
        if not re.match(r"^[\w][\w.-]{0,127}$", tag):
            raise ValueError(f"invalid reference format: {text!r} has a malformed tag")
    first, sep, remainder = rest.partition("/")
    if sep and ("." in first or ":" in first or first == "localhost"):
        registry, repository = first.lower(), remainder
    else:
        registry, repository = DOCKER_HUB, rest
    if registry in _DOCKER_HUB_ALIASES:
        registry = DOCKER_HUB
        if "/" not in repository:
            repository = f"library/{repository}"
    if not repository or not _REF_RE.match(repository):
        raise ValueError(f"invalid reference format: repository name must be lowercase ({text!r})")
    if tag is None and not digest:
        tag = "latest"
    return ImageReference(registry, repository, tag, digest or None)


@dataclass(frozen=True)
class _Entry:
    files: dict[str, tuple[bytes, int]]
    config: oci.ContainerConfig
    created_by: tuple[str, ...]
    reported_size: int | None = None
    """The real image's size as Azure's ``PulledImage`` event reports it (the stand-in's own bytes are few):
    what a pull of it costs (``emulator/app/replicas.py``) and what the event says."""


PYTHON_IMAGES = (("3.11", "3.11.13", 408944640), ("3.11-alpine", "3.11.13", 19922944))
"""Docker Hub's ``python`` images the emulator serves, with the size Azure reported pulling each (the
Practical Guide's image-size-startup-delay capture, github.com/yeongseon/azure-container-apps-practical-guide,
labs/image-size-startup-delay/evidence/06-kql-pull-events.json). They run on this machine's CPython, as
images built ``FROM python:*`` do (docs/runtime.md)."""

_QUICKSTART_PAGE = (
    b"<!DOCTYPE html>\n<html><head><title>Azure Container Apps</title></head>\n"
    b"<body><h1>Welcome to Azure Container Apps!</h1>\n"
    b"<p>Served by the pytest-acalab emulator's stand-in for mcr.microsoft.com/k8se/quickstart.</p>\n"
    b"</body></html>\n"
)
_HELLOWORLD_PAGE = (
    b"<!DOCTYPE html>\n<html><head><title>Azure Container Apps</title></head>\n"
    b"<body><h1>Your Azure Container Apps app is live</h1>\n"
    b"<p>Served by the pytest-acalab emulator's stand-in for "
    b"mcr.microsoft.com/azuredocs/containerapps-helloworld.</p>\n</body></html>\n"
)


def _placeholder(name: str) -> bytes:
    return (
        f"This image is the pytest-acalab emulator's stand-in for {name}.\n"
        "It carries the real image's port and command in its config and a static page, not the real program.\n"
    ).encode()


_CATALOG: dict[tuple[str, str, str], _Entry] = {
    ("mcr.microsoft.com", "k8se/quickstart", "latest"): _Entry(
        files={
            "app/PLACEHOLDER.txt": (_placeholder("mcr.microsoft.com/k8se/quickstart:latest"), 0o644),
            "app/index.html": (_QUICKSTART_PAGE, 0o644),
        },
        config=oci.ContainerConfig(
            env=["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],
            cmd=["/app/quickstart"],
            working_dir="/app",
            exposed_ports=["80/tcp"],
            labels={"org.opencontainers.image.title": "k8se quickstart (emulator stand-in)"},
        ),
        created_by=("COPY app /app", "EXPOSE 80", 'CMD ["/app/quickstart"]'),
    ),
    ("mcr.microsoft.com", "azuredocs/containerapps-helloworld", "latest"): _Entry(
        files={
            "app/PLACEHOLDER.txt": (
                _placeholder("mcr.microsoft.com/azuredocs/containerapps-helloworld:latest"),
                0o644,
            ),
            "app/index.html": (_HELLOWORLD_PAGE, 0o644),
        },
        config=oci.ContainerConfig(
            env=["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "PORT=80"],
            cmd=["/app/helloworld"],
            working_dir="/app",
            exposed_ports=["80/tcp"],
            labels={"org.opencontainers.image.title": "containerapps-helloworld (emulator stand-in)"},
        ),
        created_by=("COPY app /app", "ENV PORT=80", "EXPOSE 80", 'CMD ["/app/helloworld"]'),
        reported_size=33554432,
    ),
    **{(DOCKER_HUB, "library/python", tag): _Entry(
        files={"usr/local/PLACEHOLDER.txt": (_placeholder(f"python:{tag}"), 0o644)},
        config=oci.ContainerConfig(
            env=["PATH=/usr/local/bin:/usr/local/sbin:/usr/sbin:/usr/bin:/sbin:/bin", "LANG=C.UTF-8",
                 f"PYTHON_VERSION={version}"],
            cmd=["python3"],
            working_dir="/",
            labels={"org.opencontainers.image.base.name": f"python:{tag}",
                    "org.opencontainers.image.title": f"python:{tag} (emulator stand-in: this machine's CPython)"},
        ),
        created_by=(f"ENV PYTHON_VERSION={version}", 'CMD ["python3"]'),
        reported_size=size,
    ) for tag, version, size in PYTHON_IMAGES},
}


def references() -> list[str]:
    """Every catalogue image as ``registry/repository:tag``."""
    return sorted(f"{host}/{repo}:{tag}" for host, repo, tag in _CATALOG)


def reported_size(registry_host: str, repository: str, tag: str | None) -> int | None:
    """The size Azure reports for a catalogue image, when known (see ``_Entry.reported_size``)."""
    entry = _CATALOG.get((registry_host.lower(), repository, tag or "latest"))
    return entry.reported_size if entry is not None else None


def lookup(registry_host: str, repository: str, tag: str) -> oci.BuiltImage | None:
    """The catalogue image for ``registry_host/repository:tag``, or None when not in the catalogue."""
    entry = _CATALOG.get((registry_host.lower(), repository, tag))
    if entry is None:
        return None
    return _materialise(registry_host.lower(), repository, tag)


def lookup_reference(reference: str) -> oci.BuiltImage | None:
    """Like :func:`lookup` for a reference string; None for unknown or malformed references."""
    try:
        ref = parse_reference(reference)
    except ValueError:
        return None
    if ref.tag is None:
        return None
    image = lookup(ref.registry, ref.repository, ref.tag)
    if image is not None and ref.digest and ref.digest != image.digest:
        return None
    return image


@cache
def _materialise(host: str, repository: str, tag: str) -> oci.BuiltImage:
    entry = _CATALOG[(host, repository, tag)]
    layer = oci.make_layer(entry.files)
    history = [
        oci.HistoryEntry(created_by=f"/bin/sh -c #(nop) {step}", empty_layer=i > 0)
        for i, step in enumerate(entry.created_by)
    ]
    return oci.assemble_image([layer], entry.config.copy(), history)
