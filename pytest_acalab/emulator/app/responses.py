"""Microsoft.App over HTTP: managedEnvironments, containerApps, revisions, replicas, event streams.

Answers mirror the recorded Azure interactions (recordings 2023/2025 logstream, eventstream and
replica_commands): status codes, LRO headers (``managedEnvironmentOperationStatuses`` /
``containerappOperationStatuses`` / ``containerappOperationResults``) and body keys.
"""

from __future__ import annotations

import copy
import time
from typing import Any

from pytest_acalab.emulator.app import sourcecontrols, storages
from pytest_acalab.emulator.app.eventstream import EventStreams
from pytest_acalab.emulator.app.ingress import Edge, ingress_domain
from pytest_acalab.emulator.app.service import AppService
from pytest_acalab.emulator.app.state import (
    APP_TYPE,
    ENV_TYPE,
    ContainerApp,
    Environment,
    Replica,
    Revision,
    deep_merge,
    iso7,
    iso_seconds,
    location_key,
)
from pytest_acalab.emulator.platform.core import Platform
from pytest_acalab.emulator.platform.errors import ArmError
from pytest_acalab.emulator.platform.http import Response
from pytest_acalab.emulator.platform.lro import Operation
from pytest_acalab.emulator.platform.resource_types import Ctx, ResourceId, ResourceType
from pytest_acalab.emulator.platform.store import Resource

NAMESPACE = "Microsoft.App"
VERIFICATION_ID = "D3F71C85EB6552E36A89A3E4A080C3CFB00181670B659B0003264FC673AA9B00"


def _principal(ctx: Ctx) -> str:
    claims = ctx.request.principal or {}
    return str(claims.get("name") or claims.get("appid") or "acalab-emulator")


def _system_data(created: Any, by: str, modified: Any) -> dict[str, Any]:
    return {"createdBy": by, "createdByType": "Application", "createdAt": iso7(created), "lastModifiedBy": by,
            "lastModifiedByType": "Application", "lastModifiedAt": iso7(modified or created)}


# Body shapes per api-version -----------------------------------------------------------------------
# The models render the newest shape; ``shape_*`` cut it to the requested api-version. Evidence: the
# containerapp CLI recordings (Azure/azure-cli-extensions src/containerapp/.../recordings) at
# 2023-04-01-preview (May/June 2023), 2025-01-01 and 2025-02-02-preview (May 2025). Between those
# versions the boundary is a guess (docs/emulator-providers.md, "Guesses"): a key is taken to appear at
# the first version recorded with it.
V2025 = "2025-01-01"
V2025_PREVIEW = "2025-02-02"


def _at_least(api_version: str, version: str) -> bool:
    return (api_version or "9999")[:10] >= version


_ENV_SINCE_2025_PREVIEW = ("appInsightsConfiguration", "availabilityZones", "diskEncryptionConfiguration",
                           "ingressConfiguration", "openTelemetryConfiguration", "publicNetworkAccess")


def shape_environment(body: dict[str, Any], api_version: str) -> dict[str, Any]:
    out = copy.deepcopy(body)
    props = out["properties"]
    if not _at_least(api_version, V2025):
        # 2023-04-01-preview answers firstPartyConfiguration and not peerTrafficConfiguration
        props.pop("peerTrafficConfiguration", None)
        # Recorded both ways at 2023-04-01-preview: absent in May 2023, present from June 2023; the
        # emulator follows the majority of recorded answers (May's).
        props.pop("peerAuthentication", None)
        domain = props["customDomainConfiguration"]  # the same May/June 2023 split: May says ...Utc
        domain["expirationDateUtc"] = domain.pop("expirationDate", None)
        props["customDomainConfiguration"].pop("certificateKeyVaultProperties", None)
    else:
        props.pop("firstPartyConfiguration", None)
    if not _at_least(api_version, V2025_PREVIEW):
        for key in _ENV_SINCE_2025_PREVIEW:
            props.pop(key, None)
    else:
        # Azure's answer to the containerapp CLI extension in 2026 (the Practical Guide's diagnostic-settings-missing
        # capture) carries dynamicJsonColumns; the earliest version that does is not recorded.
        la = (props.get("appLogsConfiguration") or {}).get("logAnalyticsConfiguration")
        if isinstance(la, dict):
            la.setdefault("dynamicJsonColumns", False)
    return out


_APP_CONFIG_SINCE_2025 = ("identitySettings", "runtime")
_APP_CONFIG_SINCE_2025_PREVIEW = ("revisionTransitionThreshold", "targetLabel")


def shape_app(body: dict[str, Any], api_version: str, provisioned: bool, eventstream: str) -> dict[str, Any]:
    """``provisioned``: a revision was ever provisioned (until then 2025 versions omit the running keys);
    ``eventstream``: the app's event-stream URL (2023 versions show it from the first answer on)."""
    out = copy.deepcopy(body)
    props = out["properties"]
    _shape_template(props.get("template") or {}, api_version, app=True)
    config = props.get("configuration") or {}
    if not _at_least(api_version, V2025_PREVIEW):
        props.pop("patchingMode", None)
        for key in _APP_CONFIG_SINCE_2025_PREVIEW:
            config.pop(key, None)
        if isinstance(config.get("ingress"), dict):
            config["ingress"].pop("targetPortHttpScheme", None)
    if _at_least(api_version, V2025):
        if not provisioned:  # recorded 201 of a new app at 2025-02-02-preview
            for key in ("runningStatus", "eventStreamEndpoint", "latestRevisionName", "latestReadyRevisionName",
                        "latestRevisionFqdn"):
                props.pop(key, None)
        return out
    # 2023-04-01-preview: no delegatedIdentities; running keys from the first answer on (201 included)
    props.pop("delegatedIdentities", None)
    props.setdefault("runningStatus", "Running")
    props.setdefault("eventStreamEndpoint", eventstream)
    for key in ("latestRevisionName", "latestReadyRevisionName", "latestRevisionFqdn"):
        if props.get(key) is None:
            props[key] = ""
    for key in _APP_CONFIG_SINCE_2025:
        config.pop(key, None)
    if isinstance(config.get("ingress"), dict):
        config["ingress"].pop("additionalPortMappings", None)
    return out


def _shape_template(template: dict[str, Any], api_version: str, app: bool) -> None:
    """Recorded: ``imageType`` from 2025-02-02-preview on; an empty ``env`` is not answered; an app's
    containers carry ``ephemeralStorage`` and no empty ``probes``, a revision's the other way round;
    2023 scales have no cooldownPeriod/pollingInterval."""
    for c in template.get("containers") or []:
        if not _at_least(api_version, V2025_PREVIEW):
            c.pop("imageType", None)
        if c.get("env") == []:
            c.pop("env")
        if app and c.get("probes") == []:
            c.pop("probes")
        if not app:
            (c.get("resources") or {}).pop("ephemeralStorage", None)
    if not _at_least(api_version, V2025):
        scale = template.get("scale") or {}
        scale.pop("cooldownPeriod", None)
        scale.pop("pollingInterval", None)


def shape_revision(body: dict[str, Any], api_version: str) -> dict[str, Any]:
    out = copy.deepcopy(body)
    _shape_template(out["properties"].get("template") or {}, api_version, app=False)
    return out


def shape_replica(body: dict[str, Any], api_version: str) -> dict[str, Any]:
    out = copy.deepcopy(body)
    if not _at_least(api_version, V2025):  # 2023-04-01-preview replicas: containers and createdTime only
        for key in ("initContainers", "runningState", "runningStateDetails"):
            out["properties"].pop(key, None)
        for c in out["properties"].get("containers") or []:
            for key in ("runningState", "runningStateDetails", "debugEndpoint"):
                c.pop(key, None)
    elif not _at_least(api_version, V2025_PREVIEW):  # 2025-01-01: no debugEndpoint yet
        for c in out["properties"].get("containers") or []:
            c.pop("debugEndpoint", None)
    return out


class Bodies:
    """ARM representations, computed from the models at answer time."""

    def __init__(self, platform: Platform) -> None:
        self.p = platform

    def stream_base(self, location: str) -> str:
        """Where event and log streams are served: ``https://<region>.azurecontainerapps.dev`` (cloud mode)."""
        return self.p.urls.event_stream(location_key(location))

    def environment(self, env: Environment) -> dict[str, Any]:
        props: dict[str, Any] = {
            "provisioningState": env.provisioning_state, "daprAIInstrumentationKey": None,
            "daprAIConnectionString": None, "vnetConfiguration": env.properties.get("vnetConfiguration"),
            "defaultDomain": env.default_domain, "staticIp": env.static_ip,
            "appLogsConfiguration": {"destination": None, "logAnalyticsConfiguration": None,
                                     **(env.properties.get("appLogsConfiguration") or {})},
            "openTelemetryConfiguration": None, "availabilityZones": None, "ingressConfiguration": None,
            "appInsightsConfiguration": None, "diskEncryptionConfiguration": None,
            "zoneRedundant": bool(env.properties.get("zoneRedundant", False)),
            "kedaConfiguration": {"version": "2.17.2"}, "daprConfiguration": {"version": "1.13.6-msft.6"},
            "eventStreamEndpoint": f"{self.stream_base(env.location)}/subscriptions/{env.rid.subscription}/"
                                   f"resourceGroups/{env.rid.resource_group}/managedEnvironments/{env.name}/eventstream",
            "customDomainConfiguration": {"customDomainVerificationId": VERIFICATION_ID, "dnsSuffix": None,
                                          "certificateKeyVaultProperties": None,
                                          "certificateValue": None, "certificatePassword": None,
                                          "thumbprint": None, "subjectName": None, "expirationDate": None},
            "workloadProfiles": env.properties.get("workloadProfiles") or [
                {"workloadProfileType": "Consumption", "name": "Consumption", "enableFips": False}],
            "firstPartyConfiguration": None, "infrastructureResourceGroup": None,
            "peerAuthentication": {"mtls": {"enabled": False}},
            "peerTrafficConfiguration": {"encryption": {"enabled": False}},
            "publicNetworkAccess": "Enabled",
        }
        body: dict[str, Any] = {"id": env.id, "name": env.name, "type": ENV_TYPE, "location": env.location,
                                "systemData": _system_data(env.created, env.created_by, None), "properties": props}
        if env.tags:
            body["tags"] = dict(env.tags)
        return body

    def app(self, app: ContainerApp) -> dict[str, Any]:
        domain = ingress_domain(app)
        config = {**app.configuration}
        ingress = config.get("ingress")
        if ingress:
            ingress = dict(ingress)
            if app.ever_succeeded:
                ingress["fqdn"] = f"{app.name}.{domain}"
            config["ingress"] = ingress
        latest = app.latest_revision
        props: dict[str, Any] = {
            "provisioningState": app.provisioning_state,
        }
        if app.ever_succeeded:
            props["runningStatus"] = "Running"
        props.update({
            "managedEnvironmentId": app.env.id, "environmentId": app.env.id,
            "workloadProfileName": app.workload_profile, "patchingMode": "Automatic",
            "outboundIpAddresses": list(app.env.outbound_ips),
            "latestRevisionName": latest, "latestReadyRevisionName": app.latest_ready,
            "latestRevisionFqdn": (f"{latest}.{domain}" if ingress else "") if latest else None,
            "customDomainVerificationId": VERIFICATION_ID, "configuration": config, "template": app.template,
        })
        if app.ever_succeeded:  # absent after a failed create (observed acr-pull-failure 05)
            props["eventStreamEndpoint"] = self.app_stream(app)
        props["delegatedIdentities"] = []
        rid = app.rid
        body: dict[str, Any] = {
            "id": f"/subscriptions/{rid.subscription}/resourceGroups/{rid.resource_group}/providers/Microsoft.App/"
                  f"containerapps/{app.name}",
            "name": app.name, "type": APP_TYPE, "location": app.location,
            "systemData": _system_data(app.created, app.created_by, app.modified), "properties": props,
            "identity": app.identity,
        }
        if app.tags:
            body["tags"] = dict(app.tags)
        return body

    def app_stream(self, app: ContainerApp) -> str:
        return (f"{self.stream_base(app.location)}/subscriptions/{app.rid.subscription}/resourceGroups/"
                f"{app.rid.resource_group}/containerApps/{app.name}/eventstream")

    def revision(self, app: ContainerApp, rev: Revision) -> dict[str, Any]:
        props: dict[str, Any] = {"createdTime": iso_seconds(rev.created)}
        if rev.last_active is not None:
            props["lastActiveTime"] = iso_seconds(rev.last_active)
        if app.configuration.get("ingress"):
            props["fqdn"] = f"{rev.name}.{ingress_domain(app)}"
        else:
            props["fqdn"] = f"{rev.name}.{app.env.default_domain}"  # without ingress too (recorded debug)
        props.update({"template": rev.template, "active": rev.active,
                      "replicas": len(rev.replicas) if rev.active else 0,
                      "trafficWeight": app.traffic_weight(rev.name)})
        props.update(rev.states(time.monotonic()))
        return {"id": f"{app.id}/revisions/{rev.name}", "name": rev.name,
                "type": "Microsoft.App/containerapps/revisions", "properties": props}

    def replica(self, app: ContainerApp, rev: Revision, rep: Replica) -> dict[str, Any]:
        base = (f"{self.stream_base(app.location)}/subscriptions/{app.rid.subscription}/resourceGroups/"
                f"{app.rid.resource_group}/containerApps/{app.name}/revisions/{rev.name}/replicas/{rep.name}")
        wss = "wss" + base[len("https"):] if base.startswith("https") else base
        containers = []
        for c in rep.containers:
            item: dict[str, Any] = {"name": c.name}
            if c.container_id:
                item["containerId"] = c.container_id
            item.update({"ready": c.ready, "started": c.started, "restartCount": c.restart_count,
                         "runningState": c.running_state, "runningStateDetails": c.details,
                         "logStreamEndpoint": f"{base}/containers/{c.name}/logstream",
                         "execEndpoint": f"{wss}/containers/{c.name}/exec",
                         "debugEndpoint": f"{wss}/debug?targetContainer={c.name}"})
            containers.append(item)
        return {"id": f"{app.id}/revisions/{rev.name}/replicas/{rep.name}", "name": rep.name,
                "type": "Microsoft.App/containerapps/revisions/replicas",
                "properties": {"createdTime": rep.created.strftime("%Y-%m-%dT%H:%M:%SZ"),
                               "runningState": rep.running_state, "runningStateDetails": "",
                               "containers": containers, "initContainers": []}}


class _Base(ResourceType):
    namespace = NAMESPACE

    def __init__(self, svc: AppService, bodies: Bodies) -> None:
        self.svc = svc
        self.bodies = bodies

    def _status_url(self, ctx: Ctx, location: str, kind: str, style: str = "Statuses"):  # noqa: ANN202
        sub = ctx.store.subscription_id
        query = f"?api-version={ctx.api_version}" + ("&azureAsyncOperation=true" if style == "Statuses" else "")
        return lambda op_id: (f"{ctx.platform.base_url}/subscriptions/{sub}/providers/Microsoft.App/locations/"
                              f"{location_key(location)}/{kind}Operation{style}/{op_id}{query}")

    @staticmethod
    def _publish(ctx: Ctx, resource_id: str, body: dict[str, Any]) -> dict[str, Any]:
        """Keep the platform index's copy (generic listing, cascade) equal to what GET answers."""
        res = ctx.store.get(resource_id)
        if res is not None:
            res.body = body
        return body

    def _env(self, rid: ResourceId) -> Environment:
        env = self.svc.env_by_id(rid.id)
        if env is None:
            raise ArmError(404, "ResourceNotFound",
                           f"The Resource 'Microsoft.App/managedEnvironments/{rid.name}' under resource group "
                           f"'{rid.resource_group}' was not found. For more details please go to "
                           "https://aka.ms/ARMResourceNotFoundFix")
        return env

    def _app(self, rid: ResourceId) -> ContainerApp:
        app = self.svc.apps.get(rid.id.lower())
        if app is None or app.deleted:
            raise ArmError(404, "ResourceNotFound",
                           f"The Resource 'Microsoft.App/containerApps/{rid.name}' under resource group "
                           f"'{rid.resource_group}' was not found. For more details please go to "
                           "https://aka.ms/ARMResourceNotFoundFix")
        return app


class ManagedEnvironments(_Base):
    type_name = "managedEnvironments"
    actions = {"getAuthToken": "get_auth_token"}

    def _sync(self, ctx: Ctx, env: Environment) -> dict[str, Any]:
        return self._publish(ctx, env.id, self.bodies.environment(env))

    def _answer(self, ctx: Ctx, env: Environment) -> dict[str, Any]:
        return shape_environment(self._sync(ctx, env), ctx.api_version)

    def get(self, ctx: Ctx, rid: ResourceId) -> Response:
        return Response.json(200, self._answer(ctx, self._env(rid)))

    def list(self, ctx: Ctx, parent: ResourceId | None, resource_group: str | None) -> list[dict[str, Any]]:
        envs = [e for e in self.svc.envs.values()
                if resource_group is None or e.rid.resource_group.lower() == resource_group.lower()]
        return [self._answer(ctx, e) for e in sorted(envs, key=lambda e: e.id.lower())]

    def _start(self, ctx: Ctx, env: Environment, seconds: float) -> Operation:
        def finish() -> None:
            if not env.deleted:
                self.svc.environment_provisioned(env)
                self._sync(ctx, env)

        return ctx.platform.operations.start(self._status_url(ctx, env.location, "managedEnvironment"), seconds,
                                             finish)

    def put(self, ctx: Ctx, rid: ResourceId, body: Any) -> Response:
        with ctx.platform.lock:
            env, created = self.svc.put_environment(rid, body, _principal(ctx))
            ctx.store.add(Resource(env.id, env.name, ENV_TYPE, rid.resource_group, env.location, {}, env,
                                   env.created))
            seconds = ctx.clock.duration("environment.create" if created else "app.update")
            op = self._start(ctx, env, seconds)
            # an update answers 201 too, body provisioningState "Updating" (recorded env_logs_e2e PUT)
            return Response.json(201, self._answer(ctx, env), ctx.platform.operations.async_headers(op))

    def patch(self, ctx: Ctx, rid: ResourceId, body: Any) -> Response:
        with ctx.platform.lock:
            env = self._env(rid)
            props = (body or {}).get("properties") or {}
            if (deep_merge(env.properties, props) == env.properties
                    and body.get("tags", env.tags) == env.tags and env.provisioning_state == "Succeeded"):
                # Recorded (env_logs_e2e, 2023-04-01-preview): a PATCH that changes nothing answers 200 with the
                # body and starts no operation.
                return Response.json(200, self._answer(ctx, env))
            env = self.svc.patch_environment(env, body, _principal(ctx))
            op = self._start(ctx, env, ctx.clock.duration("app.update"))
            if not _at_least(ctx.api_version, V2025):
                # Recorded: 202 with Location only, pointing at the operation's *status* URL.
                return Response.empty(202, ctx.platform.operations.location_headers(op))
            # Guess for 2025+ (not recorded): both headers, as a containerApps PATCH answers.
            return Response.empty(202, ctx.platform.operations.async_headers(op, location=True))

    def delete(self, ctx: Ctx, rid: ResourceId) -> Response:
        with ctx.platform.lock:
            env = self.svc.env_by_id(rid.id)
            if env is None:
                return Response.empty(204)
            env.provisioning_state = "Deleting"
            op = ctx.platform.operations.start(self._status_url(ctx, env.location, "managedEnvironment", "Results"),
                                               ctx.clock.duration("app.delete"),
                                               lambda: self.svc.remove_environment(env))
            op.extra["location_style"] = True
            return Response.empty(202, ctx.platform.operations.location_headers(op))

    def remove(self, ctx: Ctx, rid: ResourceId) -> None:
        env = self.svc.env_by_id(rid.id)
        if env is not None:
            self.svc.remove_environment(env)
        ctx.store.remove(rid.id)

    def get_auth_token(self, ctx: Ctx, rid: ResourceId, body: Any) -> Response:
        env = self._env(rid)
        token, expires = self.svc.auth_token(env)
        return Response.json(200, {"location": env.location, "properties": {"token": token, "expires": iso7(expires)},
                                   "id": env.id, "name": env.name, "type": "Microsoft.App/environments/accesstoken"})


class ContainerApps(_Base):
    type_name = "containerApps"
    actions = {"getAuthToken": "get_auth_token", "listSecrets": "list_secrets"}

    def _sync(self, ctx: Ctx, app: ContainerApp) -> dict[str, Any]:
        return self._publish(ctx, app.id, self.bodies.app(app))

    def _answer(self, ctx: Ctx, app: ContainerApp) -> dict[str, Any]:
        return shape_app(self._sync(ctx, app), ctx.api_version, app.ever_succeeded, self.bodies.app_stream(app))

    def get(self, ctx: Ctx, rid: ResourceId) -> Response:
        return Response.json(200, self._answer(ctx, self._app(rid)))

    def list(self, ctx: Ctx, parent: ResourceId | None, resource_group: str | None) -> list[dict[str, Any]]:
        apps = [a for a in self.svc.apps.values() if not a.deleted and
                (resource_group is None or a.rid.resource_group.lower() == resource_group.lower())]
        return [self._answer(ctx, a) for a in sorted(apps, key=lambda a: a.id.lower())]

    def _begin(self, ctx: Ctx, rid: ResourceId, body: dict[str, Any], current: ContainerApp | None) -> tuple[
            ContainerApp, bool, Operation]:
        spec = self.svc.validate_app(rid, body, current)
        storages.check_volumes(rid.name, spec.template, spec.env.storages)
        app, created = self.svc.begin_app(rid, spec, _principal(ctx))
        if created:
            ctx.store.add(Resource(app.id, app.name, APP_TYPE, rid.resource_group, app.location, {}, app,
                                   app.created))
        error = self.svc.validate_images(app, spec)
        seconds = ctx.clock.duration("app.validate" if error else ("app.create" if created else "app.update"))

        def finish() -> dict[str, Any] | None:
            outcome = self.svc.finish_app(app, spec, error, created)
            self._sync(ctx, app)
            return outcome

        op = ctx.platform.operations.start(self._status_url(ctx, app.location, "containerapp"), seconds, finish)
        return app, created, op

    def put(self, ctx: Ctx, rid: ResourceId, body: Any) -> Response:
        with ctx.platform.lock:
            current = self.svc.apps.get(rid.id.lower())
            current = current if current is not None and not current.deleted else None
            app, created, op = self._begin(ctx, rid, body, current)
            # an update answers 201 as a create does (recorded test_container_acr PUT on an existing app)
            return Response.json(201, self._answer(ctx, app), ctx.platform.operations.async_headers(op))

    def patch(self, ctx: Ctx, rid: ResourceId, body: Any) -> Response:
        with ctx.platform.lock:
            app = self._app(rid)
            current = {"location": app.location, "tags": app.tags, "identity": app.identity,
                       "properties": {"environmentId": app.env.id, "workloadProfileName": app.workload_profile,
                                      "configuration": {**app.configuration,
                                                        "secrets": [dict(s, name=n) for n, s in app.secrets.items()]},
                                      "template": app.template}}
            merged = deep_merge(current, body)
            _, _, op = self._begin(ctx, rid, merged, app)
            if not _at_least(ctx.api_version, V2025):
                # Recorded (test_container_acr, 2023-04-01-preview): 202 with Location only
                # (.../containerappOperationResults/{id}): 202 while running, then 200 with the app.
                version = ctx.api_version
                op.extra["location_style"] = True
                op.status_url = op.status_url.replace("OperationStatuses", "OperationResults").split("&azure")[0]
                op.final = lambda _op: Response.json(200, shape_app(self.bodies.app(app), version,
                                                                    app.ever_succeeded, self.bodies.app_stream(app)))
                return Response.empty(202, ctx.platform.operations.location_headers(op))
            return Response.empty(202, ctx.platform.operations.async_headers(op, location=True))

    def delete(self, ctx: Ctx, rid: ResourceId) -> Response:
        with ctx.platform.lock:
            app = self.svc.apps.get(rid.id.lower())
            if app is None or app.deleted:
                return Response.empty(204)
            self.svc.begin_delete_app(app)
            op = ctx.platform.operations.start(self._status_url(ctx, app.location, "containerapp", "Results"),
                                               ctx.clock.duration("app.delete"), lambda: self.svc.remove_app(app))
            op.extra["location_style"] = True
            return Response.empty(202, ctx.platform.operations.location_headers(op))

    def remove(self, ctx: Ctx, rid: ResourceId) -> None:
        app = self.svc.apps.get(rid.id.lower())
        if app is not None:
            self.svc.remove_app(app)
        ctx.store.remove(rid.id)

    def get_auth_token(self, ctx: Ctx, rid: ResourceId, body: Any) -> Response:
        app = self._app(rid)
        token, expires = self.svc.auth_token(app)
        return Response.json(200, {"location": app.location, "properties": {"token": token, "expires": iso7(expires)},
                                   "id": self.bodies.app(app)["id"], "name": app.name,
                                   "type": "Microsoft.App/containerApps/accesstoken"})

    def list_secrets(self, ctx: Ctx, rid: ResourceId, body: Any) -> Response:
        app = self._app(rid)
        value = [{"name": n, "value": s.get("value"), **({"keyVaultUrl": s["keyVaultUrl"]} if s.get("keyVaultUrl")
                                                          else {})} for n, s in app.secrets.items()]
        return Response.json(200, {"value": value})


class Revisions(_Base):
    type_name = "containerApps/revisions"
    actions = {"activate": "activate", "deactivate": "deactivate", "restart": "restart"}

    def _rev(self, rid: ResourceId) -> tuple[ContainerApp, Revision]:
        app = self._app(rid.parent())
        rev = app.revisions.get(rid.name)
        if rev is None:
            raise ArmError(404, "ContainerAppRevisionNotFound",
                           f"Revision '{rid.name}' was not found for container app '{app.name}'.")
        return app, rev

    def lookup(self, ctx: Ctx, rid: ResourceId) -> Any:
        return self._rev(rid)

    def get(self, ctx: Ctx, rid: ResourceId) -> Response:
        app, rev = self._rev(rid)
        return Response.json(200, shape_revision(self.bodies.revision(app, rev), ctx.api_version))

    def list(self, ctx: Ctx, parent: ResourceId | None, resource_group: str | None) -> list[dict[str, Any]]:
        if parent is None:
            return []
        app = self._app(parent)
        revs = sorted(app.revisions.values(), key=lambda r: r.created)
        return [shape_revision(self.bodies.revision(app, r), ctx.api_version) for r in revs]

    def activate(self, ctx: Ctx, rid: ResourceId, body: Any) -> Response:
        with ctx.platform.lock:
            app, rev = self._rev(rid)
            self.svc.activate(app, rev)
        return Response.empty(200)

    def deactivate(self, ctx: Ctx, rid: ResourceId, body: Any) -> Response:
        with ctx.platform.lock:
            app, rev = self._rev(rid)
            self.svc.deactivate(app, rev)
        return Response.empty(200)

    def restart(self, ctx: Ctx, rid: ResourceId, body: Any) -> Response:
        with ctx.platform.lock:
            app, rev = self._rev(rid)
            self.svc.restart(app, rev)
        return Response.empty(200)


class Replicas(_Base):
    type_name = "containerApps/revisions/replicas"

    def _revision(self, rid: ResourceId) -> tuple[ContainerApp, Revision]:
        return Revisions(self.svc, self.bodies)._rev(rid)

    def lookup(self, ctx: Ctx, rid: ResourceId) -> Any:
        return self.get(ctx, rid)

    def get(self, ctx: Ctx, rid: ResourceId) -> Response:
        app, rev = self._revision(rid.parent())
        for rep in rev.replicas:
            if rep.name == rid.name:
                return Response.json(200, shape_replica(self.bodies.replica(app, rev, rep), ctx.api_version))
        raise ArmError(404, "ContainerAppReplicaNotFound",
                       f"Replica '{rid.name}' was not found for revision '{rev.name}'.")

    def list(self, ctx: Ctx, parent: ResourceId | None, resource_group: str | None) -> list[dict[str, Any]]:
        if parent is None:
            return []
        app, rev = self._revision(parent)
        return [shape_replica(self.bodies.replica(app, rev, r), ctx.api_version) for r in rev.replicas]


class EnvironmentStorages(_Base):
    type_name = "managedEnvironments/storages"

    def _parent(self, rid: ResourceId) -> Environment:
        return self._env(rid.parent())

    def lookup(self, ctx: Ctx, rid: ResourceId) -> Any:
        return self._env(rid)

    def get(self, ctx: Ctx, rid: ResourceId) -> Response:
        env = self._parent(rid)
        spec = env.storages.get(rid.name)
        if spec is None:
            raise ArmError(404, "ManagedEnvironmentStorageNotFound",
                           f"Storage {rid.name} not found under managed environment")
        return Response.json(200, storages.storage_body(env.id, rid.name, spec))

    def put(self, ctx: Ctx, rid: ResourceId, body: Any) -> Response:
        with ctx.platform.lock:
            env = self._parent(rid)
            spec = storages.validate_storage(rid.name, body)
            for value in spec.values():
                ctx.platform.remember_secret(str(value.get("accountKey") or ""))
            env.storages[rid.name] = spec
            # Guess (not recorded): 200 with the storage, no operation
            return Response.json(200, storages.storage_body(env.id, rid.name, spec))

    def delete(self, ctx: Ctx, rid: ResourceId) -> Response:
        with ctx.platform.lock:
            env = self._parent(rid)
            in_use = [a.name for a in self.svc.apps_in(env) for v in (a.template.get("volumes") or [])
                      if (v or {}).get("storageName") == rid.name]
            if in_use:
                raise ArmError(409, "ManagedEnvironmentStorageInUse",  # guess: code and wording not captured
                               f"Storage {rid.name} is used by container app(s) {', '.join(sorted(set(in_use)))}.")
            return Response.empty(200 if env.storages.pop(rid.name, None) is not None else 204)

    def list(self, ctx: Ctx, parent: ResourceId | None, resource_group: str | None) -> list[dict[str, Any]]:
        if parent is None:
            return []
        env = self._env(parent)
        return [storages.storage_body(env.id, n, s) for n, s in sorted(env.storages.items())]


class SourceControls(_Base):
    """``containerApps/sourcecontrols``: see ``app/sourcecontrols.py`` for what is modelled and what is not."""

    type_name = "containerApps/sourcecontrols"

    def lookup(self, ctx: Ctx, rid: ResourceId) -> Any:
        return self._app(rid)

    def _existing(self, rid: ResourceId) -> tuple[ContainerApp, sourcecontrols.SourceControl]:
        app = self._app(rid.parent())
        sc = app.source_controls.get(rid.name.lower())
        if sc is None:  # guess: ARM's wording for a missing resource (a missing source control not captured)
            raise self.not_found(ResourceId.parse(f"{rid.parent().id}/sourcecontrols/{rid.name}"))
        return app, sc

    def _operation_url(self, ctx: Ctx, app: ContainerApp, name: str):  # noqa: ANN202
        # the REST spec's examples: Location .../sourcecontrols/<name>InOperationModel/operationresults/<id>
        return lambda op_id: (f"{ctx.platform.base_url}{app.id}/sourcecontrols/{name}InOperationModel/"
                              f"operationresults/{op_id}?api-version={ctx.api_version}")

    def get(self, ctx: Ctx, rid: ResourceId) -> Response:
        app, sc = self._existing(rid)
        return Response.json(200, sourcecontrols.body(app.id, sc))

    def put(self, ctx: Ctx, rid: ResourceId, body: Any) -> Response:
        for secret in sourcecontrols.secret_values(body):
            ctx.platform.remember_secret(secret)
        with ctx.platform.lock:
            app = self._app(rid.parent())
            sc = sourcecontrols.validate(app.name, rid.name, body)
            created = rid.name.lower() not in app.source_controls
            app.source_controls[rid.name.lower()] = sc

            def finish() -> dict[str, Any] | None:
                sc.operation_state = "Succeeded"
                ctx.platform.unmodelled(app.id, sourcecontrols.unmodelled_reason(sc))
                return None

            op = ctx.platform.operations.start(self._operation_url(ctx, app, rid.name),
                                               ctx.clock.duration("sourcecontrol.operation"), finish)
            op.extra["location_style"] = True
            op.final = lambda _op: Response.json(200, sourcecontrols.body(app.id, sc))
            # the spec: 201 (200 for an existing one) with the body, operationState InProgress, and a Location
            return Response.json(201 if created else 200, sourcecontrols.body(app.id, sc),
                                 ctx.platform.operations.location_headers(op))

    def delete(self, ctx: Ctx, rid: ResourceId) -> Response:
        with ctx.platform.lock:
            app = self._app(rid.parent())
            sc = app.source_controls.get(rid.name.lower())
            if sc is None:
                return Response.empty(204)  # the spec: "Container App SourceControl does not exist."

            def finish() -> dict[str, Any] | None:
                app.source_controls.pop(rid.name.lower(), None)
                return None

            op = ctx.platform.operations.start(self._operation_url(ctx, app, rid.name),
                                               ctx.clock.duration("sourcecontrol.operation"), finish)
            op.extra["location_style"] = True
            op.final = lambda _op: Response.empty(200)
            return Response.empty(202, ctx.platform.operations.location_headers(op))

    def list(self, ctx: Ctx, parent: ResourceId | None, resource_group: str | None) -> list[dict[str, Any]]:
        if parent is None:
            return []
        app = self._app(parent)
        return [sourcecontrols.body(app.id, sc) for _, sc in sorted(app.source_controls.items())]


def register(platform: Platform) -> AppService:
    svc = AppService(platform)
    bodies = Bodies(platform)
    for rt in (ManagedEnvironments(svc, bodies), ContainerApps(svc, bodies), Revisions(svc, bodies),
               Replicas(svc, bodies), EnvironmentStorages(svc, bodies), SourceControls(svc, bodies)):
        platform.register_type(rt)
    svc.streams = EventStreams(platform, svc)
    svc.streams.register()
    platform.services.extra["app"] = svc
    svc.edge = Edge(svc)
    platform.host_resolvers.append(svc.edge.resolve)
    platform.stop_hooks.append(svc.close)
    platform.settling_hooks.append(svc.settling)
    return svc
