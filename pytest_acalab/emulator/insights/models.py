"""Diagnostic settings (state only, no HTTP).

A diagnostic setting is an extension resource on any resource (``{resourceId}/providers/
Microsoft.Insights/diagnosticSettings/{name}``). Shapes from the recorded answers (containerapp CLI
recording test_containerapp_env_logs_e2e.yaml, api-version 2021-05-01-preview): PUT answers 200 with the
setting as sent (each log entry gains ``categoryGroup: null``, ``metrics`` defaults to ``[]``); GET lists
every category the resource type has, those not sent as ``enabled: false``, and the metric category
``AllMetrics``. Categories of a managed environment are the recorded ones; other types: guess (none).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

from pytest_acalab.emulator.platform.errors import ArmError

SETTING_TYPE = "Microsoft.Insights/diagnosticSettings"
LOG_CATEGORIES = {
    "microsoft.app/managedenvironments": ("ContainerAppConsoleLogs", "ContainerAppSystemLogs",
                                          "AppEnvSpringAppConsoleLogs"),
}
METRIC_CATEGORIES = {"microsoft.app/managedenvironments": ("AllMetrics",)}
DESTINATIONS = ("storageAccountId", "workspaceId", "eventHubAuthorizationRuleId", "serviceBusRuleId")
_OFF = {"enabled": False, "days": 0}


@dataclass
class DiagnosticSetting:
    scope: str
    """The resource id the setting is on, as the request spelled it."""
    resource_type: str
    name: str
    properties: dict[str, Any]

    @property
    def id(self) -> str:
        return f"{self.scope}/providers/microsoft.insights/diagnosticSettings/{self.name}".lower().replace(
            "/diagnosticsettings/", "/diagnosticSettings/")

    def _envelope(self, props: dict[str, Any]) -> dict[str, Any]:
        return {"id": self.id, "type": SETTING_TYPE, "name": self.name, "location": None, "kind": None,
                "tags": None, "properties": props, "identity": None}

    def _props(self, logs: list[dict[str, Any]], metrics: list[dict[str, Any]]) -> dict[str, Any]:
        p = self.properties
        return {"storageAccountId": p.get("storageAccountId"), "serviceBusRuleId": p.get("serviceBusRuleId"),
                "workspaceId": p.get("workspaceId"),
                "eventHubAuthorizationRuleId": p.get("eventHubAuthorizationRuleId"),
                "eventHubName": p.get("eventHubName"), "metrics": metrics, "logs": logs,
                "logAnalyticsDestinationType": p.get("logAnalyticsDestinationType")}

    def put_body(self) -> dict[str, Any]:
        logs = [{"category": e.get("category"), "categoryGroup": e.get("categoryGroup"),
                 "enabled": bool(e.get("enabled")), "retentionPolicy": e.get("retentionPolicy") or dict(_OFF)}
                for e in self.properties.get("logs") or []]
        return self._envelope(self._props(logs, copy.deepcopy(self.properties.get("metrics") or [])))

    def get_body(self) -> dict[str, Any]:
        sent = {e.get("category"): e for e in self.properties.get("logs") or []}
        logs = [{"category": e.get("category"), "categoryGroup": e.get("categoryGroup"),
                 "enabled": bool(e.get("enabled")), "retentionPolicy": e.get("retentionPolicy") or dict(_OFF)}
                for e in self.properties.get("logs") or []]
        for category in LOG_CATEGORIES.get(self.resource_type, ()):
            if category not in sent:
                logs.append({"category": category, "categoryGroup": None, "enabled": False,
                             "retentionPolicy": dict(_OFF)})
        metrics = copy.deepcopy(self.properties.get("metrics") or [])
        named = {m.get("category") for m in metrics}
        metrics += [{"category": c, "enabled": False, "retentionPolicy": dict(_OFF)}
                    for c in METRIC_CATEGORIES.get(self.resource_type, ()) if c not in named]
        return self._envelope(self._props(logs, metrics))

    def enabled(self, category: str) -> bool:
        return any(e.get("category") == category and e.get("enabled") for e in self.properties.get("logs") or [])


def validate(resource_type: str, body: Any) -> dict[str, Any]:
    """The request's properties, checked as Azure Monitor checks them (messages: guess, codes from its docs)."""
    props = (body or {}).get("properties") if isinstance(body, dict) else None
    if not isinstance(props, dict):
        raise ArmError(400, "InvalidRequestContent", "The request content must have a 'properties' object.")
    if not any(props.get(d) for d in DESTINATIONS):
        raise ArmError(400, "BadRequest", "At least one of storage account, event hub, service bus or log "
                                          "analytics workspace must be specified.")
    known = LOG_CATEGORIES.get(resource_type)
    for key in ("logs", "metrics"):
        entries = props.get(key)
        if entries is not None and (not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries)):
            raise ArmError(400, "InvalidRequestContent", f"'properties.{key}' must be a list of objects.")
    for entry in props.get("logs") or []:
        category = entry.get("category")
        if known is not None and category not in known and not entry.get("categoryGroup"):
            raise ArmError(400, "BadRequest", f"Category '{category}' is not supported.")
    return copy.deepcopy(props)
