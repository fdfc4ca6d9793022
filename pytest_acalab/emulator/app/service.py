"""Microsoft.App behaviour: environments and apps created, updated and deleted; revisions minted or
updated in place; the events both log surfaces carry (no HTTP here, replicas run in ``replicas``).

Transitions follow live captures: image validation when an image reference changes (case A), a new
revision only when the template changes, an app-scope change (ingress, traffic) applied to the same
revision with ``RevisionUpdate`` events, single-revision mode deactivating the older revisions.
"""

from __future__ import annotations

import copy
import random
import secrets
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from pytest_acalab.emulator.app import syslog
from pytest_acalab.emulator.app.metrics import MetricsStore
from pytest_acalab.emulator.app.replicas import Kubelet
from pytest_acalab.emulator.app.scaling import Autoscaler
from pytest_acalab.emulator.app.state import (
    GUID,
    WORDS_A,
    WORDS_B,
    ContainerApp,
    Environment,
    Revision,
    Spec,
    bad_request,
    deep_merge,
    iso7,
    location_key,
    parse_image,
    template_key,
    validation_detail,
)
from pytest_acalab.emulator.app.validation import AppValidator
from pytest_acalab.emulator.platform.clock import wall_at
from pytest_acalab.emulator.platform.errors import ArmError
from pytest_acalab.emulator.platform.resource_types import ResourceId
from pytest_acalab.emulator.platform.services import PullAuth, PullResult

if TYPE_CHECKING:
    from pytest_acalab.emulator.platform.core import Platform

# the service --------------------------------------------------------------------------------------
class AppService:
    """Every environment and app of one emulator, and the clockwork that moves them."""

    def __init__(self, platform: Platform) -> None:
        self.p = platform
        self.envs: dict[str, Environment] = {}
        self.apps: dict[str, ContainerApp] = {}
        self.token_key = secrets.token_bytes(32)
        self.streams: Any = None
        """The ``EventStreams`` serving this service (set by ``responses.register``)."""
        self.edge: Any = None
        """The ingress ``Edge`` serving the apps' host names (set by ``responses.register``)."""
        self.rng = random.Random()
        self.kubelet = Kubelet(self)
        self.validator = AppValidator(self)
        self.metrics = MetricsStore(self.p.clock.now)
        """Azure Monitor metrics measured from the replicas and the edge (served by ``insights.metrics``)."""
        self.scaler = Autoscaler(self)
        """KEDA and the HPA: revisions with scale rules get replicas added and removed."""

    def settling(self, scope: str) -> bool:
        """Whether a container of an app under ``scope`` is still starting (real time the clock cannot compress)."""
        now = time.monotonic()
        with self.p.lock:
            self.p.scheduler.run_due()
            for app in self.apps.values():
                if app.deleted or not app.id.lower().startswith(scope + "/"):
                    continue
                for rev in app.revisions.values():
                    if not rev.active:
                        continue
                    for rep in rev.current:
                        if rep.preparing or any(c.grace_until > now for c in rep.containers):
                            return True
                        undecided = not rep.pull_failed and not any(
                            c.process_running or c.crash_looping or c.unrunnable for c in rep.containers)
                        if undecided:  # scheduled, pulling or launching: the process is yet to exist
                            return True
        return False

    def close(self) -> None:
        """Stop every replica's processes (the emulator is stopping)."""
        with self.p.lock:
            for app in list(self.apps.values()):
                self.kubelet.stop_app(app)
            self.kubelet.close_draining()

    # helpers ----------------------------------------------------------------------------------
    def after(self, operation: str, fn: Callable[[float], None], due: float | None = None) -> None:
        """Run ``fn`` once ``operation`` has taken its time, counted from ``due`` (a past event) or now."""
        start = time.monotonic() if due is None else due
        self.p.scheduler.at(start + self.p.clock.duration(operation), fn)

    def env_by_id(self, env_id: str) -> Environment | None:
        env = self.envs.get(env_id.lower())
        return env if env is not None and not env.deleted else None

    def apps_in(self, env: Environment) -> list[ContainerApp]:
        return [a for a in self.apps.values() if a.env is env and not a.deleted]

    def _random_ip(self) -> str:
        return f"20.{self.rng.randint(1, 254)}.{self.rng.randint(0, 255)}.{self.rng.randint(1, 254)}"

    # environments -----------------------------------------------------------------------------
    def _logs_config(self, props: dict[str, Any], current: Environment | None) -> tuple[str | None, str | None,
                                                                                      str | None]:
        cfg = props.get("appLogsConfiguration") or {}
        destination = cfg.get("destination") or None
        if destination in ("none", ""):
            destination = None
        if destination not in (None, "log-analytics", "azure-monitor"):
            raise bad_request("InvalidRequestParameterWithDetails",
                              f"AppLogsConfiguration.Destination is invalid.  Destination '{destination}' is not "
                              "supported. Supported values are 'log-analytics', 'azure-monitor' or none.")
        if destination != "log-analytics":
            return destination, None, None
        la = cfg.get("logAnalyticsConfiguration") or {}
        customer_id = la.get("customerId")
        if not isinstance(customer_id, str) or not GUID.match(customer_id):
            raise bad_request("InvalidRequestParameterWithDetails",
                              "LogAnalyticsConfiguration.CustomerId is invalid.  CustomerId must be a GUID "
                              "without additional whiteSpace.")
        key = la.get("sharedKey")
        if not key and current is not None and current.customer_id == customer_id:
            key = current.shared_key  # an update may omit the key it already gave
        invalid = bad_request("InvalidRequestParameterWithDetails",
                              "LogAnalyticsConfiguration is invalid.  Must provide a valid LogAnalyticsConfiguration")
        if not key:
            raise invalid
        logs = self.p.services.logs
        if logs is not None and not logs.check_shared_key(customer_id, key):
            raise invalid
        return destination, customer_id, key

    def put_environment(self, rid: ResourceId, body: dict[str, Any], principal: str) -> tuple[Environment, bool]:
        """Validate and apply a PUT; the caller starts the LRO that ends with ``environment_provisioned``."""
        location = body.get("location")
        if not location:
            raise bad_request("LocationRequired", "The location property is required for this definition.")
        props = copy.deepcopy(body.get("properties") or {})
        current = self.env_by_id(rid.id)
        if current is not None and current.provisioning_state not in ("Succeeded", "Failed"):
            raise ArmError(409, "ManagedEnvironmentOperationInProgress",
                           f"Cannot modify Container Apps environment {rid.name} because another operation is "
                           "in progress.")
        destination, customer_id, key = self._logs_config(props, current)
        if key:
            self.p.remember_secret(key)
        la = (props.get("appLogsConfiguration") or {}).get("logAnalyticsConfiguration")
        if isinstance(la, dict):
            la["sharedKey"] = None
        if current is None:
            loc = location_key(str(location))
            word = self.rng.choice(WORDS_A) + self.rng.choice(WORDS_B)
            env = Environment(rid, str(location), body.get("tags"), props,
                              f"{word}-{secrets.token_hex(4)}.{loc}.azurecontainerapps.io", self._random_ip(),
                              [self._random_ip() for _ in range(4)], self.p.clock.now(), principal)
            self.envs[rid.id.lower()] = env
            created = True
        else:
            env = current
            env.properties, env.tags = props, body.get("tags", env.tags)
            env.provisioning_state = "Waiting"
            created = False
        env.destination, env.customer_id, env.shared_key = destination, customer_id, key
        env.provisioning_state = "Waiting" if created else "Updating"  # recorded: an update PUT shows Updating

        def initializing(_due: float) -> None:
            if env.provisioning_state == "Waiting":
                env.provisioning_state = "InitializationInProgress"

        self.p.scheduler.after(self.p.clock.duration("environment.create") / 3, initializing)
        return env, created

    def patch_environment(self, env: Environment, body: dict[str, Any], principal: str) -> Environment:
        merged: dict[str, Any] = {"location": env.location, "tags": body.get("tags", env.tags),
                  "properties": deep_merge(env.properties, body.get("properties") or {})}
        if "appLogsConfiguration" not in (body.get("properties") or {}) and env.shared_key:
            merged["properties"].setdefault("appLogsConfiguration", {}).setdefault(
                "logAnalyticsConfiguration", {})["sharedKey"] = env.shared_key
        env, _ = self.put_environment(env.rid, merged, principal)
        return env

    def environment_provisioned(self, env: Environment) -> None:
        env.provisioning_state = "Succeeded"

    def set_diagnostic_workspace(self, env_id: str, customer_id: str | None) -> None:
        """Route ``ContainerAppSystemLogs`` of an ``azure-monitor`` environment to a workspace (what a
        diagnostic setting with category ContainerAppSystemLogs does; Microsoft.Insights is not emulated)."""
        env = self.env_by_id(env_id)
        if env is None:
            raise KeyError(f"no managed environment {env_id!r}")
        env.diagnostic_customer_id = customer_id

    def remove_environment(self, env: Environment) -> None:
        for app in self.apps_in(env):
            self.remove_app(app)
        env.deleted = True
        self.envs.pop(env.id.lower(), None)
        self.p.store.remove(env.id)

    # container app lifecycle --------------------------------------------------------------------
    def validate_app(self, rid: ResourceId, body: dict[str, Any], current: ContainerApp | None) -> Spec:
        return self.validator.validate_app(rid, body, current)

    def begin_app(self, rid: ResourceId, spec: Spec, principal: str) -> tuple[ContainerApp, bool]:
        app = self.apps.get(rid.id.lower())
        created = app is None or app.deleted
        if created:
            app = ContainerApp(rid, spec.location, spec.env, self.p.clock.now(), principal)
            self.apps[rid.id.lower()] = app
        assert app is not None
        app.provisioning_state = "InProgress"
        app.modified = self.p.clock.now()
        if created:  # the 201 body already shows what was asked
            self._apply(app, spec)
        return app, created

    def changed_images(self, app: ContainerApp, spec: Spec) -> list[tuple[str, str]]:
        """(container, image) whose reference differs from the latest revision's (all on first create)."""
        base = app.revisions.get(app.latest_revision or "")
        before = {c["name"]: c["image"] for c in base.template["containers"]} if base else {}
        return [(c["name"], c["image"]) for c in spec.template["containers"] if before.get(c["name"]) != c["image"]]

    def pull_auth(self, app: ContainerApp | Spec, image: str) -> tuple[PullAuth, str | None]:
        """Credentials the app uses for ``image``'s registry, and the identity label (for messages)."""
        host = parse_image(image).host
        config = app.configuration
        for reg in config.get("registries") or []:
            if reg["server"].lower() != host:
                continue
            ident = reg.get("identity")
            if ident:
                if str(ident).lower() == "system":
                    return PullAuth(principal_id=app.identity.get("principalId")), "system"
                for uid, info in app.identity.get("userAssignedIdentities", {}).items():
                    if uid.lower() == str(ident).lower():
                        return PullAuth(principal_id=info["principalId"]), uid
                return PullAuth(), str(ident)
            secret = app.secrets.get(reg.get("passwordSecretRef") or "", {})
            return PullAuth(username=reg.get("username"), password=secret.get("value")), None
        return PullAuth(), None

    def check_pull(self, image: str, auth: PullAuth) -> PullResult:
        resolver = self.p.services.registry
        if resolver is None:
            return PullResult(True, size=32505856)
        return resolver.check_pull(parse_image(image).pull_reference, auth)

    def validate_images(self, app: ContainerApp, spec: Spec) -> dict[str, Any] | None:
        """Case A: the ARM error the LRO ends with when a changed image cannot be pulled now, else None."""
        fields = []
        for cname, image in self.changed_images(app, spec):
            auth, label = self.pull_auth(spec, image)
            result = self.check_pull(image, auth)
            if not result.ok:
                detail = validation_detail(image, result, auth, label)
                fields.append(f"Field 'template.containers.{cname}.image' is invalid with details: "
                              f"'Invalid value: \"{image}\": {detail}';")
        if not fields:
            return None
        return {"code": "ContainerAppOperationError",
                "message": f"Failed to provision revision for container app '{app.name}'. Error details: The "
                           f"following field(s) are either invalid or missing. {''.join(fields)}.."}

    def _apply(self, app: ContainerApp, spec: Spec) -> None:
        app.location, app.tags, app.identity = spec.location, spec.tags, spec.identity
        app.configuration, app.template = spec.configuration, spec.template
        app.secrets, app.workload_profile = spec.secrets, spec.workload_profile

    def finish_app(self, app: ContainerApp, spec: Spec, error: dict[str, Any] | None, created: bool) -> (
            dict[str, Any] | None):
        """The LRO's end: case A leaves the app Failed with no new revision; otherwise commit."""
        if app.deleted:
            return None
        previous = copy.deepcopy(app.configuration)
        self._apply(app, spec)
        if error is not None:
            app.provisioning_state = "Failed"
            return error
        base = app.revisions.get(app.latest_revision or "")
        template_changed = base is None or template_key(base.template) != template_key(spec.template)
        if template_changed:
            suffix = spec.template.get("revisionSuffix")
            name = f"{app.name}--{suffix}" if suffix else self._new_revision_name(app)
            if name in app.revisions:
                # Real: the LRO fails like case A, "Failed to provision revision for container app. Error
                # details: The following field(s) are either invalid or missing. Field
                # 'template.revisionsuffix' is invalid with details: 'Invalid value: <suffix>: revision with
                # suffix <suffix> already exists" (Azure/terraform-azurerm-avm-res-app-containerapp#115, names
                # elided there; microsoft/azure-container-apps#1278 names the suffix).
                app.provisioning_state = "Failed"
                taken = name.split("--", 1)[-1]
                return {"code": "ContainerAppOperationError",
                        "message": f"Failed to provision revision for container app '{app.name}'. Error details: "
                                   "The following field(s) are either invalid or missing. Field "
                                   f"'template.revisionsuffix' is invalid with details: 'Invalid value: "
                                   f"\"{taken}\": revision with suffix {taken} already exists';.."}
            if not created:
                self.emit(app, syslog.NORMAL, syslog.CONTAINER_APP_UPDATE, syslog.container_app_update(app.name))
            self._create_revision(app, name, spec.template)
        elif not created:
            self._update_in_place(app, previous)
        app.provisioning_state = "Succeeded"
        app.ever_succeeded = True
        if spec.configuration.get("ingress") and not spec.configuration["ingress"].get("traffic"):
            app.configuration["ingress"]["traffic"] = [{"weight": 100, "latestRevision": True}]
        return None

    def _new_revision_name(self, app: ContainerApp) -> str:
        alphabet = "abcdefghijklmnopqrstuvwxyz0123456789"
        while True:
            name = f"{app.name}--{''.join(self.rng.choice(alphabet) for _ in range(7))}"
            if name not in app.revisions:
                return name

    def _create_revision(self, app: ContainerApp, name: str, template: dict[str, Any]) -> Revision:
        rev = Revision(name, copy.deepcopy(template), self._revision_created(app), "")
        rev.template["revisionSuffix"] = template.get("revisionSuffix")
        rev.announce_app_ready = True
        app.revisions[name] = rev
        app.latest_revision = name
        self.emit(app, syslog.NORMAL, syslog.REVISION_CREATION, syslog.revision_creation(name), revision=name)
        self.kubelet.start_replicas(app, rev)
        return rev

    def _revision_created(self, app: ContainerApp) -> datetime:
        """A new revision's creation time: now, or the second after the app's newest revision when that is
        later. Azure answers ``createdTime`` to the second and an update takes it 15 s or more, so each new
        revision shows a later ``createdTime`` than the one before (the Practical Guide's observability-tracing
        lab checks exactly that); the fast clock squeezes an update into milliseconds, and without this two
        revisions would share a second and their order would be lost."""
        now = self.p.clock.now()
        newest = max((r.created for r in app.revisions.values()), default=None)
        if newest is not None and now.replace(microsecond=0) <= newest.replace(microsecond=0):
            return newest.replace(microsecond=0) + timedelta(seconds=1)
        return now

    def _update_in_place(self, app: ContainerApp, previous: dict[str, Any]) -> None:
        """An app-scope change: the active revisions are updated, no new revision is provisioned.

        A new ingress target port changes what the pods are probed on, so their replicas roll; a
        traffic change only moves the edge.
        """
        before = previous.get("ingress") or {}
        after = app.configuration.get("ingress") or {}
        active = [r for r in app.revisions.values() if r.active]
        now = time.monotonic()
        weights = {name: weight for name, weight in self.traffic_targets(app)}
        for rev in active:
            self.emit(app, syslog.NORMAL, syslog.REVISION_UPDATE, syslog.revision_updated(rev.name), revision=rev.name)
            if (not rev.became_ready and rev.progress_deadline is not None and now >= rev.progress_deadline
                    and not weights.get(rev.name)):
                # A revision past its deadline that an in-place update leaves without traffic shows Failed
                # from then on, no longer Degraded: the Practical Guide's traffic-routing-canary capture
                # (github.com/yeongseon/azure-container-apps-practical-guide, labs/traffic-routing-canary/
                # evidence, 13-revision-pre-fix-bad.json then 17-revision-list-post-fix.json, one capture).
                rev.rolling_update = True
        if before.get("traffic") != after.get("traffic") and after:
            for entry in self.traffic_targets(app):
                self.emit(app, syslog.NORMAL, syslog.REVISION_UPDATE,
                          syslog.traffic_weight(entry[1], entry[0]))
        if before.get("targetPort") != after.get("targetPort"):
            for rev in active:
                self.kubelet.roll(app, rev)

    def traffic_targets(self, app: ContainerApp) -> list[tuple[str, int]]:
        """``(revision, weight)`` for every revision the edge sends traffic to, labels ignored."""
        out: dict[str, int] = {}
        for entry in app.traffic() or []:
            name = app.latest_revision if entry.get("latestRevision") else entry.get("revisionName")
            if name:
                out[name] = out.get(name, 0) + int(entry.get("weight") or 0)
        return list(out.items())

    def revision_ready(self, app: ContainerApp, rev: Revision, due: float) -> None:
        if app.deleted or not rev.active or not rev.all_running or rev.became_ready:
            return
        rev.became_ready = True
        if not rev.ready_logged:
            rev.ready_logged = True
            self.emit(app, syslog.NORMAL, syslog.REVISION_READY, syslog.revision_ready(rev.name), revision=rev.name,
                      at=due)
        latest = app.revisions.get(app.latest_ready or "")
        if latest is None or latest.created <= rev.created:
            app.latest_ready = rev.name
        if app.single_mode and app.latest_revision == rev.name:
            others = [r for r in app.revisions.values() if r is not rev and r.active]
            if others:
                self.emit(app, syslog.NORMAL, syslog.REVISION_DEACTIVATING, syslog.revision_deactivating(app.name),
                          at=due)
                for other in others:
                    self.kubelet.deactivate(app, other, at=due)
        if rev.announce_app_ready:
            rev.announce_app_ready = False
            self.emit(app, syslog.NORMAL, syslog.CONTAINER_APP_READY, syslog.container_app_ready(app.name), at=due)

    # revision actions -----------------------------------------------------------------------------
    def deactivate(self, app: ContainerApp, rev: Revision, at: float | None = None) -> None:
        self.kubelet.deactivate(app, rev, at)

    def activate(self, app: ContainerApp, rev: Revision) -> None:
        self.kubelet.activate(app, rev)

    def restart(self, app: ContainerApp, rev: Revision) -> None:
        self.kubelet.restart(app, rev)

    def begin_delete_app(self, app: ContainerApp) -> None:
        app.provisioning_state = "Deleting"

    def remove_app(self, app: ContainerApp) -> None:
        app.deleted = True
        self.kubelet.stop_app(app)
        self.metrics.forget(app.id)
        self.apps.pop(app.id.lower(), None)
        self.p.store.remove(app.id)

    # events -------------------------------------------------------------------------------------
    def emit(self, app: ContainerApp, type_: str | None, reason: str, msg: str, *, revision: str | None = None,
             replica: str | None = None, container: str | None = None, count: int = 1,
             at: float | None = None, source: str | None = None, whole_seconds: bool = False) -> syslog.SystemEvent:
        """Record one system-log event on the app's and the environment's stream and in Log Analytics."""
        when = wall_at(at) if at is not None else self.p.clock.now()
        ev = syslog.SystemEvent(when, type_, reason, msg, app.name, revision, replica, container, app.env.name,
                                count=count, whole_seconds=whole_seconds)
        if source is not None:
            ev.source = source
        app.events.append(ev)
        app.env.events.append(ev)
        self._ingest(app.env, ev)
        return ev

    def _ingest(self, env: Environment, ev: syslog.SystemEvent) -> None:
        logs = self.p.services.logs
        if logs is None:
            return
        if env.destination == "log-analytics" and env.customer_id:
            logs.ingest(env.customer_id, syslog.LEGACY_TABLE, [syslog.legacy_row(ev)], ev.time)
        elif env.destination == "azure-monitor" and env.diagnostic_customer_id:
            row = syslog.resource_row(ev, location=env.location, resource_id=env.id,
                                      subscription_id=env.rid.subscription, tenant_id=self.p.store.tenant_id)
            logs.ingest(env.diagnostic_customer_id, syslog.RESOURCE_TABLE, [row], ev.time)

    # tokens ---------------------------------------------------------------------------------------
    def auth_token(self, target: ContainerApp | Environment) -> tuple[str, datetime]:
        now = int(time.time())
        expires = now + 3600
        loc = location_key(target.location)
        claims: dict[str, Any] = {"capp_sub": target.rid.subscription, "capp_rg": target.rid.resource_group}
        if isinstance(target, ContainerApp):
            claims["capp_name"] = target.name
        else:
            claims["kubeenv_name"] = target.name
        expiry = self.p.clock.now() + timedelta(seconds=3600)
        claims.update({"capp_jit_expiry": iso7(expiry), "nbf": now, "exp": expires, "iat": now,
                       "iss": "AzureContainerApps", "aud": f"https://{loc}.azurecontainerapps.dev"})
        token = self.p.identity.sign(claims, self.token_key)
        self.p.remember_secret(token)
        return token, expiry

    def check_token(self, token: str, subscription: str, group: str, name: str, env: bool) -> bool:
        claims = self.p.identity.verify(token, self.token_key)
        if claims is None or claims.get("iss") != "AzureContainerApps":
            return False
        key = "kubeenv_name" if env else "capp_name"
        return (str(claims.get("capp_sub", "")).lower() == subscription.lower()
                and str(claims.get("capp_rg", "")).lower() == group.lower()
                and str(claims.get(key, "")).lower() == name.lower())


