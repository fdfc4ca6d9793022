"""The emulator's HTTP layer under malformed, stalled and bursty clients, over raw TLS sockets.

A corpus of malformed requests, each with the status and error code the emulator must answer (JSON
in ARM's shape on the management host, in the registry's shape on a registry host, never HTML, never
silence); stalled clients are cut off by the read and handshake timeouts (shortened here so the test
is quick, which changes no behaviour); a burst of connections beyond the thread bound is served, not
refused. Every connection thread is gone afterwards.
"""

from __future__ import annotations

import json
import socket
import ssl
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest

from pytest_acalab.emulator import Emulator
from pytest_acalab.emulator.platform import server

REGISTRY = "hardening.azurecr.io"


@pytest.fixture(scope="module")
def hardened() -> Iterator[Emulator]:
    """An emulator whose stall timeouts are short: the behaviour under test, without the wait."""
    saved = (server.READ_TIMEOUT, server.HANDSHAKE_TIMEOUT)
    server.READ_TIMEOUT, server.HANDSHAKE_TIMEOUT = 0.5, 0.5
    try:
        with Emulator(profile="fast") as emu:
            emu.registry_endpoint(REGISTRY)
            yield emu
    finally:
        server.READ_TIMEOUT, server.HANDSHAKE_TIMEOUT = saved


def _port(emu: Emulator, host: str) -> int:
    assert emu._server is not None
    port = emu._server.port_of(host)
    assert port is not None
    return port


def _tls(emu: Emulator, host: str = "management") -> ssl.SSLSocket:
    ctx = ssl.create_default_context(cafile=emu.ca_bundle)
    raw = socket.create_connection(("127.0.0.1", _port(emu, host)), timeout=30)
    return ctx.wrap_socket(raw, server_hostname="127.0.0.1")


def _exchange(emu: Emulator, data: bytes, host: str = "management") -> bytes:
    """Send raw bytes, read until the server closes (every refusal closes) or 30 s pass."""
    with _tls(emu, host) as sock:
        sock.sendall(data)
        chunks = []
        while True:
            try:
                chunk = sock.recv(65536)
            except (ConnectionResetError, ssl.SSLError):
                break
            if not chunk:
                break
            chunks.append(chunk)
    return b"".join(chunks)


def _parse(raw: bytes) -> tuple[int, dict[str, str], bytes]:
    head, _, body = raw.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
    return status, headers, body


GOOD_HEAD = "Host: 127.0.0.1\r\n"
CHUNKED = "Transfer-Encoding: chunked\r\n"
SUB = "/subscriptions/00000000-0000-0000-0000-000000000000/resourcegroups/rg?api-version=2024-03-01"

# name, raw request, expected status, expected ARM error code
CORPUS: list[tuple[str, bytes, int, str]] = [
    ("space in the path", f"GET /subscriptions/a b HTTP/1.1\r\n{GOOD_HEAD}\r\n".encode(), 400, "BadRequest"),
    ("garbage request line", b"\x16\x03\x01garbage\r\n\r\n", 400, "BadRequest"),
    ("unknown method", f"BREW {SUB} HTTP/1.1\r\n{GOOD_HEAD}\r\n".encode(), 405, "MethodNotAllowed"),
    ("lower-case method", f"get {SUB} HTTP/1.1\r\n{GOOD_HEAD}\r\n".encode(), 405, "MethodNotAllowed"),
    ("bad HTTP version", f"GET {SUB} HTTP/x.y\r\n{GOOD_HEAD}\r\n".encode(), 400, "BadRequest"),
    ("HTTP/2 preface", b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", 505, "HttpVersionNotSupported"),
    ("oversized request line", b"GET /" + b"a" * 70000 + b" HTTP/1.1\r\n\r\n", 414, "RequestUriTooLong"),
    ("oversized header line", f"GET {SUB} HTTP/1.1\r\nX-Big: {'b' * 70000}\r\n\r\n".encode(), 431,
     "RequestHeaderFieldsTooLarge"),
    ("too many headers", (f"GET {SUB} HTTP/1.1\r\n" + "".join(f"X-H{i}: v\r\n" for i in range(150)) + "\r\n").encode(),
     431, "RequestHeaderFieldsTooLarge"),
    ("negative Content-Length", f"PUT {SUB} HTTP/1.1\r\n{GOOD_HEAD}Content-Length: -5\r\n\r\n{{}}".encode(), 400,
     "InvalidContentLength"),
    ("non-numeric Content-Length", f"PUT {SUB} HTTP/1.1\r\n{GOOD_HEAD}Content-Length: ten\r\n\r\n".encode(), 400,
     "InvalidContentLength"),
    ("Content-Length larger than the body",
     f"PUT {SUB} HTTP/1.1\r\n{GOOD_HEAD}Content-Length: 500\r\n\r\n{{}}".encode(), 408, "RequestTimeout"),
    ("bad chunk size", f"PUT {SUB} HTTP/1.1\r\n{GOOD_HEAD}{CHUNKED}\r\nzz\r\n{{}}\r\n0\r\n\r\n"
     .encode(), 400, "InvalidChunkSize"),
    ("negative chunk size", f"PUT {SUB} HTTP/1.1\r\n{GOOD_HEAD}{CHUNKED}\r\n-2\r\n{{}}\r\n0\r\n\r\n"
     .encode(), 400, "InvalidChunkSize"),
    ("chunked body that stops", f"PUT {SUB} HTTP/1.1\r\n{GOOD_HEAD}{CHUNKED}\r\n10\r\n{{}}"
     .encode(), 408, "RequestTimeout"),
    ("both Content-Length and chunked", f"PUT {SUB} HTTP/1.1\r\n{GOOD_HEAD}Content-Length: 2\r\n"
     "Transfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n".encode(), 400, "BadRequest"),
    ("unknown transfer coding", f"PUT {SUB} HTTP/1.1\r\n{GOOD_HEAD}Transfer-Encoding: gzip\r\n\r\n".encode(), 501,
     "NotImplemented"),
    ("ARM body above 4 MB", f"PUT {SUB} HTTP/1.1\r\n{GOOD_HEAD}Content-Length: {5 * 1024 * 1024}\r\n\r\n".encode()
     + b" " * (5 * 1024 * 1024), 413, "RequestEntityTooLarge"),
    ("no Authorization on ARM", f"GET {SUB} HTTP/1.1\r\n{GOOD_HEAD}Connection: close\r\n\r\n".encode(), 401,
     "AuthenticationFailed"),
]


@pytest.mark.parametrize(("name", "raw", "status", "code"), CORPUS, ids=[c[0] for c in CORPUS])
def test_malformed_requests_get_arm_json_errors(hardened: Emulator, name: str, raw: bytes, status: int,
                                                 code: str) -> None:
    answer = _exchange(hardened, raw)
    assert answer, f"{name}: the server closed without an answer"
    got_status, headers, body = _parse(answer)
    assert got_status == status, (name, answer[:300])
    assert headers["content-type"].startswith("application/json"), (name, headers)
    error = json.loads(body[: int(headers["content-length"])])["error"]
    assert error["code"] == code and error["message"] and "<html" not in error["message"].lower(), error


REGISTRY_CORPUS = [c for c in CORPUS if c[0] in ("space in the path", "unknown method", "bad chunk size",
                                                   "oversized header line", "negative Content-Length")]


@pytest.mark.parametrize(("name", "raw", "status", "code"), REGISTRY_CORPUS, ids=[c[0] for c in REGISTRY_CORPUS])
def test_malformed_requests_on_a_registry_get_the_registry_error_shape(hardened: Emulator, name: str, raw: bytes,
                                                                        status: int, code: str) -> None:
    got_status, headers, body = _parse(_exchange(hardened, raw.replace(b"/subscriptions", b"/v2"), REGISTRY))
    assert got_status == status
    errors = json.loads(body[: int(headers["content-length"])])["errors"]
    assert errors[0]["code"] in ("UNSUPPORTED", "SIZE_INVALID") and errors[0]["detail"]["reason"] == code


def test_a_tcp_connection_that_never_starts_tls_is_closed(hardened: Emulator) -> None:
    with socket.create_connection(("127.0.0.1", _port(hardened, "management")), timeout=30) as raw:
        assert raw.recv(1) == b""  # the server hung up after its handshake timeout (the 30 s here never run out)


def test_plain_http_on_the_tls_port_is_closed(hardened: Emulator) -> None:
    with socket.create_connection(("127.0.0.1", _port(hardened, "management")), timeout=30) as raw:
        raw.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        received = b""
        while True:  # at most a TLS alert, then the close (the 30 s client timeout never runs out)
            try:
                chunk = raw.recv(65536)
            except ConnectionResetError:
                break
            if not chunk:
                break
            received += chunk
    assert b"HTTP/1.1" not in received


def test_an_idle_keep_alive_connection_is_closed_after_the_idle_timeout(hardened: Emulator) -> None:
    with _tls(hardened) as sock:
        sock.sendall(f"GET {SUB} HTTP/1.1\r\n{GOOD_HEAD}\r\n".encode())
        first = sock.recv(65536)
        assert first.startswith(b"HTTP/1.1 401")
        rest = b""
        while True:  # then nothing more is sent: the server must close, not wait forever
            chunk = sock.recv(65536)
            if not chunk:
                break
            rest += chunk
    assert b"HTTP/1.1" not in rest


def test_a_burst_beyond_the_thread_bound_is_served_not_refused(hardened: Emulator,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    """200 clients at once against a listener bounded to 8 threads: all answered, never more than 8 at once."""
    with Emulator(profile="fast") as emu:
        assert emu._server is not None
        listener = emu._server._listeners["management"]
        listener._slots = threading.BoundedSemaphore(8)
        active = {"now": 0, "peak": 0}
        lock = threading.Lock()
        original = server._Listener.finish_request

        def counting(self, request, client_address):
            if self is not listener:  # the patch is class-wide: another emulator of this worker is not counted
                return original(self, request, client_address)
            with lock:
                active["now"] += 1
                active["peak"] = max(active["peak"], active["now"])
            try:
                return original(self, request, client_address)
            finally:
                with lock:
                    active["now"] -= 1

        monkeypatch.setattr(server._Listener, "finish_request", counting)

        def one(_: int) -> int:
            answer = _exchange(emu, f"GET {SUB} HTTP/1.1\r\n{GOOD_HEAD}Connection: close\r\n\r\n".encode())
            return _parse(answer)[0]

        with ThreadPoolExecutor(max_workers=200) as pool:
            statuses = list(pool.map(one, range(200)))
    assert statuses == [401] * 200
    assert 1 <= active["peak"] <= 8, active


def test_no_connection_thread_outlives_the_corpus(hardened: Emulator) -> None:
    for _, raw, _, _ in CORPUS[:6]:
        _exchange(hardened, raw)
    assert hardened._server is not None
    listener = hardened._server._listeners["management"]
    deadline = time.monotonic() + 30
    while listener._open and time.monotonic() < deadline:  # a condition polled, bounded by a generous cap
        time.sleep(0.01)
    assert not listener._open


def test_stopping_the_emulator_ends_its_connection_threads() -> None:
    emu = Emulator(profile="fast").start()
    sock = _tls(emu)
    sock.sendall(f"GET {SUB} HTTP/1.1\r\n{GOOD_HEAD}\r\n".encode())
    assert sock.recv(65536).startswith(b"HTTP/1.1 401")  # the connection is kept alive, its thread waits
    emu.stop()
    try:
        assert sock.recv(65536) == b""  # stop() woke the waiting thread, which closed the connection
    finally:
        sock.close()
