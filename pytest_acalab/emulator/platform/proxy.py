"""A loopback HTTPS ``CONNECT`` proxy that sends Azure host names back to the emulator.

Data-plane commands of the Azure CLI (``az acr repository show-tags``, ``az acr login``...) build
URLs from real host names such as ``<acr>.azurecr.io``. With ``HTTPS_PROXY`` pointing here, the
client asks ``CONNECT <host>:443``; the proxy picks the emulator listener serving that host and
tunnels the bytes unchanged. TLS is still end-to-end between the client and the emulator's
listener, whose certificate carries those names, so hostname verification works as against Azure.

Hosts the emulator does not serve are refused with ``403``: nothing ever leaves 127.0.0.1.
"""

from __future__ import annotations

import logging
import select
import socket
import socketserver
import threading
from collections.abc import Callable

from pytest_acalab.emulator.platform.server import POLL_SECONDS

log = logging.getLogger("pytest_acalab.emulator")
Resolver = Callable[[str], int | None]
"""Maps a host name to the loopback port of the listener serving it, or None (refused)."""

MAX_HEADER = 16 * 1024
IDLE_TIMEOUT = 300.0


def _answer(sock: socket.socket, status: str, reason: str = "") -> None:
    body = reason.encode()
    sock.sendall(f"HTTP/1.1 {status}\r\nContent-Length: {len(body)}\r\nConnection: close\r\n\r\n".encode()
                 + body)


class _Handler(socketserver.BaseRequestHandler):
    server: _ProxyServer

    def handle(self) -> None:
        client: socket.socket = self.request
        client.settimeout(30)
        head = b""
        try:
            while b"\r\n\r\n" not in head:
                chunk = client.recv(4096)
                if not chunk:
                    return
                head += chunk
                if len(head) > MAX_HEADER:
                    _answer(client, "431 Request Header Fields Too Large")
                    return
        except OSError:
            return
        header, _, early = head.partition(b"\r\n\r\n")
        request_line = header.split(b"\r\n", 1)[0].decode("latin-1")
        parts = request_line.split()
        if len(parts) != 3 or parts[0].upper() != "CONNECT":
            _answer(client, "405 Method Not Allowed",
                    "the acalab emulator proxy only tunnels HTTPS (CONNECT host:443)\n")
            return
        host, _, port_text = parts[1].rpartition(":")
        host = host.strip("[]").lower()
        port = self.server.resolve(host) if port_text == "443" and host else None
        if port is None:
            log.debug("emulator proxy refused CONNECT %s", parts[1])
            _answer(client, "403 Forbidden", f"the acalab emulator does not serve {parts[1]}\n")
            return
        try:
            upstream = socket.create_connection(("127.0.0.1", port), timeout=10)
        except OSError as exc:
            _answer(client, "502 Bad Gateway", f"emulator listener for {host} unreachable: {exc}\n")
            return
        with upstream:
            client.sendall(b"HTTP/1.1 200 Connection Established\r\n\r\n")
            if early:
                upstream.sendall(early)
            self._pump(client, upstream)

    def _pump(self, a: socket.socket, b: socket.socket) -> None:
        for sock in (a, b):
            sock.setblocking(True)
            # a tunnel relays small TLS records both ways: Nagle plus delayed ACKs would add ~40 ms to each
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        peers = {a: b, b: a}
        open_ = {a, b}
        while open_:
            try:
                ready, _, _ = select.select(list(open_), [], [], IDLE_TIMEOUT)
            except (OSError, ValueError):
                return
            if not ready:
                return  # idle for too long
            for sock in ready:
                try:
                    data = sock.recv(65536)
                except OSError:
                    return
                if not data:
                    open_.discard(sock)
                    try:
                        peers[sock].shutdown(socket.SHUT_WR)
                    except OSError:
                        pass
                    continue
                try:
                    peers[sock].sendall(data)
                except OSError:
                    return


class _ProxyServer(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, resolve: Resolver) -> None:
        self.resolve = resolve
        super().__init__(("127.0.0.1", 0), _Handler)

    def handle_error(self, request: object, client_address: object) -> None:
        log.exception("emulator proxy error from %s", client_address)


class ConnectProxy:
    """``CONNECT`` tunnels from 127.0.0.1 to the emulator's listeners; ``url`` is what HTTPS_PROXY takes."""

    def __init__(self, resolve: Resolver) -> None:
        self._server = _ProxyServer(resolve)
        self.port: int = self._server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": POLL_SECONDS},
                                         name="acalab-emulator-proxy", daemon=True)
        self._thread.start()

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
