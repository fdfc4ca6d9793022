"""The emulator's side of a pod: spawn the supervisor (``pod.py``), talk to it, stop it.

Every pod process is started from one long-lived thread: the kernel's parent-death signal fires
when the *thread* that forked a child exits, so spawning from a short-lived HTTP handler thread
would kill the pod with the connection. Every pod is also registered in a process-wide table that
``stop_all`` (called by the emulator's stop, an ``atexit`` hook and the plugin's signal handling)
empties; a killed emulator takes its pods along through the parent-death signal and the end of
file on their control sockets.
"""

from __future__ import annotations

import atexit
import json
import logging
import os
import queue
import selectors
import shutil
import signal
import socket
import socketserver
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pytest_acalab.emulator.platform.server import POLL_SECONDS, shutdown_together

log = logging.getLogger("pytest_acalab.emulator.runtime")

POD_SCRIPT = Path(__file__).with_name("pod.py")
CONTROL_TIMEOUT = 10.0

LogSink = Callable[[str, str, float], None]
"""``(stream, line, unix_time)``: a line a container wrote to ``stdout`` or ``stderr``."""


class SandboxError(Exception):
    """A pod could not be created or does not answer."""


@dataclass(frozen=True)
class ContainerExit:
    name: str
    code: int
    signal: int | None
    oom: bool
    peak_rss: int
    at: float


@dataclass
class PodStatus:
    running: list[str]
    """Containers whose process runs."""
    rss: dict[str, int]
    """Resident bytes per running container (its whole process tree)."""
    exits: list[ContainerExit] = field(default_factory=list)
    cpu_ns: dict[str, int] = field(default_factory=dict)
    """CPU time used so far per running container (its whole process tree), in nanoseconds."""


class _Spawner:
    """The one thread that forks pod supervisors (see the module docstring)."""

    def __init__(self) -> None:
        self._jobs: queue.SimpleQueue[tuple[Callable[[], Any], Future[Any]]] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def run(self, fn: Callable[[], Any]) -> Any:
        with self._lock:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._loop, name="acalab-pod-spawner", daemon=True)
                self._thread.start()
        fut: Future[Any] = Future()
        self._jobs.put((fn, fut))
        return fut.result()

    def _loop(self) -> None:
        while True:
            fn, fut = self._jobs.get()
            try:
                fut.set_result(fn())
            except BaseException as exc:  # noqa: BLE001 - handed back to the caller
                fut.set_exception(exc)


_SPAWNER = _Spawner()
_PODS: dict[int, Pod] = {}
_PODS_LOCK = threading.Lock()


class Pod:
    """One replica's sandbox: its namespaces live as long as this object is open."""

    def __init__(self, name: str, isolate: bool, on_log: LogSink | None = None,
                 scratch_root: Path | None = None) -> None:
        self.name = name
        self.on_log = on_log
        self._lock = threading.Lock()
        self._closed = False
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        self._control = ours
        self._buffer = b""
        spec = json.dumps({"name": name, "isolate": isolate, "control_fd": theirs.fileno()})

        def spawn() -> subprocess.Popen[bytes]:
            return subprocess.Popen(
                [sys.executable, "-I", "-S", str(POD_SCRIPT), spec],
                stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                pass_fds=(theirs.fileno(),), start_new_session=True,
            )

        try:
            self.process: subprocess.Popen[bytes] = _SPAWNER.run(spawn)
        finally:
            theirs.close()
        if scratch_root is not None:
            scratch_root.mkdir(parents=True, exist_ok=True)
        self._scratch = Path(tempfile.mkdtemp(prefix="acalab-pod-", dir=scratch_root))
        with _PODS_LOCK:
            _PODS[self.process.pid] = self
        try:
            hello = self._read_answer(CONTROL_TIMEOUT)
        except SandboxError:
            self.close()
            raise
        if not hello.get("ok"):
            self.close()
            raise SandboxError(str(hello.get("error") or "the pod supervisor refused to start"))
        self.isolation: str = str(hello.get("isolation"))
        self.cpu_limited = False
        self._services: list[LoopbackService] = []
        self._reader = threading.Thread(target=self._pump_logs, name=f"acalab-logs-{name}", daemon=True)
        self._reader.start()

    # -- protocol ---------------------------------------------------------------------------
    def _read_answer(self, timeout: float) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while b"\n" not in self._buffer:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise SandboxError(f"pod {self.name} did not answer within {timeout:.0f} s")
            self._control.settimeout(remaining)
            try:
                chunk = self._control.recv(65536)
            except TimeoutError:
                continue
            except OSError as exc:
                raise SandboxError(f"pod {self.name} is gone ({exc})") from None
            if not chunk:
                raise SandboxError(f"pod {self.name} is gone")
            self._buffer += chunk
        line, self._buffer = self._buffer.split(b"\n", 1)
        answer: dict[str, Any] = json.loads(line)
        return answer

    def request(self, op: str, **fields: Any) -> dict[str, Any]:
        with self._lock:
            if self._closed:
                raise SandboxError(f"pod {self.name} is stopped")
            try:
                self._control.sendall((json.dumps({"op": op, **fields}) + "\n").encode())
            except OSError as exc:
                raise SandboxError(f"pod {self.name} is gone ({exc})") from None
            return self._read_answer(CONTROL_TIMEOUT)

    # -- what the runtime uses --------------------------------------------------------------
    def start(self, name: str, argv: list[str], env: dict[str, str], cwd: str, memory_limit: int,
              cpu: float = 0.0) -> tuple[bool, str]:
        """Start container ``name``; ``cpu`` cores are enforced with a CFS quota where the OS allows.

        Its temporary files (``TMPDIR``, unless the image or the template sets it) go to a directory of this
        start's own, removed at the next start and when the pod closes: a container's writable layer lives
        as long as the container, so nothing it writes outlives its replica on the host's /tmp."""
        scratch = self._scratch / name
        shutil.rmtree(scratch, ignore_errors=True)
        scratch.mkdir(parents=True, exist_ok=True)
        env = {**{key: str(scratch) for key in ("TMPDIR", "TMP", "TEMP")}, **env}
        answer = self.request("start", name=name, argv=argv, env=env, cwd=cwd, memory_limit=memory_limit, cpu=cpu)
        self.cpu_limited = bool(answer.get("cpu_limited"))
        return bool(answer.get("ok")), str(answer.get("error") or "")

    def listening_ports(self) -> list[int]:
        """Ports the workload listens on (the platform's own services on the pod's loopback excluded)."""
        with self._lock:
            own = {service.server_address[1] for service in self._services}
        return [int(p) for p in self.request("ports").get("ports", []) if int(p) not in own]

    def status(self) -> PodStatus:
        answer = self.request("status")
        exits = [ContainerExit(str(e.get("name")), int(e["code"]), e.get("signal"), bool(e.get("oom")),
                               int(e.get("peak_rss") or 0), float(e["at"])) for e in answer.get("exits", [])]
        rss = {str(k): int(v) for k, v in (answer.get("rss") or {}).items()}
        cpu = {str(k): int(v) for k, v in (answer.get("cpu_ns") or {}).items()}
        return PodStatus(list(answer.get("running") or []), rss, exits, cpu)

    def kill(self, name: str | None = None, sig: int = signal.SIGKILL, wait: bool = True, grace: float = 2.0) -> None:
        self.request("kill", name=name, signal=int(sig), wait=wait, grace=grace)

    def connect(self, port: int, timeout: float) -> socket.socket:
        """A TCP connection to ``127.0.0.1:port`` inside the pod's network namespace."""
        with self._lock:
            if self._closed:
                raise SandboxError(f"pod {self.name} is stopped")
            self._control.sendall(b'{"op": "dial"}\n')
            self._control.settimeout(CONTROL_TIMEOUT)
            msg, fds, _flags, _addr = socket.recv_fds(self._control, 65536, 1)
            self._buffer += msg
            self._read_answer(CONTROL_TIMEOUT)
        if not fds:
            raise SandboxError(f"pod {self.name} sent no socket")
        sock = socket.socket(fileno=fds[0])
        sock.settimeout(timeout)
        try:
            sock.connect(("127.0.0.1", port))
        except BaseException:
            sock.close()
            raise
        return sock

    def listen(self, port: int) -> socket.socket:
        """A TCP socket listening on ``127.0.0.1:port`` inside the pod's network namespace (a socket keeps the
        namespace it was created in: the pod creates it, the emulator binds and accepts on it)."""
        with self._lock:
            if self._closed:
                raise SandboxError(f"pod {self.name} is stopped")
            self._control.sendall(b'{"op": "dial"}\n')
            self._control.settimeout(CONTROL_TIMEOUT)
            msg, fds, _flags, _addr = socket.recv_fds(self._control, 65536, 1)
            self._buffer += msg
            self._read_answer(CONTROL_TIMEOUT)
        if not fds:
            raise SandboxError(f"pod {self.name} sent no socket")
        sock = socket.socket(fileno=fds[0])
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind(("127.0.0.1", port))
            sock.listen(16)
        except BaseException:
            sock.close()
            raise
        return sock

    def serve(self, port: int, handler: type[socketserver.BaseRequestHandler], name: str,
              **attributes: Any) -> None:
        """Serve ``handler`` on the pod's own ``127.0.0.1:port`` (what the platform offers inside a replica:
        the identity endpoint, the egress relay) until the pod closes. ``attributes`` are set on the server
        object, where the handler reads them (``self.server.<name>``)."""
        listener = self.listen(port)
        service = LoopbackService(listener, handler, attributes)
        with self._lock:
            if self._closed:
                service.server_close()
                raise SandboxError(f"pod {self.name} is stopped")
            self._services.append(service)
        threading.Thread(target=service.serve_forever, args=(POLL_SECONDS,), name=f"acalab-{name}-{self.name}",
                         daemon=True).start()

    def _pump_logs(self) -> None:
        sel = selectors.DefaultSelector()
        streams = {"stdout": self.process.stdout, "stderr": self.process.stderr}
        partial = {"stdout": b"", "stderr": b""}
        for name, pipe in streams.items():
            if pipe is not None:
                sel.register(pipe, selectors.EVENT_READ, name)
        open_streams = len(sel.get_map())
        while open_streams:
            for key, _ in sel.select():
                name = key.data
                chunk = os.read(key.fd, 65536)
                if not chunk:
                    sel.unregister(key.fileobj)
                    open_streams -= 1
                    if partial[name]:
                        self._emit(name, partial[name])
                    continue
                data = partial[name] + chunk
                *lines, partial[name] = data.split(b"\n")
                for line in lines:
                    self._emit(name, line)
        sel.close()

    def _emit(self, stream: str, raw: bytes) -> None:
        if self.on_log is not None:
            try:
                self.on_log(stream, raw.decode(errors="replace").rstrip("\r"), time.time())
            except Exception:  # a broken sink must not stop the pipe from draining
                log.exception("console log sink failed for pod %s", self.name)

    def close(self) -> None:
        """Stop the container and the pod; idempotent, safe from any thread."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            services, self._services = self._services, []
            shutdown_together(services)
            for service in services:
                service.server_close()
            try:
                self._control.close()  # end of file: the supervisor kills its container and exits
            except OSError:
                pass
        try:
            self.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=5)
        with _PODS_LOCK:
            _PODS.pop(self.process.pid, None)
        shutil.rmtree(self._scratch, ignore_errors=True)


class LoopbackService(socketserver.ThreadingMixIn, socketserver.TCPServer):
    """A server on a socket the pod created (so it listens inside the pod's namespace), one thread per client."""

    daemon_threads = True

    def __init__(self, listener: socket.socket, handler: type[socketserver.BaseRequestHandler],
                 attributes: dict[str, Any]) -> None:
        super().__init__(listener.getsockname(), handler, bind_and_activate=False)
        self.socket.close()
        self.socket = listener
        for key, value in attributes.items():
            setattr(self, key, value)


def stop_all() -> int:
    """Stop every pod of this process; returns how many were running."""
    with _PODS_LOCK:
        pods = list(_PODS.values())
    for pod in pods:
        pod.close()
    return len(pods)


def live_pod_pids() -> list[int]:
    with _PODS_LOCK:
        return sorted(_PODS)


atexit.register(stop_all)
