"""HTTPS listeners on 127.0.0.1 (stdlib only: 1-2 ms a round trip with Nagle disabled).

Each listener carries a *virtual host*: the main one serves ARM, the token authority, Log Analytics
queries, blobs and event streams; each registry gets a listener of its own so that OCI clients such
as ``oras`` (which cannot take a path prefix) reach it as ``127.0.0.1:<port>``.
"""

from __future__ import annotations

import logging
import socket
import ssl
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from pytest_acalab.emulator.platform.http import Headers, Request, Response

log = logging.getLogger("pytest_acalab.emulator")
Dispatch = Callable[[Request], Response]
MAX_BODY = 64 * 1024 * 1024


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    server: _Listener

    def log_message(self, format: str, *args: object) -> None:
        log.debug("%s %s", self.address_string(), format % args)

    def _read_body(self) -> bytes | None:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            chunks = []
            total = 0
            while True:
                size_line = self.rfile.readline(65537)
                size = int(size_line.split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline(65537) not in (b"\r\n", b"\n", b""):
                        pass
                    break
                total += size
                if total > MAX_BODY:
                    return None
                chunks.append(self.rfile.read(size))
                self.rfile.readline(65537)
            return b"".join(chunks)
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_BODY:
            # drain what the client sends so it can read the answer, then refuse it
            remaining = length
            while remaining > 0 and remaining <= 4 * MAX_BODY:
                chunk = self.rfile.read(min(remaining, 1 << 20))
                if not chunk:
                    break
                remaining -= len(chunk)
            return None
        return self.rfile.read(length) if length else b""

    def _handle(self) -> None:
        headers = Headers(self.headers.items())
        body = self._read_body()
        if body is None:
            self.close_connection = True
            resp = Response.json(
                413,
                {"error": {"code": "RequestEntityTooLarge",
                           "message": f"The request content length exceeds the limit of {MAX_BODY} bytes."}},
            )
        else:
            req = Request.build(self.command, self.path, headers, body, self.server.virtual_host)
            resp = self.server.dispatch(req)
        self._write(resp)

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
            self.send_header(k, v)
        if isinstance(resp.body, bytes | bytearray):
            if "Content-Length" not in resp.headers:
                self.send_header("Content-Length", str(len(resp.body)))
            self.end_headers()
            if self.command != "HEAD" and resp.body:
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
        except (BrokenPipeError, ConnectionResetError, ssl.SSLError):
            self.close_connection = True
        finally:
            close = getattr(resp.body, "close", None)
            if close:
                close()

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = _handle


class _Listener(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, port: int, context: ssl.SSLContext, dispatch: Dispatch, virtual_host: str) -> None:
        self.ssl_context = context
        self.dispatch = dispatch
        self.virtual_host = virtual_host
        super().__init__(("127.0.0.1", port), _Handler)

    def finish_request(self, request: socket.socket, client_address: object) -> None:  # type: ignore[override]
        try:
            tls = self.ssl_context.wrap_socket(request, server_side=True)
        except (ssl.SSLError, OSError):
            return
        try:
            _Handler(tls, client_address, self)
        except (ConnectionResetError, BrokenPipeError, ssl.SSLError, TimeoutError):
            pass
        finally:
            tls.close()  # wrap_socket detached the plain socket: the TLS one owns the descriptor

    def handle_error(self, request: object, client_address: object) -> None:
        log.exception("emulator listener error from %s", client_address)


class HttpsServer:
    """A set of HTTPS listeners sharing one dispatch function and one TLS context."""

    def __init__(self, context: ssl.SSLContext, dispatch: Dispatch) -> None:
        self._context = context
        self._dispatch = dispatch
        self._listeners: dict[str, _Listener] = {}
        self._lock = threading.Lock()

    def listen(self, virtual_host: str, port: int = 0) -> int:
        """Open (once) a listener for ``virtual_host`` and return its port."""
        with self._lock:
            existing = self._listeners.get(virtual_host.lower())
            if existing:
                return existing.server_address[1]
            listener = _Listener(port, self._context, self._dispatch, virtual_host)
            thread = threading.Thread(
                target=listener.serve_forever, kwargs={"poll_interval": 0.2},
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
            listener.shutdown()
            listener.server_close()
