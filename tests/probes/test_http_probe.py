"""``http_endpoint``: statuses from a loopback server; unreachable or unresolvable hosts skip."""

from __future__ import annotations

import http.server
import socket
import threading
from collections.abc import Iterator

import pytest

from pytest_acalab.errors import ProbeSkipped
from pytest_acalab.probes.http import ingress_host, request_statuses


@pytest.fixture
def server() -> Iterator[str]:
    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200 if self.path == "/" else 404)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


def test_statuses_of_each_request(server) -> None:
    assert request_statuses(server + "/", 3) == [200, 200, 200]
    assert request_statuses(server + "/missing", 2) == [404, 404]


def test_unreachable_host_skips() -> None:
    with socket.socket() as sock:  # a port nobody listens on once closed
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with pytest.raises(ProbeSkipped, match="not reachable"):
        request_statuses(f"http://127.0.0.1:{port}/", 1, timeout=2)


def test_host_prefers_the_latest_revision_fqdn() -> None:
    app = {"properties": {"latestRevisionFqdn": "ca--rev.example.io",
                          "configuration": {"ingress": {"fqdn": "ca.example.io"}}}}
    assert ingress_host(app) == "ca--rev.example.io"
    app["properties"]["latestRevisionFqdn"] = None
    assert ingress_host(app) == "ca.example.io"
    assert ingress_host({"properties": {}}) is None


def test_host_via_app_is_the_app_fqdn_which_follows_the_traffic_split() -> None:
    app = {"properties": {"latestRevisionFqdn": "ca--rev.example.io",
                          "configuration": {"ingress": {"fqdn": "ca.example.io"}}}}
    assert ingress_host(app, via="app") == "ca.example.io"
    app["properties"]["configuration"]["ingress"]["fqdn"] = None
    assert ingress_host(app, via="app") == "ca--rev.example.io"
