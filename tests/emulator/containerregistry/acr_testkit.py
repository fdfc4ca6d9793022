"""Shared helpers for the registry provider's HTTP tests (real SDK clients against the emulator)."""

from __future__ import annotations

import io
import tarfile
import time
import uuid
from collections.abc import Mapping
from typing import Any

import requests

from pytest_acalab.emulator import Emulator


def unique_name(prefix: str = "acr") -> str:
    return f"{prefix}{uuid.uuid4().hex[:12]}"


def mgmt_client(emu: Emulator):
    from azure.mgmt.containerregistry import ContainerRegistryManagementClient

    return ContainerRegistryManagementClient(emu.credential(), emu.subscription_id, polling_interval=0,
                                             **emu.client_kwargs())


def tasks_client(emu: Emulator):
    from azure.mgmt.containerregistrytasks import ContainerRegistryTasksMgmtClient

    return ContainerRegistryTasksMgmtClient(emu.credential(), emu.subscription_id, polling_interval=0,
                                            **emu.client_kwargs())


def create_registry(client: Any, group: str, name: str | None = None, *, admin: bool = True,
                    anonymous: bool = False, sku: str = "Basic") -> Any:
    name = name or unique_name()
    return client.registries.begin_create(group, name, {
        "location": "koreacentral", "sku": {"name": sku},
        "properties": {"adminUserEnabled": admin, "anonymousPullEnabled": anonymous},
    }).result()


def data_client(emu: Emulator, login_server: str):
    from azure.containerregistry import ContainerRegistryClient

    return ContainerRegistryClient(emu.registry_endpoint(login_server), emu.credential(),
                                   audience="https://management.azure.com", connection_verify=emu.ca_bundle)


def make_context(files: Mapping[str, bytes], *, compress: bool = True) -> bytes:
    """A build context as ``az acr build`` uploads it: a tar.gz of the source folder."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz" if compress else "w") as tar:
        for path, data in files.items():
            info = tarfile.TarInfo(path)
            info.size = len(data)
            info.mode = 0o644
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def upload_source(emu: Emulator, tasks: Any, group: str, registry: str, context: bytes) -> str:
    """What ``az acr build`` does before scheduling: get a SAS URL and PUT the tar.gz (BlockBlob)."""
    upload = tasks.registries.get_build_source_upload_url(group, registry)
    resp = requests.put(upload.upload_url, data=context, verify=emu.ca_bundle,
                        headers={"x-ms-blob-type": "BlockBlob", "x-ms-version": "2021-06-08",
                                 "Content-Type": "application/octet-stream"})
    assert resp.status_code == 201, resp.text
    return upload.relative_path


def stream_log(emu: Emulator, log_link: str, deadline: float = 5.0) -> tuple[str, str]:
    """Follow an ACR run log like the CLI: HEAD + ranged GETs until the ``Complete`` metadata shows up."""
    text = b""
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        head = requests.head(log_link, verify=emu.ca_bundle, headers={"x-ms-version": "2018-11-09"})
        if head.status_code == 200:
            size = int(head.headers["Content-Length"])
            while len(text) < size:
                got = requests.get(log_link, verify=emu.ca_bundle,
                                   headers={"x-ms-range": f"bytes={len(text)}-{len(text) + 4095}",
                                            "x-ms-version": "2018-11-09"})
                assert got.status_code == 206, got.text
                text += got.content
            complete = head.headers.get("x-ms-meta-Complete")
            if complete:
                return text.decode(), complete
        elif head.status_code != 404:
            raise AssertionError(f"log HEAD answered {head.status_code}")
        time.sleep(0.005)
    raise AssertionError("the run log never completed")
