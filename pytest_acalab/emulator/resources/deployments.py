"""Microsoft.Resources/deployments over HTTP: create (LRO), get, list, validate, operations."""

from __future__ import annotations

import json
import re
from typing import Any

from pytest_acalab.emulator.platform.core import Platform
from pytest_acalab.emulator.platform.errors import ArmError
from pytest_acalab.emulator.platform.http import Request, Response
from pytest_acalab.emulator.platform.resource_types import Ctx, ResourceId, ResourceType
from pytest_acalab.emulator.platform.store import Resource
from pytest_acalab.emulator.platform.validation import JsonBodyError, invalid_content
from pytest_acalab.emulator.platform.validation import loads as strict_json
from pytest_acalab.emulator.resources import models
from pytest_acalab.emulator.resources.templates import DeploymentContext, TemplateError, validate

_BARE_NAME = re.compile(r"[A-Za-z_$][\w$]*")


def loads_lenient(raw: bytes) -> Any:
    """Parse a request body the way ARM does: JSON plus comments, unquoted property names and raw
    control characters inside strings.

    ``az deployment group create`` sends ``{"properties": {..., template:<the template file's text>}}``
    to keep the template's whitespace; ARM accepts it, so the emulator must too.
    """
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ArmError(400, "InvalidRequestContent",
                       f"The request content was invalid and could not be deserialized: '{exc}'.") from None
    out: list[str] = []
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if c == '"':
            j = i + 1
            while j < n and text[j] != '"':
                j += 2 if text[j] == "\\" else 1
            out.append(text[i:j + 1])
            i = j + 1
        elif text.startswith("//", i):
            end = text.find("\n", i)
            i = n if end < 0 else end
        elif text.startswith("/*", i):
            end = text.find("*/", i + 2)
            i = n if end < 0 else end + 2
        elif c.isalpha() or c in "_$":
            m = _BARE_NAME.match(text, i)
            assert m is not None
            word, i = m.group(), m.end()
            k = i
            while k < n and text[k] in " \t\r\n":
                k += 1
            is_key = k < n and text[k] == ":" and word not in ("true", "false", "null")
            out.append(json.dumps(word) if is_key else word)
        else:
            out.append(c)
            i += 1
    try:
        return strict_json("".join(out), strict=False)
    except JsonBodyError as exc:
        raise invalid_content(str(exc)) from None


def _parse_request(body: Any) -> tuple[dict[str, Any], dict[str, Any], str]:
    props = (body or {}).get("properties")
    if not isinstance(props, dict):
        raise ArmError(400, "InvalidRequestContent",
                       "The request content was invalid and could not be deserialized: "
                       "'Required property 'properties' not found in JSON.'.")
    if "templateLink" in props and "template" not in props:
        raise ArmError(400, "InvalidTemplate",
                       "Deployment template validation failed: 'templateLink is not supported by the emulator; "
                       "send the template inline.'.")
    template = props.get("template")
    if not isinstance(template, dict):
        raise ArmError(400, "InvalidRequestContent",
                       "The request content was invalid and could not be deserialized: "
                       "'The template must be a JSON object.'.")
    raw_params = props.get("parameters") or {}
    if not isinstance(raw_params, dict):
        raise ArmError(400, "InvalidRequestContent", "The deployment parameters must be a JSON object.")
    params = raw_params
    mode = props.get("mode") or "Incremental"
    if mode not in ("Incremental", "Complete"):
        raise ArmError(400, "InvalidDeploymentMode", f"The deployment mode '{mode}' is not valid.")
    return template, params, mode


class Deployments(ResourceType):
    namespace = "Microsoft.Resources"
    type_name = "deployments"
    actions = {"validate": "validate", "cancel": "cancel"}

    def _context(self, ctx: Ctx, rid: ResourceId) -> DeploymentContext:
        group = ctx.platform.require_group(rid.resource_group)
        return DeploymentContext(
            subscription_id=ctx.store.subscription_id, tenant_id=ctx.store.tenant_id,
            resource_group_name=group.name, resource_group_location=group.location,
            resource_group_tags=dict(group.tags), deployment_name=rid.name, now=ctx.clock.now,
            subscription_display_name=ctx.store.subscription_name,
        )

    def _validate(self, ctx: Ctx, rid: ResourceId, body: Any):
        template, params, mode = _parse_request(body)
        try:
            return template, mode, validate(template, params, self._context(ctx, rid))
        except TemplateError as exc:
            raise ArmError(400, exc.code, exc.message, target=exc.target, details=exc.details) from None

    def put(self, ctx: Ctx, rid: ResourceId, body: dict[str, Any]) -> Response:
        p = ctx.platform
        with p.lock:
            existing = p.store.get(rid.id)
            if existing and existing.model.provisioning_state in ("Accepted", "Running"):
                raise ArmError(409, "DeploymentActive",
                               f"Unable to edit or replace deployment '{rid.name}': previous deployment from "
                               f"'{existing.model.started.isoformat()}' is still active. "
                               "Please see https://aka.ms/arm-deploy for usage details.")
        template, mode, validated = self._validate(ctx, rid, body)
        dctx = self._context(ctx, rid)
        correlation = ctx.request.headers.get("x-ms-correlation-request-id") or models.new_correlation_id()
        dep = models.Deployment(
            id=dctx.deployment_id, name=rid.name, resource_group=dctx.resource_group_name, template=template,
            mode=mode, validated=validated, correlation_id=correlation, started=ctx.clock.now(),
            tags=dict(body.get("tags") or {}),
        )
        api = ctx.api_version
        dep.operation = p.operations.start_manual(
            lambda oid: f"{p.base_url}{dctx.deployment_id}/operationStatuses/{oid}?api-version={api}")
        with p.lock:
            res = Resource(dep.id, rid.name, self.full_type, dctx.resource_group_name, "", {}, dep, dep.started)
            p.store.add(res)
        res.body = dep.body()
        models.start(p, dep, dctx, ctx.request.principal)
        return Response.json(201, dep.body(), p.operations.async_headers(dep.operation))

    def get(self, ctx: Ctx, rid: ResourceId) -> Response:
        res = self._lookup(ctx, rid)
        return Response.json(200, res.model.body())

    def _lookup(self, ctx: Ctx, rid: ResourceId) -> Resource:
        res = ctx.store.get(rid.id)
        if res is None:
            raise ArmError(404, "DeploymentNotFound",
                           f"Deployment '{rid.name}' could not be found.")
        return res

    def list(self, ctx: Ctx, parent: ResourceId | None, resource_group: str | None) -> list[dict[str, Any]]:
        items = ctx.store.of_type(self.full_type, resource_group)
        return [r.model.body() for r in sorted(items, key=lambda r: r.model.started)]

    def delete(self, ctx: Ctx, rid: ResourceId) -> Response:
        res = self._lookup(ctx, rid)
        if res.model.provisioning_state in ("Accepted", "Running"):
            raise ArmError(409, "DeploymentActive", f"Deployment '{rid.name}' is still active.")
        ctx.store.remove(rid.id)
        return Response.empty(204)

    def validate(self, ctx: Ctx, rid: ResourceId, body: Any) -> Response:
        _, mode, validated = self._validate(ctx, rid, body)
        dctx = self._context(ctx, rid)
        return Response.json(200, {
            "id": dctx.deployment_id, "name": rid.name, "type": self.full_type,
            "properties": {"templateHash": "0", "parameters": validated.deployment_parameters, "mode": mode,
                           "provisioningState": "Succeeded", "timestamp": ctx.clock.now().isoformat(),
                           "duration": "PT0S", "correlationId": models.new_correlation_id(),
                           "validatedResources": validated.validated_resources},
        })

    def cancel(self, ctx: Ctx, rid: ResourceId, body: Any) -> Response:
        res = self._lookup(ctx, rid)
        if res.model.provisioning_state not in ("Accepted", "Running"):
            raise ArmError(409, "DeploymentCannotBeCancelled",
                           f"The deployment '{rid.name}' cannot be cancelled: it is not running.")
        return Response.empty(204)


class DeploymentOperations(ResourceType):
    namespace = "Microsoft.Resources"
    type_name = "deployments/operations"

    def list(self, ctx: Ctx, parent: ResourceId | None, resource_group: str | None) -> list[dict[str, Any]]:
        assert parent is not None
        res = ctx.store.get(parent.id)
        return list(res.model.operations) if res else []

    def get(self, ctx: Ctx, rid: ResourceId) -> Response:
        res = ctx.store.get(rid.parent().id)
        for op in res.model.operations if res else []:
            if op["operationId"].lower() == rid.name.lower():
                return Response.json(200, op)
        raise ArmError(404, "DeploymentOperationNotFound",
                       f"Deployment operation '{rid.name}' could not be found.")


def register(platform: Platform) -> None:
    platform.register_type(Deployments())
    platform.register_type(DeploymentOperations())

    def operations_without_provider(req: Request, sub: str, rg: str, name: str, rest: str = "") -> Response:
        """``az deployment operation group list`` omits ``providers/Microsoft.Resources``."""
        req.path = (f"/subscriptions/{sub}/resourceGroups/{rg}/providers/Microsoft.Resources/deployments/"
                    f"{name}/operations{rest}")
        return platform._arm(req)

    platform.route("GET", "/subscriptions/{sub}/resourcegroups/{rg}/deployments/{name}/operations",
                   operations_without_provider)

    def lenient_body(req: Request, **_: str) -> Response:
        """Deployment PUT and validate: accept ARM's lenient JSON, then the usual ARM dispatch."""
        if req.body.strip():
            try:
                strict_json(req.body)
            except JsonBodyError:
                req.body = json.dumps(loads_lenient(req.body)).encode()
        return platform._arm(req)

    deployment = "/subscriptions/{sub}/resourcegroups/{rg}/providers/Microsoft.Resources/deployments/{name}"
    platform.route("PUT", deployment, lenient_body)
    platform.route("POST", deployment + "/validate", lenient_body)
