"""Health probes as Container Apps runs them: declared or Azure's defaults, executed against the real process.

Azure adds default TCP probes on the ingress target port to the main container of an app with
ingress when the template declares none of that type (https://learn.microsoft.com/azure/container-apps/health-probes,
"Default configuration"): a startup probe checked every second up to 240 times, and a readiness
probe every 5 seconds. Live captures show only ``Probe of StartUp failed`` lines after a target port
change, so no default liveness probe is added here. Declared probes take Kubernetes' defaults for
the fields they omit (period 10 s, timeout 1 s, failure threshold 3, success threshold 1).

A probe's outcome is measured: a TCP connect, or an HTTP GET whose status is read, to the port inside
the replica's own network namespace.
"""

from __future__ import annotations

import socket
import ssl
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

STARTUP, LIVENESS, READINESS = "Startup", "Liveness", "Readiness"
KINDS = (STARTUP, LIVENESS, READINESS)
MESSAGE_KIND = {STARTUP: "StartUp", LIVENESS: "Liveness", READINESS: "Readiness"}
"""How the kind is spelled in ``Probe of StartUp failed with status code: 1`` (captured verbatim)."""

AZURE_DEFAULTS: dict[str, dict[str, int]] = {
    STARTUP: {"initialDelaySeconds": 1, "periodSeconds": 1, "timeoutSeconds": 3, "successThreshold": 1,
              "failureThreshold": 240},
    READINESS: {"initialDelaySeconds": 3, "periodSeconds": 5, "timeoutSeconds": 5, "successThreshold": 1,
                "failureThreshold": 48},
}
KUBERNETES_DEFAULTS = {"initialDelaySeconds": 0, "periodSeconds": 10, "timeoutSeconds": 1, "successThreshold": 1,
                       "failureThreshold": 3}
MAX_REAL_TIMEOUT = 2.0
"""A probe never waits longer than this in real time: on loopback a live process answers in milliseconds."""
CONNECT_FAILED = "1"
TIMED_OUT = ""

Dial = Callable[[int, float], socket.socket]
"""``dial(port, timeout)``: a connected socket to the port inside the replica's network namespace."""


def normalise_kind(kind: Any) -> str:
    text = str(kind or "").strip().lower()
    for known in KINDS:
        if known.lower() == text:
            return known
    raise ValueError(f"unknown probe type {kind!r}")


def effective_probes(container: dict[str, Any], target_port: int | None,
                     main: bool) -> list[tuple[str, dict[str, Any]]]:
    """``(kind, spec)`` for every probe the container runs, declared ones first, then Azure's defaults."""
    out: list[tuple[str, dict[str, Any]]] = []
    declared: set[str] = set()
    for probe in container.get("probes") or []:
        kind = normalise_kind(probe.get("type"))
        declared.add(kind)
        spec = {**KUBERNETES_DEFAULTS, **{k: v for k, v in probe.items() if v is not None}}
        out.append((kind, spec))
    if main and target_port:
        for kind, defaults in AZURE_DEFAULTS.items():
            if kind not in declared:
                out.append((kind, {**defaults, "tcpSocket": {"port": target_port}, "default": True}))
    return out


def probe_port(spec: dict[str, Any]) -> int | None:
    for key in ("httpGet", "tcpSocket"):
        port = (spec.get(key) or {}).get("port")
        if port is not None:
            return int(port)
    return None


@dataclass(frozen=True)
class ProbeOutcome:
    ok: bool
    code: str
    """The status Azure's message carries: an HTTP status, ``1`` when no connection was made, empty on timeout."""


def run_probe(spec: dict[str, Any], dial: Dial) -> ProbeOutcome:
    port = probe_port(spec)
    if port is None:
        return ProbeOutcome(False, CONNECT_FAILED)
    timeout = min(float(spec.get("timeoutSeconds") or 1), MAX_REAL_TIMEOUT)
    try:
        sock = dial(port, timeout)
    except TimeoutError:
        return ProbeOutcome(False, TIMED_OUT)
    except OSError:
        return ProbeOutcome(False, CONNECT_FAILED)
    try:
        http = spec.get("httpGet")
        if not http:
            return ProbeOutcome(True, "0")
        return _http_get(sock, http, port, timeout)
    finally:
        sock.close()


def _http_get(sock: socket.socket, http: dict[str, Any], port: int, timeout: float) -> ProbeOutcome:
    scheme = str(http.get("scheme") or "HTTP").upper()
    host = str(http.get("host") or "127.0.0.1")
    conn: socket.socket = sock
    try:
        if scheme == "HTTPS":  # the kubelet does not verify the certificate
            ctx = ssl.create_default_context()
            ctx.check_hostname, ctx.verify_mode = False, ssl.CERT_NONE
            conn = ctx.wrap_socket(sock, server_hostname=host)
        path = str(http.get("path") or "/")
        if not path.startswith("/"):
            path = "/" + path
        headers = [f"Host: {host}:{port}", "User-Agent: kube-probe/1.30", "Accept: */*", "Connection: close"]
        headers += [f"{h.get('name')}: {h.get('value')}" for h in http.get("httpHeaders") or [] if h.get("name")]
        conn.sendall(("GET " + path + " HTTP/1.1\r\n" + "\r\n".join(headers) + "\r\n\r\n").encode("latin-1"))
        conn.settimeout(timeout)
        head = b""
        while b"\r\n" not in head and len(head) < 8192:
            chunk = conn.recv(4096)
            if not chunk:
                break
            head += chunk
        parts = head.split(b"\r\n", 1)[0].split()
        if len(parts) < 2 or not parts[1].isdigit():
            return ProbeOutcome(False, CONNECT_FAILED)
        status = int(parts[1])
        return ProbeOutcome(200 <= status < 400, str(status))
    except TimeoutError:
        return ProbeOutcome(False, TIMED_OUT)
    except (OSError, ssl.SSLError):
        return ProbeOutcome(False, CONNECT_FAILED)


def probe_failed(kind: str, code: str) -> str:
    return f"Probe of {MESSAGE_KIND[kind]} failed with status code: {code}"


def probe_failure_terminated(container: str) -> str:
    return f"Container '{container}' was terminated with exit code '' and reason 'ProbeFailure'"


def process_exited_terminated(container: str, code: int) -> str:
    return f"Container '{container}' was terminated with exit code '{code}' and reason 'ProcessExited'"


def process_exited(container: str, code: int) -> str:
    return f"Container '{container}' was terminated with exit code '{code}'"
