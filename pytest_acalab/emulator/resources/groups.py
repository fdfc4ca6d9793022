"""Resource groups, the subscription, provider registrations and generic resource listing (HTTP)."""

from __future__ import annotations

import re
from typing import Any

from pytest_acalab.emulator.platform.core import Platform
from pytest_acalab.emulator.platform.errors import ArmError, resource_group_not_found
from pytest_acalab.emulator.platform.http import Request, Response
from pytest_acalab.emulator.platform.resource_types import Ctx, ResourceId
from pytest_acalab.emulator.platform.store import ResourceGroup
from pytest_acalab.emulator.platform.validation import check_resource_body, check_tags

_NAME_CHAR = re.compile(r"[-\w.()]")
MAX_GROUP_NAME = 90


def check_group_name(name: str) -> None:
    """ARM's rule: letters and digits as Unicode defines them, ``-``, ``_``, ``.``, ``(`` and ``)``; at most
    90 characters; no trailing period (https://learn.microsoft.com/azure/azure-resource-manager/management/
    resource-name-rules#microsoftresources). The path reaches here percent-decoded."""
    invalid = sorted({c for c in name if not _NAME_CHAR.fullmatch(c)})
    if invalid:
        raise ArmError(400, "InvalidResourceGroup",
                       f"The provided resource group name '{name}' has these invalid characters: "
                       f"'{''.join(invalid)}'. The name can only be a letter, digit, '-', '.', '(', ')' or '_'.")
    if not name or len(name) > MAX_GROUP_NAME or name.endswith("."):
        raise ArmError(400, "InvalidResourceGroup",
                       f"The provided resource group name '{name[:100]}' is invalid: resource group names can be "
                       f"1 to {MAX_GROUP_NAME} characters long and cannot end in a period.")
_TAG_FILTER = re.compile(
    r"^\s*tagName\s+eq\s+'(?P<name>[^']*)'(?:\s+and\s+tagValue\s+eq\s+'(?P<value>[^']*)')?\s*$", re.I)
_TYPE_FILTER = re.compile(r"^\s*resourceType\s+eq\s+'(?P<type>[^']*)'\s*$", re.I)


def _tag_filter(expr: str | None) -> tuple[str, str | None] | None:
    if not expr:
        return None
    m = _TAG_FILTER.match(expr)
    if not m:
        raise ArmError(400, "InvalidFilterInQueryString",
                       f"Invalid $filter '{expr}' specified in the query string.")
    return m["name"], m["value"]


def _match_tags(tags: dict[str, str], flt: tuple[str, str | None] | None) -> bool:
    if flt is None:
        return True
    name, value = flt
    for k, v in tags.items():
        if k.lower() == name.lower() and (value is None or v == value):
            return True
    return False


class ResourceGroups:
    def __init__(self, platform: Platform) -> None:
        self.p = platform

    def register(self) -> None:
        p = self.p
        rg = "/subscriptions/{sub}/resourcegroups/{name}"
        p.route("GET", "/subscriptions", self.list_subscriptions, api_version=True)
        p.route("GET", "/subscriptions/{sub}", self.get_subscription, api_version=True)
        p.route("GET", "/subscriptions/{sub}/resourcegroups", self.list_groups, api_version=True)
        p.route("PUT", rg, self.put_group, api_version=True)
        p.route("PATCH", rg, self.patch_group, api_version=True)
        p.route("GET", rg, self.get_group, api_version=True)
        p.route("DELETE", rg, self.delete_group, api_version=True)
        p.route("GET", rg + "/resources", self.list_group_resources, api_version=True)
        p.route("GET", "/subscriptions/{sub}/resources", self.list_resources, api_version=True)
        p.route("GET", "/subscriptions/{sub}/providers", self.list_providers, api_version=True)
        p.route("GET", "/subscriptions/{sub}/providers/{ns}", self.get_provider, api_version=True)
        p.route("POST", "/subscriptions/{sub}/providers/{ns}/register", self.get_provider, api_version=True)

    # subscription --------------------------------------------------------------------------------
    def _subscription_body(self) -> dict[str, Any]:
        s = self.p.store
        return {
            "id": f"/subscriptions/{s.subscription_id}", "subscriptionId": s.subscription_id,
            "tenantId": s.tenant_id, "displayName": s.subscription_name, "state": "Enabled",
            "subscriptionPolicies": {"locationPlacementId": "Public_2014-09-01", "quotaId": "PayAsYouGo_2014-09-01",
                                     "spendingLimit": "Off"},
            "authorizationSource": "RoleBased",
        }

    def list_subscriptions(self, req: Request) -> Response:
        return Response.json(200, {"value": [self._subscription_body()], "count": {"type": "Total", "value": 1}})

    def get_subscription(self, req: Request, sub: str) -> Response:
        self.p.check_subscription(sub)
        return Response.json(200, self._subscription_body())

    # groups --------------------------------------------------------------------------------------
    def put_group(self, req: Request, sub: str, name: str) -> Response:
        self.p.check_subscription(sub)
        check_group_name(name)
        body = check_resource_body(req.json() or {})
        if not body.get("location"):
            raise ArmError(400, "LocationRequired", "The location property is required for this definition.")
        tags = check_tags(body.get("tags"))
        with self.p.lock:
            existing = self.p.store.group(name)
            if existing and existing.provisioning_state == "Deleting":
                raise ArmError(409, "ResourceGroupBeingDeleted",
                               f"The resource group '{existing.name}' is in deprovisioning state and cannot "
                               "perform this operation.")
            if existing:
                if existing.location.lower() != str(body["location"]).replace(" ", "").lower():
                    raise ArmError(409, "InvalidResourceGroupLocation",
                                   f"Invalid resource group location '{body['location']}'. The Resource group "
                                   f"already exists in location '{existing.location}'.")
                existing.tags = tags
                return Response.json(200, existing.body())
            group = ResourceGroup(name, str(body["location"]).replace(" ", "").lower(), tags,
                                  self.p.store.subscription_id, self.p.clock.now(),
                                  managed_by=body.get("managedBy"))
            self.p.store.put_group(group)
            return Response.json(201, group.body())

    def patch_group(self, req: Request, sub: str, name: str) -> Response:
        """PATCH applies the same rules as PUT to what it changes (tags, managedBy)."""
        self.p.check_subscription(sub)
        body = check_resource_body(req.json() or {})
        tags = check_tags(body["tags"]) if body.get("tags") is not None else None
        with self.p.lock:
            group = self.p.require_group(name)
            if group.provisioning_state == "Deleting":
                raise ArmError(409, "ResourceGroupBeingDeleted",
                               f"The resource group '{group.name}' is in deprovisioning state and cannot "
                               "perform this operation.")
            if "tags" in body:
                group.tags = tags or {}
            return Response.json(200, group.body())

    def _settle(self, group: ResourceGroup) -> ResourceGroup:
        """A delete that failed (fault injection: stalled then failed) leaves the group as it was."""
        if group.provisioning_state == "Deleting":
            op_id = group.__dict__.get("_delete_op")
            op = self.p.operations.get(op_id) if op_id else None
            if op is not None and op.done and op.status != "Succeeded":
                group.provisioning_state = "Succeeded"
        return group

    def get_group(self, req: Request, sub: str, name: str) -> Response:
        self.p.check_subscription(sub)
        group = self.p.store.group(name)
        if group is None:
            raise resource_group_not_found(name)
        self._settle(group)
        if req.method == "HEAD":
            return Response.empty(204)
        return Response.json(200, group.body())

    def list_groups(self, req: Request, sub: str) -> Response:
        self.p.check_subscription(sub)
        flt = _tag_filter(req.query_ci("$filter"))
        groups = sorted(self.p.store.resource_groups.values(), key=lambda g: g.name.lower())
        return self.p.page(req, [g.body() for g in groups if _match_tags(g.tags, flt)])

    def delete_group(self, req: Request, sub: str, name: str) -> Response:
        """202 + Location; the group shows ``Deleting`` until its resources are gone (cascade)."""
        self.p.check_subscription(sub)
        with self.p.lock:
            group = self._settle(self.p.require_group(name))
            if group.provisioning_state == "Deleting":
                op_id = group.__dict__.get("_delete_op")
                op = self.p.operations.get(op_id) if op_id else None
                if op is not None and not op.done:
                    return Response.empty(202, self.p.operations.location_headers(op))
            group.provisioning_state = "Deleting"
            ctx = Ctx(self.p, req, req.query_ci("api-version") or "")

            def finish() -> None:
                self.cascade(ctx, group.name)
                self.p.store.drop_group(group.name)
                return None

            token = f"RESOURCEGROUPDELETIONJOB-{name.upper()}"
            op = self.p.operations.start(
                lambda oid: f"{self.p.base_url}/subscriptions/{sub}/operationresults/{token}-{oid}"
                            f"?api-version={req.query_ci('api-version')}",
                self.p.clock.duration("resource_group.delete"), finish,
                final=lambda op: Response.empty(200))
            op.extra["location_style"] = True
            group.__dict__["_delete_op"] = op.id
            return Response.empty(202, self.p.operations.location_headers(op))

    def cascade(self, ctx: Ctx, group: str) -> None:
        """Remove every resource of the group through its provider (children first)."""
        resources = sorted(self.p.store.in_group(group), key=lambda r: -r.id.count("/"))
        for res in resources:
            if self.p.store.get(res.id) is None:
                continue
            rt = self.p.resource_type(res.type)
            if rt is not None:
                rt.remove(ctx, ResourceId.parse(res.id))
            else:
                self.p.store.remove(res.id)

    # generic resources ---------------------------------------------------------------------------
    def _generic(self, res: Any) -> dict[str, Any]:
        out = {"id": res.body.get("id", res.id), "name": res.name, "type": res.type, "location": res.location}
        for key in ("tags", "sku", "kind", "identity", "managedBy", "systemData"):
            if res.body.get(key) is not None:
                out[key] = res.body[key]
        return out

    def _filtered(self, req: Request, resources: list[Any]) -> Response:
        expr = req.query_ci("$filter")
        if expr:
            m = _TYPE_FILTER.match(expr)
            if m:
                resources = [r for r in resources if r.type.lower() == m["type"].lower()]
            else:
                flt = _tag_filter(expr)
                resources = [r for r in resources if _match_tags(r.tags, flt)]
        top_level = [r for r in resources
                     if r.type.count("/") == 1 and not r.type.lower().startswith("microsoft.resources/")]
        return self.p.page(req, [self._generic(r) for r in sorted(top_level, key=lambda r: r.id.lower())])

    def list_group_resources(self, req: Request, sub: str, name: str) -> Response:
        self.p.check_subscription(sub)
        self.p.require_group(name)
        return self._filtered(req, self.p.store.in_group(name))

    def list_resources(self, req: Request, sub: str) -> Response:
        self.p.check_subscription(sub)
        return self._filtered(req, list(self.p.store.resources.values()))

    # providers -----------------------------------------------------------------------------------
    def _provider_body(self, namespace: str) -> dict[str, Any]:
        types = self.p.types_in(namespace)
        return {
            "id": f"/subscriptions/{self.p.store.subscription_id}/providers/{namespace}",
            "namespace": namespace, "authorizations": [], "registrationState": "Registered",
            "registrationPolicy": "RegistrationRequired",
            "resourceTypes": [
                {"resourceType": t.type_name, "locations": ["Korea Central", "East US", "West Europe"],
                 "apiVersions": versions,
                 "capabilities": "None",
                 # Azure names the version a client without one gets, for some types: recorded for
                 # Microsoft.App's, not for Microsoft.OperationalInsights' (elsewhere: guess, absent)
                 **({"defaultApiVersion": next((v for v in versions if "preview" not in v), versions[0])}
                    if namespace.lower() == "microsoft.app" else {})}
                for t in types
                for versions in [list(t.api_versions) or list(_ANY_VERSION_LIST)]
            ],
        }

    def list_providers(self, req: Request, sub: str) -> Response:
        self.p.check_subscription(sub)
        return self.p.page(req, [self._provider_body(ns) for ns in sorted(self.p.namespaces.values())])

    def get_provider(self, req: Request, sub: str, ns: str) -> Response:
        self.p.check_subscription(sub)
        canonical = self.p.namespaces.get(ns.lower())
        if canonical is None:
            raise ArmError(404, "InvalidResourceNamespace", f"The resource namespace '{ns}' is invalid.")
        return Response.json(200, self._provider_body(canonical))


_ANY_VERSION_LIST = ("2025-07-01", "2025-02-02-preview", "2025-01-01", "2024-03-01", "2023-05-01",
                     "2023-04-01-preview")
"""Listed for types that accept any version. Guess: Azure lists each type's real versions."""


def register(platform: Platform) -> None:
    ResourceGroups(platform).register()
