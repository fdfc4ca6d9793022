"""What probes and actions see of a running lab: its resources, clients, phase and records."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from pytest_acalab.backends.base import Backend
from pytest_acalab.backends.clients import Clients
from pytest_acalab.errors import LabError
from pytest_acalab.labfile.model import Lab
from pytest_acalab.labfile.vocabulary import Vocabulary
from pytest_acalab.polling import call
from pytest_acalab.reports.journal import Journal
from pytest_acalab.reports.scrub import Scrubber

# api-versions used to read a resource generically, per type (valid on Azure and on the emulator)
READ_API_VERSIONS = {
    "microsoft.app/containerapps": "2025-07-01",
    "microsoft.app/managedenvironments": "2025-07-01",
    "microsoft.containerregistry/registries": "2023-07-01",
    "microsoft.operationalinsights/workspaces": "2023-09-01",
}
_REF = re.compile(r"\$\{([^}]+)\}")


def retried(backend: Backend, fn: Any, *, what: str, deadline: float | None = None) -> Any:
    """One lifecycle SDK call, retried on transient failures (429, 5xx, resets) within the backend's budget
    (``deadlines.transient`` unless ``deadline`` is smaller), pausing as probes do between attempts."""
    budget = backend.deadlines.transient if deadline is None else min(deadline, backend.deadlines.transient)
    return call(fn, deadline=budget, what=what, base_wait=max(backend.deadlines.poll_interval, 0.05))


@dataclass
class ResourceRef:
    alias: str
    id: str
    name: str
    type: str
    body: dict[str, Any]

    def field(self, path: str) -> Any:
        """``name``, ``location``, ``loginServer`` (looked up under properties too), or a dotted path."""
        for root in (self.body, self.body.get("properties") or {}):
            cur: Any = root
            for part in path.split("."):
                if isinstance(cur, dict) and part in cur:
                    cur = cur[part]
                else:
                    break
            else:
                return cur
        raise KeyError(f"resource '{self.alias}' ({self.type}) has no field '{path}'")


@dataclass
class ActionResult:
    id: str
    name: str
    status: str
    """``Succeeded`` or ``Failed`` (the action ran); an action that could not run raises instead."""
    detail: str = ""
    duration: float = 0.0
    data: dict[str, Any] = field(default_factory=dict)
    ended: str | None = None
    """When it ended (ISO 8601, UTC): where a ``since: <action id>`` window starts."""


@dataclass
class LabContext:
    lab: Lab
    backend: Backend
    clients: Clients
    resource_group: str
    deployment_name: str
    location: str
    run_id: str
    journal: Journal
    scrubber: Scrubber
    vocabulary: Vocabulary
    """The probes and actions this lab may run (built-ins and those conftest.py files or plugins add)."""
    parameters: dict[str, Any] = field(default_factory=dict)
    outputs: dict[str, Any] = field(default_factory=dict)
    resources: dict[str, ResourceRef] = field(default_factory=dict)
    action_results: dict[str, ActionResult] = field(default_factory=dict)
    deployment: dict[str, Any] = field(default_factory=dict)
    """The deployment's outcome: ``state``, ``error``, ``duration``."""
    template: dict[str, Any] | None = None
    """The ARM template to deploy when it is not the committed file (compiled from Bicep just now)."""
    phase: str = "failing"
    lab_started: datetime = field(default_factory=lambda: datetime.now(UTC))
    phase_started: dict[str, datetime] = field(default_factory=dict)
    on_wait: Callable[[str, float, float, int, str], None] | None = None
    """Told about every unsuccessful attempt of a wait: (what, elapsed, deadline, attempts, last seen)."""

    def since(self, which: str = "phase") -> datetime:
        """Where a time window starts: ``lab`` (the lab's start), ``phase`` (the current phase's start: the
        trigger or the recovery, before its first action), or an action id (the end of that action)."""
        if which == "lab":
            # from the start of the lab's first second: Azure stamps KEDA's and the HPA's event-stream lines to
            # the second, and on a fast clock a revision the lab made can log within that second; nothing of
            # the lab's happened before it started, so the earlier fraction hides nothing
            return self.lab_started.replace(microsecond=0)
        if which == "phase":
            return self.phase_started.get(self.phase, self.lab_started)
        result = self.action_results.get(which)
        if result is None or result.ended is None:
            raise LabError(f"since: action '{which}' has not run in this lab run, so no window starts at its end")
        return datetime.fromisoformat(result.ended)

    def refresh_resources(self) -> dict[str, ResourceRef]:
        """Find the lab's resources by type in the group (a failed deployment has no outputs)."""
        api = self.clients.resources.resources
        found: dict[str, ResourceRef] = {}
        for alias, rtype in self.lab.infra.resources.items():
            items = retried(self.backend, lambda rtype=rtype: list(api.list_by_resource_group(
                self.resource_group, filter=f"resourceType eq '{rtype}'")),
                what=f"list {rtype} in resource group '{self.resource_group}'")
            if not items:
                continue
            item = sorted(items, key=lambda r: r.name)[0]
            body = retried(self.backend, lambda item=item, rtype=rtype: api.get_by_id(
                item.id, api_version=READ_API_VERSIONS.get(rtype.lower(), "2024-03-01")).as_dict(),
                what=f"GET {item.id}")
            found[alias] = ResourceRef(alias, item.id, item.name, item.type, body)
        self.resources = found
        return found

    def resource(self, alias: str, refresh: bool = False) -> ResourceRef:
        if refresh or alias not in self.resources:
            self.refresh_resources()
        try:
            return self.resources[alias]
        except KeyError:
            declared = self.lab.infra.resources.get(alias)
            raise LabError(f"no resource '{alias}' ({declared}) found in resource group "
                           f"'{self.resource_group}'") from None

    def resolve(self, value: Any) -> Any:
        """Substitute ``${alias.field}``, ``${parameters.x}``, ``${outputs.x}``, ``${run.id}`` and
        ``${actions.<id>.<field>}`` (a field of an action's result: ``status``, ``detail`` or its data, e.g.
        ``latestRevisionName``). Called when an action starts and on every probe attempt: an alias's fields
        are those read when the resources were last listed (after the deployment and after recovery)."""
        if isinstance(value, str):
            def one(m: re.Match[str]) -> str:
                return str(self._lookup(m.group(1).strip()))
            whole = _REF.fullmatch(value)
            if whole:
                return self._lookup(whole.group(1).strip())
            return _REF.sub(one, value)
        if isinstance(value, Mapping):
            return {k: self.resolve(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [self.resolve(v) for v in value]
        return value

    def _lookup(self, ref: str) -> Any:
        root, _, rest = ref.partition(".")
        if root == "parameters":
            return self.parameters[rest]
        if root == "outputs":
            out = self.outputs.get(rest)
            if out is None:
                raise LabError(f"deployment output '{rest}' is not available (a failed deployment has none)")
            return out.get("value") if isinstance(out, dict) else out
        if root == "run":
            return {"id": self.run_id, "resource_group": self.resource_group, "location": self.location}[rest]
        if root == "resource_group":
            return self.resource_group
        if root == "actions":
            action_id, _, name = rest.partition(".")
            result = self.action_results.get(action_id)
            if result is None:
                raise LabError(f"action '{action_id}' has not run yet: ${{actions.{rest}}} has no value")
            if name in ("status", "detail", "duration", "ended"):
                return getattr(result, name)
            if name not in result.data:
                raise LabError(f"action '{action_id}' ({result.name}) recorded no '{name}' "
                               f"(it recorded: {', '.join(['status', 'detail', *result.data])})")
            return result.data[name]
        return self.resource(root).field(rest or "name")
