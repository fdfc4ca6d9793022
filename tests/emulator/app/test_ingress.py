"""The edge: app, revision and label fqdns answered by real replicas, through the proxy and at direct URLs.

Every request here reaches a workload process through the emulator's own listeners on 127.0.0.1 (or
is refused by them); apps are driven through the real ``azure-mgmt-appcontainers`` client.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections import Counter
from typing import Any

import pytest
import requests
from app_helpers import Lab, python_image, wait_until, web_image

from pytest_acalab.emulator.app.ingress import HELD_HEADER, REFUSED, REQUEST_TIMED_OUT
from pytest_acalab.emulator.platform.services import ImageFiles
from pytest_acalab.probes import http as http_probe
from pytest_acalab.probes.http import request_statuses

ECHO = '''
import json, os, sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

class Handler(BaseHTTPRequestHandler):
    def _answer(self):
        length = int(self.headers.get("Content-Length") or 0)
        body = json.dumps({"image": NAME, "path": self.path, "host": self.headers.get("Host"),
                           "forwarded_for": self.headers.get("X-Forwarded-For"),
                           "proto": self.headers.get("X-Forwarded-Proto"),
                           "body": self.rfile.read(length).decode()}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("X-Workload", NAME)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = _answer

    def log_message(self, *args):
        pass

ThreadingHTTPServer(("0.0.0.0", 8000), Handler).serve_forever()
'''


def echo_image(name: str) -> ImageFiles:
    """A python:3.11-slim image whose server on 8000 answers JSON naming the image and what it received."""
    script = f"NAME = {name!r}\n{ECHO}".encode()
    config = {"config": {"Cmd": ["python", "server.py"], "WorkingDir": "/app",
                         "Labels": {"org.opencontainers.image.base.name": "python:3.11-slim"}}}
    return ImageFiles("sha256:" + hashlib.sha256(script).hexdigest(), config, {"app/server.py": (script, 0o644)})


IMAGE_ONE = "acrlab.azurecr.io/echo:one"
IMAGE_TWO = "acrlab.azurecr.io/echo:two"


@pytest.fixture
def echo(lab: Lab) -> Lab:
    lab.registry.content[IMAGE_ONE] = echo_image("one")
    lab.registry.content[IMAGE_TWO] = echo_image("two")
    return lab


def proxied(lab: Lab) -> requests.Session:
    """What a user's shell gets from ``acalab emulator env``: the proxy, the emulator's CA."""
    session = requests.Session()
    session.trust_env = False  # this machine's REQUESTS_CA_BUNDLE would override the session's CA
    session.proxies = {"https": lab.emu.proxy_url}
    session.verify = lab.emu.ca_bundle
    return session


def healthy(lab: Lab, app: str, revision: str) -> None:
    lab.revision_when(app, revision, lambda r: r.health_state == "Healthy" and r.running_state in (
        "Running", "RunningAtMaxScale"), f"{revision} healthy")


def edge_counts(lab: Lab, app: str) -> dict[str, dict[int, int]]:
    svc = lab.emu.platform.services.extra["app"]
    model = next(a for a in svc.apps.values() if a.name == app)
    return svc.edge.request_counts(model)


def two_revisions(lab: Lab, name: str, traffic: list[dict[str, Any]]) -> Any:
    """An app in multiple revision mode with revisions ``<name>--one`` and ``<name>--two`` both serving."""
    body = lab.app_body(IMAGE_ONE)
    body["properties"]["configuration"]["activeRevisionsMode"] = "Multiple"
    body["properties"]["template"]["revisionSuffix"] = "one"
    lab.client.container_apps.begin_create_or_update(lab.rg, name, body).result()
    healthy(lab, name, f"{name}--one")
    body["properties"]["template"]["containers"][0]["image"] = IMAGE_TWO
    body["properties"]["template"]["revisionSuffix"] = "two"
    body["properties"]["configuration"]["ingress"]["traffic"] = traffic
    app = lab.client.container_apps.begin_create_or_update(lab.rg, name, body).result()
    healthy(lab, name, f"{name}--two")
    return app


def test_the_app_fqdn_answers_from_its_replica_through_the_proxy_and_directly(echo: Lab) -> None:
    app = echo.create("web", IMAGE_ONE)
    healthy(echo, "web", app.latest_revision_name)
    fqdn = app.configuration.ingress.fqdn
    assert fqdn == f"web.{echo.env.default_domain}"

    via_proxy = proxied(echo).get(f"https://{fqdn}/hello?x=1", timeout=30)
    assert via_proxy.status_code == 200 and via_proxy.headers["X-Workload"] == "one"
    seen = via_proxy.json()
    assert seen["image"] == "one" and seen["path"] == "/hello?x=1"
    assert seen["host"] == fqdn and seen["proto"] == "https" and seen["forwarded_for"] == "127.0.0.1"

    direct = echo.emu.ingress_url(fqdn)
    assert direct.startswith("https://127.0.0.1:")
    posted = requests.post(direct + "/form", data=b"a=1&b=2", headers={"X-Forwarded-For": "203.0.113.7"},
                           verify=echo.emu.ca_bundle, timeout=30)
    answer = posted.json()
    assert posted.status_code == 200 and answer["body"] == "a=1&b=2" and answer["host"] == fqdn
    assert answer["forwarded_for"] == "203.0.113.7, 127.0.0.1"  # appended, as the ingress docs say
    assert edge_counts(echo, "web") == {app.latest_revision_name: {200: 2}}


def test_a_revision_fqdn_reaches_that_revision_only(echo: Lab) -> None:
    app = two_revisions(echo, "split", [{"revisionName": "split--one", "weight": 100},
                                        {"revisionName": "split--two", "weight": 0}])
    session = proxied(echo)
    domain = echo.env.default_domain
    assert app.latest_revision_fqdn == f"split--two.{domain}"
    assert {session.get(f"https://split--two.{domain}/", timeout=30).json()["image"] for _ in range(6)} == {"two"}
    assert {session.get(f"https://split--one.{domain}/", timeout=30).json()["image"] for _ in range(6)} == {"one"}
    assert {session.get(f"https://split.{domain}/", timeout=30).json()["image"] for _ in range(6)} == {"one"}


def test_a_50_50_split_sends_half_of_200_requests_to_each_revision(echo: Lab) -> None:
    two_revisions(echo, "canary", [{"revisionName": "canary--one", "weight": 50},
                                   {"revisionName": "canary--two", "weight": 50}])
    session = proxied(echo)
    url = f"https://canary.{echo.env.default_domain}/"
    answers = Counter(session.get(url, timeout=30).json()["image"] for _ in range(200))
    assert answers == {"one": 100, "two": 100}
    assert edge_counts(echo, "canary") == {"canary--one": {200: 100}, "canary--two": {200: 100}}


def test_an_80_20_split_is_exact_in_proportion(echo: Lab) -> None:
    two_revisions(echo, "weights", [{"revisionName": "weights--one", "weight": 80},
                                    {"revisionName": "weights--two", "weight": 20}])
    url = echo.emu.ingress_url(f"weights.{echo.env.default_domain}") + "/"
    answers = Counter(requests.get(url, verify=echo.emu.ca_bundle, timeout=30).json()["image"] for _ in range(50))
    assert answers == {"one": 40, "two": 10}


def test_a_label_fqdn_reaches_the_labelled_revision(echo: Lab) -> None:
    two_revisions(echo, "blue", [{"revisionName": "blue--one", "weight": 100, "label": "stable"},
                                 {"revisionName": "blue--two", "weight": 0, "label": "next"}])
    session = proxied(echo)
    domain = echo.env.default_domain
    assert {session.get(f"https://blue---next.{domain}/", timeout=30).json()["image"] for _ in range(4)} == {"two"}
    assert {session.get(f"https://blue---stable.{domain}/", timeout=30).json()["image"] for _ in range(4)} == {"one"}
    assert not echo.emu.serves(f"blue---nosuchlabel.{domain}")


def test_a_target_port_nobody_listens_on_is_answered_503_by_the_edge_and_recovers_in_place(echo: Lab) -> None:
    """The Guide's ingress-target-port-mismatch: flip targetPort on a serving revision, every request 503."""
    app = echo.create("ports", IMAGE_ONE)
    revision = app.latest_revision_name
    healthy(echo, "ports", revision)
    session = proxied(echo)
    url = f"https://{app.configuration.ingress.fqdn}/"
    assert session.get(url, timeout=30).status_code == 200

    echo.client.container_apps.begin_update(echo.rg, "ports", {
        "properties": {"configuration": {"ingress": {"targetPort": 9999}}}}).result()
    broken = [session.get(url, timeout=30) for _ in range(3)]
    assert [r.status_code for r in broken] == [503, 503, 503]
    assert broken[0].text == REFUSED and broken[0].headers["Content-Type"] == "text/plain"
    assert echo.client.container_apps.get(echo.rg, "ports").latest_revision_name == revision

    echo.client.container_apps.begin_update(echo.rg, "ports", {
        "properties": {"configuration": {"ingress": {"targetPort": 8000}}}}).result()
    wait_until(lambda: session.get(url, timeout=30).status_code == 200, "200 after the port is fixed", 30)
    counts = edge_counts(echo, "ports")[revision]
    assert counts[503] == 3 and counts[200] >= 2


def test_a_revision_with_no_ready_replica_holds_the_request_then_times_out(echo: Lab) -> None:
    """The process listens on 3000 behind targetPort 8000: no replica ever becomes ready. Azure held such
    requests past curl's 10 s (probe-and-port-mismatch); after the 240 s ingress timeout (Azure time, on
    the fast clock) the emulator answers Envoy's 504."""
    image = "acrlab.azurecr.io/web:port3000"
    echo.registry.content[image] = web_image(3000)
    app = echo.create("mismatch", image)
    echo.revision_json_when("mismatch", app.latest_revision_name,
                            lambda p: "does not match the listening port 3000" in str(p.get("runningStateDetails")),
                            "the port mismatch measured", 60)
    answer = proxied(echo).get(f"https://{app.configuration.ingress.fqdn}/", timeout=60)
    assert answer.status_code == 504 and answer.text == REQUEST_TIMED_OUT
    assert answer.headers[HELD_HEADER] == "240" and HELD_HEADER == http_probe.HELD_HEADER
    # a lab's client that gives up sooner (curl --max-time 10, in Azure time) records no answer, as in Azure;
    # one that would wait longer than the edge's hold sees the 504
    url, settings = f"https://{app.configuration.ingress.fqdn}/", {"https": echo.emu.proxy_url}
    assert request_statuses(url, 2, proxies=settings, verify=echo.emu.ca_bundle, gives_up_after=10) == [None, None]
    assert request_statuses(url, 1, proxies=settings, verify=echo.emu.ca_bundle, gives_up_after=300) == [504]


def test_single_revision_mode_keeps_the_old_revision_serving_until_the_new_one_is_ready(echo: Lab) -> None:
    app = echo.create("rolling", IMAGE_ONE)
    healthy(echo, "rolling", app.latest_revision_name)
    broken = "acrlab.azurecr.io/web:port3000"
    echo.registry.content[broken] = web_image(3000)
    echo.client.container_apps.begin_update(echo.rg, "rolling", {"properties": {"template": {
        "containers": [{"name": "app", "image": broken, "resources": {"cpu": 0.25, "memory": "0.5Gi"}}]}}}).result()
    new = echo.client.container_apps.get(echo.rg, "rolling").latest_revision_name
    assert new != app.latest_revision_name
    session = proxied(echo)
    assert {session.get(f"https://{app.configuration.ingress.fqdn}/", timeout=30).json()["image"]
            for _ in range(3)} == {"one"}


HELD = '''
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

released = threading.Event()

class Held(BaseHTTPRequestHandler):
    def do_GET(self):
        released.wait()  # answered once something connects to port 8001
        body = b"answered by the old revision"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass

class Release(BaseHTTPRequestHandler):
    def do_GET(self):
        released.set()
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args):
        pass

threading.Thread(target=ThreadingHTTPServer(("0.0.0.0", 8001), Release).serve_forever, daemon=True).start()
ThreadingHTTPServer(("0.0.0.0", 8000), Held).serve_forever()
'''


def test_a_request_in_flight_when_its_revision_is_replaced_is_answered_by_it(echo: Lab) -> None:
    """Single revision mode is "zero downtime": the old revision stops taking requests when the new one is
    ready, but answers the ones it already has (within the termination grace period) before its pod stops."""
    held = "acrlab.azurecr.io/held:one"
    echo.registry.content[held] = python_image(["python", "server.py"], {"server.py": HELD.encode()})
    app = echo.create("draining", held)
    old = app.latest_revision_name
    healthy(echo, "draining", old)
    svc = echo.emu.platform.services.extra["app"]
    model = next(a for a in svc.apps.values() if a.name == "draining")
    replica = model.revisions[old].replicas[0]
    answers: list[requests.Response] = []
    request = threading.Thread(target=lambda: answers.append(
        proxied(echo).get(f"https://{app.configuration.ingress.fqdn}/", timeout=120)))
    request.start()
    wait_until(lambda: replica.in_flight == 1, "the request to reach the old revision's replica")
    echo.client.container_apps.begin_update(echo.rg, "draining", {"properties": {"template": {
        "containers": [{"name": "app", "image": IMAGE_TWO, "resources": {"cpu": 0.25, "memory": "0.5Gi"}}]}}}).result()
    new = echo.client.container_apps.get(echo.rg, "draining").latest_revision_name
    echo.revision_when("draining", old, lambda r: not r.active, f"{old} deactivated once {new} is ready")
    pod = replica.draining
    assert pod is not None and replica.pod is None, "the old replica's pod was stopped with a request in it"
    assert proxied(echo).get(f"https://{app.configuration.ingress.fqdn}/", timeout=30).json()["image"] == "two"
    release = pod.connect(8001, 10)
    release.sendall(b"GET / HTTP/1.0\r\n\r\n")
    release.recv(64)
    release.close()
    request.join(60)
    assert [(a.status_code, a.text) for a in answers] == [(200, "answered by the old revision")]
    wait_until(lambda: replica.draining is None, "the drained pod to stop")
    assert pod.process.poll() is not None


def test_internal_ingress_does_not_resolve_from_outside_the_environment(echo: Lab) -> None:
    body = echo.app_body(IMAGE_ONE)
    body["properties"]["configuration"]["ingress"]["external"] = False
    app = echo.client.container_apps.begin_create_or_update(echo.rg, "private", body).result()
    healthy(echo, "private", app.latest_revision_name)
    fqdn = app.configuration.ingress.fqdn
    assert fqdn == f"private.internal.{echo.env.default_domain}"
    assert app.latest_revision_fqdn == f"{app.latest_revision_name}.internal.{echo.env.default_domain}"
    for host in (fqdn, f"private.{echo.env.default_domain}", app.latest_revision_fqdn,
                 f"{app.latest_revision_name}.{echo.env.default_domain}"):
        assert not echo.emu.serves(host)
        with pytest.raises(LookupError, match="does not resolve"):
            echo.emu.ingress_url(host)
    with pytest.raises(requests.exceptions.ProxyError, match="403"):
        proxied(echo).get(f"https://{fqdn}/", timeout=30)


def test_an_app_without_ingress_has_no_listener(echo: Lab) -> None:
    body = echo.app_body(IMAGE_ONE)
    del body["properties"]["configuration"]["ingress"]
    app = echo.client.container_apps.begin_create_or_update(echo.rg, "worker", body).result()
    assert app.configuration.ingress is None and not app.latest_revision_fqdn
    host = f"worker.{echo.env.default_domain}"
    assert not echo.emu.serves(host)
    with pytest.raises(requests.exceptions.ProxyError, match="403"):
        proxied(echo).get(f"https://{host}/", timeout=30)


def test_a_deleted_app_stops_resolving_and_its_listener_answers_nothing(echo: Lab) -> None:
    app = echo.create("gone", IMAGE_ONE)
    healthy(echo, "gone", app.latest_revision_name)
    fqdn = app.configuration.ingress.fqdn
    direct = echo.emu.ingress_url(fqdn)
    assert requests.get(direct, verify=echo.emu.ca_bundle, timeout=30).status_code == 200
    echo.client.container_apps.begin_delete(echo.rg, "gone").result()
    assert not echo.emu.serves(fqdn)
    with pytest.raises(requests.exceptions.ConnectionError):
        requests.get(direct, verify=echo.emu.ca_bundle, timeout=30)


def test_each_host_gets_a_certificate_for_its_exact_name(echo: Lab) -> None:
    import socket
    import ssl

    app = echo.create("certs", IMAGE_ONE)
    fqdn = app.configuration.ingress.fqdn
    port = int(echo.emu.ingress_url(fqdn).rsplit(":", 1)[1])
    ctx = ssl.create_default_context(cafile=echo.emu.ca_bundle)
    with socket.create_connection(("127.0.0.1", port), timeout=10) as raw, \
            ctx.wrap_socket(raw, server_hostname=fqdn) as tls:
        names = {value for kind, value in tls.getpeercert()["subjectAltName"]}
    assert fqdn in names and not any(n.startswith("*") for n in names)
    assert json.loads(proxied(echo).get(f"https://{fqdn}/", timeout=30).text)["image"] == "one"


def test_curl_in_a_shell_set_up_by_acalab_emulator_env_reaches_the_app(echo: Lab) -> None:
    """What the Guide's runbooks do after ``eval "$(acalab emulator env ...)"``: curl the app's fqdn."""
    import shutil
    import subprocess

    from pytest_acalab.emulator.connect import azure_cli_environment

    curl = shutil.which("curl")
    if curl is None:
        pytest.skip("curl is not installed")
    app = echo.create("shell", IMAGE_ONE)
    healthy(echo, "shell", app.latest_revision_name)
    env = {"PATH": "/usr/bin:/bin", **azure_cli_environment(echo.emu)}
    done = subprocess.run([curl, "-sS", "--max-time", "30", "-w", "\\n%{http_code}",
                           f"https://{app.configuration.ingress.fqdn}/"],
                          env=env, capture_output=True, text=True, timeout=60, check=False)
    body, _, code = done.stdout.rpartition("\n")
    assert done.returncode == 0 and code == "200", done.stderr
    assert json.loads(body)["image"] == "one"


CANARY_LAB = """\
title: Canary split
metadata: {difficulty: Beginner, duration: 1 min, tier: Consumption, failure_mode: broken canary}
infra:
  template: infra/main.json
  resources: {app: Microsoft.App/containerApps}
hypothesis:
  statement: IF half the traffic goes to a canary that never gets ready THEN about half the requests fail
  rows:
    - key: answers
      variable: Requests answered 200
      control: all
      experimental: about half
      failing:
        probe: http_endpoint
        with: {app: app, via: app, requests: 20, status: 200}
        expect: {count: {min: 8, max: 12}}
      recovered:
        probe: http_endpoint
        with: {app: app, via: app, requests: 20, status: 200}
        expect: {count: 20}
trigger: deployment
recovery: []
experiment_log:
  - {step: 1, action: Deploy, expected: It deploys, from: deploy}
"""


def test_http_endpoint_on_the_emulator_backend_measures_a_broken_canary(tmp_path, registry, logs) -> None:
    """The probe's own code path on the emulator backend: the app's real fqdn, the backend's proxy and CA."""
    import uuid

    from pytest_acalab.backends.clients import Clients
    from pytest_acalab.backends.emulator import EmulatorBackend
    from pytest_acalab.context import LabContext
    from pytest_acalab.extensions import builtin_vocabulary
    from pytest_acalab.labfile import load_lab
    from pytest_acalab.probes.checks import evaluate
    from pytest_acalab.reports.journal import Journal
    from pytest_acalab.reports.scrub import Scrubber

    (tmp_path / "infra").mkdir()
    (tmp_path / "infra" / "main.json").write_text('{"$schema": "https://schema.management.azure.com/schemas/'
                                                  '2019-04-01/deploymentTemplate.json#", "contentVersion": '
                                                  '"1.0.0.0", "resources": []}', encoding="utf-8")
    (tmp_path / "lab.yaml").write_text(CANARY_LAB, encoding="utf-8")
    lab_model = load_lab(tmp_path)
    backend = EmulatorBackend(profile="fast")
    try:
        emu = backend.emulator
        emu.platform.services.registry, emu.platform.services.logs = registry, logs
        registry.content[IMAGE_ONE] = echo_image("one")
        registry.content[IMAGE_TWO] = web_image(3000)  # the canary listens where ingress does not look
        lab = Lab(emu, registry, logs)
        body = lab.app_body(IMAGE_ONE)
        body["properties"]["configuration"]["activeRevisionsMode"] = "Multiple"
        body["properties"]["template"]["revisionSuffix"] = "stable"
        lab.client.container_apps.begin_create_or_update(lab.rg, "canary", body).result()
        healthy(lab, "canary", "canary--stable")
        body["properties"]["template"]["containers"][0]["image"] = IMAGE_TWO
        body["properties"]["template"]["revisionSuffix"] = "canary"
        body["properties"]["configuration"]["ingress"]["traffic"] = [
            {"revisionName": "canary--stable", "weight": 50}, {"revisionName": "canary--canary", "weight": 50}]
        lab.client.container_apps.begin_create_or_update(lab.rg, "canary", body).result()

        scrubber = Scrubber(backend.secrets())
        ctx = LabContext(lab=lab_model, backend=backend, clients=Clients(backend), resource_group=lab.rg,
                         deployment_name="main", location="koreacentral", run_id=uuid.uuid4().hex[:6],
                         journal=Journal(lab_model.id, scrubber), scrubber=scrubber, parameters={},
                         vocabulary=builtin_vocabulary())
        row = lab_model.row("answers")
        failing = evaluate(ctx, row.failing, default_within=60)
        assert failing.ok, failing.failure_message()

        lab.client.container_apps.begin_update(lab.rg, "canary", {"properties": {"configuration": {"ingress": {
            "traffic": [{"revisionName": "canary--stable", "weight": 100}]}}}}).result()
        recovered = evaluate(ctx, row.recovered, default_within=60)
        assert recovered.ok, recovered.failure_message()
    finally:
        backend.close()


def test_ingress_settings_the_edge_does_not_enforce_are_recorded_as_unmodelled(echo: Lab) -> None:
    """IP restrictions would make Azure answer 403 to this client: the emulator says it cannot tell."""
    body = echo.app_body(IMAGE_ONE)
    body["properties"]["configuration"]["ingress"]["ipSecurityRestrictions"] = [
        {"name": "office", "action": "Allow", "ipAddressRange": "198.51.100.0/24"}]
    app = echo.client.container_apps.begin_create_or_update(echo.rg, "guarded", body).result()
    scope = f"/subscriptions/{echo.emu.subscription_id}/resourceGroups/{echo.rg}"
    assert echo.emu.platform.unmodelled_under(scope) == []
    assert echo.emu.serves(app.configuration.ingress.fqdn)
    assert echo.emu.platform.unmodelled_under(scope) == [
        "ingress ipSecurityRestrictions are not enforced by the emulator's edge"]


def test_a_request_during_the_first_start_is_held_until_the_replica_answers(echo: Lab) -> None:
    """A cold start: the image is prepared and the process starts in real time; the edge waits for it."""
    echo.registry.content["acrlab.azurecr.io/echo:cold"] = echo_image("cold")
    app = echo.create("cold", "acrlab.azurecr.io/echo:cold")  # no wait for the revision: ask at once
    answer = proxied(echo).get(f"https://{app.configuration.ingress.fqdn}/", timeout=120)
    assert answer.status_code == 200 and answer.json()["image"] == "cold"
