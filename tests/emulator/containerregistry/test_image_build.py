"""az acr build emulation: Dockerfile interpretation, layers, config, log and push."""

from __future__ import annotations

import gzip
import io
import os
import re
import tarfile
import time

import pytest

from pytest_acalab.emulator.containerregistry import build, oci
from pytest_acalab.emulator.containerregistry.content import RegistryContent

# The workload of the ACR pull-failure lab, as its build log shows it (yeongseon/azure-container-apps-
# practical-guide, acr-pull-failure/07-acr-build-result.json, MIT), plus one ENV line.
PYTHON_APP_DOCKERFILE = b"""FROM python:3.11-slim
WORKDIR /app
COPY requirements.txt ./
RUN pip install --no-cache-dir --requirement requirements.txt
COPY app.py ./
ENV PYTHONUNBUFFERED=1 PORT=8000
EXPOSE 8000
CMD ["gunicorn", "--bind", "0.0.0.0:8000", "--workers", "2", "app:app"]
"""
REQUIREMENTS = b"flask==3.0.3\ngunicorn==22.0.0\n"
APP = b"from flask import Flask\napp = Flask(__name__)\n\n@app.get('/')\ndef index():\n    return 'ok'\n"


@pytest.fixture
def python_app(make_context) -> bytes:
    return make_context({"Dockerfile": PYTHON_APP_DOCKERFILE, "requirements.txt": REQUIREMENTS, "app.py": APP})


def _layer_members(layer: oci.Layer) -> dict[str, tarfile.TarInfo | bytes]:
    out: dict[str, tarfile.TarInfo | bytes] = {}
    with tarfile.open(fileobj=io.BytesIO(gzip.decompress(layer.blob))) as tar:
        for member in tar.getmembers():
            extracted = tar.extractfile(member) if member.isfile() else None
            out[member.name] = extracted.read() if extracted else member
    return out


def test_python_app_image(python_app: bytes, registry: RegistryContent, clock) -> None:
    result = build.run_build(python_app, image_names=["labacr:v1"], registry=registry, run_id="de1", clock=clock)
    assert result.succeeded, result.log_text
    assert result.error is None
    image = result.image
    assert image is not None
    config = image.config_doc()["config"]
    assert config["Env"] == ["PYTHONUNBUFFERED=1", "PORT=8000"]
    assert config["Cmd"] == ["gunicorn", "--bind", "0.0.0.0:8000", "--workers", "2", "app:app"]
    assert config["WorkingDir"] == "/app"
    assert config["ExposedPorts"] == {"8000/tcp": {}}

    # Two COPY layers, each holding exactly its file under /app.
    assert len(image.layers) == 2
    first, second = (_layer_members(layer) for layer in image.layers)
    assert first["app/requirements.txt"] == REQUIREMENTS and isinstance(first["app"], tarfile.TarInfo)
    assert second["app/app.py"] == APP and "app/requirements.txt" not in second
    assert image.config_doc()["rootfs"]["diff_ids"] == [layer.diff_id for layer in image.layers]

    # The base is recorded by name; the pip step ran for real into the image's Python environment.
    history = image.history()
    assert history[0].created_by == "FROM python:3.11-slim" and history[0].empty_layer
    assert "not pulled" in history[0].comment
    assert config["Labels"]["org.opencontainers.image.base.name"] == "python:3.11-slim"
    runs = [h for h in history if "pip install" in h.created_by]
    assert len(runs) == 1 and runs[0].empty_layer and "executed by the emulator into Python environment" in \
        runs[0].comment
    assert "dev.acalab.python-env" in config["Labels"]
    assert [b.reference for b in result.base_images] == ["python:3.11-slim"]
    assert result.base_images[0].pulled is False and result.base_images[0].digest is None

    # Pushed under labacr:v1.
    assert result.pushed == (build.PushedImage("labacr", "v1", image.digest),)
    assert registry.get_manifest("labacr", "v1").digest == image.digest
    for digest in image.blobs():
        assert registry.has_blob(digest)


def test_python_app_log_has_acr_shape(python_app: bytes, registry: RegistryContent, clock) -> None:
    result = build.run_build(python_app, image_names=["labacr:v1"], registry=registry, run_id="de1", clock=clock)
    log = result.log_text
    lines = log.splitlines()
    assert re.match(r"^2026/06/22 13:26:\d\d Downloading source code\.\.\.$", lines[0])
    assert re.match(r"^\d{4}/\d\d/\d\d \d\d:\d\d:\d\d Finished downloading source code$", lines[1])
    assert "Step 1/8 : FROM python:3.11-slim" in lines
    assert "Step 8/8 : " + 'CMD ["gunicorn", "--bind", "0.0.0.0:8000", "--workers", "2", "app:app"]' in lines
    assert any("cannot be pulled here" in line for line in lines)
    run_step = lines.index("Step 4/8 : RUN pip install --no-cache-dir --requirement requirements.txt")
    assert lines[run_step + 1].startswith(" ---> RUN executed by the emulator: base python:3.11-slim runs on")
    assert f"Successfully built {oci.short_id(result.image.config_digest)}" in lines
    assert "Successfully tagged labacr.azurecr.io/labacr:v1" in lines
    assert "The push refers to repository [labacr.azurecr.io/labacr]" in lines
    assert f"v1: digest: {result.image.digest} size: {len(result.image.manifest)}" in lines
    assert any(line.endswith("Successfully pushed image: labacr.azurecr.io/labacr:v1") for line in lines)
    assert "    repository: library/python" in lines and "    tag: 3.11-slim" in lines
    assert re.match(r"^Run ID: de1 was successful after \d+s$", lines[-1])


def test_same_context_gives_same_digest(python_app: bytes, make_context) -> None:
    first = build.run_build(python_app)
    second = build.run_build(python_app, run_id="ca2")
    assert first.image is not None and second.image is not None
    assert first.image.digest == second.image.digest
    changed = build.run_build(
        make_context({"Dockerfile": PYTHON_APP_DOCKERFILE, "requirements.txt": REQUIREMENTS, "app.py": APP + b"#\n"})
    )
    assert changed.image is not None and changed.image.digest != first.image.digest


def _assert_failed(result: build.BuildResult, reason: str) -> None:
    assert not result.succeeded
    assert result.image is None
    assert result.error is not None and reason in result.error
    assert reason in result.log_text
    assert re.search(
        r"Run ID: ca1 failed after \d+s\. Error: failed during run, err: exit status 1\n$", result.log_text
    )


def test_unknown_instruction_fails_with_line(make_context, registry: RegistryContent) -> None:
    context = make_context({"Dockerfile": b"FROM python:3.11-slim\nWORKDIR /app\nCOPPY app.py .\n", "app.py": APP})
    result = build.run_build(context, image_names=["labacr:v1"], registry=registry)
    _assert_failed(result, "dockerfile parse error line 3: unknown instruction: COPPY")
    assert "Error response from daemon: dockerfile parse error line 3" in result.log_text
    assert registry.list_repositories() == []


def test_missing_copy_source_uses_docker_wording(make_context, registry: RegistryContent) -> None:
    context = make_context({"Dockerfile": b"FROM python:3.11-slim\nCOPY missing.txt ./\n"})
    result = build.run_build(context, image_names=["labacr:v1"], registry=registry)
    _assert_failed(
        result,
        "COPY failed: file not found in build context or excluded by .dockerignore: "
        "stat missing.txt: file does not exist",
    )
    assert "Step 2/2 : COPY missing.txt ./" in result.log_text
    assert registry.list_repositories() == []


def test_dockerignored_file_counts_as_missing(make_context) -> None:
    context = make_context(
        {"Dockerfile": b"FROM scratch\nCOPY secret.env /\n", ".dockerignore": b"*.env\n", "secret.env": b"K=V"}
    )
    _assert_failed(build.run_build(context), "excluded by .dockerignore: stat secret.env: file does not exist")


@pytest.mark.parametrize("payload", [b"just some text, not an archive", gzip.compress(b"gzip but not a tar")],
                         ids=["plain-text", "gzip-not-tar"])
def test_context_that_is_not_a_tar_gz(payload: bytes) -> None:
    result = build.run_build(payload)
    _assert_failed(result, "the build context is not a tar.gz archive")
    assert "Step 1/" not in result.log_text


def test_no_dockerfile_in_context(make_context) -> None:
    result = build.run_build(make_context({"app.py": APP}), dockerfile_path="Dockerfile")
    _assert_failed(result, "error opening dockerfile: Dockerfile, error: open Dockerfile: no such file or directory")
    assert "failed to run step ID: build: failed to scan dependencies: exit status 1" in result.log_text


def test_dockerfile_path_inside_context(make_context) -> None:
    context = make_context({"docker/Dockerfile.prod": b"FROM scratch\nCOPY app.py /srv/\n", "app.py": APP})
    result = build.run_build(context, dockerfile_path="docker/Dockerfile.prod")
    assert result.succeeded, result.log_text
    assert result.image.files()["srv/app.py"] == (APP, 0o644)


def test_one_megabyte_context_is_fast(make_context) -> None:
    context = make_context(
        {"Dockerfile": b"FROM python:3.11-slim\nCOPY . /app/\n", "blob.bin": os.urandom(1024 * 1024), "app.py": APP}
    )
    started = time.perf_counter()
    result = build.run_build(context)
    elapsed = time.perf_counter() - started
    assert result.succeeded, result.log_text
    assert len(result.image.files()["app/blob.bin"][0]) == 1024 * 1024
    assert elapsed < 2.0


def test_args_env_and_substitution(make_context) -> None:
    dockerfile = b"""# syntax=docker/dockerfile:1
ARG BASE=scratch
FROM $BASE AS final
ARG PORT=8080
ARG NAME
ARG UNSET
ENV APP_HOME /srv/app
ENV GREETING="hello ${NAME:-world}" LEVEL=${UNSET:-info}
WORKDIR $APP_HOME
COPY ["app.py", "./${NAME}.py"]
EXPOSE ${PORT} 9000/udp
LABEL org.example.name="$NAME" version=1
USER 1000:1000
ENTRYPOINT python -u \\
    main.py
"""
    result = build.run_build(
        make_context({"Dockerfile": dockerfile, "app.py": APP}),
        build_args={"NAME": "svc", "PORT": "8000", "UNUSED": "x"},
    )
    assert result.succeeded, result.log_text
    config = result.image.container_config()
    assert config.env == ["APP_HOME=/srv/app", "GREETING=hello svc", "LEVEL=info"]
    assert config.working_dir == "/srv/app"
    assert config.exposed_ports == ["8000/tcp", "9000/udp"]
    assert config.labels["org.example.name"] == "svc" and config.labels["version"] == "1"
    assert config.user == "1000:1000"
    assert config.entrypoint == ["/bin/sh", "-c", "python -u main.py"]
    assert config.cmd is None
    assert result.image.files()["srv/app/svc.py"] == (APP, 0o644)
    assert "[Warning] One or more build-args [UNUSED] were not consumed" in result.log_text


def test_multi_stage_copy_from(make_context) -> None:
    dockerfile = b"""FROM python:3.11-slim AS build
WORKDIR /src
COPY pkg/ ./pkg/
RUN python -m compileall pkg
FROM mcr.microsoft.com/k8se/quickstart:latest
COPY --from=build /src/pkg /opt/pkg
CMD ["python", "/opt/pkg/main.py"]
"""
    context = make_context({"Dockerfile": dockerfile, "pkg/main.py": b"print(1)\n", "pkg/sub/util.py": b"x = 1\n"})
    result = build.run_build(context)
    assert result.succeeded, result.log_text
    files = result.image.files()
    assert files["opt/pkg/main.py"][0] == b"print(1)\n"
    assert files["opt/pkg/sub/util.py"][0] == b"x = 1\n"
    assert "src/pkg/main.py" not in files, "the build stage must not leak into the final image"
    # The final stage builds on the catalogue image: its layer and its config come along.
    quickstart_layers = 1
    assert len(result.image.layers) == quickstart_layers + 1
    config = result.image.container_config()
    assert config.exposed_ports == ["80/tcp"]
    assert config.cmd == ["python", "/opt/pkg/main.py"]
    assert any(path.endswith("PLACEHOLDER.txt") for path in files)
    assert "Status: Downloaded newer image for mcr.microsoft.com/k8se/quickstart:latest" in result.log_text
    pulled = [b for b in result.base_images if b.pulled]
    assert pulled and pulled[0].digest is not None


def test_base_from_registry_via_resolver(make_context, registry: RegistryContent) -> None:
    base = build.run_build(
        make_context({"Dockerfile": b"FROM scratch\nCOPY base.txt /etc/\nENV FROM_BASE=1\n", "base.txt": b"b"}),
        image_names=["base:v1"],
        registry=registry,
    )
    assert base.succeeded

    def resolve(ref: str) -> oci.BuiltImage | None:
        prefix = registry.login_server + "/"
        if not ref.startswith(prefix):
            return None
        repository, _, tag = ref[len(prefix) :].partition(":")
        return registry.load_image(repository, tag or "latest")

    child = build.run_build(
        make_context({"Dockerfile": b"FROM labacr.azurecr.io/base:v1\nCOPY app.py /app/\n", "app.py": APP}),
        resolve_base=resolve,
    )
    assert child.succeeded, child.log_text
    assert child.image.layers[0] == base.image.layers[0]
    assert child.image.container_config().env == ["FROM_BASE=1"]
    assert set(child.image.files()) >= {"etc/base.txt", "app/app.py"}


def test_dockerignore_and_directory_copy(make_context) -> None:
    context = make_context(
        {
            "Dockerfile": b"FROM scratch\nWORKDIR /app\nCOPY . .\nCOPY --chmod=755 scripts/*.sh /usr/local/bin/\n",
            ".dockerignore": b".git\n**/*.pyc\n",
            ".git/HEAD": b"ref",
            "src/app.py": APP,
            "src/app.pyc": b"\x00",
            "scripts/run.sh": b"#!/bin/sh\n",
        }
    )
    result = build.run_build(context)
    assert result.succeeded, result.log_text
    files = result.image.files()
    assert files["app/src/app.py"] == (APP, 0o644)
    assert "app/src/app.pyc" not in files and not any(p.startswith("app/.git") for p in files)
    assert files["usr/local/bin/run.sh"] == (b"#!/bin/sh\n", 0o755)


def test_add_url_and_archive_are_reported(make_context) -> None:
    context = make_context(
        {
            "Dockerfile": b"FROM scratch\nADD https://example.com/x.tgz /opt/\nADD bundle.tar.gz /opt/\n",
            "bundle.tar.gz": b"not really",
        }
    )
    result = build.run_build(context)
    assert result.succeeded, result.log_text
    assert "fetching URLs is not supported" in result.log_text
    assert "not extracted" in result.log_text
    assert result.image.files()["opt/bundle.tar.gz"][0] == b"not really"


def test_run_id_template_and_plain_tar(make_context, registry: RegistryContent) -> None:
    context = make_context({"Dockerfile": b"FROM scratch\nCOPY a /a\n", "a": b"1"}, compress=False)
    result = build.run_build(
        context, image_names=["labacr:{{.Run.ID}}", "labacr.azurecr.io/other"], registry=registry, run_id="cb7"
    )
    assert result.succeeded, result.log_text
    assert registry.list_tags("labacr") == ["cb7"]
    assert registry.list_tags("other") == ["latest"]
    assert [(p.repository, p.tag) for p in result.pushed] == [("labacr", "cb7"), ("other", "latest")]


def test_push_helper_checks_all_names_first(registry: RegistryContent, make_context) -> None:
    image = build.run_build(make_context({"Dockerfile": b"FROM scratch\nCOPY a /a\n", "a": b"1"})).image
    with pytest.raises(ValueError, match="invalid reference format"):
        build.push_built_image(registry, image, ["good:v1", "Bad:v1"])
    assert registry.list_repositories() == []
    pushed = build.push_built_image(registry, image, ["good:{{.Run.ID}}"], run_id="ca9")
    assert pushed == [build.PushedImage("good", "ca9", image.digest)]


def test_bad_image_name_fails_the_run(make_context) -> None:
    result = build.run_build(
        make_context({"Dockerfile": b"FROM scratch\n"}), image_names=["NotLower:v1"], registry=RegistryContent()
    )
    _assert_failed(result, "invalid reference format")


def test_entrypoint_drops_inherited_cmd(make_context) -> None:
    base = "FROM mcr.microsoft.com/k8se/quickstart:latest\n"
    inherited = build.run_build(make_context({"Dockerfile": base.encode()}))
    assert inherited.image.container_config().cmd == ["/app/quickstart"]
    context = make_context({"Dockerfile": (base + 'ENTRYPOINT ["/bin/serve"]\n').encode()})
    config = build.run_build(context).image.container_config()
    assert config.entrypoint == ["/bin/serve"] and config.cmd is None
    context = make_context({"Dockerfile": (base + 'CMD ["--port", "80"]\nENTRYPOINT ["/bin/serve"]\n').encode()})
    config = build.run_build(context).image.container_config()
    assert config.entrypoint == ["/bin/serve"] and config.cmd == ["--port", "80"]
