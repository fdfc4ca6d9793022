"""Microsoft.Insights over HTTP: ``{resourceId}/providers/Microsoft.Insights/diagnosticSettings[/{name}]``.

A setting on a managed environment with ``ContainerAppSystemLogs`` enabled and a ``workspaceId`` sends
that environment's system logs to the workspace (when its appLogsConfiguration destination is
``azure-monitor``), through the Container Apps provider's ``set_diagnostic_workspace``.
"""

from __future__ import annotations

from typing import Any

from pytest_acalab.emulator.platform.core import Platform
from pytest_acalab.emulator.platform.errors import ArmError
from pytest_acalab.emulator.platform.http import Request, Response
from pytest_acalab.emulator.platform.resource_types import ResourceId

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


def register(platform: Platform) -> DiagnosticSettings:
    settings = DiagnosticSettings(platform)
    settings.register()
    platform.services.extra["insights"] = settings
    return settings
