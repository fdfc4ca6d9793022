"""The load generator's bounds and report, against a real HTTP server on loopback (no emulator needed:
``run_load`` is what the ``load`` action runs once it has the app's URL and the backend's proxy)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from pytest_acalab.actions.load import LoadPlan, percentile, plan_from, run_load
from pytest_acalab.probes.http import HELD_HEADER


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    seen = 0
    lock = threading.Lock()


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def do_GET(self) -> None:
        with self.server.lock:
            self.server.seen += 1
        status = 500 if self.path.startswith("/error") else 504 if self.path.startswith("/held") else 200
        self.send_response(status)
        if self.path.startswith("/held"):  # what the emulator's edge sends after holding a request 240 s
            self.send_header(HELD_HEADER, self.path.removeprefix("/held/"))
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def server() -> Iterator[_Server]:
    srv = _Server(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    yield srv
    srv.shutdown()
    srv.server_close()


def url(srv: _Server, path: str = "/") -> str:
    return f"http://127.0.0.1:{srv.server_address[1]}{path}"


def test_a_request_bound_sends_exactly_that_many_and_reports_each(server: _Server) -> None:
    report = run_load(url(server), LoadPlan(concurrency=5, requests=37))
    assert report.sent == 37 == server.seen
    assert dict(report.statuses) == {200: 37} and not report.errors and len(report.latencies) == 37
    lat = report.data()["latency_ms"]
    assert 0 < lat["p50"] <= lat["p90"] <= lat["p99"] <= lat["max"]
    assert report.data()["statuses"] == {"200": 37}


def test_status_codes_are_counted_as_answered(server: _Server) -> None:
    report = run_load(url(server, "/error"), LoadPlan(concurrency=3, requests=9))
    assert dict(report.statuses) == {500: 9}


def test_an_answer_held_past_the_client_timeout_in_azure_time_is_a_timeout(server: _Server) -> None:
    report = run_load(url(server, "/held/240"), LoadPlan(concurrency=2, requests=4))
    assert not report.statuses and dict(report.errors) == {"timeout": 4}
    report = run_load(url(server, "/held/20"), LoadPlan(concurrency=2, requests=4))
    assert dict(report.statuses) == {504: 4}


def test_a_duration_bound_load_ends_when_stopped(server: _Server) -> None:
    stop = threading.Event()
    box = {}
    thread = threading.Thread(target=lambda: box.update(r=run_load(url(server), LoadPlan(concurrency=4, seconds=600),
                                                                   stop=stop)))
    thread.start()
    while server.seen < 20 and thread.is_alive():
        threading.Event().wait(0.01)
    stop.set()
    thread.join(60)
    assert not thread.is_alive() and box["r"].sent >= 20


def test_refused_connections_are_errors_not_answers() -> None:
    import socket

    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    report = run_load(f"http://127.0.0.1:{port}/", LoadPlan(concurrency=2, requests=4))
    assert report.sent == 4 and not report.statuses and sum(report.errors.values()) == 4


def test_a_load_that_nothing_answers_gives_up_instead_of_spinning() -> None:
    import socket

    from pytest_acalab.actions.load import UNANSWERED_LIMIT

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    # ten minutes of load asked for: the run ends once the unanswered limit is reached, with few requests sent
    report = run_load(f"http://127.0.0.1:{port}/", LoadPlan(concurrency=3, seconds=600))
    assert not report.statuses and UNANSWERED_LIMIT <= report.sent < UNANSWERED_LIMIT + 3


@pytest.mark.parametrize("args, words", [
    ({"app": "app"}, "a load needs a bound: 'requests' or 'duration'"),
    ({"app": "app", "requests": 10, "concurrency": 0}, "'concurrency' must be between 1 and 200, got 0"),
    ({"app": "app", "requests": 10, "rate": -1}, "'rate' must be positive"),
    ({"app": "app", "duration": "soon"}, "expected a duration like"),
])
def test_bad_arguments_say_what_is_wrong(args: dict[str, object], words: str) -> None:
    with pytest.raises(ValueError, match=words.replace("(", r"\(").replace(")", r"\)")):
        plan_from(args, lambda s: s / 10_000)


def test_duration_follows_the_clock_with_a_real_floor() -> None:
    assert plan_from({"duration": "90s"}, lambda s: s / 10_000).seconds == 1.0  # the fast clock: the floor
    assert plan_from({"duration": "90s"}, lambda s: s / 10).seconds == 9.0  # realistic at speed 10
    assert plan_from({"duration": "500ms"}, lambda s: s / 10_000).seconds == 0.5  # never longer than asked


def test_percentile_is_nearest_rank() -> None:
    assert percentile([], 50) is None
    assert percentile([1.0, 2.0, 3.0, 4.0], 50) == 2.0 and percentile([1.0, 2.0, 3.0, 4.0], 99) == 4.0
