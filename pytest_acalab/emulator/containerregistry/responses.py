"""Microsoft.ContainerRegistry over HTTP: registries (ARM), ACR Tasks, the data plane, the resolver.

``register(platform)`` wires everything: the ``registries`` and ``registries/runs`` resource types,
``checkNameAvailability``, the build-source/log blob endpoint, each registry's data-plane routes
and the ``ImageResolver`` service on ``platform.services.registry``.
"""

from __future__ import annotations

from typing import Any

from pytest_acalab.emulator.platform.core import Platform
from pytest_acalab.emulator.platform.errors import ArmError
from pytest_acalab.emulator.platform.http import Request, Response
from pytest_acalab.emulator.platform.resource_types import Ctx, ResourceId, ResourceType
from pytest_acalab.emulator.platform.store import Resource

from . import catalog, oci
from .blobs import Blobs
from .content import RegistryContent, RegistryError, is_valid_tag, validate_repository_name
from .dataplane import DataPlane
from .models import NAME_RE, SKUS, Access, Registry, RegistryState
from .resolver import RegistryImageResolver
from .tasks import Runs, Tasks

TYPE = "Microsoft.ContainerRegistry/registries"
NAME_RULE = "Resource names may contain alpha numeric characters only and must be between 5 and 50 characters."


def _sku(body: dict[str, Any], required: bool) -> str | None:
    sku = body.get("sku")
    if sku is None:
        if required:
            raise ArmError(400, "InvalidRequestContent", "The request content was invalid and could not be "
                                                         "deserialized: 'Required property 'sku' not found in JSON.'.")
        return None
    name = sku.get("name") if isinstance(sku, dict) else None
    canonical = next((s for s in SKUS if isinstance(name, str) and s.lower() == name.lower()), None)
    if isinstance(name, str) and name.lower() == "classic":
        # Real code and message: hashicorp/terraform-provider-azurerm#17248 (ARM's answer to sku Classic).
        raise ArmError(400, "ClassicSkuDeprecated", "Classic SKU is now deprecated. Please select a managed SKU. "
                       "Kindly refer to docs for instructions: "
                       "https://docs.microsoft.com/en-us/azure/container-registry/container-registry-upgrade")
    if canonical is None:
        # Unsourced: no real answer to an unknown SKU name was found.
        raise ArmError(400, "InvalidSku", f"The SKU '{name}' is not valid. Valid SKUs are: {', '.join(SKUS)}.")
    return canonical


class Registries(ResourceType):
    namespace = "Microsoft.ContainerRegistry"
    type_name = "registries"
    actions = {
        "listCredentials": "list_credentials", "regenerateCredential": "regenerate_credential",
        "importImage": "import_image", "listBuildSourceUploadUrl": "list_build_source_upload_url",
        "scheduleRun": "schedule_run",
    }

    def __init__(self, platform: Platform, state: RegistryState, tasks: Tasks, dataplane: DataPlane) -> None:
        self.p = platform
        self.state = state
        self.tasks = tasks
        self.dataplane = dataplane

    # --- helpers ------------------------------------------------------------------------------

    def registry(self, ctx: Ctx, rid: ResourceId) -> Registry:
        res = self.lookup(ctx, rid)
        return res.model

    def _refresh(self, ctx: Ctx, reg: Registry) -> None:
        res = ctx.store.get(reg.id)
        if res is not None:
            res.body = reg.body()

    @staticmethod
    def _apply(reg: Registry, body: dict[str, Any], sku: str | None) -> None:
        props = body.get("properties") or {}
        if not isinstance(props, dict):
            raise ArmError(400, "InvalidRequestContent", "The property 'properties' must be an object.")
        for key in ("adminUserEnabled", "anonymousPullEnabled"):
            if key in props and not isinstance(props[key], bool):
                raise ArmError(400, "InvalidRequestContent",
                               f"The request content was invalid: 'properties.{key}' must be a boolean.")
        if "publicNetworkAccess" in props and props["publicNetworkAccess"] not in ("Enabled", "Disabled"):
            raise ArmError(400, "InvalidRequestContent",
                           "The request content was invalid: 'properties.publicNetworkAccess' must be Enabled or "
                           "Disabled.")
        tags = body.get("tags")
        if tags is not None and (not isinstance(tags, dict) or not all(isinstance(v, str) for v in tags.values())):
            raise ArmError(400, "InvalidRequestContent", "The request content was invalid: tags must be strings.")
        if sku is not None:
            reg.sku = sku
        if "adminUserEnabled" in props:
            reg.admin_user_enabled = props["adminUserEnabled"]
        if "anonymousPullEnabled" in props:
            reg.anonymous_pull_enabled = props["anonymousPullEnabled"]
        if "publicNetworkAccess" in props:
            reg.public_network_access = props["publicNetworkAccess"]
        if tags is not None:
            reg.tags = dict(tags)

    # --- CRUD ---------------------------------------------------------------------------------

    def put(self, ctx: Ctx, rid: ResourceId, body: dict[str, Any]) -> Response:
        p = ctx.platform
        name = rid.name
        if not NAME_RE.match(name):
            raise ArmError(400, "InvalidResourceName", NAME_RULE)
        location = str(body.get("location") or "").replace(" ", "").lower()
        with p.lock:
            existing = ctx.store.get(rid.id)
            if existing is not None and existing.type == TYPE:
                reg: Registry = existing.model
                if reg.provisioning_state == "Deleting":
                    raise ArmError(409, "Conflict", f"The registry '{reg.name}' is being deleted.")
                if location and location != reg.location:
                    raise ArmError(400, "InvalidResourceLocation",
                                   f"The resource '{reg.name}' already exists in location '{reg.location}' in "
                                   f"resource group '{reg.resource_group}'. A resource with the same name cannot "
                                   f"be created in location '{location}'. Please select a new resource name.")
                self._apply(reg, body, _sku(body, required=False))
                self._refresh(ctx, reg)
                return Response.json(200, reg.body())
            if not location:
                raise ArmError(400, "LocationRequired", "The location property is required for this definition.")
            sku = _sku(body, required=True)
            if self.state.name_taken(name) is not None:
                # Real code and message: MicrosoftDocs/azure-dev-docs#1303 (`az acr create`); status unsourced.
                raise ArmError(400, "AlreadyInUse",
                               f"The registry DNS name {name.lower()}.azurecr.io is already in use. You can check if "
                               "the name is already claimed using following API: https://docs.microsoft.com/en-us/"
                               "rest/api/containerregistry/registries/checknameavailability")
            group = p.require_group(rid.resource_group)
            now = ctx.clock.now()
            rid_id = (f"/subscriptions/{ctx.store.subscription_id}/resourceGroups/{group.name}/providers/"
                      f"{TYPE}/{name}")
            reg = Registry(rid_id, name, group.name, location, sku or "Basic", now,
                           RegistryContent(f"{name.lower()}.azurecr.io"),
                           created_by=(ctx.request.principal or {}).get("name"))
            self._apply(reg, body, sku)
            self.state.add(reg)
            ctx.store.add(Resource(reg.id, name, TYPE, group.name, location, reg.body(), reg, now))
            api = ctx.api_version

            def finish() -> None:
                reg.provisioning_state = "Succeeded"
                self._refresh(ctx, reg)

            op = p.operations.start(
                lambda oid: f"{p.base_url}{reg.id}/operationStatuses/registries-{oid}?api-version={api}",
                ctx.clock.duration("registry.create"), finish)
            headers = p.operations.async_headers(op)
        return Response.json(201, reg.body(), headers)

    def get(self, ctx: Ctx, rid: ResourceId) -> Response:
        return Response.json(200, self.registry(ctx, rid).body())

    def patch(self, ctx: Ctx, rid: ResourceId, body: dict[str, Any]) -> Response:
        with ctx.platform.lock:
            reg = self.registry(ctx, rid)
            if "location" in body:
                raise ArmError(400, "InvalidRequestContent", "The location of a registry cannot be changed.")
            self._apply(reg, body, _sku(body, required=False))
            self._refresh(ctx, reg)
            return Response.json(200, reg.body())

    def delete(self, ctx: Ctx, rid: ResourceId) -> Response:
        p = ctx.platform
        with p.lock:
            res = ctx.store.get(rid.id)
            if res is None or res.type != TYPE:
                return Response.empty(204)
            reg: Registry = res.model
            reg.provisioning_state = "Deleting"
            self._refresh(ctx, reg)
            api = ctx.api_version
            op = p.operations.start(
                lambda oid: f"{p.base_url}{reg.id}/operationResults/registries-{oid}?api-version={api}",
                ctx.clock.scale(5.0), lambda: self.remove(ctx, rid), final=lambda op: Response.empty(200))
            op.extra["location_style"] = True
            return Response.empty(202, p.operations.location_headers(op))

    def list(self, ctx: Ctx, parent: ResourceId | None, resource_group: str | None) -> list[dict[str, Any]]:
        items = ctx.store.of_type(TYPE, resource_group)
        return [r.model.body() for r in sorted(items, key=lambda r: r.id.lower())]

    def remove(self, ctx: Ctx, rid: ResourceId) -> None:
        with ctx.platform.lock:
            res = ctx.store.remove(rid.id)
            if res is not None:
                self.state.remove(res.id)
                auth = ctx.platform.services.authorization
                if auth is not None:
                    auth.remove_under(res.id)

    # --- actions ------------------------------------------------------------------------------

    def _admin_guard(self, reg: Registry) -> None:
        if not reg.admin_user_enabled:
            # Code and "Cannot perform credential operations for <id> as admin user is disabled" match users'
            # pasted portal/CLI errors and public code matching on the code; the "Kindly enable ..." tail and
            # the status are not confirmed by a real response.
            raise ArmError(400, "UnAuthorizedForCredentialOperations",
                           f"Cannot perform credential operations for {reg.id} as admin user is disabled. Kindly "
                           "enable admin user as per docs: https://aka.ms/acr/admin-user")

    def list_credentials(self, ctx: Ctx, rid: ResourceId, body: Any) -> Response:
        reg = self.registry(ctx, rid)
        self._admin_guard(reg)
        return Response.json(200, reg.credentials_body())

    def regenerate_credential(self, ctx: Ctx, rid: ResourceId, body: Any) -> Response:
        reg = self.registry(ctx, rid)
        self._admin_guard(reg)
        which = (body or {}).get("name") if isinstance(body, dict) else None
        if which not in ("password", "password2"):
            raise ArmError(400, "InvalidParameterValue",
                           f"The credential name '{which}' is not valid. Valid names are 'password' and 'password2'.")
        with ctx.platform.lock:
            self.state.regenerate(reg, which)
        return Response.json(200, reg.credentials_body())

    def list_usages(self, req: Request, sub: str, rg: str, name: str) -> Response:
        """``GET .../registries/{name}/listUsages`` (a GET action, which the generic dispatch does not route)."""
        ctx = Ctx(self.p, req, req.query_ci("api-version") or "")
        self.p.check_subscription(sub)
        self.p.require_group(rg)
        reg = self.registry(ctx, ResourceId(sub, rg, self.namespace, ("registries",), (name,)))
        limits = {"Basic": 10, "Standard": 100, "Premium": 500}
        return Response.json(200, {"value": [
            {"name": "Size", "limit": limits[reg.sku] * 1024 ** 3, "currentValue": 0, "unit": "Bytes"},
            {"name": "Webhooks", "limit": {"Basic": 2, "Standard": 10, "Premium": 500}[reg.sku],
             "currentValue": 0, "unit": "Count"},
        ]})

    def list_build_source_upload_url(self, ctx: Ctx, rid: ResourceId, body: Any) -> Response:
        return self.tasks.upload_url(ctx, self.registry(ctx, rid))

    def schedule_run(self, ctx: Ctx, rid: ResourceId, body: Any) -> Response:
        return self.tasks.schedule(ctx, self.registry(ctx, rid), body)

    def import_image(self, ctx: Ctx, rid: ResourceId, body: Any) -> Response:
        p = ctx.platform
        reg = self.registry(ctx, rid)
        if not isinstance(body, dict) or not isinstance(body.get("source"), dict):
            raise ArmError(400, "InvalidRequestContent",
                           "The request content was invalid and could not be deserialized: "
                           "'Required property 'source' not found in JSON.'.")
        source = body["source"]
        image = source.get("sourceImage")
        if not isinstance(image, str) or not image:
            raise ArmError(400, "InvalidParameters", "The property 'source.sourceImage' is required.")
        if not source.get("registryUri") and not source.get("resourceId"):
            raise ArmError(400, "InvalidParameters",
                           "Either 'source.registryUri' or 'source.resourceId' must be specified.")
        mode = body.get("mode") or "NoForce"
        if mode not in ("NoForce", "Force"):
            raise ArmError(400, "InvalidParameters", f"The import mode '{mode}' is not valid: use NoForce or Force.")
        repo_part = image.split("@")[0]
        targets = list(body.get("targetTags") or [])
        untagged = list(body.get("untaggedTargetRepositories") or [])
        if not targets and not untagged:
            targets = [repo_part if ":" in repo_part.rsplit("/", 1)[-1] else f"{repo_part}:latest"]
        parsed_targets: list[tuple[str, str]] = []
        for target in targets:
            repo, _, tag = str(target).rpartition(":")
            try:
                validate_repository_name(repo)
            except RegistryError:
                repo = ""
            if not repo or not is_valid_tag(tag):
                raise ArmError(400, "InvalidParameters", f"The target tag '{target}' is not a valid "
                                                         "'repository:tag' reference.")
            parsed_targets.append((repo, tag))
        holder: dict[str, str] = {}

        def fail(reason: str) -> ArmError:
            return ArmError(400, "InvalidParameters",
                            f"Operation registries-{holder.get('id', '')} failed. Resource {reg.id} {reason}")

        def finish() -> None:
            built = self._import_source(reg, source, image, fail)
            content = reg.content
            if mode == "NoForce":
                for repo, tag in parsed_targets:
                    try:
                        if content.resolve(repo, tag) != built.digest:
                            raise fail(f"Tag {repo}:{tag} already exists in target registry. Use Force mode to "
                                       "overwrite it.")
                    except RegistryError:
                        pass
            for repo, tag in parsed_targets:
                content.push_image(repo, [tag], built)
            for repo in untagged:
                content.push_image(str(repo), [], built)

        api = ctx.api_version
        loc = reg.location.upper()
        op = p.operations.start(
            lambda oid: (f"{p.base_url}/subscriptions/{ctx.store.subscription_id}/providers/"
                         f"Microsoft.ContainerRegistry/locations/{loc}/operationResults/registries-{oid}"
                         f"?api-version={api}"),
            ctx.clock.duration("registry.import"), finish, final=lambda op: Response.json(200, {"status": "Succeeded"}))
        holder["id"] = op.id
        op.extra["location_style"] = True
        op.extra["error_status"] = 400
        op.extra["pending_body"] = {**{f"{r}:{t}": "Pending" for r, t in parsed_targets}, "status": "Accepted"}
        return Response.empty(202, p.operations.location_headers(op))

    def _import_source(self, reg: Registry, source: dict[str, Any], image: str, fail: Any) -> oci.BuiltImage:
        uri = str(source.get("registryUri") or "").lower().rstrip("/")
        text = image
        if not uri and "/" in image and "." in image.split("/", 1)[0]:
            uri, text = image.split("/", 1)
        src: Registry | None = None
        if source.get("resourceId"):
            src = self.state.get(str(source["resourceId"]))
            if src is None:
                raise fail(f"The source registry '{source['resourceId']}' could not be found.")
        elif uri:
            src = self.state.by_host(uri)
        try:
            ref = catalog.parse_reference(f"{src.login_server if src else uri}/{text}")
        except ValueError as exc:
            raise fail(f"The source image '{image}' is not a valid reference: {exc}") from None
        reference = ref.digest or ref.tag or "latest"
        if src is not None:
            creds = source.get("credentials") or {}
            if creds.get("username") or creds.get("password"):
                if self.dataplane.subject_for_login(src, creds.get("username"), creds.get("password")) is None:
                    raise fail(f"Unauthorized to access the source registry '{src.login_server}': the credentials "
                               "are not valid.")
            try:
                return src.content.load_image(ref.repository, reference)
            except RegistryError as exc:
                raise fail(f"The source image {src.login_server}/{text} was not found: {exc.code} "
                           f"{exc.message}.") from None
        built = catalog.lookup(ref.registry, ref.repository, ref.tag) if ref.tag else None
        if built is None or (ref.digest and built.digest != ref.digest):
            if ref.registry not in RegistryImageResolver.catalogue_hosts():
                raise fail(f"The source registry '{uri}' could not be reached: dial tcp: lookup {uri}: no such host.")
            raise fail(f"The source image {uri}/{text} was not found: MANIFEST_UNKNOWN manifest unknown.")
        return built


def _check_name(platform: Platform, state: RegistryState):
    def handler(req: Request, sub: str) -> Response:
        platform.check_subscription(sub)
        body = req.json() or {}
        name = str(body.get("name") or "")
        if not NAME_RE.match(name):
            return Response.json(200, {"nameAvailable": False, "reason": "Invalid", "message": NAME_RULE})
        if state.name_taken(name):
            return Response.json(200, {"nameAvailable": False, "reason": "AlreadyExists",
                                       "message": "The registry DNS name is already in use."})
        return Response.json(200, {"nameAvailable": True})
    return handler


def register(platform: Platform) -> None:
    state = RegistryState(platform.remember_secret)
    # The emulator's own service principal exists before providers register: it is Owner everywhere.
    # Principals added later (tests, managed identities) get only what role assignments give them.
    owners = {sp.object_id for sp in platform.identity.principals.values()}

    def is_owner(oid: str) -> bool:
        return oid in owners

    def roles(oid: str, registry_id: str) -> set[str]:
        auth = platform.services.authorization
        return auth.roles_for(oid, registry_id) if auth is not None else set()

    access = Access(is_owner, roles)
    dataplane = DataPlane(platform, state, access)
    tasks = Tasks(state)
    registries = Registries(platform, state, tasks, dataplane)
    platform.register_type(registries)
    platform.route("GET", "/subscriptions/{sub}/resourcegroups/{rg}/providers/Microsoft.ContainerRegistry/registries/"
                   "{name}/listUsages", registries.list_usages, api_version=True)
    platform.register_type(Runs(tasks))
    platform.route("POST", "/subscriptions/{sub}/providers/Microsoft.ContainerRegistry/checkNameAvailability",
                   _check_name(platform, state), api_version=True)
    Blobs(platform, state).register()
    dataplane.register()
    platform.services.registry = RegistryImageResolver(state, access, dataplane)
    platform.services.extra["containerregistry"] = state


__all__ = ["Registries", "register"]
