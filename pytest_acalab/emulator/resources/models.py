"""Template deployments as state: the record ARM keeps, and the runner that executes one.

The runner is the template engine's ``ResourceHost``: every resource is written with an in-process
request through the platform's own dispatch, so each provider's real code (validation, LROs, failure
modes) decides the outcome, exactly as ARM hands each resource to its resource provider.
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from pytest_acalab.emulator.platform.clock import iso
from pytest_acalab.emulator.platform.core import Platform
from pytest_acalab.emulator.platform.lro import Operation
from pytest_acalab.emulator.resources.templates import (
    DeploymentContext,
    ResourceLookupError,
    ResourceOutcome,
    ValidatedTemplate,
    run,
)

TERMINAL = {"succeeded", "failed", "canceled"}


@dataclass
class Deployment:
    id: str
    name: str
    resource_group: str
    template: dict[str, Any]
    mode: str
    validated: ValidatedTemplate
    correlation_id: str
    started: datetime
    provisioning_state: str = "Accepted"
    outputs: dict[str, Any] | None = None
    error: dict[str, Any] | None = None
    duration: str = "PT0S"
    timestamp: str = ""
    operations: list[dict[str, Any]] = field(default_factory=list)
    output_resources: list[dict[str, Any]] = field(default_factory=list)
    tags: dict[str, str] = field(default_factory=dict)
    operation: Operation | None = None

    @property
    def template_hash(self) -> str:
        digest = hashlib.sha256(json.dumps(self.template, sort_keys=True).encode()).digest()
        return str(int.from_bytes(digest[:8], "big"))

    def body(self) -> dict[str, Any]:
        props: dict[str, Any] = {
            "templateHash": self.template_hash,
            "parameters": self.validated.deployment_parameters,
            "mode": self.mode,
            "provisioningState": self.provisioning_state,
            "timestamp": self.timestamp or iso(self.started),
            "duration": self.duration,
            "correlationId": self.correlation_id,
            "providers": _providers(self.validated),
            "dependencies": _dependencies(self.validated),
        }
        if self.provisioning_state in ("Succeeded", "Failed"):
            props["outputs"] = self.outputs
            props["outputResources"] = self.output_resources
        if self.error:
            props["error"] = self.error
        out: dict[str, Any] = {"id": self.id, "name": self.name, "type": "Microsoft.Resources/deployments",
                               "properties": props}
        if self.tags:
            out["tags"] = self.tags
        return out


def _providers(v: ValidatedTemplate) -> list[dict[str, Any]]:
    by_ns: dict[str, set[str]] = {}
    for plan in v.resources:
        ns, _, rest = plan.type.partition("/")
        by_ns.setdefault(ns, set()).add(rest)
    return [{"namespace": ns, "resourceTypes": [{"resourceType": t, "locations": []} for t in sorted(types)]}
            for ns, types in sorted(by_ns.items())]


def _dependencies(v: ValidatedTemplate) -> list[dict[str, Any]]:
    by_key = {p.key: p for p in v.resources}
    out = []
    for plan in v.resources:
        if plan.depends_on:
            out.append({
                "id": plan.id, "resourceType": plan.type, "resourceName": plan.name,
                "dependsOn": [{"id": by_key[k].id, "resourceType": by_key[k].type, "resourceName": by_key[k].name}
                              for k in plan.depends_on if k in by_key],
            })
    return out


class PlatformHost:
    """The engine's ResourceHost: writes and reads resources through the platform's dispatch."""

    def __init__(self, platform: Platform, principal: dict[str, Any] | None) -> None:
        self.p = platform
        self.principal = principal

    def _wait(self, op: Operation) -> None:
        while True:
            self.p.scheduler.run_due()
            if op.done:
                return
            time.sleep(max(0.0005, min(op.due - time.monotonic(), 0.05)))

    def put_resource(self, resource_id: str, api_version: str, body: dict[str, Any]) -> ResourceOutcome:
        resp = self.p.call("PUT", resource_id, body, api_version, principal=self.principal)
        request_id = resp.headers.get("x-ms-request-id")
        payload = resp.payload() if resp.body else None
        if resp.status >= 400:
            error = (payload or {}).get("error") or {"code": "ResourceDeploymentFailure", "message": str(payload)}
            return ResourceOutcome(False, resp.status, error=error, service_request_id=request_id)
        status_url = resp.headers.get("Azure-AsyncOperation") or resp.headers.get("Location")
        if status_url:
            op = self.p.operations.get(status_url.split("?")[0].rstrip("/").rsplit("/", 1)[-1][-36:])
            if op is not None:
                self._wait(op)
                if op.status != "Succeeded":
                    return ResourceOutcome(False, resp.status, error=op.error, provisioning_state=op.status,
                                           service_request_id=request_id)
        # settle on the resource's own provisioning state, as ARM does
        deadline = time.monotonic() + 3600
        while True:
            got = self.p.call("GET", resource_id, None, api_version, principal=self.principal)
            if got.status >= 400:
                error = (got.payload() or {}).get("error")
                return ResourceOutcome(False, got.status, error=error, service_request_id=request_id)
            resource = got.payload()
            state = str(((resource or {}).get("properties") or {}).get("provisioningState") or "Succeeded")
            if state.lower() in TERMINAL or time.monotonic() > deadline:
                break
            self.p.scheduler.run_due()
            nxt = self.p.scheduler.next_due()
            time.sleep(max(0.0005, min((nxt or time.monotonic() + 0.01) - time.monotonic(), 0.05)))
        if state.lower() != "succeeded":
            return ResourceOutcome(False, resp.status, resource=resource, provisioning_state=state,
                                   service_request_id=request_id,
                                   error={"code": "ResourceDeploymentFailure",
                                          "message": "The resource write operation failed to complete successfully, "
                                                     f"because it reached terminal provisioning state '{state}'."})
        return ResourceOutcome(True, resp.status, resource=resource, service_request_id=request_id)

    def get_resource(self, resource_id: str, api_version: str | None) -> dict[str, Any]:
        resp = self.p.call("GET", resource_id, None, api_version or "2024-03-01", principal=self.principal)
        if resp.status >= 400:
            err = (resp.payload() or {}).get("error") or {}
            raise ResourceLookupError(err.get("code", "ResourceNotFound"), err.get("message", resource_id))
        return resp.payload()

    def invoke_action(self, resource_id: str, action: str, api_version: str, body: dict[str, Any] | None) -> Any:
        resp = self.p.call("POST", f"{resource_id}/{action}", body, api_version, principal=self.principal)
        if resp.status >= 400:
            err = (resp.payload() or {}).get("error") or {}
            raise ResourceLookupError(err.get("code", "ResourceNotFound"), err.get("message", resource_id))
        return resp.payload()


def start(platform: Platform, deployment: Deployment, ctx: DeploymentContext,
          principal: dict[str, Any] | None) -> None:
    """Run the deployment on a worker thread; its operation completes when the last resource settles."""
    operation = deployment.operation
    if operation is None:
        raise ValueError(f"deployment '{deployment.name}' has no operation to complete")

    def work() -> None:
        deployment.provisioning_state = "Running"
        platform.clock.sleep(platform.clock.duration("deployment.overhead"))
        try:
            result = run(deployment.validated, ctx, PlatformHost(platform, principal))
        except Exception as exc:  # an engine bug must still end the deployment, never hang it
            with platform.lock:
                deployment.provisioning_state = "Failed"
                deployment.error = {"code": "InternalServerError", "message": f"Deployment failed: {exc}"}
                platform.operations.complete(operation, deployment.error)
            raise
        with platform.lock:
            deployment.provisioning_state = result.provisioning_state
            deployment.outputs = result.outputs
            deployment.error = result.error
            deployment.duration = result.duration
            deployment.timestamp = result.timestamp
            deployment.operations = result.operations
            deployment.output_resources = result.output_resources
            platform.operations.complete(operation, result.error)

    threading.Thread(target=work, name=f"acalab-deployment-{deployment.name}", daemon=True).start()


def new_correlation_id() -> str:
    return str(uuid.uuid4())
