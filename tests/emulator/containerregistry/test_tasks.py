"""ACR Tasks as ``az acr build`` drives them: azure-mgmt-containerregistrytasks + requests for the blobs."""

from __future__ import annotations

import base64
import time

import pytest
import requests
from acr_testkit import (
    create_registry,
    data_client,
    make_context,
    mgmt_client,
    stream_log,
    tasks_client,
    upload_source,
)
from azure.core.exceptions import HttpResponseError
from azure.mgmt.containerregistrytasks.models import DockerBuildRequest, EncodedTaskRunRequest, PlatformProperties

from pytest_acalab.emulator import Emulator

DOCKERFILE = b"""FROM mcr.microsoft.com/k8se/quickstart:latest
WORKDIR /srv
COPY app.py /srv/app.py
ENV PORT=8000
EXPOSE 8000
CMD ["python", "/srv/app.py"]
"""


@pytest.fixture(scope="module")
def mgmt(emu: Emulator):
    return mgmt_client(emu)


@pytest.fixture(scope="module")
def tasks(emu: Emulator):
    return tasks_client(emu)


def _build(tasks, group: str, registry: str, location: str, images: list[str], dockerfile: str = "Dockerfile"):
    return tasks.registries.schedule_run(group, registry, DockerBuildRequest(
        image_names=images, is_push_enabled=True, source_location=location, docker_file_path=dockerfile,
        platform=PlatformProperties(os="Linux", architecture="amd64")))


def test_acr_build_from_a_folder_ends_as_a_listed_image(emu: Emulator, mgmt, tasks, group: str) -> None:
    reg = create_registry(mgmt, group)
    context = make_context({"Dockerfile": DOCKERFILE, "app.py": b"print('hi')\n"})
    relative = upload_source(emu, tasks, group, reg.name, context)
    assert relative.startswith("source/") and relative.endswith(".tar.gz")
    run = _build(tasks, group, reg.name, relative, ["web:{{.Run.ID}}", "web:latest"])
    assert (run.properties.run_id, run.properties.status) == ("ca1", "Queued")
    assert run.type == "Microsoft.ContainerRegistry/registries/runs"
    link = tasks.runs.get_log_sas_url(group, reg.name, "ca1").log_link
    assert "/logs/ca1/rawtext.log?" in link and "sp=r" in link
    log, complete = stream_log(emu, link)
    assert complete == "successful"
    assert "Successfully pushed image: " + f"{reg.login_server}/web:ca1" in log
    assert log.rstrip().endswith(tuple(f"Run ID: ca1 was successful after {s}s" for s in range(0, 60)))
    done = tasks.runs.get(group, reg.name, "ca1")
    props = done.properties
    assert props.status == "Succeeded" and props.run_type == "QuickRun"
    assert props.start_time <= props.finish_time
    assert sorted((i.repository, i.tag) for i in props.output_images) == [("web", "ca1"), ("web", "latest")]
    acr = data_client(emu, reg.login_server)
    assert sorted(t.name for t in acr.list_tag_properties("web")) == ["ca1", "latest"]
    manifest = acr.get_manifest_properties("web", "ca1")
    assert manifest.digest == props.output_images[0].digest
    second = _build(tasks, group, reg.name, relative, ["web:v2"])
    assert second.properties.run_id == "ca2"
    stream_log(emu, tasks.runs.get_log_sas_url(group, reg.name, "ca2").log_link)
    assert [r.properties.run_id for r in tasks.runs.list(group, reg.name)] == ["ca2", "ca1"]


def test_the_log_grows_while_the_run_runs() -> None:
    """A running build's log can be read before the run ends (no push yet) and grows until it does.

    The test moves time itself instead of racing it: on the realistic clock at 1/100 speed the queue (2 s) and the
    build (35 s) last 200 and 3,500 real seconds, so nothing happens on its own; the test runs the emulator's
    scheduler to the queue's end, reads the running state, then runs it to the build's end. A private emulator, so
    no other test's pending events are brought forward. (At speed 50 the build lasted 0.7 s, and beside a second
    suite it ended between the test seeing "Running" and reading the log.)
    """
    from azure.mgmt.resource.resources import ResourceManagementClient

    from pytest_acalab.emulator.containerregistry.tasks import QUEUE_AZURE_SECONDS

    with Emulator(profile="fast") as emu:
        group = "rg-log-grows"
        ResourceManagementClient(emu.credential(), emu.subscription_id, **emu.client_kwargs()) \
            .resource_groups.create_or_update(group, {"location": "koreacentral"})
        mgmt, tasks = mgmt_client(emu), tasks_client(emu)
        reg = create_registry(mgmt, group)
        relative = upload_source(emu, tasks, group, reg.name, make_context({"Dockerfile": DOCKERFILE,
                                                                            "app.py": b"x"}))
        emu.clock.profile, emu.clock.speed = "realistic", 0.01
        run_id = _build(tasks, group, reg.name, relative, ["web:1"]).properties.run_id
        link = tasks.runs.get_log_sas_url(group, reg.name, run_id).log_link
        assert requests.head(link, verify=emu.ca_bundle).status_code == 404  # queued: no log yet
        assert tasks.runs.get(group, reg.name, run_id).properties.status == "Queued"

        emu.platform.scheduler.run_due(now=time.monotonic() + emu.clock.scale(QUEUE_AZURE_SECONDS))
        assert tasks.runs.get(group, reg.name, run_id).properties.status == "Running"
        head = requests.head(link, verify=emu.ca_bundle)
        assert head.status_code == 200 and "x-ms-meta-Complete" not in head.headers
        partial = int(head.headers["Content-Length"])
        assert head.headers["x-ms-blob-type"] == "AppendBlob"
        text = requests.get(link, verify=emu.ca_bundle).text
        assert text.startswith(tuple(f"20{y}" for y in range(20, 100)))
        assert "Successfully pushed" not in text
        assert list(data_client(emu, reg.login_server).list_repository_names()) == []  # pushed only at the end

        emu.platform.scheduler.run_due(now=time.monotonic() + emu.clock.duration("acr.build"))
        log, complete = stream_log(emu, link)
    assert complete == "successful" and len(log.encode()) > partial
    assert "Successfully pushed image: " + f"{reg.login_server}/web:1" in log


@pytest.mark.parametrize(("files", "compress", "reason"), [
    ({"Dockerfile": b"FROM scratch\nCOPY missing.txt /x\n"}, True, "missing.txt"),
    ({"Dockerfile": b"FROM scratch\nFROBNICATE now\n"}, True, "FROBNICATE"),
    ({"Dockerfile": b"FROM scratch\n"}, False, None),
])
def test_failed_builds_say_why_in_log_and_run(emu: Emulator, mgmt, tasks, group: str, files, compress,
                                              reason) -> None:
    reg = create_registry(mgmt, group)
    context = make_context(files) if compress else b"this is not a tarball at all" * 10
    relative = upload_source(emu, tasks, group, reg.name, context)
    run = _build(tasks, group, reg.name, relative, ["bad:1"])
    log, complete = stream_log(emu, tasks.runs.get_log_sas_url(group, reg.name, run.properties.run_id).log_link)
    props = tasks.runs.get(group, reg.name, run.properties.run_id).properties
    assert complete == "failed" and props.status == "Failed"
    expected = reason or "not a tar.gz archive"
    assert expected in log and expected in props.run_error_message
    assert props.output_images is None
    assert list(data_client(emu, reg.login_server).list_repository_names()) == []


def test_missing_source_blob_fails_the_run(emu: Emulator, mgmt, tasks, group: str) -> None:
    reg = create_registry(mgmt, group)
    run = _build(tasks, group, reg.name, "source/202601010000/never-uploaded.tar.gz", ["x:1"])
    log, complete = stream_log(emu, tasks.runs.get_log_sas_url(group, reg.name, run.properties.run_id).log_link)
    props = tasks.runs.get(group, reg.name, run.properties.run_id).properties
    assert complete == "failed" and "never-uploaded.tar.gz" in log
    assert "names no uploaded blob" in props.run_error_message


def test_encoded_task_build_and_push(emu: Emulator, mgmt, tasks, group: str) -> None:
    reg = create_registry(mgmt, group)
    relative = upload_source(emu, tasks, group, reg.name, make_context({"Dockerfile": DOCKERFILE, "app.py": b"y"}))
    task = ("version: v1.1.0\nsteps:\n  - build: -t {{.Run.Registry}}/api:{{.Run.ID}} -f Dockerfile .\n"
            "  - push: [\"{{.Run.Registry}}/api:{{.Run.ID}}\"]\n")
    run = tasks.registries.schedule_run(group, reg.name, EncodedTaskRunRequest(
        encoded_task_content=base64.b64encode(task.encode()).decode(), source_location=relative,
        platform=PlatformProperties(os="Linux")))
    _, complete = stream_log(emu, tasks.runs.get_log_sas_url(group, reg.name, run.properties.run_id).log_link)
    assert complete == "successful"
    assert [t.name for t in data_client(emu, reg.login_server).list_tag_properties("api")] == [run.properties.run_id]
    bad = ("steps:\n  - cmd: bash echo hi\n")
    with pytest.raises(HttpResponseError) as exc:
        tasks.registries.schedule_run(group, reg.name, EncodedTaskRunRequest(
            encoded_task_content=base64.b64encode(bad.encode()).decode(), platform=PlatformProperties(os="Linux")))
    assert "'cmd' is not supported" in exc.value.error.message


def test_cli_2019_preview_paths_and_sas_checks(emu: Emulator, mgmt, tasks, group: str) -> None:
    reg = create_registry(mgmt, group)
    token = emu.credential().get_token("https://management.azure.com/.default").token
    auth = {"Authorization": f"Bearer {token}"}
    base = f"{emu.url}{reg.id}"
    upload = requests.post(f"{base}/listBuildSourceUploadUrl?api-version=2019-06-01-preview", headers=auth,
                           verify=emu.ca_bundle).json()
    url = upload["uploadUrl"]
    assert url.startswith(f"{emu.url}/") and "sp=cw" in url and "&sig=" in url
    tampered = url[:-4] + ("AAAA" if not url.endswith("AAAA") else "BBBB")
    denied = requests.put(tampered, data=b"x", headers={"x-ms-blob-type": "BlockBlob"}, verify=emu.ca_bundle)
    assert denied.status_code == 403 and denied.headers["x-ms-error-code"] == "AuthenticationFailed"
    missing_type = requests.put(url, data=b"x", verify=emu.ca_bundle)
    assert missing_type.status_code == 400 and missing_type.headers["x-ms-error-code"] == "MissingRequiredHeader"
    ok = requests.put(url, data=make_context({"Dockerfile": b"FROM scratch\nCOPY a /a\n", "a": b"a"}),
                      headers={"x-ms-blob-type": "BlockBlob"}, verify=emu.ca_bundle)
    assert ok.status_code == 201
    # the body az acr build sends (recordings/test_containerapp_up_source_with_dockerfile_e2e.yaml [48])
    body = {"type": "DockerBuildRequest", "isArchiveEnabled": False, "imageNames": ["app:1"],
            "isPushEnabled": True, "noCache": False, "dockerFilePath": "Dockerfile", "arguments": [],
            "platform": {"os": "Linux", "architecture": "amd64"}, "sourceLocation": upload["relativePath"]}
    run = requests.post(f"{base}/scheduleRun?api-version=2019-06-01-preview", json=body, headers=auth,
                        verify=emu.ca_bundle)
    assert run.status_code == 200
    assert run.json()["properties"]["status"] == "Queued" and run.json()["name"] == "ca1"
    logs = requests.post(f"{base}/runs/ca1/listLogSasUrl?api-version=2019-06-01-preview", headers=auth,
                         verify=emu.ca_bundle).json()["logLink"]
    _, complete = stream_log(emu, logs)
    assert complete == "successful"
    read_only = requests.put(logs, data=b"x", headers={"x-ms-blob-type": "BlockBlob"}, verify=emu.ca_bundle)
    assert read_only.status_code == 403
    beyond = requests.get(logs, headers={"x-ms-range": "bytes=999999-1000000"}, verify=emu.ca_bundle)
    assert beyond.status_code == 416 and beyond.headers["x-ms-error-code"] == "InvalidRange"
    with pytest.raises(HttpResponseError) as exc:
        tasks.runs.get(group, reg.name, "ca9")
    assert exc.value.status_code == 404


def test_cancel_a_queued_run(emu: Emulator, mgmt, tasks, group: str) -> None:
    reg = create_registry(mgmt, group)
    relative = upload_source(emu, tasks, group, reg.name, make_context({"Dockerfile": DOCKERFILE, "app.py": b"z"}))
    emu.clock.profile, emu.clock.speed = "realistic", 0.01  # 200 real s in the queue: the cancel lands in it
    try:
        run = _build(tasks, group, reg.name, relative, ["web:1"])
        tasks.runs.cancel(group, reg.name, run.properties.run_id)
        log, complete = stream_log(emu, tasks.runs.get_log_sas_url(group, reg.name, run.properties.run_id).log_link)
    finally:
        emu.clock.profile, emu.clock.speed = "fast", 1.0
    assert complete == "canceled" and "canceled" in log
    assert tasks.runs.get(group, reg.name, run.properties.run_id).properties.status == "Canceled"
    assert list(data_client(emu, reg.login_server).list_repository_names()) == []
