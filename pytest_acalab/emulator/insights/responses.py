"""Microsoft.Insights over HTTP: ``{resourceId}/providers/Microsoft.Insights/diagnosticSettings[/{name}]``,
Application Insights ``components`` and their ingestion endpoint (``components.py``).

A setting on a managed environment with ``ContainerAppSystemLogs`` enabled and a ``workspaceId`` sends
that environment's system logs to the workspace (when its appLogsConfiguration destination is
``azure-monitor``), through the Container Apps provider's ``set_diagnostic_workspace``.
"""

from __future__ import annotations

import gzip
import json
from typing import Any

from pytest_acalab.emulator.platform.core import Platform
from pytest_acalab.emulator.platform.errors import ArmError
from pytest_acalab.emulator.platform.http import Request, Response
from pytest_acalab.emulator.platform.resource_types import Ctx, ResourceId, ResourceType
from pytest_acalab.emulator.platform.store import Resource

from .components import COMPONENT_TYPE, Component, component_from, row_for
from .models import DiagnosticSetting, validate

_BASE = "{scope:path}/providers/Microsoft.Insights/diagnosticSettings"


class DiagnosticSettings:
    def __init__(self, platform: Platform) -> None:
        self.p = platform
        self.settings: dict[str, DiagnosticSetting] = {}

    def register(self) -> None:
        self.p.route("GET", _BASE, self.list, api_version=True)
        self.p.route("GET PUT DELETE", _BASE + "/{name}", self.one, api_version=True)

    def _scope(self, scope: str) -> tuple[str, str]:
        """The target resource's id (it must exist) and its lower-cased type."""
        scope = "/" + scope.strip("/")
        try:
            rid = ResourceId.parse(scope)
        except ArmError:
            raise ArmError(400, "InvalidResourceId", f"The resource id '{scope}' is not valid.") from None
        self.p.check_subscription(rid.subscription)
        self.p.require_group(rid.resource_group)
        if self.p.store.get(rid.id) is None:
            raise ArmError(404, "ResourceNotFound",
                           f"The Resource '{rid.type_path}/{rid.name}' under resource group '{rid.resource_group}' "
                           "was not found. For more details please go to https://aka.ms/ARMResourceNotFoundFix")
        return scope, rid.type_path.lower()

    def list(self, req: Request, scope: str) -> Response:
        target, _ = self._scope(scope)
        items = [s.get_body() for s in self.settings.values() if s.scope.lower() == target.lower()]
        return Response.json(200, {"value": items})

    def one(self, req: Request, scope: str, name: str) -> Response:
        target, rtype = self._scope(scope)
        key = f"{target.lower()}|{name.lower()}"
        with self.p.lock:
            if req.method == "GET":
                setting = self.settings.get(key)
                if setting is None:
                    raise ArmError(404, "ResourceNotFound", f"The diagnostic setting '{name}' doesn't exist.")
                return Response.json(200, setting.get_body())
            if req.method == "DELETE":
                setting = self.settings.pop(key, None)
                if setting is not None:
                    self._route_logs(setting, removed=True)
                return Response.empty(200 if setting is not None else 204)
            setting = DiagnosticSetting(target, rtype, name, validate(rtype, req.json()))
            self.settings[key] = setting
            self._route_logs(setting)
            return Response.json(200, setting.put_body())

    def _route_logs(self, setting: DiagnosticSetting, removed: bool = False) -> None:
        app: Any = self.p.services.extra.get("app")
        if app is None or setting.resource_type != "microsoft.app/managedenvironments":
            return
        customer_id = None
        workspace = setting.properties.get("workspaceId")
        if not removed and workspace and setting.enabled("ContainerAppSystemLogs"):
            res = self.p.store.get(str(workspace))
            customer_id = ((res.body.get("properties") or {}).get("customerId")) if res is not None else None
        try:
            app.set_diagnostic_workspace(setting.scope, customer_id)
        except KeyError:
            pass  # the environment went away meanwhile


class Components(ResourceType):
    namespace = "Microsoft.Insights"
    type_name = "components"

    def __init__(self, platform: Platform) -> None:
        self.p = platform
        self.by_id: dict[str, Component] = {}

    def _component(self, rid: ResourceId) -> Component:
        found = self.by_id.get(rid.id.lower())
        if found is None or self.p.store.get(rid.id) is None:
            raise self.not_found(rid)
        return found

    def put(self, ctx: Ctx, rid: ResourceId, body: Any) -> Response:
        with ctx.platform.lock:
            current = self.by_id.get(rid.id.lower()) if ctx.store.get(rid.id) is not None else None
            component = component_from(rid.id, rid.name, body, current)
            workspace = component.properties.get("WorkspaceResourceId")
            if workspace and ctx.store.get(str(workspace)) is None:
                # Guess: Azure refuses a missing workspace; its exact code and sentence are not captured.
                raise ArmError(400, "BadRequest", f"The workspace '{workspace}' was not found.")
            self.by_id[rid.id.lower()] = component
            ctx.platform.remember_secret(component.instrumentation_key)
            if current is None:
                ctx.store.add(Resource(rid.id, rid.name, COMPONENT_TYPE, rid.resource_group, component.location,
                                       component.body(), component, ctx.clock.now()))
            else:
                res = ctx.store.get(rid.id)
                if res is not None:
                    res.body = component.body()
            return Response.json(200 if current is not None else 201, component.body())

    def get(self, ctx: Ctx, rid: ResourceId) -> Response:
        return Response.json(200, self._component(rid).body())

    def delete(self, ctx: Ctx, rid: ResourceId) -> Response:
        with ctx.platform.lock:
            if self.by_id.pop(rid.id.lower(), None) is None or ctx.store.get(rid.id) is None:
                return Response.empty(204)
            ctx.store.remove(rid.id)
            return Response.empty(200)

    def remove(self, ctx: Ctx, rid: ResourceId) -> None:
        self.by_id.pop(rid.id.lower(), None)
        ctx.store.remove(rid.id)

    def by_key(self, ikey: str) -> Component | None:
        for component in self.by_id.values():
            if component.instrumentation_key.lower() == ikey.lower() and self.p.store.get(component.id) is not None:
                return component
        return None


class Ingestion:
    """``POST https://<region>-0.in.applicationinsights.azure.com/v2.1/track``: Breeze's answer shape
    (``itemsReceived``, ``itemsAccepted``, ``errors[index, statusCode, message]``), as the exporter parses it."""

    def __init__(self, platform: Platform, components: Components) -> None:
        self.p = platform
        self.components = components
        self.dropped: list[str] = []
        """Telemetry types received and not stored (exceptions, events, metrics...)."""

    def track(self, req: Request) -> Response:
        raw = req.body
        if (req.headers.get("Content-Encoding") or "").lower() == "gzip":
            try:
                raw = gzip.decompress(raw)
            except OSError:
                return Response.json(400, {"itemsReceived": 0, "itemsAccepted": 0, "errors": [
                    {"index": 0, "statusCode": 400, "message": "The body is not valid gzip."}]})
        try:
            text = raw.decode("utf-8")
            parsed = json.loads(text) if text.lstrip().startswith("[") else \
                [json.loads(line) for line in text.splitlines() if line.strip()]
        except (UnicodeDecodeError, json.JSONDecodeError):
            # Guess: Breeze's words for an unreadable body are not captured.
            return Response.json(400, {"itemsReceived": 0, "itemsAccepted": 0, "errors": [
                {"index": 0, "statusCode": 400, "message": "Invalid JSON in the request body."}]})
        envelopes = parsed if isinstance(parsed, list) else [parsed]
        errors: list[dict[str, Any]] = []
        by_table: dict[tuple[str, str], list[dict[str, Any]]] = {}
        for index, envelope in enumerate(envelopes):
            if not isinstance(envelope, dict):
                errors.append({"index": index, "statusCode": 400, "message": "Invalid telemetry item."})
                continue
            component = self.components.by_key(str(envelope.get("iKey") or ""))
            if component is None:
                # Breeze's sentence for an unknown key, as exporters log it (guess on the exact wording).
                errors.append({"index": index, "statusCode": 400, "message": "Invalid instrumentation key"})
                continue
            mapped = row_for(envelope, component)
            if mapped is None:
                self.dropped.append(str((envelope.get("data") or {}).get("baseType")))
                continue
            workspace = self.p.store.get(str(component.properties.get("WorkspaceResourceId") or ""))
            customer_id = ((workspace.body.get("properties") or {}).get("customerId")) if workspace else None
            if customer_id:
                by_table.setdefault((str(customer_id), mapped[0]), []).append(mapped[1])
        logs = self.p.services.logs
        if logs is not None:
            for (customer_id, table), rows in by_table.items():
                logs.ingest(customer_id, table, rows, self.p.clock.now())
        accepted = len(envelopes) - len(errors)
        status = 200 if not errors else (206 if accepted else 400)
        return Response.json(status, {"itemsReceived": len(envelopes), "itemsAccepted": accepted,
                                      "appId": None, "errors": errors})


def register(platform: Platform) -> DiagnosticSettings:
    settings = DiagnosticSettings(platform)
    settings.register()
    components = Components(platform)
    platform.register_type(components)
    ingestion = Ingestion(platform, components)
    for version in ("v2.1", "v2"):
        platform.route("POST", f"/appinsights-ingest/{version}/track", ingestion.track, auth=False)
    platform.services.extra["insights"] = settings
    platform.services.extra["appinsights"] = ingestion
    return settings
