"""ACR Tasks over HTTP, as ``az acr build`` / ``az acr run`` use them.

``listBuildSourceUploadUrl`` hands out a SAS URL on the emulator's blob endpoint (``blobs.py``);
``scheduleRun`` queues a run that builds on the emulator's clock: ``Queued`` → ``Running`` (the log
grows) → ``Succeeded``/``Failed``, and only then are the images pushed into the registry;
``runs/{id}/listLogSasUrl`` links the run log (an append blob with ``Complete`` metadata at the end).
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import quote

from pytest_acalab.emulator.platform.clock import wall_at
from pytest_acalab.emulator.platform.errors import ArmError
from pytest_acalab.emulator.platform.hosts import PublicUrls
from pytest_acalab.emulator.platform.http import Response
from pytest_acalab.emulator.platform.resource_types import Ctx, ResourceId, ResourceType

from . import catalog, oci
from .content import RegistryContent, RegistryError
from .models import (
    BLOB_ACCOUNT,
    BuildPlan,
    Registry,
    RegistryState,
    Run,
    RunRequestError,
    execute_build,
    plan_docker_build,
    plan_encoded_task,
)

QUEUE_AZURE_SECONDS = 2.0
"""Seconds a quick run waits for an agent on Azure ("Waiting for an agent...")."""
SAS_VERSION = "2021-12-02"


def _expiry(now: datetime, minutes: int) -> str:
    return (now + timedelta(minutes=minutes)).strftime("%Y-%m-%dT%H:%M:%SZ")


def sas_url(urls: PublicUrls, state: RegistryState, reg: Registry, blob: str, permissions: str, minutes: int,
            now: datetime) -> str:
    """A blob SAS URL on the task storage account: ``https://<account>.blob.core.windows.net/...`` as on
    Azure (cloud-faithful mode), or path-style under the emulator's loopback URL."""
    path = f"/{BLOB_ACCOUNT}/{reg.blob_container}/{blob}"
    expiry = _expiry(now, minutes)
    sig = state.sas_signature(path, permissions, expiry)
    return (f"{urls.blob(BLOB_ACCOUNT)}/{reg.blob_container}/{blob}?sv={SAS_VERSION}"
            f"&se={quote(expiry, safe='')}&sr=b&sp={permissions}&sig={quote(sig, safe='')}")


class Tasks:
    """The run engine: queues runs and advances them on the platform scheduler."""

    def __init__(self, state: RegistryState) -> None:
        self.state = state

    # --- actions on the registry ------------------------------------------------------------------

    def upload_url(self, ctx: Ctx, reg: Registry) -> Response:
        now = ctx.clock.now()
        relative = f"source/{now:%Y%m%d}0000/{uuid.uuid4()}.tar.gz"
        url = sas_url(ctx.platform.urls, self.state, reg, relative, "cw", 60, now)
        return Response.json(200, {"uploadUrl": url, "relativePath": relative})

    def schedule(self, ctx: Ctx, reg: Registry, body: Any) -> Response:
        if not isinstance(body, dict):
            raise ArmError(400, "InvalidRequestContent", "The request content was invalid and could not be "
                                                         "deserialized: a run request object was expected.")
        kind = body.get("type")
        if reg.provisioning_state != "Succeeded":
            raise ArmError(409, "RegistryNotReady",
                           f"The registry '{reg.name}' is in provisioning state '{reg.provisioning_state}'.")
        with ctx.platform.lock:
            run_id = reg.next_run_id()
            try:
                if kind == "DockerBuildRequest":
                    plan = plan_docker_build(body)
                elif kind == "EncodedTaskRunRequest":
                    plan = plan_encoded_task(body, reg.login_server, run_id)
                else:
                    raise RunRequestError(f"The run request type '{kind}' is not supported by the emulator; use "
                                          "DockerBuildRequest or EncodedTaskRunRequest.")
                if not isinstance(body.get("platform"), dict):
                    raise RunRequestError("The property 'platform' is required (e.g. {\"os\": \"Linux\"}).")
            except RunRequestError as exc:
                reg.run_seq -= 1
                raise ArmError(400, "InvalidRequestContent", str(exc)) from None
            now = ctx.clock.now()
            run = Run(run_id, reg.id, dict(body), now, updated=now)
            reg.runs[run_id] = run
            self._queue(ctx, reg, run, plan)
            by = str((ctx.request.principal or {}).get("name") or (ctx.request.principal or {}).get("appid")
                     or "acalab-emulator")
        return Response.json(200, run.queued_body(by, now))

    # --- the run ----------------------------------------------------------------------------------

    def _queue(self, ctx: Ctx, reg: Registry, run: Run, plan: BuildPlan) -> None:
        p = ctx.platform
        queue = p.clock.scale(QUEUE_AZURE_SECONDS)
        build_seconds = p.clock.duration("acr.build")
        p.scheduler.after(queue, lambda due: self._start(ctx, reg, run, plan, due, build_seconds))

    def _resolver(self, reg: Registry):
        def resolve(reference: str) -> oci.BuiltImage | None:
            try:
                ref = catalog.parse_reference(reference)
            except ValueError:
                return None
            source = self.state.by_host(ref.registry)
            if source is None or ref.tag is None and ref.digest is None:
                return None
            if source is not reg and not source.anonymous_pull_enabled:
                return None  # another private registry: the run has no credentials for it
            try:
                return source.content.load_image(ref.repository, ref.digest or ref.tag or "latest")
            except RegistryError:
                return None
        return resolve

    def _start(self, ctx: Ctx, reg: Registry, run: Run, plan: BuildPlan, due: float, seconds: float) -> None:
        if self.state.get(reg.id) is not reg or run.done:
            return
        p = ctx.platform
        started = wall_at(due)
        run.status, run.started, run.updated = "Running", started, started
        step = timedelta(seconds=seconds / 40)
        ticks = {"now": started}

        def log_clock() -> datetime:
            current = ticks["now"]
            ticks["now"] = current + step
            return current

        source = reg.build_sources.get(plan.source_location or "") if plan.source_location else None
        staging = RegistryContent(reg.login_server)
        outcome = execute_build(plan, source, run_id=run.run_id, login_server=reg.login_server, staging=staging,
                                resolve_base=self._resolver(reg), clock=log_clock)
        lines = outcome.log_text.splitlines(keepends=True)
        first = max(1, len(lines) // 3)
        run.append_log("".join(lines[:first]), started)

        def middle(due2: float) -> None:
            if not run.done and self.state.get(reg.id) is reg:
                run.append_log("".join(lines[first:len(lines) * 2 // 3]), wall_at(due2))

        def finish(due3: float) -> None:
            if run.done:
                return
            when = wall_at(due3)
            rest = "".join(lines[max(first, len(lines) * 2 // 3):])
            succeeded, error = outcome.succeeded, outcome.error
            if succeeded and outcome.result and outcome.result.pushed and outcome.result.image:
                try:
                    for pushed in outcome.result.pushed:
                        reg.content.push_image(pushed.repository, [pushed.tag], outcome.result.image)
                        run.output_images.append({"registry": reg.login_server, "repository": pushed.repository,
                                                  "tag": pushed.tag, "digest": pushed.digest})
                except RegistryError as exc:
                    succeeded, error = False, f"push failed: {exc}"
                    rest += f"{exc.code.lower()}: {exc.message}\nRun ID: {run.run_id} failed. Error: {error}\n"
            run.append_log(rest, when)
            run.status = "Succeeded" if succeeded else "Failed"
            run.error_message = None if succeeded else error
            run.finished = run.updated = when
            run.log_complete = "successful" if succeeded else "failed"

        p.scheduler.after(seconds / 2, middle)
        p.scheduler.after(seconds, finish)

    # --- runs -------------------------------------------------------------------------------------

    def find(self, ctx: Ctx, rid: ResourceId) -> tuple[Registry, Run]:
        ctx.platform.require_group(rid.resource_group)
        reg = self.state.get(rid.parent().id)
        if reg is None:
            raise ArmError(404, "ResourceNotFound",
                           f"The Resource 'Microsoft.ContainerRegistry/registries/{rid.names[0]}' under resource "
                           f"group '{rid.resource_group}' was not found. For more details please go to "
                           "https://aka.ms/ARMResourceNotFoundFix")
        run = reg.runs.get(rid.name.lower())
        if run is None:
            raise ArmError(404, "RunNotFound", f"The run '{rid.name}' is not found in registry '{reg.name}'.")
        return reg, run


class Runs(ResourceType):
    namespace = "Microsoft.ContainerRegistry"
    type_name = "registries/runs"
    actions = {"listLogSasUrl": "list_log_sas_url", "cancel": "cancel"}

    def __init__(self, tasks: Tasks) -> None:
        self.tasks = tasks

    def get(self, ctx: Ctx, rid: ResourceId) -> Response:
        return Response.json(200, self.tasks.find(ctx, rid)[1].body())

    def patch(self, ctx: Ctx, rid: ResourceId, body: Any) -> Response:
        _, run = self.tasks.find(ctx, rid)
        if "isArchiveEnabled" in body:
            run.is_archive_enabled = bool(body["isArchiveEnabled"])
        return Response.json(200, run.body())

    def list(self, ctx: Ctx, parent: ResourceId | None, resource_group: str | None) -> list[dict[str, Any]]:
        reg = self.tasks.state.get(parent.id) if parent else None
        if reg is None:
            return []
        runs = sorted(reg.runs.values(), key=lambda r: (r.created, r.run_id), reverse=True)
        return [r.body() for r in runs]

    def list_log_sas_url(self, ctx: Ctx, rid: ResourceId, body: Any) -> Response:
        reg, run = self.tasks.find(ctx, rid)
        url = sas_url(ctx.platform.urls, self.tasks.state, reg, f"logs/{run.run_id}/rawtext.log", "r", 70,
                      ctx.clock.now())
        return Response.json(200, {"logLink": url})

    def cancel(self, ctx: Ctx, rid: ResourceId, body: Any) -> Response:
        _, run = self.tasks.find(ctx, rid)
        with ctx.platform.lock:
            if not run.done:
                now = ctx.clock.now()
                run.append_log(f"{now:%Y/%m/%d %H:%M:%S} Run canceled by the user.\n", now)
                run.status, run.finished, run.updated, run.log_complete = "Canceled", now, now, "canceled"
        return Response.empty(200)
