"""The platform every resource provider stands on: routing, ARM semantics, auth, errors, time."""

from __future__ import annotations

import logging
import re
import tempfile
import threading
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from email.utils import formatdate
from pathlib import Path
from typing import Any

from pytest_acalab.emulator.platform import errors, validation
from pytest_acalab.emulator.platform.clock import Clock
from pytest_acalab.emulator.platform.errors import ArmError
from pytest_acalab.emulator.platform.faults import KINDS, Faults
from pytest_acalab.emulator.platform.hosts import APP_SUFFIX, PublicUrls, path_style
from pytest_acalab.emulator.platform.http import Headers, Request, Response
from pytest_acalab.emulator.platform.identity import ARM_AUDIENCES, Identity
from pytest_acalab.emulator.platform.lro import Operations
from pytest_acalab.emulator.platform.resource_types import Ctx, ResourceId, ResourceType
from pytest_acalab.emulator.platform.scheduler import Scheduler
from pytest_acalab.emulator.platform.services import Services
from pytest_acalab.emulator.platform.store import Store

log = logging.getLogger("pytest_acalab.emulator")
MANAGEMENT = "management"
_API_VERSION = re.compile(r"\d{4}-\d{2}-\d{2}(-[A-Za-z]+)?")
Handler = Callable[..., Response]
HostResolver = Callable[[str], Callable[[Request], Response] | None]
"""A host name → the dispatch function that serves it on a listener of its own, or None (not served)."""

# Real Azure namespaces this emulator does not implement: ARM answers NoRegisteredProviderFound for
# them, and InvalidResourceNamespace for names that are no namespace at all.
KNOWN_AZURE_NAMESPACES = {
    "microsoft.storage", "microsoft.web", "microsoft.keyvault", "microsoft.network", "microsoft.compute",
    "microsoft.sql", "microsoft.insights", "microsoft.managedidentity", "microsoft.containerservice",
    "microsoft.documentdb", "microsoft.servicebus", "microsoft.eventhub", "microsoft.cache",
    "microsoft.dbforpostgresql", "microsoft.cognitiveservices", "microsoft.apimanagement",
}


@dataclass
class Route:
    methods: frozenset[str]
    regex: re.Pattern[str]
    handler: Handler
    host: str
    auth: bool
    api_version: bool
    audiences: tuple[str, ...] = ARM_AUDIENCES
    service: str = "arm"


def _compile(pattern: str) -> re.Pattern[str]:
    out = ""
    for piece in re.split(r"(\{[^}]+\})", pattern):
        if piece.startswith("{"):
            name, _, kind = piece[1:-1].partition(":")
            out += f"(?P<{name}>.+)" if kind == "path" else f"(?P<{name}>[^/]+)"
        else:
            out += re.escape(piece)
    return re.compile(f"^{out}/?$", re.IGNORECASE)


class Platform:
    """State, time and HTTP semantics shared by every provider."""

    def __init__(self, clock: Clock, subscription_id: str, tenant_id: str, page_size: int = 100) -> None:
        self.clock = clock
        self.store = Store(subscription_id=subscription_id, tenant_id=tenant_id)
        self.scheduler = Scheduler(self.store.lock)
        self.faults = Faults()
        self.operations = Operations(clock, self.scheduler, self.faults)
        self.identity = Identity(tenant_id)
        self.services = Services()
        self.page_size = page_size
        self.urls = PublicUrls()
        """Where answers point: Azure's host names (cloud-faithful mode) or this emulator's loopback URL."""
        self.base_url = ""
        """ARM's base URL as written into answers (``self.urls.management``, set when the emulator starts)."""
        self.ingress: Handler = self._no_ingress
        """Answers requests for app FQDNs (``*.azurecontainerapps.io`` at any depth) that reach the main
        listener; the Container Apps runtime replaces it to serve its replicas."""
        self.registry_url: Callable[[str], str] = lambda login_server: self.base_url
        self.egress: Callable[[], tuple[str, int] | None] = lambda: None
        """Where a workload's outbound HTTPS goes: the emulator's CONNECT proxy (set when it starts)."""
        self.ca_bundle = ""
        """The PEM file of the CA a workload must trust to reach the emulator's Azure host names."""
        self._routes: list[Route] = []
        self._types: dict[str, ResourceType] = {}
        self._namespaces: dict[str, str] = {}
        self.secrets: set[str] = set()
        """Every secret value the emulator hands out; tests scan outputs for them."""
        self.state_dir: Path = Path(tempfile.gettempdir()) / "acalab-emulator"
        """Where providers keep files (unpacked images); the emulator points it at its own directory."""
        self.unmodelled_reasons: dict[str, list[str]] = {}
        """Resource id (lower case) -> what the emulator could not model for it, in plain words."""
        self.stop_hooks: list[Callable[[], None]] = []
        self.host_resolvers: list[HostResolver] = []
        """Providers that serve host names of their own (Container Apps: the apps' ingress fqdns); the
        emulator gives each such host a listener with its own certificate, and its proxy routes to it."""
        self.settling_hooks: list[Callable[[str], bool]] = []
        """``hook(scope)``: whether something under ``scope`` is still settling in real time (a process starting)."""
        self.traffic: Counter[tuple[str, str, str]] = Counter()
        """Requests from clients by (host name they were sent to, method, first path segment): what a run
        asks of each Azure service (ARM's request budget), and proof of which host names it used."""
        self.lock: threading.RLock = self.store.lock
        self.route("GET", "/{tenant}/v2.0/.well-known/openid-configuration", self.identity.openid_configuration,
                   auth=False)
        self.route("POST", "/{tenant}/oauth2/v2.0/token", self.identity.token, auth=False)
        self.route("GET", "/common/discovery/instance", self.identity.instance_discovery, auth=False)
        self.route("GET", "/acalab/registries/{login_server}", self._registry_endpoint)
        self.route("GET", "/acalab/unmodelled", self._unmodelled)
        self.route("GET", "/metadata/endpoints", self._metadata, auth=False)
        self.route("GET PUT", "/acalab/faults", self._faults_switch)
        self.route("GET", "/acalab/traffic", self._traffic)
        self.route("GET", "/acalab/clock", self._clock, auth=False)

    def _metadata(self, req: Request) -> Response:
        from pytest_acalab.emulator.platform.metadata import metadata_endpoints

        return metadata_endpoints(self.urls)(req)

    @staticmethod
    def _no_ingress(req: Request) -> Response:
        return Response.json(502, {"error": {
            "code": "NoIngress",
            "message": f"The pytest-acalab emulator has no ingress for '{req.authority}': it runs no workload "
                       "behind this app's FQDN."}})

    def _clock(self, req: Request) -> Response:
        """Emulator-only: how fast this emulator's clock runs, so an attached client scales its waits to it."""
        return Response.json(200, {"profile": self.clock.profile, "speed": self.clock.speed,
                                   "divisor": self.clock.divisor})

    def _registry_endpoint(self, req: Request, login_server: str) -> Response:
        """Where a registry's data plane listens (for clients attached to a standalone emulator)."""
        return Response.json(200, {"loginServer": login_server.lower(), "endpoint": self.registry_url(login_server)})

    def _unmodelled(self, req: Request) -> Response:
        """Emulator-only: what it could not model under ``?scope=<resource id>`` (for attached clients)."""
        scope = req.query_ci("scope") or ""
        if not scope.startswith("/subscriptions/"):
            raise ArmError(400, "InvalidRequestParameter", "The 'scope' query parameter must be a resource id.")
        return Response.json(200, {"reasons": self.unmodelled_under(scope), "settling": self.settling_under(scope)})

    def _traffic(self, req: Request) -> Response:
        """Emulator-only: the request counts of ``traffic`` (``?reset=true`` also clears them)."""
        with self.lock:
            rows = [{"host": h, "method": m, "path": p, "count": n} for (h, m, p), n in sorted(self.traffic.items())]
            if (req.query_ci("reset") or "").lower() == "true":
                self.traffic.clear()
        return Response.json(200, {"requests": rows})

    def _count(self, req: Request) -> None:
        if req.internal or req.path.lower().startswith("/acalab/"):
            return
        segment = next((p for p in req.path.split("/") if p), "").lower()
        loopback = not req.authority or req.authority in ("127.0.0.1", "localhost", "[::1]")
        host = "loopback" if loopback else req.authority
        with self.lock:
            self.traffic[(host, req.method, segment)] += 1

    def _faults_switch(self, req: Request) -> Response:
        """Emulator-only: read (GET) or set (PUT) the fault switch of a standalone emulator.

        PUT takes ``{"share", "kinds", "seed", "stall_then_fail", "retry_after", "teardown_scale_race"}`` (see
        ``Faults.configure``); authenticated like ARM; not under ``/subscriptions``, so never faulted itself."""
        if req.method == "PUT":
            body = req.json() or {}
            if not isinstance(body, dict):
                raise ArmError(400, "InvalidRequestContent", "The fault switch takes a JSON object.")
            try:
                self.faults.configure(float(body.get("share", 0.0)), tuple(body.get("kinds") or KINDS),
                                      int(body.get("seed", 0)), float(body.get("stall_then_fail", 0.0)),
                                      float(body.get("retry_after", 1.0)),
                                      float(body.get("teardown_scale_race", 0.0)))
            except (TypeError, ValueError) as exc:
                raise ArmError(400, "InvalidRequestContent", f"Invalid fault switch settings: {exc}") from None
        return Response.json(200, self.faults.as_dict())

    # registration ------------------------------------------------------------------------------
    def route(self, methods: str, pattern: str, handler: Handler, *, host: str = MANAGEMENT,
              auth: bool = True, api_version: bool = False, audiences: tuple[str, ...] = ARM_AUDIENCES,
              service: str = "arm") -> None:
        """Register an explicit route; ``host`` is ``management`` or ``registry``; ``audiences`` are the token
        audiences the endpoint accepts and ``service`` whose refusal it answers (``arm``, ``loganalytics``)."""
        self._routes.append(Route(frozenset(methods.upper().split()), _compile(pattern), handler, host, auth,
                                  api_version, audiences, service))

    def register_type(self, rt: ResourceType) -> None:
        self._types[rt.full_type.lower()] = rt
        self._namespaces[rt.namespace.lower()] = rt.namespace

    def resource_type(self, full_type: str) -> ResourceType | None:
        return self._types.get(full_type.lower())

    @property
    def namespaces(self) -> dict[str, str]:
        return dict(self._namespaces)

    def types_in(self, namespace: str) -> list[ResourceType]:
        return [t for t in self._types.values() if t.namespace.lower() == namespace.lower()]

    def unmodelled(self, resource_id: str, reason: str) -> None:
        """Record that the emulator cannot model something about ``resource_id`` (never a silent pass)."""
        with self.lock:
            reasons = self.unmodelled_reasons.setdefault(resource_id.lower(), [])
            if reason not in reasons:
                reasons.append(reason)

    def unmodelled_under(self, scope: str) -> list[str]:
        """Every recorded reason for resources at or below ``scope`` (e.g. a resource group's id)."""
        prefix = scope.lower().rstrip("/")
        with self.lock:
            return [r for rid, reasons in self.unmodelled_reasons.items()
                    if rid == prefix or rid.startswith(prefix + "/") for r in reasons]

    def settling_under(self, scope: str) -> bool:
        """Whether a resource under ``scope`` is still moving in real time, which the clock cannot compress."""
        return any(hook(scope.lower().rstrip("/")) for hook in list(self.settling_hooks))

    def stop(self) -> None:
        for hook in list(self.stop_hooks):
            hook()

    def remember_secret(self, value: str) -> str:
        if value:
            self.secrets.add(value)
        return value

    # dispatch ----------------------------------------------------------------------------------
    def dispatch(self, req: Request) -> Response:
        request_id = str(uuid.uuid4())
        correlation = req.headers.get("x-ms-correlation-request-id") or str(uuid.uuid4())
        self._count(req)
        try:
            self.scheduler.run_due()
            resp = self._dispatch(req)
        except ArmError as exc:
            resp = Response.json(exc.status, exc.body(), exc.headers)
        except RecursionError:
            log.warning("emulator handler nested too deeply for %s %s", req.method, req.path)
            resp = Response.json(400, validation.invalid_content(
                "The request nests too deeply to be processed.").body())
        except (TypeError, AttributeError) as exc:
            if not req.body or req.method not in ("PUT", "PATCH", "POST"):
                log.exception("emulator handler failed for %s %s", req.method, req.path)
                resp = Response.json(500, {"error": {"code": "InternalServerError",
                                                     "message": "Encountered internal server error."}})
            else:  # a body whose values have the wrong types, deeper than the checks at the door
                log.warning("emulator refused a wrongly typed body for %s %s: %s", req.method, req.path, exc)
                resp = Response.json(400, validation.invalid_content(
                    f"A value in the request has the wrong type: {exc}").body())
        except Exception:  # the emulator keeps serving whatever one handler did
            log.exception("emulator handler failed for %s %s", req.method, req.path)
            resp = Response.json(500, {"error": {"code": "InternalServerError",
                                                 "message": "Encountered internal server error."}})
        if resp.status:
            resp.headers["x-ms-request-id"] = request_id
            resp.headers["x-ms-correlation-request-id"] = correlation
            resp.headers["Date"] = formatdate(usegmt=True)
            if "x-ms-client-request-id" in req.headers:
                resp.headers["x-ms-client-request-id"] = req.headers["x-ms-client-request-id"]
        return resp

    def _fault(self, req: Request) -> Response | None:
        if req.internal or req.host != MANAGEMENT or not req.path.lower().startswith("/subscriptions"):
            return None
        kind = self.faults.draw()
        if kind is None:
            return None
        retry = self.faults.retry_headers()
        if kind == "429":
            return Response.json(429, {"error": {
                "code": "TooManyRequests",
                "message": "The request is being throttled as the limit has been reached for operation type - "
                           "Read_ObservationWindow_00:05:00. For more information, see - https://aka.ms/srpthrottlinglimits"}},
                retry)
        if kind == "503":
            return Response.json(503, {"error": {
                "code": "ServiceUnavailable",
                "message": "The service is currently unavailable. Please try again later."}},
                retry)
        if kind == "reset":
            return Response(0)
        return None

    def _dispatch(self, req: Request) -> Response:
        if req.host == MANAGEMENT and req.authority:
            if req.authority.endswith(APP_SUFFIX):
                return self.ingress(req)
            req.path = path_style(req.authority, req.path)
        fault = self._fault(req)
        if fault is not None:
            return fault
        if req.method in ("GET", "HEAD") and req.host == MANAGEMENT:
            op_resp = self._operation_poll(req)
            if op_resp is not None:
                return op_resp
        for route in self._routes:
            if route.host == MANAGEMENT and req.host != MANAGEMENT:
                continue
            if route.host != MANAGEMENT and req.host == MANAGEMENT:
                continue
            m = route.regex.match(req.path)
            if not m:
                continue
            if req.method not in route.methods and not (req.method == "HEAD" and "GET" in route.methods):
                continue
            if route.auth and not req.internal:
                req.principal = self.identity.authenticate(req, route.audiences, route.service)
            if route.api_version:
                self._check_api_version_format(req.query_ci("api-version"))
            return route.handler(req, **m.groupdict())
        if req.host == MANAGEMENT and req.path.lower().startswith("/subscriptions/"):
            return self._arm(req)
        return Response.json(404, {"error": {"code": "NotFound",
                                             "message": f"No route for {req.method} {req.path}."}})

    def _operation_poll(self, req: Request) -> Response | None:
        """Status (``...OperationStatuses/{id}``) and result (``...OperationResults/{id}``) URLs."""
        parts = [p for p in req.path.split("/") if p]
        if len(parts) < 3:
            return None
        kind = parts[-2].lower()
        if not (kind.endswith("operationstatuses") or kind.endswith("operationresults")):
            return None
        op = self.operations.get(parts[-1][-36:])
        if op is None:
            return None
        if not req.internal:
            req.principal = self.identity.authenticate(req)
        if kind.endswith("operationstatuses") and not op.extra.get("location_style"):
            return self.operations.status_response(op)
        return self.operations.location_response(op)

    # ARM generic resource dispatch --------------------------------------------------------------
    def _arm(self, req: Request) -> Response:
        if not req.internal:
            req.principal = self.identity.authenticate(req)
        api_version = req.query_ci("api-version")
        self._check_api_version_format(api_version)
        assert api_version is not None
        parts = [p for p in req.path.split("/") if p]
        self.check_subscription(parts[1])
        # /subscriptions/{s}/providers/{ns}/{type}  (list across the subscription)
        if len(parts) == 5 and parts[2].lower() == "providers":
            rt = self._type_or_error(parts[3], (parts[4],), api_version, req)
            ctx = Ctx(self, req, api_version)
            return self.page(req, rt.list(ctx, None, None))
        if len(parts) < 7 or parts[2].lower() != "resourcegroups" or parts[4].lower() != "providers":
            raise ArmError(404, "InvalidRequestUri", f"The request URI '{req.path}' is not valid.")
        group, namespace = parts[3], parts[5]
        ctx = Ctx(self, req, api_version)
        if len(parts) % 2 == 1:
            # a collection (list) or an action on the resource named before it: .../{type} or .../{name}/{last}
            last = parts[-1]
            owner = ResourceId.parse("/".join(parts[:-1])) if len(parts) > 7 else None
            types = (*(owner.types if owner else ()), last)
            collection = self.resource_type(f"{namespace}/{'/'.join(types)}")
            if collection is not None and req.method in ("GET", "HEAD"):
                self._check_version(collection, api_version, req)
                self.require_group(group)
                if owner is not None:
                    self._type_or_error(namespace, owner.types, api_version, req).lookup(ctx, owner)
                return self.page(req, collection.list(ctx, owner, group))
            if owner is None:
                raise self._unknown_type(namespace, types, api_version)
            self._missing_parent(namespace, owner.types, owner.names, group, owner)  # the last segment: an action
            rt = self._type_or_error(namespace, owner.types, api_version, req)
            self.require_group(group)
            method_name = {k.lower(): v for k, v in rt.actions.items()}.get(last.lower())
            if method_name is None or req.method != "POST":
                raise ArmError(404, "NotFound" if method_name is None else "MethodNotAllowed",
                               f"The action '{last}' is not supported on '{rt.full_type}'." if method_name is None
                               else f"The requested resource does not support http method '{req.method}'.")
            return getattr(rt, method_name)(ctx, owner, req.json())
        rid = ResourceId.parse(req.path)
        types = rid.types
        self._missing_parent(namespace, types, rid.names, group, rid)
        rt = self._type_or_error(namespace, types, api_version, req)
        self.require_group(group)
        if req.method in ("GET", "HEAD"):
            return rt.get(ctx, rid)
        if req.method == "PUT":
            return rt.put(ctx, rid, validation.check_resource_body(req.json()))
        if req.method == "PATCH":
            return rt.patch(ctx, rid, validation.check_resource_body(req.json()))
        if req.method == "DELETE":
            return rt.delete(ctx, rid)
        raise rt.method_not_allowed(req.method)

    @staticmethod
    def _check_api_version_format(api_version: str | None) -> None:
        if not api_version:
            raise errors.missing_api_version()
        if not _API_VERSION.fullmatch(api_version):
            raise ArmError(400, "InvalidApiVersionParameter",
                           f"The api-version '{api_version}' is invalid. The supported versions are "
                           "'yyyy-mm-dd' dates, optionally with a '-preview' suffix. "
                           "Please see https://aka.ms/api-versions for more details.")

    def _unknown_type(self, namespace: str, types: tuple[str, ...], api_version: str) -> ArmError:
        if namespace.lower() in self._namespaces:
            return errors.invalid_resource_type("/".join(types), self._namespaces[namespace.lower()], api_version)
        if namespace.lower() in KNOWN_AZURE_NAMESPACES:
            return ArmError(
                400, "NoRegisteredProviderFound",
                f"No registered resource provider found for location 'global' and API version '{api_version}' "
                f"for type '{'/'.join(types)}'. The supported api-versions are ''. The supported locations are ''.")
        return errors.invalid_resource_namespace(namespace)

    def _missing_parent(self, namespace: str, types: tuple[str, ...], names: tuple[str, ...], group: str,
                        rid: ResourceId) -> None:
        """A path under a resource that does not exist is that resource's 404, whatever follows it
        (recorded: GET .../managedEnvironments/subscriptions/... answers ResourceNotFound for
        'Microsoft.App/managedEnvironments/subscriptions')."""
        if len(types) < 2 or self.resource_type(f"{namespace}/{'/'.join(types)}") is not None:
            return
        top = self.resource_type(f"{namespace}/{types[0]}")
        if top is None:
            return
        top_id = ResourceId(rid.subscription, group, namespace, types[:1], names[:1])
        if self.store.get(top_id.id) is None:
            raise errors.resource_not_found(top.full_type, names[0], group)

    def _type_or_error(self, namespace: str, types: tuple[str, ...], api_version: str, req: Request) -> ResourceType:
        rt = self.resource_type(f"{namespace}/{'/'.join(types)}")
        if rt is None:
            raise self._unknown_type(namespace, types, api_version)
        self._check_version(rt, api_version, req)
        return rt

    @staticmethod
    def _check_version(rt: ResourceType, api_version: str, req: Request) -> None:
        if rt.api_versions and api_version not in rt.api_versions:
            raise errors.invalid_api_version(api_version, rt.full_type, list(rt.api_versions))

    def check_subscription(self, subscription: str) -> None:
        if subscription.lower() != self.store.subscription_id.lower():
            raise ArmError(404, "SubscriptionNotFound", f"The subscription '{subscription}' could not be found.")

    def require_group(self, name: str):
        group = self.store.group(name)
        if group is None:
            raise errors.resource_group_not_found(name)
        return group

    def page(self, req: Request, items: list[dict[str, Any]]) -> Response:
        """One page of ``items`` with ARM's ``nextLink`` (``$skiptoken`` is an offset here)."""
        try:
            start = int(req.query_ci("$skiptoken") or 0)
        except ValueError:
            raise ArmError(400, "InvalidSkipToken", "The provided skip token is invalid.") from None
        top = req.query_ci("$top")
        size = min(self.page_size, int(top)) if top and top.isdigit() and int(top) > 0 else self.page_size
        chunk = items[start:start + size]
        body: dict[str, Any] = {"value": chunk}
        if start + size < len(items):
            query = "&".join(f"{k}={v}" for k, v in req.query.items() if k.lower() != "$skiptoken")
            body["nextLink"] = f"{self.base_url}{req.path}?{query}&$skiptoken={start + size}"
        return Response.json(200, body)

    # in-process calls -------------------------------------------------------------------------
    def call(self, method: str, path: str, body: Any = None, api_version: str | None = None,
             principal: dict[str, Any] | None = None) -> Response:
        """Send a request to the emulator from inside it (template deployments use this), skipping auth."""
        import json

        target = path if api_version is None else f"{path}{'&' if '?' in path else '?'}api-version={api_version}"
        raw = json.dumps(body).encode() if body is not None else b""
        req = Request.build(method, target, Headers([("Content-Type", "application/json")]), raw, MANAGEMENT)
        req.internal = True
        req.principal = principal
        return self.dispatch(req)

