"""The ``ImageResolver`` service: can this image be pulled with these credentials, right now?

Registered on ``platform.services.registry``; the Container Apps provider asks it before a replica
pulls. Answers from the registries' current state (admin switch, passwords, role assignments,
anonymous pull, content) and from the built-in public catalogue; any other host does not resolve.
"""

from __future__ import annotations

import json

from pytest_acalab.emulator.platform.services import ImageFiles, PullAuth, PullResult

from . import catalog, oci
from .content import RegistryError
from .dataplane import UNAUTHORIZED_MESSAGE, DataPlane
from .models import ANONYMOUS, Access, RegistryState, Subject


class RegistryImageResolver:
    def __init__(self, state: RegistryState, access: Access, dataplane: DataPlane) -> None:
        self.state = state
        self.access = access
        self.dataplane = dataplane

    @staticmethod
    def catalogue_hosts() -> set[str]:
        """Registries the catalogue stands in for; Docker Hub is not one (only a few of its images are
        served: any other Docker Hub name still does not resolve here)."""
        return {ref.split("/", 1)[0] for ref in catalog.references()} - {catalog.DOCKER_HUB}

    def check_pull(self, image: str, auth: PullAuth) -> PullResult:
        try:
            ref = catalog.parse_reference(image.strip())
        except ValueError as exc:
            return PullResult(False, "NAME_INVALID", str(exc))
        reference = ref.digest or ref.tag or "latest"
        reg = self.state.by_host(ref.registry)
        if reg is not None and reg.provisioning_state == "Succeeded":
            subjects: list[Subject] = []
            if auth.username or auth.password:
                found = self.dataplane.subject_for_login(reg, auth.username, auth.password)
                if found is not None:
                    subjects.append(found)
            if auth.principal_id:
                subjects.append(Subject("principal", auth.principal_id))
            subjects.append(ANONYMOUS)
            if not any("pull" in self.access.grant(reg, s, "repository", ref.repository, ["pull"]) for s in subjects):
                return PullResult(False, "UNAUTHORIZED", UNAUTHORIZED_MESSAGE,
                                  [{"Type": "repository", "Name": ref.repository, "Action": "pull"}])
            try:
                record = reg.content.get_manifest(ref.repository, reference)
                size = reg.content.manifest_attributes(ref.repository, record.digest)["manifest"]["imageSize"]
            except RegistryError as exc:
                return PullResult(False, exc.code, exc.message, exc.detail)
            return PullResult(True, digest=record.digest, size=int(size))
        served = bool(ref.tag) and catalog.lookup(ref.registry, ref.repository, ref.tag or "") is not None
        if ref.registry in self.catalogue_hosts() or served:
            image_obj = catalog.lookup(ref.registry, ref.repository, ref.tag) if ref.tag else None
            if image_obj is None or (ref.digest and ref.digest != image_obj.digest):
                if ref.digest and not ref.tag:
                    return PullResult(False, "MANIFEST_UNKNOWN", "manifest unknown",
                                      {"Name": ref.repository, "Revision": ref.digest})
                return PullResult(False, "MANIFEST_UNKNOWN", "manifest unknown", {"Tag": ref.tag})
            size = catalog.reported_size(ref.registry, ref.repository, ref.tag) or (
                len(image_obj.manifest) + len(image_obj.config) + sum(layer.size for layer in image_obj.layers))
            return PullResult(True, digest=image_obj.digest, size=size)
        return PullResult(False, "NO_SUCH_HOST", f"dial tcp: lookup {ref.registry}: no such host")

    def fetch(self, image: str) -> ImageFiles | None:
        try:
            ref = catalog.parse_reference(image.strip())
        except ValueError:
            return None
        reg = self.state.by_host(ref.registry)
        if reg is not None:
            try:
                record = reg.content.get_manifest(ref.repository, ref.digest or ref.tag or "latest")
                manifest = json.loads(record.body)
                config = json.loads(reg.content.get_blob(ref.repository, manifest["config"]["digest"]))
                blobs = [reg.content.get_blob(ref.repository, layer["digest"]) for layer in manifest.get("layers", [])]
            except (RegistryError, KeyError, ValueError):
                return None
            return ImageFiles(record.digest, config, oci.flatten_layers(blobs))
        found = catalog.lookup(ref.registry, ref.repository, ref.tag) if ref.tag else None
        if found is None:
            return None
        return ImageFiles(found.digest, found.config_doc(), found.files())
