"""RegistryContent: blobs, uploads, manifests, tags and the distribution error codes."""

from __future__ import annotations

import copy
import json
import threading

import pytest

from pytest_acalab.emulator.containerregistry import oci
from pytest_acalab.emulator.containerregistry.content import RegistryContent, RegistryError


def _image(marker: bytes = b"x") -> oci.BuiltImage:
    layer = oci.make_layer({"app/file": (marker, 0o644)})
    return oci.assemble_image([layer], oci.ContainerConfig(cmd=["run"]), [oci.HistoryEntry("COPY file")])


def _push_blobs(registry: RegistryContent, image: oci.BuiltImage) -> None:
    for digest, data in image.blobs().items():
        registry.put_blob(data, digest)


def _snapshot(registry: RegistryContent) -> object:
    return copy.deepcopy((registry._blobs, registry._repos, registry._uploads))


def _error(excinfo: pytest.ExceptionInfo[RegistryError]) -> tuple[int, str, str, object]:
    err = excinfo.value
    return err.status, err.code, err.message, err.detail


def test_missing_tag_uses_acr_wording(registry: RegistryContent) -> None:
    image = _image()
    _push_blobs(registry, image)
    registry.put_manifest("labacr", "v1", image.manifest_media_type, image.manifest)
    with pytest.raises(RegistryError) as excinfo:
        registry.get_manifest("labacr", "does-not-exist")
    assert _error(excinfo) == (
        404,
        "MANIFEST_UNKNOWN",
        'manifest tagged by "does-not-exist" is not found',
        {"Tag": "does-not-exist"},
    )
    assert excinfo.value.to_json() == {
        "errors": [
            {
                "code": "MANIFEST_UNKNOWN",
                "message": 'manifest tagged by "does-not-exist" is not found',
                "detail": {"Tag": "does-not-exist"},
            }
        ]
    }


def test_missing_digest_and_missing_repository(registry: RegistryContent) -> None:
    missing = oci.sha256_digest(b"nothing")
    with pytest.raises(RegistryError) as excinfo:
        registry.get_manifest("labacr", missing)
    assert _error(excinfo)[:3] == (404, "MANIFEST_UNKNOWN", "manifest unknown")
    assert excinfo.value.detail == {"Name": "labacr", "Revision": missing}
    with pytest.raises(RegistryError) as excinfo:
        registry.list_tags("nope")
    assert _error(excinfo) == (404, "NAME_UNKNOWN", "repository name not known to registry", {"name": "nope"})


def test_blob_errors_and_digest_verification(registry: RegistryContent) -> None:
    data = b"layer bytes"
    good = oci.sha256_digest(data)
    with pytest.raises(RegistryError) as excinfo:
        registry.get_blob("labacr", good)
    assert _error(excinfo) == (404, "BLOB_UNKNOWN", "blob unknown to registry", good)
    wrong = oci.sha256_digest(b"something else")
    with pytest.raises(RegistryError) as excinfo:
        registry.put_blob(data, wrong)
    assert _error(excinfo)[:3] == (400, "DIGEST_INVALID", "provided digest did not match uploaded content")
    assert not registry.has_blob(wrong) and not registry.has_blob(good)
    with pytest.raises(RegistryError, match="DIGEST_INVALID"):
        registry.put_blob(data, "sha256:not-hex")
    assert registry.put_blob(data, good) == good
    assert registry.get_blob("labacr", good) == data


def test_bad_repository_name(registry: RegistryContent) -> None:
    for name in ("UPPER", "a//b", "-lead", "trail-", "a" * 256, ""):
        with pytest.raises(RegistryError) as excinfo:
            registry.list_tags(name)
        assert excinfo.value.status == 400 and excinfo.value.code == "NAME_INVALID"
        assert excinfo.value.message == "invalid repository name"
    image = _image()
    _push_blobs(registry, image)
    with pytest.raises(RegistryError, match="NAME_INVALID"):
        registry.put_manifest("Bad/Name", "v1", image.manifest_media_type, image.manifest)
    assert registry.list_repositories() == []


def test_chunked_upload_and_upload_errors(registry: RegistryContent) -> None:
    data = b"0123456789" * 100
    digest = oci.sha256_digest(data)
    upload = registry.start_upload("labacr")
    assert registry.append_upload("labacr", upload, data[:300]) == 300
    assert registry.append_upload("labacr", upload, data[300:600], offset=300) == 600
    with pytest.raises(RegistryError) as excinfo:
        registry.append_upload("labacr", upload, b"zz", offset=10)
    assert excinfo.value.code == "BLOB_UPLOAD_INVALID" and excinfo.value.status == 416
    assert registry.upload_size("labacr", upload) == 600
    assert registry.finish_upload("labacr", upload, digest, data[600:]) == digest
    assert registry.get_blob("labacr", digest) == data
    with pytest.raises(RegistryError) as excinfo:
        registry.append_upload("labacr", upload, b"more")
    assert _error(excinfo)[:3] == (404, "BLOB_UPLOAD_UNKNOWN", "blob upload unknown to registry")
    other = registry.start_upload("labacr")
    with pytest.raises(RegistryError, match="BLOB_UPLOAD_UNKNOWN"):
        registry.append_upload("another", other, b"x")  # session belongs to a different repository
    registry.cancel_upload("labacr", other)
    with pytest.raises(RegistryError, match="BLOB_UPLOAD_UNKNOWN"):
        registry.cancel_upload("labacr", other)


def test_finish_upload_with_wrong_digest_stores_nothing(registry: RegistryContent) -> None:
    upload = registry.start_upload("labacr")
    registry.append_upload("labacr", upload, b"actual content")
    claimed = oci.sha256_digest(b"claimed content")
    with pytest.raises(RegistryError) as excinfo:
        registry.finish_upload("labacr", upload, claimed)
    assert excinfo.value.code == "DIGEST_INVALID"
    assert excinfo.value.detail["digest"] == claimed
    assert not registry.has_blob(claimed)
    assert not registry.has_blob(oci.sha256_digest(b"actual content"))
    with pytest.raises(RegistryError, match="BLOB_UPLOAD_UNKNOWN"):
        registry.upload_size("labacr", upload)


def test_mount_blob(registry: RegistryContent) -> None:
    digest = registry.put_blob(b"shared")
    assert registry.mount_blob("target", digest, "source") is True
    assert registry.mount_blob("target", oci.sha256_digest(b"absent"), "source") is False


def test_put_manifest_by_tag_and_digest(registry: RegistryContent) -> None:
    image = _image()
    _push_blobs(registry, image)
    digest = registry.put_manifest("labacr", "v1", image.manifest_media_type, image.manifest)
    assert digest == image.digest
    assert registry.get_manifest("labacr", "v1") == (image.manifest_media_type, image.manifest, image.digest)
    media_type, body, got = registry.get_manifest("labacr", digest)
    assert (media_type, body, got) == (image.manifest_media_type, image.manifest, digest)
    # Content-Type may be absent: the body's mediaType is used.
    assert registry.put_manifest("labacr", image.digest, None, image.manifest) == image.digest
    assert registry.list_tags("labacr") == ["v1"]


def test_put_manifest_by_wrong_digest(registry: RegistryContent) -> None:
    image = _image()
    _push_blobs(registry, image)
    before = _snapshot(registry)
    with pytest.raises(RegistryError) as excinfo:
        registry.put_manifest("labacr", oci.sha256_digest(b"other"), image.manifest_media_type, image.manifest)
    assert _error(excinfo)[:3] == (400, "DIGEST_INVALID", "provided digest did not match uploaded content")
    assert _snapshot(registry) == before


def test_manifest_referring_to_missing_blob_leaves_nothing_behind(registry: RegistryContent) -> None:
    image = _image()
    config_only = {image.config_digest: image.config}
    for digest, data in config_only.items():
        registry.put_blob(data, digest)
    before = _snapshot(registry)
    with pytest.raises(RegistryError) as excinfo:
        registry.put_manifest("labacr", "v1", image.manifest_media_type, image.manifest)
    assert _error(excinfo) == (400, "MANIFEST_BLOB_UNKNOWN", "blob unknown to registry", image.layers[0].digest)
    assert _snapshot(registry) == before
    assert registry.list_repositories() == []


@pytest.mark.parametrize(
    ("media_type", "body", "reason"),
    [
        (oci.DOCKER_MANIFEST, b"{not json", "not valid JSON"),
        (oci.DOCKER_MANIFEST, b"[]", "JSON object"),
        (oci.DOCKER_MANIFEST, b'{"schemaVersion": 1}', "schemaVersion"),
        ("text/plain", b'{"schemaVersion": 2}', "unsupported manifest media type"),
        (oci.DOCKER_MANIFEST, b'{"schemaVersion": 2, "config": {"digest": "sha256:x", "size": 1}}', "config.digest"),
        (
            oci.OCI_MANIFEST,
            json.dumps({"schemaVersion": 2, "mediaType": oci.DOCKER_MANIFEST}).encode(),
            "does not match",
        ),
    ],
)
def test_unparsable_manifest(registry: RegistryContent, media_type: str, body: bytes, reason: str) -> None:
    before = _snapshot(registry)
    with pytest.raises(RegistryError) as excinfo:
        registry.put_manifest("labacr", "v1", media_type, body)
    assert excinfo.value.status == 400
    assert (excinfo.value.code, excinfo.value.message) == ("MANIFEST_INVALID", "manifest invalid")
    assert reason in str(excinfo.value.detail)
    assert _snapshot(registry) == before


def test_index_must_refer_to_manifests_in_the_repository(registry: RegistryContent) -> None:
    image = _image()
    index = json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": oci.OCI_INDEX,
            "manifests": [
                {"mediaType": image.manifest_media_type, "digest": image.digest, "size": len(image.manifest)}
            ],
        }
    ).encode()
    with pytest.raises(RegistryError, match="MANIFEST_BLOB_UNKNOWN"):
        registry.put_manifest("labacr", "multi", oci.OCI_INDEX, index)
    registry.push_image("labacr", [], image)
    assert registry.put_manifest("labacr", "multi", oci.OCI_INDEX, index) == oci.sha256_digest(index)


def test_tag_pagination(registry: RegistryContent) -> None:
    image = _image()
    _push_blobs(registry, image)
    for tag in ["v3", "v1", "latest", "v2", "a"]:
        registry.put_manifest("labacr", tag, image.manifest_media_type, image.manifest)
    assert registry.list_tags("labacr") == ["a", "latest", "v1", "v2", "v3"]
    assert registry.list_tags("labacr", n=2) == ["a", "latest"]
    assert registry.list_tags("labacr", n=2, last="latest") == ["v1", "v2"]
    assert registry.list_tags("labacr", n=2, last="v2") == ["v3"]
    assert registry.list_tags("labacr", last="v3") == []
    tags = registry.list_tag_attributes("labacr", n=1, last="v1")
    assert [t["name"] for t in tags["tags"]] == ["v2"]
    with pytest.raises(RegistryError, match="PAGINATION_NUMBER_INVALID"):
        registry.list_tags("labacr", n=-1)


def test_repository_listing(registry: RegistryContent) -> None:
    image = _image()
    for name in ["zeta", "alpha/one", "labacr"]:
        registry.push_image(name, ["v1"], image)
    assert registry.list_repositories() == ["alpha/one", "labacr", "zeta"]
    assert registry.list_repositories(n=1, last="alpha/one") == ["labacr"]


def test_acr_attributes(registry: RegistryContent) -> None:
    image = _image()
    registry.push_image("labacr", ["v1", "v2"], image)
    attrs = registry.tag_attributes("labacr", "v1")
    assert attrs["registry"] == "labacr.azurecr.io" and attrs["imageName"] == "labacr"
    tag = attrs["tag"]
    assert tag["name"] == "v1" and tag["digest"] == image.digest and tag["signed"] is False
    assert tag["createdTime"].startswith("2026-06-22T13:26:") and tag["createdTime"].endswith("Z")
    assert tag["changeableAttributes"] == {
        "deleteEnabled": True,
        "writeEnabled": True,
        "readEnabled": True,
        "listEnabled": True,
    }
    repo = registry.repository_attributes("labacr")
    assert (repo["imageName"], repo["manifestCount"], repo["tagCount"]) == ("labacr", 1, 2)
    assert repo["createdTime"] <= repo["lastUpdateTime"]
    manifest = registry.manifest_attributes("labacr", "v1")["manifest"]
    assert manifest["digest"] == image.digest and manifest["tags"] == ["v1", "v2"]
    assert (manifest["architecture"], manifest["os"]) == ("amd64", "linux")
    assert manifest["imageSize"] == len(image.manifest) + len(image.config) + image.layers[0].size
    updated = registry.update_tag_attributes("labacr", "v1", {"deleteEnabled": False})
    assert updated["tag"]["changeableAttributes"]["deleteEnabled"] is False
    with pytest.raises(RegistryError):
        registry.update_tag_attributes("labacr", "v1", {"bogus": True})
    with pytest.raises(RegistryError, match="TAG_UNKNOWN"):
        registry.tag_attributes("labacr", "nope")


def test_retag_updates_time_and_digest(registry: RegistryContent) -> None:
    first, second = _image(b"1"), _image(b"2")
    registry.push_image("labacr", ["v1"], first)
    created = registry.tag_attributes("labacr", "v1")["tag"]["createdTime"]
    registry.push_image("labacr", ["v1"], second)
    tag = registry.tag_attributes("labacr", "v1")["tag"]
    assert tag["digest"] == second.digest
    assert tag["createdTime"] == created and tag["lastUpdateTime"] > created


def test_delete_tag_and_manifest(registry: RegistryContent) -> None:
    image = _image()
    registry.push_image("labacr", ["v1", "v2"], image)
    registry.delete_tag("labacr", "v2")
    assert registry.list_tags("labacr") == ["v1"]
    assert registry.get_manifest("labacr", image.digest).digest == image.digest
    with pytest.raises(RegistryError, match="TAG_UNKNOWN"):
        registry.delete_tag("labacr", "v2")
    assert registry.delete_manifest("labacr", image.digest) == ["v1"]
    with pytest.raises(RegistryError) as excinfo:
        registry.get_manifest("labacr", "v1")
    assert excinfo.value.message == 'manifest tagged by "v1" is not found'
    with pytest.raises(RegistryError, match="MANIFEST_UNKNOWN"):
        registry.delete_manifest("labacr", image.digest)
    assert registry.delete_repository("labacr") == ([], [])
    with pytest.raises(RegistryError, match="NAME_UNKNOWN"):
        registry.delete_repository("labacr")


def test_push_image_with_bad_tag_leaves_nothing(registry: RegistryContent) -> None:
    image = _image()
    with pytest.raises(RegistryError, match="TAG_INVALID"):
        registry.push_image("labacr", ["ok", "-bad"], image)
    assert registry.list_repositories() == [] and not registry.has_blob(image.digest)
    assert not registry.has_blob(image.config_digest)


def test_load_image_round_trip(registry: RegistryContent) -> None:
    image = _image()
    registry.push_image("labacr", ["v1"], image)
    assert registry.load_image("labacr", "v1") == image


def test_concurrent_pushes_are_consistent(registry: RegistryContent) -> None:
    images = [_image(str(i).encode()) for i in range(20)]

    def push(i: int) -> None:
        registry.push_image("labacr", [f"t{i}"], images[i])

    threads = [threading.Thread(target=push, args=(i,)) for i in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(registry.list_tags("labacr")) == 20
    assert registry.repository_attributes("labacr")["manifestCount"] == 20
