"""OCI helpers: digests, reproducible layers, config and manifest JSON."""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import tarfile

import pytest

from pytest_acalab.emulator.containerregistry import oci


def test_sha256_digest_and_checks() -> None:
    data = b"hello"
    digest = oci.sha256_digest(data)
    assert digest == "sha256:" + hashlib.sha256(data).hexdigest()
    assert oci.is_digest(digest)
    assert oci.digest_matches(data, digest)
    assert not oci.digest_matches(b"other", digest)
    assert not oci.is_digest("sha256:abc")
    assert not oci.is_digest(digest.upper())
    assert oci.short_id(digest) == digest[7:19]


def test_layer_is_reproducible_and_holds_the_files() -> None:
    files = {"app/app.py": (b"print(1)\n", 0o644), "app/run.sh": (b"#!/bin/sh\n", 0o755)}
    first = oci.make_layer(files)
    second = oci.make_layer(dict(reversed(list(files.items()))))
    assert first.digest == second.digest
    assert first.diff_id == second.diff_id
    assert first.digest == oci.sha256_digest(first.blob)
    raw = gzip.decompress(first.blob)
    assert first.diff_id == oci.sha256_digest(raw)
    with tarfile.open(fileobj=io.BytesIO(raw)) as tar:
        members = {m.name: m for m in tar.getmembers()}
        assert sorted(members) == ["app", "app/app.py", "app/run.sh"]
        assert members["app"].isdir()
        assert members["app/run.sh"].mode == 0o755
        assert all(m.mtime == oci.LAYER_MTIME and m.uid == 0 and m.gid == 0 for m in members.values())
        extracted = tar.extractfile("app/app.py")
        assert extracted is not None and extracted.read() == b"print(1)\n"
    assert oci.make_layer({"app/app.py": (b"print(2)\n", 0o644)}).digest != first.digest


def test_read_layer_round_trip_and_bad_paths() -> None:
    layer = oci.make_layer({"/etc/x.conf": (b"x", 0o600), "data/": (b"", 0o700)})
    assert oci.read_layer(layer.blob) == {"etc/": (b"", 0o755), "etc/x.conf": (b"x", 0o600), "data/": (b"", 0o700)}
    with pytest.raises(ValueError, match="escapes the root"):
        oci.make_layer({"../evil": (b"", 0o644)})


def test_config_and_manifest_json() -> None:
    layer = oci.make_layer({"app/a": (b"a", 0o644)})
    config = oci.ContainerConfig(
        env=["A=1"],
        cmd=["python", "app.py"],
        entrypoint=["/entry"],
        working_dir="/app",
        exposed_ports=["8000/tcp"],
        user="app",
        labels={"k": "v"},
    )
    history = [oci.HistoryEntry("RUN x", empty_layer=True, comment="not executed"), oci.HistoryEntry("COPY a")]
    image = oci.assemble_image([layer], config, history, manifest_format="oci")
    doc = json.loads(image.config)
    assert doc["architecture"] == "amd64" and doc["os"] == "linux"
    assert doc["config"] == {
        "User": "app",
        "ExposedPorts": {"8000/tcp": {}},
        "Env": ["A=1"],
        "Entrypoint": ["/entry"],
        "Cmd": ["python", "app.py"],
        "WorkingDir": "/app",
        "Labels": {"k": "v"},
    }
    assert doc["rootfs"] == {"type": "layers", "diff_ids": [layer.diff_id]}
    assert doc["history"][0] == {"created_by": "RUN x", "comment": "not executed", "empty_layer": True}
    assert "empty_layer" not in doc["history"][1]
    manifest = json.loads(image.manifest)
    assert manifest["schemaVersion"] == 2
    assert manifest["mediaType"] == oci.OCI_MANIFEST == image.manifest_media_type
    assert manifest["config"] == {"mediaType": oci.OCI_CONFIG, "digest": image.config_digest, "size": len(image.config)}
    assert manifest["layers"] == [{"mediaType": oci.OCI_LAYER_TAR_GZIP, "digest": layer.digest, "size": layer.size}]
    assert image.digest == oci.sha256_digest(image.manifest)
    assert set(image.blobs()) == {image.config_digest, layer.digest}
    assert image.container_config() == config

    docker = oci.assemble_image([layer], config, history)
    assert json.loads(docker.manifest)["mediaType"] == oci.DOCKER_MANIFEST
    assert json.loads(docker.manifest)["layers"][0]["mediaType"] == oci.DOCKER_LAYER_TAR_GZIP


def test_files_applies_whiteouts() -> None:
    base = oci.make_layer({"a/keep": (b"1", 0o644), "a/drop": (b"2", 0o644)})
    top = oci.make_layer({"a/.wh.drop": (b"", 0o644), "b": (b"3", 0o644)})
    image = oci.assemble_image([base, top], oci.ContainerConfig(), [])
    files = image.files()
    assert "a/drop" not in files and files["a/keep"] == (b"1", 0o644) and files["b"] == (b"3", 0o644)
