"""Registry actions: ``acr_build`` (as ``az acr build`` does it), ``acr_import``, ``delete_tag``.

``az acr build`` (azure-cli: src/azure-cli/azure/cli/command_modules/acr/build.py): tar.gz the context honouring
.dockerignore
-> ``listBuildSourceUploadUrl`` -> blob PUT (``x-ms-blob-type: BlockBlob``) -> ``scheduleRun`` with a
DockerBuildRequest -> poll the run to a terminal status -> read the run log through ``listLogSasUrl``.
"""

from __future__ import annotations

import io
import re
import tarfile
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pytest_acalab.actions.base import Outcome, resource, sdk
from pytest_acalab.context import LabContext
from pytest_acalab.errors import ActionError
from pytest_acalab.labfile.model import Action
from pytest_acalab.polling import poll as poll_until

__all__ = ["TERMINAL", "DockerIgnore", "pack_context", "split_source"]

TERMINAL = ("Succeeded", "Failed", "Canceled", "Error", "Timeout")
LOG_LIMIT = 4000


# ---- the build context ---------------------------------------------------------------------------------

class DockerIgnore:
    """.dockerignore rules: ``#`` comments, ``!`` exceptions, ``*``/``?``/``**``; the last match wins."""

    def __init__(self, text: str = "") -> None:
        self.rules: list[tuple[bool, re.Pattern[str]]] = []
        for raw in text.splitlines():
            line = raw.strip()
            if not line or line.startswith("#"):
                continue
            negate = line.startswith("!")
            pattern = line[1:].strip() if negate else line
            pattern = pattern.strip("/").removeprefix("./")
            if pattern:
                self.rules.append((negate, re.compile(_translate(pattern))))

    def ignored(self, relative: str) -> bool:
        """Is this path (posix, relative to the context) or one of its parent folders excluded?"""
        parts = relative.split("/")
        result = False
        for negate, regex in self.rules:
            for i in range(1, len(parts) + 1):
                if regex.fullmatch("/".join(parts[:i])):
                    result = not negate
                    break
        return result


def _translate(pattern: str) -> str:
    """A .dockerignore pattern as a regex over posix paths (``**`` spans folders, ``*`` does not)."""
    segments = pattern.split("/")
    out = ""
    for i, segment in enumerate(segments):
        last = i == len(segments) - 1
        if segment == "**":
            out += ".*" if last else "(?:[^/]+/)*"
            continue
        out += _segment(segment) + ("" if last else "/")
    return out


def _segment(segment: str) -> str:
    out, i = "", 0
    while i < len(segment):
        ch = segment[i]
        if ch == "*":
            out += "[^/]*"
        elif ch == "?":
            out += "[^/]"
        elif ch == "[" and "]" in segment[i + 1:]:
            end = segment.index("]", i + 1)
            body = segment[i + 1:end]
            out += "[" + ("^" + body[1:] if body.startswith("!") else body) + "]"
            i = end
        else:
            out += re.escape(ch)
        i += 1
    return out


def pack_context(folder: Path) -> bytes:
    """The context as a gzip'd tar, without what ``.dockerignore`` excludes (the Dockerfile always goes)."""
    ignore_file = folder / ".dockerignore"
    rules = DockerIgnore(ignore_file.read_text(encoding="utf-8") if ignore_file.is_file() else "")
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for path in sorted(folder.rglob("*")):
            relative = path.relative_to(folder).as_posix()
            if rules.ignored(relative) and path.name != "Dockerfile":
                continue
            if path.is_file():
                tar.add(path, arcname=relative, recursive=False)
    return buffer.getvalue()


def split_source(source: str) -> tuple[str, str]:
    """``mcr.microsoft.com/k8se/quickstart:latest`` -> (registry, image); no registry host -> docker.io."""
    first, _, rest = source.partition("/")
    if rest and ("." in first or ":" in first or first == "localhost"):
        return first, rest
    return "docker.io", source if "/" in source else f"library/{source}"


# ---- actions -------------------------------------------------------------------------------------------

def acr_build(ctx: LabContext, args: Mapping[str, Any], deadline: float, act: Action) -> Outcome:
    # the Azure SDK stack loads when a lab runs, not at collection
    import requests
    from azure.mgmt.containerregistrytasks.models import DockerBuildRequest, PlatformProperties

    started = time.monotonic()
    registry = resource(ctx, args["registry"])
    folder = (ctx.lab.folder / str(args["context"])).resolve()
    if not folder.is_dir():
        raise ActionError(f"build context {folder} is not a folder")
    dockerfile = str(args.get("dockerfile") or "Dockerfile")
    if not (folder / dockerfile).is_file():
        raise ActionError(f"no {dockerfile} in build context {folder}")
    image = str(args["image"])
    tasks = ctx.clients.registry_tasks
    rg, name = ctx.resource_group, registry.name

    def left() -> float:
        return max(deadline - (time.monotonic() - started), 1.0)

    archive = pack_context(folder)
    upload = sdk(ctx, lambda: tasks.registries.get_build_source_upload_url(rg, name),
                 what=f"listBuildSourceUploadUrl of registry '{name}'", deadline=left())
    ctx.scrubber.add(upload.upload_url)

    def put() -> Any:
        resp = requests.put(upload.upload_url, data=archive, headers={"x-ms-blob-type": "BlockBlob"},
                            verify=ctx.backend.tls_verify, timeout=(10, 120))
        resp.raise_for_status()
        return resp

    sdk(ctx, put, what="upload of the build context", deadline=left())
    request = DockerBuildRequest(image_names=[image], is_push_enabled=True, source_location=upload.relative_path,
                                 docker_file_path=dockerfile, platform=PlatformProperties(os="Linux"))
    run = sdk(ctx, lambda: tasks.registries.schedule_run(rg, name, request),
              what=f"scheduleRun on registry '{name}'", deadline=left()).as_dict()
    run_id = (run.get("properties") or {}).get("runId")
    if not run_id:
        raise ActionError(f"scheduleRun on registry '{name}' returned no run id: {run}")

    def status() -> dict[str, Any]:
        body = sdk(ctx, lambda: tasks.runs.get(rg, name, run_id), what=f"GET run {run_id}", deadline=left())
        return body.as_dict().get("properties") or {}

    poll = max(ctx.backend.deadlines.poll_interval, 0.02)  # the backend's pace: ~10 s on Azure, ms here
    props = poll_until(status, until=lambda p: p.get("status") in TERMINAL, deadline=left(), interval=poll) or {}
    final = props.get("status")
    log = _run_log(ctx, rg, name, run_id, left())
    data = {"run_id": run_id, "status": final, "image": image, "log": log[-LOG_LIMIT:]}
    if final == "Succeeded":
        return Outcome.succeeded(f"run {run_id} Succeeded: pushed {registry.field('loginServer')}/{image}", **data)
    if final not in TERMINAL:
        return Outcome.failed(f"run {run_id} did not finish within {deadline:g}s (last status {final})", **data)
    tail = " ".join(log.strip().splitlines()[-5:])
    return Outcome.failed(f"run {run_id} ended {final}: {tail[-600:]}", **data)


def _run_log(ctx: LabContext, rg: str, registry: str, run_id: str, deadline: float) -> str:
    # the Azure SDK stack loads when a lab runs, not at collection
    import requests

    try:
        link = sdk(ctx, lambda: ctx.clients.registry_tasks.runs.get_log_sas_url(rg, registry, run_id),
                   what=f"listLogSasUrl of run {run_id}", deadline=deadline).log_link
        if not link:
            return ""
        ctx.scrubber.add(link)
        resp = requests.get(link, verify=ctx.backend.tls_verify, timeout=(10, 60))
        resp.raise_for_status()
        return resp.text
    except (ActionError, requests.RequestException) as exc:
        return f"(run log unavailable: {exc})"


def acr_import(ctx: LabContext, args: Mapping[str, Any], deadline: float, act: Action) -> Outcome:
    # the Azure SDK stack loads when a lab runs, not at collection
    from azure.core.exceptions import HttpResponseError
    from azure.mgmt.containerregistry.models import ImportImageParameters, ImportSource

    registry = resource(ctx, args["registry"])
    source_registry, source_image = split_source(str(args["source"]))
    params = ImportImageParameters(source=ImportSource(registry_uri=source_registry, source_image=source_image),
                                   target_tags=[str(args["image"])], mode="Force")
    try:
        poller = sdk(ctx, lambda: ctx.clients.registries.registries.begin_import_image(
            ctx.resource_group, registry.name, params), what=f"importImage into '{registry.name}'",
            deadline=deadline, keep=(HttpResponseError,))
        poller.result(timeout=deadline)
    except HttpResponseError as exc:
        if (exc.status_code or 0) >= 500 or exc.status_code in (401, 403):
            raise ActionError(f"importImage into '{registry.name}': {exc}") from exc
        return Outcome.failed(f"import of {args['source']} failed: {_arm_message(exc)}")
    if not poller.done():
        return Outcome.failed(f"import of {args['source']} did not finish within {deadline:g}s")
    return Outcome.succeeded(f"imported {args['source']} as {registry.field('loginServer')}/{args['image']}")


def delete_tag(ctx: LabContext, args: Mapping[str, Any], deadline: float, act: Action) -> Outcome:
    """Delete a tag; like the SDK (a 404 is not an error), deleting an absent tag succeeds, and says so."""
    # the Azure SDK stack loads when a lab runs, not at collection
    from azure.core.exceptions import ResourceNotFoundError

    registry = resource(ctx, args["registry"])
    server = str(registry.field("loginServer"))
    repository, tag = str(args["repository"]), str(args["tag"])
    client = ctx.clients.registry_data(server)
    try:
        sdk(ctx, lambda: client.get_tag_properties(repository, tag), what=f"GET tag {server}/{repository}:{tag}",
            deadline=deadline, keep=(ResourceNotFoundError,))
    except ResourceNotFoundError:
        return Outcome.succeeded(f"{server}/{repository}:{tag} was already absent", existed=False)
    sdk(ctx, lambda: client.delete_tag(repository, tag), what=f"DELETE tag {server}/{repository}:{tag}",
        deadline=deadline)
    return Outcome.succeeded(f"deleted {server}/{repository}:{tag}", existed=True)


def _arm_message(exc: Any) -> str:
    err = getattr(exc, "error", None)
    code, message = getattr(err, "code", None), getattr(err, "message", None)
    if message:
        return f"({code}) {message}" if code else str(message)
    return str(exc).splitlines()[0]
