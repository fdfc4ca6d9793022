"""HTTPS listeners on 127.0.0.1: the standard library's HTTP server, hardened.

Each listener carries a *virtual host*: the main one serves ARM, the token authority, Log Analytics
queries, blobs and event streams; each registry gets a listener of its own so that OCI clients such
as ``oras`` (which cannot take a path prefix) reach it as ``127.0.0.1:<port>``.

What the hardening adds to ``http.server``:
- a TLS handshake timeout and a read timeout (idle keep-alive and every read inside a request), so a
  client that never starts TLS, stalls, or promises more body than it sends cannot hold a thread;
- a listen backlog for bursts of hundreds of connections, and a bound on the threads serving them
  (past it, new connections wait in the backlog: back-pressure, not failure);
- every malformed request (bad request line, unknown method, oversized headers, bad chunk size, bad
  or lying Content-Length, oversized body) answered with JSON in the endpoint's error shape: ARM's
  ``{"error": {"code", "message"}}`` on the management host, the registry's ``{"errors": [...]}``
  on registry hosts; never the standard library's HTML page;
- status line, headers and body written in one TLS record when the body is small.
"""

from __future__ import annotations

import json
import logging
import socket
import ssl
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import quote

from pytest_acalab.emulator.platform.core import MANAGEMENT
from pytest_acalab.emulator.platform.http import Headers, Request, Response
from pytest_acalab.emulator.platform.validation import MAX_ARM_BODY

log = logging.getLogger("pytest_acalab.emulator")
Dispatch = Callable[[Request], Response]

MAX_BODY = 64 * 1024 * 1024
"""Largest body anywhere (registry blob chunks, build-context uploads)."""
HANDSHAKE_TIMEOUT = 10.0
"""Seconds a new connection gets to complete its TLS handshake."""
READ_TIMEOUT = 15.0
"""Seconds any single read may wait: for a kept-alive connection's next request, or inside a request
(headers, body, chunks). Set once per connection, so a request pays no extra system call for it."""
BACKLOG = 1024
"""Listen backlog (the kernel caps it at net.core.somaxconn)."""
MAX_THREADS = 256
"""Connections served at once per listener; more wait in the backlog until one ends."""
MAX_HEADER_LINE = 65536
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
_SINGLE_WRITE = 64 * 1024
_DRAIN_LIMIT = 4 * MAX_BODY


_URL_SAFE = "".join(chr(c) for c in range(0x21, 0x7F) if chr(c) not in '"<>\\^`{|}')


def _header_value(value: str) -> str:
    """Header values are Latin-1 on the wire: a URL naming ``rg-日本`` (a Location) goes percent-encoded,
    as Azure sends it."""
    try:
        value.encode("latin-1")
        return value
    except UnicodeEncodeError:
        return quote(value, safe=_URL_SAFE + " ")


class _BadRequest(Exception):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


def _body_limit(virtual_host: str, path: str) -> int:
    """ARM's 4 MB on ARM paths; registries, blob uploads and log ingestion get the larger limit."""
    if virtual_host == MANAGEMENT and path.lower().lstrip("/").startswith("subscriptions"):
        return MAX_ARM_BODY
    return MAX_BODY


def error_body(virtual_host: str, status: int, code: str, message: str) -> bytes:
    """The endpoint's error shape: ARM's on the management host, the OCI registry's elsewhere."""
    if virtual_host == MANAGEMENT:
        payload: dict[str, Any] = {"error": {"code": code, "message": message}}
    else:
        registry_code = {413: "SIZE_INVALID", 405: "UNSUPPORTED", 408: "UNSUPPORTED"}.get(status, "UNSUPPORTED")
        payload = {"errors": [{"code": registry_code, "message": message, "detail": {"reason": code}}]}
    return json.dumps(payload, separators=(",", ":")).encode()


# status the standard library would send -> (our status, ARM-style code)
_STDLIB_ERRORS = {
    400: (400, "BadRequest"),
    404: (404, "NotFound"),
    408: (408, "RequestTimeout"),
    413: (413, "RequestEntityTooLarge"),
    414: (414, "RequestUriTooLong"),
    417: (417, "ExpectationFailed"),
    431: (431, "RequestHeaderFieldsTooLarge"),
    501: (405, "MethodNotAllowed"),
    505: (505, "HttpVersionNotSupported"),
}


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    server: _Listener
    _headers_buffer: list[bytes]

    def log_message(self, format: str, *args: object) -> None:
        log.debug("%s %s", self.address_string(), format % args)

    def setup(self) -> None:
        super().setup()
        self.connection.settimeout(READ_TIMEOUT)  # read at connection time (tests shorten it)

    # -- the request loop -------------------------------------------------------------------------
    def handle_one_request(self) -> None:
        try:
            self.raw_requestline = self.rfile.readline(MAX_HEADER_LINE + 1)
            if len(self.raw_requestline) > MAX_HEADER_LINE:
                self.requestline = self.request_version = self.command = ""
                self.send_error(414, "The request line is longer than 65,536 bytes.")
                return
            if not self.raw_requestline:
                self.close_connection = True
                return
            if not self.parse_request():  # it answered (through send_error) already
                return
            if self.command not in METHODS:
                self.send_error(501, f"The requested resource does not support http method '{self.command}'.")
                return
            self._handle()
            self.wfile.flush()
        except TimeoutError:
            self.close_connection = True  # idle or stalled between requests: close quietly

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        """Every refusal the standard library makes, as JSON in the endpoint's shape, then close."""
        status, err_code = _STDLIB_ERRORS.get(code, (code, "BadRequest"))
        text = message or explain or self.responses.get(code, ("Bad request",))[0]
        if code == 501 and not text.startswith("The requested resource"):
            text = f"The requested resource does not support http method '{self.command}'."
        if not text.endswith("."):
            text += "."
        self._send_json_error(status, err_code, text)

    def _send_json_error(self, status: int, code: str, message: str) -> None:
        self.close_connection = True
        if self.request_version in ("HTTP/0.9", "", None):
            self.request_version = "HTTP/1.1"  # always answer with a status line, never a bare body
        body = error_body(self.server.virtual_host, status, code, message)
        try:
            self.send_response_only(status)
            self.send_header("Content-Type", "application/json; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Connection", "close")
            if self.server.virtual_host != MANAGEMENT:
                self.send_header("Docker-Distribution-API-Version", "registry/2.0")
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)
        except (OSError, ssl.SSLError):
            pass

    # -- bodies -----------------------------------------------------------------------------------
    def _read_body(self, limit: int) -> bytes:
        transfer = (self.headers.get("Transfer-Encoding") or "").lower()
        length_header = self.headers.get("Content-Length")
        if transfer and transfer != "identity":
            if transfer != "chunked":
                raise _BadRequest(501, "NotImplemented", f"Transfer-Encoding '{transfer}' is not supported.")
            if length_header is not None:
                raise _BadRequest(400, "BadRequest",
                                  "A request may not carry both Content-Length and Transfer-Encoding: chunked.")
            return self._read_chunked(limit)
        if length_header is None:
            return b""
        text = length_header.strip()
        if not text.isdigit():
            raise _BadRequest(400, "InvalidContentLength",
                              f"The Content-Length header '{length_header[:40]}' is not a non-negative integer.")
        length = int(text)
        if length > limit:
            self._drain(length)  # so the client reads the answer instead of a reset connection
            raise _BadRequest(413, "RequestEntityTooLarge",
                              f"The request content length {length} exceeds the limit of {limit} bytes.")
        body = self.rfile.read(length) if length else b""
        if len(body) < length:
            raise _BadRequest(400, "IncompleteBody",
                              f"The request body ended after {len(body)} of the {length} bytes its "
                              "Content-Length announced.")
        return body

    def _drain(self, length: int) -> None:
        remaining = length if length <= _DRAIN_LIMIT else 0
        while remaining > 0:
            chunk = self.rfile.read(min(remaining, 1 << 20))
            if not chunk:
                return
            remaining -= len(chunk)

    def _read_chunked(self, limit: int) -> bytes:
        chunks: list[bytes] = []
        total = 0
        while True:
            size_line = self.rfile.readline(MAX_HEADER_LINE + 1)
            if not size_line:
                raise _BadRequest(400, "IncompleteBody", "The chunked request body ended before its last chunk.")
            field = size_line.split(b";")[0].strip()
            try:
                if not field or field.startswith((b"-", b"+")):
                    raise ValueError(field)
                size = int(field, 16)
            except ValueError:
                raise _BadRequest(400, "InvalidChunkSize",
                                  f"The chunk size '{field[:20].decode('latin-1')}' is not a hexadecimal "
                                  "number.") from None
            if size == 0:
                while self.rfile.readline(MAX_HEADER_LINE + 1) not in (b"\r\n", b"\n", b""):
                    pass
                return b"".join(chunks)
            total += size
            if total > limit:
                raise _BadRequest(413, "RequestEntityTooLarge",
                                  f"The request content length exceeds the limit of {limit} bytes.")
            chunk = self.rfile.read(size)
            if len(chunk) < size:
                raise _BadRequest(400, "IncompleteBody", "A chunk of the request body ended early.")
            chunks.append(chunk)
            self.rfile.readline(MAX_HEADER_LINE + 1)

    def _handle(self) -> None:
        headers = Headers(self.headers.items())
        try:
            body = self._read_body(_body_limit(self.server.virtual_host, self.path.partition("?")[0]))
        except _BadRequest as bad:
            self._send_json_error(bad.status, bad.code, bad.message)
            return
        except TimeoutError:
            self._send_json_error(408, "RequestTimeout",
                                  f"The request body was not received within {READ_TIMEOUT:g} seconds.")
            return
        req = Request.build(self.command, self.path, headers, body, self.server.virtual_host)
        req.client = self.client_address[0]
        self._write(self.server.dispatch(req))

    def _write(self, resp: Response) -> None:
        if resp.status == 0:  # fault injection: drop the connection without an answer
            self.close_connection = True
            try:
                self.connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            return
        self.send_response_only(resp.status)
        for k, v in resp.headers.items():
            self.send_header(k, _header_value(v))
        if isinstance(resp.body, bytes | bytearray):
            if "Content-Length" not in resp.headers:
                self.send_header("Content-Length", str(len(resp.body)))
            send_body = self.command != "HEAD" and resp.body
            if send_body and len(resp.body) <= _SINGLE_WRITE:
                # status, headers and body in one write: one TLS record, one packet
                self._headers_buffer.append(b"\r\n")
                self._headers_buffer.append(bytes(resp.body))
                self.wfile.write(b"".join(self._headers_buffer))
                self._headers_buffer = []
                return
            self.end_headers()
            if send_body:
                self.wfile.write(resp.body)
            return
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        try:
            for chunk in resp.body:
                if chunk:
                    self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                    self.wfile.flush()
            self.wfile.write(b"0\r\n\r\n")
        except (BrokenPipeError, ConnectionResetError, ssl.SSLError, TimeoutError):
            self.close_connection = True
        finally:
            close = getattr(resp.body, "close", None)
            if close:
                close()


POLL_SECONDS = 0.05
"""How often an idle listener looks whether it should stop: ``shutdown()`` waits up to this long (every
emulator's stop waits for it)."""


def shutdown_together(servers: list[Any]) -> None:
    """``shutdown()`` several ``serve_forever`` loops at once: each notices within its poll interval, so
    stopping them one after the other would add those intervals up."""
    threads = [threading.Thread(target=server.shutdown, name="acalab-emulator-shutdown", daemon=True)
               for server in servers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


class _Listener(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = BACKLOG

    def __init__(self, port: int, context: ssl.SSLContext, dispatch: Dispatch, virtual_host: str,
                 max_threads: int = MAX_THREADS) -> None:
        self.ssl_context = context
        self.dispatch = dispatch
        self.virtual_host = virtual_host
        self._slots = threading.BoundedSemaphore(max_threads)
        self._closing = threading.Event()
        self._open: set[socket.socket] = set()
        self._open_lock = threading.Lock()
        super().__init__(("127.0.0.1", port), _Handler)

    def process_request(self, request: Any, client_address: Any) -> None:
        """One thread per connection, at most ``max_threads`` at once: the accept loop waits for a free
        slot, so further connections queue in the kernel's backlog instead of spawning threads."""
        while not self._slots.acquire(timeout=0.25):
            if self._closing.is_set():
                self.shutdown_request(request)
                return
        thread = threading.Thread(target=self._serve_connection, args=(request, client_address),
                                  name=f"acalab-emulator-conn-{self.virtual_host}", daemon=True)
        try:
            thread.start()
        except RuntimeError:  # the interpreter could not start a thread: refuse this one connection
            self._slots.release()
            self.shutdown_request(request)

    def _serve_connection(self, request: Any, client_address: Any) -> None:
        try:
            self.finish_request(request, client_address)
        except Exception:  # noqa: BLE001 - one connection's failure never stops the listener
            self.handle_error(request, client_address)
        finally:
            self.shutdown_request(request)
            self._slots.release()

    def finish_request(self, request: socket.socket, client_address: object) -> None:  # type: ignore[override]
        request.settimeout(HANDSHAKE_TIMEOUT)
        try:
            tls = self.ssl_context.wrap_socket(request, server_side=True)
        except (ssl.SSLError, OSError):  # no TLS, a handshake that timed out, or a client that went away
            return
        with self._open_lock:
            self._open.add(tls)
        try:
            _Handler(tls, client_address, self)
        except (ConnectionResetError, BrokenPipeError, ssl.SSLError, TimeoutError):
            pass
        finally:
            with self._open_lock:
                self._open.discard(tls)
            tls.close()  # wrap_socket detached the plain socket: the TLS one owns the descriptor

    def handle_error(self, request: object, client_address: object) -> None:
        log.exception("emulator listener error from %s", client_address)

    def close_connections(self) -> None:
        """Wake every connection thread (blocked reads return) so none outlives the listener."""
        self._closing.set()
        with self._open_lock:
            sockets = list(self._open)
        for sock in sockets:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


class HttpsServer:
    """A set of HTTPS listeners sharing one dispatch function and one TLS context."""

    def __init__(self, context: ssl.SSLContext, dispatch: Dispatch) -> None:
        self._context = context
        self._dispatch = dispatch
        self._listeners: dict[str, _Listener] = {}
        self._lock = threading.Lock()

    def listen(self, virtual_host: str, port: int = 0, *, context: ssl.SSLContext | None = None,
               dispatch: Dispatch | None = None) -> int:
        """Open (once) a listener for ``virtual_host`` and return its port.

        ``context`` and ``dispatch`` replace the server's own for this listener (an app's ingress
        fqdn: a certificate of its own, the edge instead of ARM); called lazily, only on first open.
        """
        with self._lock:
            existing = self._listeners.get(virtual_host.lower())
            if existing:
                return existing.server_address[1]
            listener = _Listener(port, context or self._context, dispatch or self._dispatch, virtual_host)
            thread = threading.Thread(
                target=listener.serve_forever, kwargs={"poll_interval": POLL_SECONDS},
                name=f"acalab-emulator-{virtual_host}", daemon=True,
            )
            thread.start()
            self._listeners[virtual_host.lower()] = listener
            return listener.server_address[1]

    def port_of(self, virtual_host: str) -> int | None:
        listener = self._listeners.get(virtual_host.lower())
        return listener.server_address[1] if listener else None

    def close(self) -> None:
        with self._lock:
            listeners = list(self._listeners.values())
            self._listeners.clear()
        for listener in listeners:
            listener.close_connections()
        shutdown_together(listeners)
        for listener in listeners:
            listener.server_close()
