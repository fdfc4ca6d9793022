"""``app_image``, ``image_tag`` and ``http_endpoint`` on payloads real Azure sent (tests/contract/data/SOURCES.md).

Each goes through the code path the live backend uses: the real ``ContainerAppsAPIClient`` /
``ContainerRegistryClient`` with a replaying transport, and for ``http_endpoint`` the probe's own
``requests`` session with an adapter that answers the recorded fqdn from a loopback server. The
registry emulator is then held to the recorded ACR answers for the same calls.
"""

from __future__ import annotations

import base64
import http.server
import json
import re
import socket
import threading
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import pytest
import requests
import urllib3
from acalab_replay import DATA, ReplayAdapter, ReplayTransport, StaticCredential, cassette, data, replay_context

from pytest_acalab.context import ResourceRef
from pytest_acalab.errors import ProbeSkipped
from pytest_acalab.probes import run_probe
from pytest_acalab.probes.apps import app_field, app_from_cli_projection, container_image
from pytest_acalab.probes.http import ingress_host

RG = "clitest.rg000001"
LOGIN = "yallacrtests.azurecr.io"  # the `service` of the recorded challenges
REPO, TAG = "repof04e3a43", "tagf04e3a43"


def proxy_entries(name: str) -> list[dict[str, Any]]:
    """Azure SDK test-proxy ``Entries`` as replay interactions (a list body is the raw text, in pieces)."""
    out = []
    for entry in json.loads((DATA / name).read_text(encoding="utf-8"))["Entries"]:
        body = entry["ResponseBody"]
        text = "".join(body) if isinstance(body, list) else ("" if body is None else json.dumps(body))
        headers = {k: v if isinstance(v, list) else [v] for k, v in entry["ResponseHeaders"].items()}
        out.append({"request": {"method": entry["RequestMethod"], "uri": entry["RequestUri"]},
                    "response": {"status": {"code": entry["StatusCode"]}, "headers": headers,
                                 "body": {"string": text}}})
    return out


class HeaderReplayAdapter(ReplayAdapter):
    """Also keeps each request's Authorization header, to see which token the SDK sent."""

    def __init__(self, interactions: list[dict[str, Any]]) -> None:
        super().__init__(interactions)
        self.auth: list[str | None] = []

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:
        self.auth.append(request.headers.get("Authorization"))
        return super().send(request, **kwargs)


def with_registry(ctx: Any, adapter: ReplayAdapter) -> None:
    """Give ``ctx`` a registry resource and the real ``ContainerRegistryClient`` on the replaying transport."""
    from azure.containerregistry import ContainerRegistryClient

    rid = f"/subscriptions/0/resourceGroups/{RG}/providers/Microsoft.ContainerRegistry/registries/yallacrtests"
    ctx.resources["registry"] = ResourceRef("registry", rid, "yallacrtests", "Microsoft.ContainerRegistry/registries",
                                            {"name": "yallacrtests", "properties": {"loginServer": LOGIN}})
    # as Clients.registry_data builds it, plus the transport
    ctx.clients._registry[LOGIN] = ContainerRegistryClient(
        ctx.backend.registry_endpoint(LOGIN), StaticCredential(), audience="https://management.azure.com",
        transport=ReplayTransport(adapter))


# ---- app_image -----------------------------------------------------------------------------------------

@pytest.mark.parametrize("name, index, app, image", [
    ("cassette-2023-app-gets.yaml", 0, "containerapp000003",
     "cad07930e8e0acr.azurecr.io/containerapp000003:20230615145719389960"),
    ("cassette-2023-app-gets.yaml", 1, "aca000003", "acr000004.azurecr.io:443/k8se/quickstart:latest"),
    ("cassette-2023-app-gets.yaml", 2, "containerapp-e2e000006", "mcr.microsoft.com/k8se/quickstart:latest"),
    ("cassette-2025-eventstream.yaml", 0, "capp000002", "mcr.microsoft.com/k8se/quickstart:latest"),
])
def test_app_image_from_recorded_app_gets(lab, name, index, app, image) -> None:
    recorded = cassette(name)[index]
    ctx, adapter = replay_context(lab, [recorded], resource_group=RG, app=app)
    obs = run_probe(ctx, "app_image", {"app": "app"}, deadline=2)
    assert obs.value == image and obs.source == "container_app"
    assert f"container '{app}' image {image}" in obs.excerpt
    assert adapter.requests == [("GET", adapter.requests[0][1])]
    assert urlsplit(adapter.requests[0][1]).path.endswith(f"/resourceGroups/{RG}/providers/Microsoft.App/"
                                                          f"containerApps/{app}")
    assert run_probe(ctx, "app_image", {"app": "app", "container": app}, deadline=2).value == image
    other = run_probe(ctx, "app_image", {"app": "app", "container": "sidecar"}, deadline=2)
    assert other.value is None and f"has no container 'sidecar' (has: {app})" in other.excerpt


def test_app_image_from_the_cli_show_projections() -> None:
    after = app_from_cli_projection(data("acr-pull-failure-09-containerapp-show-after-fix.json"))
    assert container_image(after)[0] == "acrlabacrrnnljl.azurecr.io/labacr:v1"
    assert app_field(after, "provisioningState") == "Succeeded"
    assert ingress_host(after) == "ca-labacr-rnnljl--mvlbg1j.blueflower-a74812c9.koreacentral.azurecontainerapps.io"
    assert app_field(after, "configuration.ingress.targetPort") == 8000
    before = app_from_cli_projection(data("acr-pull-failure-02-containerapp-show-baseline.json"))
    assert container_image(before)[0] == "acrlabacrrnnljl.azurecr.io/labacr:does-not-exist"
    assert ingress_host(before) is None and app_field(before, "latestRevisionName") is None
    with pytest.raises(ValueError, match="flattened"):
        app_from_cli_projection(json.loads(cassette("cassette-2023-app-gets.yaml")[0]["response"]["body"]["string"]))


# ---- image_tag -----------------------------------------------------------------------------------------

def test_image_tag_present_through_the_recorded_acr_token_flow(lab) -> None:
    entries = proxy_entries("acr-sdk-get-tag-properties.json")
    ctx, _ = replay_context(lab, [], resource_group=RG, app="unused")
    adapter = HeaderReplayAdapter(entries)
    with_registry(ctx, adapter)
    obs = run_probe(ctx, "image_tag", {"registry": "registry", "repository": REPO, "tag": TAG}, deadline=2)
    digest = "sha256:2498fce14358aa50ead0cc6c19990fc6ff866ce72aeb5546e1d59caac3d0d60f"
    assert obs.value == "present" and obs.source == "registry"
    assert obs.detail["digest"] == digest and f"{LOGIN}/{REPO}:{TAG} present ({digest})" in obs.excerpt
    # anonymous first, the 401 challenge, token exchange, then the GET with the recorded ACR access token
    assert [(m, urlsplit(u).path) for m, u in adapter.requests] == [
        ("GET", f"/acr/v1/{REPO}/_tags/{TAG}"), ("POST", "/oauth2/exchange"), ("POST", "/oauth2/token"),
        ("GET", f"/acr/v1/{REPO}/_tags/{TAG}")]
    assert adapter.auth[0] is None
    access = json.loads(entries[2]["response"]["body"]["string"])["access_token"]
    assert adapter.auth[-1] == f"Bearer {access}"


def test_image_tag_absent_on_the_recorded_404(lab) -> None:
    ctx, _ = replay_context(lab, [], resource_group=RG, app="unused")
    adapter = HeaderReplayAdapter(proxy_entries("acr-sdk-get-tag-properties-does-not-exist.json"))
    with_registry(ctx, adapter)
    obs = run_probe(ctx, "image_tag", {"registry": "registry", "repository": "Nonexistent", "tag": "Nonexistent"},
                    deadline=2)
    assert obs.value == "absent" and obs.source == "registry"
    assert obs.excerpt.startswith(f"{LOGIN}/Nonexistent:Nonexistent not found (404:")
    assert len(adapter.requests) == 1  # a 404 is final: no retry, no token exchange


# ---- the emulator against the recorded ACR answers -----------------------------------------------------

def _recorded(name: str) -> list[dict[str, Any]]:
    return json.loads((DATA / name).read_text(encoding="utf-8"))["Entries"]


def _challenge(header: str) -> tuple[str, dict[str, str]]:
    scheme, _, rest = header.partition(" ")
    return scheme, dict(re.findall(r'(\w+)="([^"]*)"', rest))


def _shape(value: Any) -> Any:
    """Keys and value types, recursively (values differ between registries, the shape must not)."""
    if isinstance(value, dict):
        return {k: _shape(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_shape(v) for v in value]
    return type(value).__name__


@pytest.fixture
def emulated(emu, group):
    """An emulated registry holding REPO:TAG, its endpoint and admin Basic auth."""
    from azure.mgmt.containerregistry import ContainerRegistryManagementClient

    from pytest_acalab.emulator.containerregistry import oci

    mgmt = ContainerRegistryManagementClient(emu.credential(), emu.subscription_id, polling_interval=0,
                                             **emu.client_kwargs())
    reg = mgmt.registries.begin_create(group, "acrcontract", {
        "location": "koreacentral", "sku": {"name": "Basic"}, "properties": {"adminUserEnabled": True}}).result()
    image = oci.assemble_image([oci.make_layer({"app/file": (b"x", 0o644)})], oci.ContainerConfig(cmd=["run"]),
                               [oci.HistoryEntry("COPY file")])
    emu.platform.services.extra["containerregistry"].by_host(reg.login_server).content.push_image(REPO, [TAG], image)
    password = mgmt.registries.list_credentials(group, reg.name).passwords[0].value
    auth = {"Authorization": "Basic " + base64.b64encode(f"{reg.name}:{password}".encode()).decode()}
    return reg.login_server, emu.registry_endpoint(reg.login_server), auth


def test_emulator_answers_the_tag_calls_as_acr_did(emu, emulated) -> None:
    login, endpoint, auth = emulated
    get_rec = _recorded("acr-sdk-get-tag-properties.json")
    tag_url = f"{endpoint}/acr/v1/{REPO}/_tags/{TAG}?api-version=2021-07-01"

    anonymous = requests.get(tag_url, verify=emu.ca_bundle)
    real = get_rec[0]
    assert anonymous.status_code == real["StatusCode"] == 401
    assert anonymous.headers["Content-Type"] == real["ResponseHeaders"]["Content-Type"]
    scheme, params = _challenge(anonymous.headers["WWW-Authenticate"])
    real_scheme, real_params = _challenge(real["ResponseHeaders"]["WWW-Authenticate"])
    assert scheme == real_scheme == "Bearer" and params.keys() == real_params.keys()
    assert params["scope"] == real_params["scope"] and params["service"] == login
    assert urlsplit(params["realm"]).path == urlsplit(real_params["realm"]).path == "/oauth2/token"
    assert anonymous.json() == json.loads("".join(real["ResponseBody"]))

    present = requests.get(tag_url, headers=auth, verify=emu.ca_bundle)
    real_body = json.loads("".join(get_rec[3]["ResponseBody"]))
    assert present.status_code == get_rec[3]["StatusCode"] == 200
    assert _shape(present.json()) == _shape(real_body)
    stamp = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{7}Z$")
    for body in (present.json(), real_body):
        assert re.fullmatch(r"sha256:[0-9a-f]{64}", body["tag"]["digest"])
        assert stamp.match(body["tag"]["createdTime"]) and stamp.match(body["tag"]["lastUpdateTime"])


def test_emulator_missing_tag_answers_match_acr(emu, emulated) -> None:
    _, endpoint, auth = emulated
    challenge, not_found = _recorded("acr-sdk-delete-tag-does-not-exist.json")
    url = f"{endpoint}/acr/v1/does_not_exist/_tags/does_not_exist?api-version=2021-07-01"
    anonymous = requests.delete(url, verify=emu.ca_bundle)
    assert anonymous.status_code == challenge["StatusCode"] == 401
    assert _challenge(anonymous.headers["WWW-Authenticate"])[1]["scope"] == "repository:does_not_exist:delete"
    assert anonymous.json() == json.loads("".join(challenge["ResponseBody"]))
    real_404 = json.loads("".join(not_found["ResponseBody"]))
    assert real_404 == {"errors": [{"code": "TAG_UNKNOWN", "message": "the specified tag does not exist"}]}
    for method, target in [("DELETE", url), ("GET", url),
                           ("GET", f"{endpoint}/acr/v1/{REPO}/_tags/nope?api-version=2021-07-01")]:
        answer = requests.request(method, target, headers=auth, verify=emu.ca_bundle)
        assert (answer.status_code, answer.json()) == (not_found["StatusCode"], real_404), (method, target)

    (invalid,) = _recorded("acr-sdk-get-tag-properties-does-not-exist.json")
    upper = requests.get(f"{endpoint}/acr/v1/Nonexistent/_tags/Nonexistent?api-version=2021-07-01",
                         verify=emu.ca_bundle)
    assert upper.status_code == invalid["StatusCode"] == 404
    assert upper.text == "".join(invalid["ResponseBody"]) and "WWW-Authenticate" not in upper.headers
    assert upper.headers["Content-Type"] == invalid["ResponseHeaders"]["Content-Type"]


# ---- http_endpoint -------------------------------------------------------------------------------------

class _Server(http.server.ThreadingHTTPServer):
    statuses: list[int]
    seen: list[tuple[str | None, str]]


@pytest.fixture
def loopback() -> Iterator[_Server]:
    """A loopback HTTP server answering scripted statuses and keeping (Host, path) of every GET."""

    class Handler(http.server.BaseHTTPRequestHandler):
        disable_nagle_algorithm = True

        def do_GET(self) -> None:
            server: _Server = self.server  # type: ignore[assignment]
            server.seen.append((self.headers.get("Host"), self.path))
            self.send_response(server.statuses.pop(0) if server.statuses else 200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    httpd = _Server(("127.0.0.1", 0), Handler)
    httpd.statuses, httpd.seen = [], []
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True)
    thread.start()
    yield httpd
    httpd.shutdown()
    httpd.server_close()


class LoopbackResolver(requests.adapters.HTTPAdapter):
    """Resolves the given hosts to the loopback server; every other name does not resolve (as urllib3 says it)."""

    def __init__(self, hosts: dict[str, int]) -> None:
        super().__init__()
        self.hosts = hosts
        self.urls: list[str] = []

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:
        self.urls.append(request.url or "")
        parts = urlsplit(request.url or "")
        port = self.hosts.get(parts.hostname or "")
        if port is None:
            reason = urllib3.exceptions.NameResolutionError(parts.hostname or "", None,
                                                            socket.gaierror(-2, "Name or service not known"))
            raise requests.ConnectionError(urllib3.exceptions.MaxRetryError(None, request.url, reason),
                                           request=request)
        request.headers["Host"] = parts.hostname or ""
        request.url = f"http://127.0.0.1:{port}{parts.path}" + (f"?{parts.query}" if parts.query else "")
        return super().send(request, **kwargs)


def _route(monkeypatch: pytest.MonkeyPatch, hosts: dict[str, int]) -> LoopbackResolver:
    adapter = LoopbackResolver(hosts)

    def session() -> requests.Session:
        s = requests.Session()
        s.mount("https://", adapter)
        s.mount("http://", adapter)
        return s

    monkeypatch.setattr("pytest_acalab.probes.http.http_session", session)
    return adapter


@pytest.mark.parametrize("name, index, app, fqdn", [
    ("cassette-2025-eventstream.yaml", 0, "capp000002",
     "capp000002--4to7hbs.orangehill-9c176bec.northcentralusstage.azurecontainerapps.io"),
    ("cassette-2023-eventstream.yaml", 0, "capp000002",
     "capp000002--eycvnxr.agreeablebeach-352ecd1d.eastus.azurecontainerapps.io"),
    ("cassette-2023-app-gets.yaml", 0, "containerapp000003",
     "containerapp000003--vb6pgmv.whitecliff-45e12ce5.eastus.azurecontainerapps.io"),
])
def test_http_endpoint_requests_the_recorded_fqdn(lab, monkeypatch, loopback, name, index, app,
                                                  fqdn) -> None:
    ctx, _ = replay_context(lab, [cassette(name)[index]], resource_group=RG, app=app)
    adapter = _route(monkeypatch, {fqdn: loopback.server_address[1]})
    loopback.statuses[:] = [200, 503, 404]
    obs = run_probe(ctx, "http_endpoint", {"app": "app", "path": "/healthz", "requests": 3}, deadline=2)
    assert obs.value == [200, 503, 404] and obs.source == "http"
    assert adapter.urls == [f"https://{fqdn}/healthz"] * 3
    assert loopback.seen == [(fqdn, "/healthz")] * 3
    assert obs.excerpt == f"GET https://{fqdn}/healthz: [200, 503, 404]"


def test_http_endpoint_status_keeps_only_those_answers(lab, monkeypatch, loopback) -> None:
    ctx, _ = replay_context(lab, [cassette("cassette-2025-eventstream.yaml")[0]], resource_group=RG,
                            app="capp000002")
    fqdn = "capp000002--4to7hbs.orangehill-9c176bec.northcentralusstage.azurecontainerapps.io"
    _route(monkeypatch, {fqdn: loopback.server_address[1]})
    loopback.statuses[:] = [200, 503, 200, 404]
    obs = run_probe(ctx, "http_endpoint", {"app": "app", "requests": 4, "status": 200}, deadline=2)
    assert obs.value == [200, 200] and "[200, 503, 200, 404]; answered 200: 2" in obs.excerpt
    loopback.statuses[:] = [200, 503, 404]
    obs = run_probe(ctx, "http_endpoint", {"app": "app", "status": [503, 404]}, deadline=2)
    assert obs.value == [503, 404]


def test_http_endpoint_without_ingress_requests_nothing(lab, monkeypatch) -> None:
    # the recorded app has ingress null and latestRevisionFqdn ""
    ctx, _ = replay_context(lab, [cassette("cassette-2023-app-gets.yaml")[2]], resource_group=RG,
                            app="containerapp-e2e000006")
    adapter = _route(monkeypatch, {})
    obs = run_probe(ctx, "http_endpoint", {"app": "app"}, deadline=2)
    assert obs.value == [] and "has no ingress fqdn" in obs.excerpt and adapter.urls == []


def test_http_endpoint_skips_when_the_recorded_fqdn_does_not_resolve(lab, monkeypatch) -> None:
    ctx, _ = replay_context(lab, [cassette("cassette-2025-eventstream.yaml")[0]], resource_group=RG,
                            app="capp000002")
    adapter = _route(monkeypatch, {})
    with pytest.raises(ProbeSkipped, match=r"^capp000002--4to7hbs\.orangehill-9c176bec\..* does not resolve"):
        run_probe(ctx, "http_endpoint", {"app": "app"}, deadline=2)
    assert len(adapter.urls) == 1
