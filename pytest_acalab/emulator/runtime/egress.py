"""A replica's way out: a relay on the pod's loopback to the emulator's CONNECT proxy.

A pod's network namespace has only its loopback, so a workload that calls an Azure service
(``https://<vault>.vault.azure.net``) would reach nothing. The runtime serves this relay on a port of
the pod's loopback and points the workload's ``HTTPS_PROXY`` at it; the emulator's proxy then routes
only the host names the emulator serves (anything else is refused, as a name that does not resolve),
so a workload never reaches a non-loopback address.
"""

from __future__ import annotations

import select
import socket
import socketserver

PORT = 3128
"""The relay's port inside the pod (the customary proxy port)."""
CHUNK = 65536


class RelayHandler(socketserver.BaseRequestHandler):
    """Pipes one client connection to ``server.upstream()`` (``(host, port)`` of the emulator's proxy)."""

    def handle(self) -> None:
        target = self.server.upstream()  # type: ignore[attr-defined]
        if target is None:
            return
        try:
            upstream = socket.create_connection(target, timeout=10)
        except OSError:
            return
        upstream.settimeout(None)
        client: socket.socket = self.request
        with upstream:
            pair = {client: upstream, upstream: client}
            while True:
                ready, _, _ = select.select(list(pair), [], [], 300)
                if not ready:
                    return
                for sock in ready:
                    try:
                        data = sock.recv(CHUNK)
                    except OSError:
                        return
                    if not data:
                        return
                    try:
                        pair[sock].sendall(data)
                    except OSError:
                        return
