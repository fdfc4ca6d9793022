"""Pure parts of the actions: the build context (.dockerignore), image sources, PATCH bodies."""

from __future__ import annotations

import io
import tarfile

import pytest

from pytest_acalab.actions.acr import DockerIgnore, pack_context, split_source
from pytest_acalab.actions.apps import traffic_rules, update_envelope
from pytest_acalab.errors import ActionError


def test_dockerignore_rules() -> None:
    rules = DockerIgnore("# comment\n\n*.md\n!README.md\nnode_modules\n**/__pycache__\ndocs/*.tmp\n./secrets/\n")
    assert rules.ignored("notes.md") and not rules.ignored("README.md")
    assert rules.ignored("node_modules/a/b.js") and not rules.ignored("src/node_modules.py")
    assert rules.ignored("pkg/deep/__pycache__/x.pyc") and rules.ignored("__pycache__/x.pyc")
    assert rules.ignored("docs/a.tmp") and not rules.ignored("docs/sub/a.tmp")
    assert rules.ignored("secrets/key.pem")
    assert not rules.ignored("app.py") and not rules.ignored("sub/notes.txt")


def test_pack_context_honours_dockerignore_but_keeps_the_dockerfile(tmp_path) -> None:
    (tmp_path / "Dockerfile").write_text("FROM python:3.11-slim\n")
    (tmp_path / "app.py").write_text("print('hi')\n")
    (tmp_path / ".env").write_text("SECRET=1\n")
    (tmp_path / "cache").mkdir()
    (tmp_path / "cache" / "big.bin").write_bytes(b"x" * 10)
    (tmp_path / ".dockerignore").write_text(".env\ncache\nDockerfile\n")
    with tarfile.open(fileobj=io.BytesIO(pack_context(tmp_path)), mode="r:gz") as tar:
        names = sorted(tar.getnames())
    assert names == [".dockerignore", "Dockerfile", "app.py"]


def test_split_source() -> None:
    assert split_source("mcr.microsoft.com/k8se/quickstart:latest") == ("mcr.microsoft.com", "k8se/quickstart:latest")
    assert split_source("nginx:1.27") == ("docker.io", "library/nginx:1.27")
    assert split_source("bitnami/redis:7") == ("docker.io", "bitnami/redis:7")
    assert split_source("localhost:5000/app:v1") == ("localhost:5000", "app:v1")


APP = {"name": "ca-x", "properties": {
    "configuration": {"ingress": {"fqdn": "ca-x.example.io", "targetPort": 8000, "external": True,
                                  "traffic": [{"weight": 100, "latestRevision": True}], "corsPolicy": None}},
    "template": {"revisionSuffix": None, "containers": [
        {"name": "app", "image": "r.azurecr.io/labacr:old", "env": [{"name": "A", "value": "1"},
                                                                     {"name": "B", "value": "2"}]},
        {"name": "sidecar", "image": "busybox"}]}}}


def test_update_envelope_changes_only_what_was_asked() -> None:
    body = update_envelope(APP, image="r.azurecr.io/labacr:v1", env={"B": 3, "C": False})
    containers = body["properties"]["template"]["containers"]
    assert containers[0]["image"] == "r.azurecr.io/labacr:v1" and containers[1] == {"name": "sidecar",
                                                                                      "image": "busybox"}
    assert containers[0]["env"] == [{"name": "A", "value": "1"}, {"name": "B", "value": "3"},
                                    {"name": "C", "value": "false"}]
    assert "configuration" not in body["properties"] and "revisionSuffix" not in body["properties"]["template"]
    # --set-env-vars keeps a variable where it stands and switches its source, literal <-> secretRef
    to_secret = update_envelope(APP, env={"a": {"secret_ref": "s"}})["properties"]["template"]["containers"][0]
    assert to_secret["env"] == [{"name": "A", "secretRef": "s"}, {"name": "B", "value": "2"}]
    back = update_envelope({"name": "ca-x", "properties": {"template": {"containers": [{**to_secret}]}}},
                           env={"A": "x"})["properties"]["template"]["containers"][0]
    assert back["env"] == [{"name": "A", "value": "x"}, {"name": "B", "value": "2"}]
    assert APP["properties"]["template"]["containers"][0]["image"] == "r.azurecr.io/labacr:old"  # not mutated
    probe = {"type": "Startup", "httpGet": {"path": "/health", "port": 8000}}
    probes = update_envelope(APP, probes=[probe])["properties"]["template"]["containers"][0]
    assert probes["probes"] == [probe] and probes["image"] == "r.azurecr.io/labacr:old"
    port = update_envelope(APP, target_port=80)
    assert port["properties"] == {"configuration": {"ingress": {
        "targetPort": 80, "external": True, "traffic": [{"weight": 100, "latestRevision": True}]}}}
    with pytest.raises(ActionError, match="no ingress"):
        update_envelope({"name": "y", "properties": {}}, target_port=80)


def test_traffic_rules() -> None:
    assert traffic_rules("latest") == [{"latestRevision": True, "weight": 100}]
    assert traffic_rules({"ca-x--old": 20, "latest": 80}) == [{"revisionName": "ca-x--old", "weight": 20},
                                                             {"latestRevision": True, "weight": 80}]
    with pytest.raises(ActionError, match="weights"):
        traffic_rules(["nope"])
