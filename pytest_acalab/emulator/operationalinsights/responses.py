"""Log Analytics over HTTP: workspaces (ARM), the query API and the ingestion endpoints.

Routes on the emulator's main endpoint:

* ARM ``Microsoft.OperationalInsights/workspaces`` (PUT/GET/list/PATCH/DELETE, ``sharedKeys``,
  ``listKeys``, ``regenerateSharedKey``);
* the query API as ``api.loganalytics.io`` serves it, under ``/v1``: ``POST|GET
  /v1/workspaces/{customerId}/query``, ``POST|GET /v1/{workspaceResourceId}/query`` and
  ``POST /v1/$batch`` (bearer token from the emulator's authority);
* the HTTP Data Collector API, which Azure serves at ``https://{customerId}.ods.opinsights.azure.com
  /api/logs``: here ``POST /ods/{customerId}/api/logs?api-version=2016-04-01`` (SharedKey auth).

Query API errors not in query.py: an unknown workspace answers 404 ``PathNotFoundError`` "The requested
path does not exist" (what the service answers for a workspace id it does not know, per
Azure/azure-sdk-for-python#32798 and #45580). Data Collector errors use its ``{"Error", "Message"}``
body with the documented codes (MissingApiVersion, MissingLogType, InvalidLogType,
MissingContentType, UnsupportedContentType, InvalidDataFormat, InvalidAuthorization).
"""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

from pytest_acalab.emulator.platform.core import Platform
from pytest_acalab.emulator.platform.errors import ArmError
from pytest_acalab.emulator.platform.http import Request, Response
from pytest_acalab.emulator.platform.identity import LOG_ANALYTICS_AUDIENCES
from pytest_acalab.emulator.platform.resource_types import Ctx, ResourceId, ResourceType
from pytest_acalab.emulator.platform.store import Resource
from pytest_acalab.emulator.platform.validation import MAX_JSON_DEPTH
from pytest_acalab.emulator.platform.validation import loads as strict_json

from .models import WORKSPACE_TYPE, CollectorError, LogAnalytics, Workspace, shared_key_signature
from .query import LogQueryError, _kinds, _tokens, run_query

COLLECTOR_API_VERSION = "2016-04-01"


def _query_error(status: int, code: str, message: str, inner: dict[str, Any] | None = None) -> LogQueryError:
    error: dict[str, Any] = {"message": message, "code": code, "correlationId": str(uuid.uuid4())}
    if inner is not None:
        error["innererror"] = inner
    return LogQueryError(status, {"error": error})


def path_not_found() -> LogQueryError:
    return _query_error(404, "PathNotFoundError", "The requested path does not exist")


def bad_argument(inner_code: str, message: str) -> LogQueryError:
    return _query_error(400, "BadArgumentError", "The request had some invalid properties",
                        {"code": inner_code, "message": message})


def _shaped(body: dict[str, Any], api_version: str) -> dict[str, Any]:
    """Answers at 2020-08-01 carry ``properties.source: "Azure"`` first (log-analytics test_query.yaml,
    2021); the 2021-12-01-preview answers of 2023 do not. Later versions: guess (as 2021-12-01-preview)."""
    if api_version[:10] > "2020-08-01":
        return body
    return {**body, "properties": {"source": "Azure", **body["properties"]}}


class Workspaces(ResourceType):
    namespace = "Microsoft.OperationalInsights"
    type_name = "workspaces"
    actions = {"sharedKeys": "shared_keys", "listKeys": "shared_keys", "regenerateSharedKey": "regenerate"}

    def __init__(self, state: LogAnalytics) -> None:
        self.state = state

    def _model(self, ctx: Ctx, rid: ResourceId) -> Workspace:
        res = self.lookup(ctx, rid)
        return res.model

    def get(self, ctx: Ctx, rid: ResourceId) -> Response:
        return Response.json(200, _shaped(self._refresh(ctx, self._model(ctx, rid)), ctx.api_version))

    def _refresh(self, ctx: Ctx, ws: Workspace) -> dict[str, Any]:
        """The current body, also kept in the platform's index (generic listings read it)."""
        body = ws.body()
        res = ctx.store.get(ws.id)
        if res is not None:
            res.body = body
        return body

    def list(self, ctx: Ctx, parent: ResourceId | None, resource_group: str | None) -> list[dict[str, Any]]:
        items = ctx.store.of_type(self.full_type, resource_group)
        return [self._refresh(ctx, r.model) for r in sorted(items, key=lambda r: r.id.lower())]

    def put(self, ctx: Ctx, rid: ResourceId, body: dict[str, Any]) -> Response:
        p = ctx.platform
        group = p.require_group(rid.resource_group)
        canonical = (f"/subscriptions/{ctx.store.subscription_id}/resourceGroups/{group.name}"
                     f"/providers/{WORKSPACE_TYPE}/{rid.name}")
        existing = ctx.store.get(canonical)
        name = existing.name if existing is not None else rid.name
        if existing is not None:
            canonical = existing.id
        with p.lock:
            ws, created = self.state.create_or_update(canonical, name, group.name, body)
            if created or ws.provisioning_state == "Creating":
                ctx.store.add(Resource(ws.id, ws.name, WORKSPACE_TYPE, group.name, ws.location, ws.body(), ws,
                                       ws.created))

                def provisioned(_due: float, ws: Workspace = ws) -> None:
                    if ws.provisioning_state == "Creating":
                        ws.provisioning_state = "Succeeded"
                        self._refresh(ctx, ws)

                p.scheduler.after(ctx.clock.duration("workspace.create"), provisioned)
            body_out = self._refresh(ctx, ws)
        # 2023 capture (2021-12-01-preview): 201 Created + Location = the resource itself; an update answers
        # 200. The 2021 capture at 2020-08-01 (log-analytics test_query.yaml) has no Location header.
        if ctx.api_version[:10] <= "2020-08-01":
            return Response.json(201 if created else 200, _shaped(body_out, ctx.api_version))
        location = f"{p.base_url}{ws.id}?api-version={ctx.api_version}"
        return Response.json(201 if created else 200, body_out, {"Location": location})

    def patch(self, ctx: Ctx, rid: ResourceId, body: dict[str, Any]) -> Response:
        ws = self._model(ctx, rid)
        self.state.patch(ws, body)
        return Response.json(200, self._refresh(ctx, ws))

    def delete(self, ctx: Ctx, rid: ResourceId) -> Response:
        res = ctx.store.get(rid.id)
        if res is None or res.type.lower() != self.full_type.lower():
            return Response.empty(204)
        force = (ctx.request.query_ci("force") or "").lower() == "true"
        with ctx.platform.lock:
            self.state.delete(res.model, force=force)
            ctx.store.remove(res.id)
        return Response.empty(200)

    def remove(self, ctx: Ctx, rid: ResourceId) -> None:
        res = ctx.store.get(rid.id)
        if res is not None:
            self.state.delete(res.model, force=True)
        ctx.store.remove(rid.id)

    def shared_keys(self, ctx: Ctx, rid: ResourceId, body: Any) -> Response:
        return Response.json(200, self._model(ctx, rid).keys())

    def regenerate(self, ctx: Ctx, rid: ResourceId, body: Any) -> Response:
        """No body (azure-mgmt-loganalytics): both keys change; ``{"keyName": ...}``: that one."""
        ws = self._model(ctx, rid)
        key_name = body.get("keyName") if isinstance(body, dict) else None
        if key_name is None:
            self.state.regenerate(ws, "primary")
            return Response.json(200, self.state.regenerate(ws, "secondary"))
        return Response.json(200, self.state.regenerate(ws, key_name))


# -- the query API ------------------------------------------------------------------------------------


def parse_prefer(header: str | None) -> dict[str, str]:
    """``Prefer: wait=600,include-statistics=true,include-render=true`` as a dict (names lower-cased)."""
    out: dict[str, str] = {}
    for part in (header or "").replace(";", ",").split(","):
        name, _, value = part.strip().partition("=")
        if name:
            out[name.strip().lower()] = value.strip()
    return out


def render_of(query: str) -> dict[str, Any] | None:
    """The ``render`` operator's visualization (``| render timechart``), read from the query's tokens."""
    try:
        tokens = _tokens(query)
        bar = _kinds()["bar"]
    except Exception:  # noqa: BLE001 - a query the lexer cannot read has no visualization
        return None
    for i, token in enumerate(tokens[:-2]):
        if token.type == bar and tokens[i + 1].text.lower() == "render":
            return {"visualization": tokens[i + 2].text}
    return None


def last_operator(query: str) -> str | None:
    """The query's last tabular operator (``getschema`` in ``T | where x | getschema``), lower-cased."""
    try:
        tokens = _tokens(query)
        bar = _kinds()["bar"]
    except Exception:  # noqa: BLE001 - as above: no visualization
        return None
    bars = [i for i, t in enumerate(tokens[:-1]) if t.type == bar]
    return tokens[bars[-1] + 1].text.lower() if bars else None


class QueryApi:
    """``/v1/workspaces/{id}/query``, ``/v1/{resourceId}/query`` and ``/v1/$batch``."""

    def __init__(self, platform: Platform, state: LogAnalytics) -> None:
        self.p = platform
        self.state = state

    def register(self) -> None:
        p = self.p
        la = {"audiences": LOG_ANALYTICS_AUDIENCES, "service": "loganalytics"}
        p.route("GET POST", "/v1/workspaces/{workspace}/query", self.workspace_query, **la)  # type: ignore[arg-type]
        p.route("POST", "/v1/$batch", self.batch, **la)  # type: ignore[arg-type]
        p.route("GET POST", "/v1/{resource:path}/query", self.resource_query, **la)  # type: ignore[arg-type]

    # resolution ------------------------------------------------------------------------------------
    def _by_resource_id(self, resource_id: str) -> Workspace | None:
        try:
            rid = ResourceId.parse(resource_id)
        except ArmError:
            return None
        if rid.type_path.lower() != WORKSPACE_TYPE.lower():
            return None
        return self.state.get(rid.id)

    def _resolve(self, ref: str) -> Workspace | None:
        """A workspace named by customerId, ARM resource id or (qualified) name."""
        ref = (ref or "").strip()
        if ref.lower().startswith("/subscriptions/"):
            return self._by_resource_id(ref)
        ws = self.state.by_customer_id(ref)
        if ws is not None:
            return ws
        matches = [w for w in self.state.workspaces() if w.name.lower() == ref.lower()]
        return matches[0] if len(matches) == 1 else None

    # handlers ----------------------------------------------------------------------------------------
    @staticmethod
    def _request_body(req: Request) -> dict[str, Any]:
        if req.method == "GET":
            return {"query": req.query_ci("query"), "timespan": req.query_ci("timespan"),
                    "workspaces": [w for w in (req.query_ci("workspaces") or "").split(",") if w] or None}
        try:
            body = strict_json(req.body or b"{}")
        except (ValueError, UnicodeDecodeError):
            raise bad_argument("InvalidJson", "The request body is not valid JSON.") from None
        if not isinstance(body, dict):
            raise bad_argument("InvalidJson", "The request body must be a JSON object.")
        return body

    @staticmethod
    def _answer(fn: Any) -> Response:
        try:
            status, body, headers = fn()
        except LogQueryError as exc:
            return Response.json(exc.status, exc.body)
        return Response.json(status, body, headers)

    def workspace_query(self, req: Request, workspace: str) -> Response:
        def run() -> tuple[int, dict[str, Any], dict[str, str]]:
            ws = self.state.by_customer_id(workspace)
            if ws is None:
                raise path_not_found()
            return self.execute(ws, self._request_body(req), req.headers.get("Prefer"))
        return self._answer(run)

    def resource_query(self, req: Request, resource: str) -> Response:
        def run() -> tuple[int, dict[str, Any], dict[str, str]]:
            resource_id = "/" + resource.strip("/")
            ws = self._by_resource_id(resource_id)
            if ws is None:
                res = self.p.store.get(resource_id) if resource_id.lower().startswith("/subscriptions/") else None
                if res is None:
                    raise path_not_found()
                raise bad_argument("EMULATOR_UNSUPPORTED",
                                   f"Resource-centric queries are emulated for workspaces only, not for "
                                   f"'{res.type}'; query the workspace the resource sends its logs to.")
            return self.execute(ws, self._request_body(req), req.headers.get("Prefer"))
        return self._answer(run)

    def execute(self, ws: Workspace, body: dict[str, Any], prefer_header: str | None
                ) -> tuple[int, dict[str, Any], dict[str, str]]:
        """Run one query body against *ws*: (status, response body, response headers)."""
        query = body.get("query")
        timespan = body.get("timespan")
        if timespan is not None and not isinstance(timespan, str):
            raise bad_argument("InvalidTimespan", "The timespan must be an ISO 8601 string.")
        for ref in body.get("workspaces") or []:
            other = self._resolve(str(ref))
            if other is None:
                raise bad_argument("WorkspaceNotFound", f"The workspace '{ref}' could not be resolved.")
            if other is not ws:
                raise bad_argument("EMULATOR_UNSUPPORTED",
                                   "Cross-workspace queries (additional workspaces) are not emulated.")
        prefer = parse_prefer(prefer_header)
        started = time.perf_counter()
        try:
            result = run_query(ws.logs, query, timespan, self.p.clock.now())
        except RuntimeError:  # the workspace was deleted for good while the request was on its way
            if self.state.by_customer_id(ws.customer_id) is ws:
                raise
            raise path_not_found() from None
        elapsed = time.perf_counter() - started
        if isinstance(query, str) and "getschema" in query.lower() and last_operator(query) == "getschema":
            # the service names a getschema result after the operator (log-analytics/test_query.yaml)
            result["tables"][0]["name"] = "getschema"
        applied: list[str] = []
        if "wait" in prefer:
            applied.append(f"wait={prefer['wait']}")
        if prefer.get("include-statistics", "").lower() == "true":
            rows = result["tables"][0]["rows"]
            result["statistics"] = {"query": {
                "executionTime": round(elapsed, 6),
                "datasetStatistics": [{"tableRowCount": len(rows),
                                       "tableSize": len(json.dumps(rows, separators=(",", ":")))}],
            }}
            applied.append("include-statistics=true")
        if prefer.get("include-render", "").lower() == "true":
            render = render_of(query) if isinstance(query, str) and "render" in query.lower() else None
            if render is not None:
                result["render"] = render
            applied.append("include-render=true")
        headers = {"Preference-Applied": ",".join(applied)} if applied else {}
        return 200, result, headers

    def batch(self, req: Request) -> Response:
        def run() -> tuple[int, dict[str, Any], dict[str, str]]:
            body = self._request_body(req)
            requests = body.get("requests")
            if not isinstance(requests, list) or not requests:
                raise bad_argument("InvalidBatch", "The batch must have a non-empty 'requests' array.")
            return 200, {"responses": [self._batch_item(item) for item in requests]}, {}
        return self._answer(run)

    def _batch_item(self, item: Any) -> dict[str, Any]:
        item_id = item.get("id") if isinstance(item, dict) else None
        try:
            if not isinstance(item, dict) or not isinstance(item_id, str):
                raise bad_argument("InvalidBatch", "Each batch request needs a string 'id'.")
            path = str(item.get("path") or "/query")
            method = str(item.get("method") or "GET").upper()
            if path.rstrip("/").lower() != "/query" or method not in ("GET", "POST"):
                raise path_not_found()
            ws = self._resolve(str(item.get("workspace") or ""))
            if ws is None:
                raise path_not_found()
            headers = {str(k).lower(): str(v) for k, v in (item.get("headers") or {}).items()}
            status, result, out_headers = self.execute(ws, item.get("body") or {}, headers.get("prefer"))
            return {"id": item_id, "status": status, "headers": out_headers, "body": result}
        except LogQueryError as exc:
            return {"id": item_id, "status": exc.status, "body": exc.body}


# -- the HTTP Data Collector API ------------------------------------------------------------------------


class DataCollector:
    """``POST /ods/{customerId}/api/logs``: custom rows signed with a workspace's shared key."""

    def __init__(self, platform: Platform, state: LogAnalytics) -> None:
        self.p = platform
        self.state = state

    def register(self) -> None:
        self.p.route("POST", "/ods/{customer_id}/api/logs", self.post, auth=False)

    def post(self, req: Request, customer_id: str) -> Response:
        try:
            self._post(req, customer_id)
        except CollectorError as exc:
            return Response.json(exc.status, exc.body())
        return Response.empty(200)

    def _post(self, req: Request, customer_id: str) -> None:
        api_version = req.query_ci("api-version")
        if not api_version:
            raise CollectorError(400, "MissingApiVersion", "The API version wasn't specified.")
        if api_version != COLLECTOR_API_VERSION:
            raise CollectorError(400, "InvalidApiVersion",
                                 f"The API version '{api_version}' isn't recognized by the service; "
                                 f"use {COLLECTOR_API_VERSION}.")
        log_type = req.headers.get("Log-Type")
        if not log_type:
            raise CollectorError(400, "MissingLogType", "The required value log type wasn't specified.")
        content_type = req.headers.get("Content-Type")
        if not content_type:
            raise CollectorError(400, "MissingContentType", "The content type wasn't specified.")
        if content_type.split(";")[0].strip().lower() != "application/json":
            raise CollectorError(400, "UnsupportedContentType", "The content type wasn't set to application/json.")
        date = req.headers.get("x-ms-date")
        auth = req.headers.get("Authorization") or ""
        scheme, _, credential = auth.partition(" ")
        claimed, _, signature = credential.strip().partition(":")
        if scheme != "SharedKey" or not signature or not date:
            raise CollectorError(403, "InvalidAuthorization",
                                 "An invalid scheme was specified in the Authorization header: expected "
                                 "'SharedKey <workspace id>:<signature>' and an x-ms-date header.")
        ws = self.state.by_customer_id(customer_id)
        if ws is None or claimed.lower() != customer_id.lower():
            raise CollectorError(403, "InvalidAuthorization",
                                 "The service failed to authenticate the request. Verify that the workspace ID "
                                 "and connection key are valid.")
        expected = [shared_key_signature(k, len(req.body), content_type, date)
                    for k in (ws.primary_key, ws.secondary_key)]
        if signature not in expected:
            raise CollectorError(403, "InvalidAuthorization",
                                 "The service failed to authenticate the request. Verify that the workspace ID "
                                 "and connection key are valid.")
        try:
            records = strict_json(req.body, max_depth=MAX_JSON_DEPTH)
        except (ValueError, UnicodeDecodeError):
            raise CollectorError(400, "InvalidDataFormat", "The body is not valid JSON.") from None
        self.state.collect(ws.customer_id, log_type, records, req.headers.get("time-generated-field"),
                           self.p.clock.now())


def register(platform: Platform) -> None:
    state = LogAnalytics(platform.clock, platform.lock, platform.remember_secret)
    platform.services.logs = state
    platform.services.extra["log_analytics"] = state
    platform.register_type(Workspaces(state))
    QueryApi(platform, state).register()
    DataCollector(platform, state).register()
