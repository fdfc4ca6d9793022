"""The emulated registry against the real CNCF registry (Debian's ``docker-registry``, distribution 2.8).

The same pushes, pulls and failing calls go to both; status codes and error codes must match. ACR words
MANIFEST_UNKNOWN differently by design, so messages are not compared. ``docker-registry`` runs with the
``silly`` auth (any Authorization header passes, none gets 401) and receives the same admin header the
emulator checks.
"""

from __future__ import annotations

import base64
import hashlib
import json
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlencode, urljoin, urlsplit, urlunsplit

import pytest
import requests
from acr_testkit import create_registry, mgmt_client

from pytest_acalab.emulator import Emulator

REGISTRY_BIN = shutil.which("docker-registry") or "/usr/bin/docker-registry"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def reference_registry(tmp_path: Path) -> Iterator[str]:
    if not Path(REGISTRY_BIN).exists():
        pytest.skip("docker-registry is not installed (apt-get install -y docker-registry)")
    port = _free_port()
    config = tmp_path / "config.yml"
    config.write_text(
        "version: 0.1\nlog:\n  level: error\n"
        f"storage:\n  filesystem:\n    rootdirectory: {tmp_path / 'data'}\n  delete:\n    enabled: true\n"
        f"http:\n  addr: 127.0.0.1:{port}\n"
        "auth:\n  silly:\n    realm: https://127.0.0.1/token\n    service: differential\n")
    proc = subprocess.Popen([REGISTRY_BIN, "serve", str(config)], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 5
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                if time.monotonic() > deadline or proc.poll() is not None:
                    pytest.fail("docker-registry did not start")
                time.sleep(0.02)
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(timeout=5)


def _with_query(url: str, **params: str) -> str:
    parts = urlsplit(url)
    query = "&".join(q for q in (parts.query, urlencode(params)) if q)
    return urlunsplit((parts.scheme, parts.netloc, parts.path, query, parts.fragment))


def _digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def scenario(base: str, auth: dict[str, str], verify: str | bool) -> list[tuple[str, int, str | None]]:
    """Run the conversation; each step records (name, status, first error code)."""
    s = requests.Session()
    out: list[tuple[str, int, str | None]] = []

    def call(step: str, method: str, url: str, *, headers: dict[str, str] | None = None, data: bytes = b"",
             authed: bool = True) -> requests.Response:
        hdrs = {**(auth if authed else {}), **(headers or {})}
        resp = s.request(method, urljoin(base, url), headers=hdrs, data=data, verify=verify)
        code = None
        if resp.status_code >= 400 and method != "HEAD" and resp.content:
            code = resp.json()["errors"][0]["code"]
        out.append((step, resp.status_code, code))
        return resp

    config, layer = b'{"architecture":"amd64","os":"linux"}', b"layer bytes " * 100
    call("base without credentials", "GET", "/v2/", authed=False)
    call("base", "GET", "/v2/")
    bad = call("start upload", "POST", "/v2/app/blobs/uploads/")
    call("finish with a wrong digest", "PUT", _with_query(bad.headers["Location"], digest=_digest(b"other")),
         data=b"payload", headers={"Content-Type": "application/octet-stream"})
    # (a single-POST upload with ?digest= is optional in the OCI spec; distribution 2.8 ignores it: not compared)
    whole = call("monolithic: start", "POST", "/v2/app/blobs/uploads/")
    call("monolithic: put", "PUT", _with_query(whole.headers["Location"], digest=_digest(config)), data=config,
         headers={"Content-Type": "application/octet-stream"})
    start = call("chunked: start", "POST", "/v2/app/blobs/uploads/")
    patch = call("chunked: patch", "PATCH", start.headers["Location"], data=layer[:500],
                 headers={"Content-Type": "application/octet-stream", "Content-Range": "0-499"})
    call("chunked: finish", "PUT", _with_query(patch.headers["Location"], digest=_digest(layer)), data=layer[500:],
         headers={"Content-Type": "application/octet-stream"})
    call("head blob", "HEAD", f"/v2/app/blobs/{_digest(layer)}")
    got = call("get blob", "GET", f"/v2/app/blobs/{_digest(layer)}")
    assert got.content == layer
    call("missing blob", "GET", f"/v2/app/blobs/{_digest(b'never pushed')}")
    manifest = {"schemaVersion": 2, "mediaType": OCI_MANIFEST,
                "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": _digest(config),
                           "size": len(config)},
                "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": _digest(layer),
                            "size": len(layer)}]}
    broken = dict(manifest, layers=[{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
                                     "digest": _digest(b"missing"), "size": 7}])
    call("manifest with a missing blob", "PUT", "/v2/app/manifests/broken", data=json.dumps(broken).encode(),
         headers={"Content-Type": OCI_MANIFEST})
    body = json.dumps(manifest).encode()
    put = call("push manifest", "PUT", "/v2/app/manifests/v1", data=body, headers={"Content-Type": OCI_MANIFEST})
    assert put.headers["Docker-Content-Digest"] == _digest(body)
    accept = {"Accept": OCI_MANIFEST}
    by_tag = call("pull by tag", "GET", "/v2/app/manifests/v1", headers=accept)
    assert by_tag.content == body and by_tag.headers["Docker-Content-Digest"] == _digest(body)
    call("pull by digest", "GET", f"/v2/app/manifests/{_digest(body)}", headers=accept)
    call("head manifest", "HEAD", "/v2/app/manifests/v1", headers=accept)
    call("pull OCI accepting only Docker types", "GET", "/v2/app/manifests/v1",
         headers={"Accept": "application/vnd.docker.distribution.manifest.v2+json"})
    call("pull accepting anything", "GET", "/v2/app/manifests/v1", headers={"Accept": "*/*"})
    call("missing tag", "GET", "/v2/app/manifests/v2", headers=accept)
    call("head missing tag", "HEAD", "/v2/app/manifests/v2", headers=accept)
    call("pull without credentials", "GET", "/v2/app/manifests/v1", headers=accept, authed=False)
    tags = call("tags", "GET", "/v2/app/tags/list")
    assert tags.json() == {"name": "app", "tags": ["v1"]}
    call("tags of a missing repository", "GET", "/v2/nope/tags/list")
    catalog = call("catalog", "GET", "/v2/_catalog")
    assert catalog.json() == {"repositories": ["app"]}
    call("delete manifest", "DELETE", f"/v2/app/manifests/{_digest(body)}")
    call("pull deleted manifest", "GET", f"/v2/app/manifests/{_digest(body)}", headers=accept)
    return out


def test_emulated_registry_answers_like_distribution(emu: Emulator, group: str, reference_registry: str) -> None:
    client = mgmt_client(emu)
    reg = create_registry(client, group)
    password = client.registries.list_credentials(group, reg.name).passwords[0].value
    auth = {"Authorization": "Basic " + base64.b64encode(f"{reg.name}:{password}".encode()).decode()}
    expected = scenario(reference_registry, auth, False)
    actual = scenario(emu.registry_endpoint(reg.login_server), auth, emu.ca_bundle)
    assert actual == expected
    # sanity: the conversation really exercised failures
    assert ("missing tag", 404, "MANIFEST_UNKNOWN") in actual
    assert ("finish with a wrong digest", 400, "DIGEST_INVALID") in actual
    assert ("pull without credentials", 401, "UNAUTHORIZED") in actual
