"""The pod sandbox on its own: isolation, the ports a process listens on, exits, memory and CPU limits."""

from __future__ import annotations

import socket
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from pytest_acalab.emulator.runtime.sandbox import Pod, PodStatus

SERVER = "import http.server as h; h.HTTPServer(('0.0.0.0', {port}), h.SimpleHTTPRequestHandler).serve_forever()"
ENV = {"PATH": "/usr/bin:/bin", "PYTHONUNBUFFERED": "1"}


@pytest.fixture
def pod() -> Iterator[Pod]:
    lines: list[tuple[str, str]] = []
    p = Pod("test-pod", isolate=True, on_log=lambda stream, line, _t: lines.append((stream, line)))
    p.lines = lines  # type: ignore[attr-defined]
    yield p
    p.close()


def _until(pred, what: str, timeout: float = 30.0):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while True:
        value = pred()
        if value:
            return value
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.02)


def _exited(pod: Pod) -> PodStatus:
    return _until(lambda: (s := pod.status()).exits and s, "an exit")


def test_a_process_listens_in_its_own_network_namespace(pod: Pod) -> None:
    assert pod.isolation.startswith("netns")
    ok, error = pod.start("app", [sys.executable, "-c", SERVER.format(port=8765)], ENV, "/tmp", 0)
    assert ok, error
    assert _until(lambda: pod.listening_ports(), "a listening port") == [8765]
    with pod.connect(8765, 2.0) as conn:
        conn.sendall(b"GET / HTTP/1.0\r\n\r\n")
        assert conn.recv(12).startswith(b"HTTP/1.0 200")
    with socket.socket() as host:  # bound to 0.0.0.0 inside the pod, yet not on this machine's loopback
        assert host.connect_ex(("127.0.0.1", 8765)) != 0


def test_stdout_and_stderr_become_log_lines(pod: Pod) -> None:
    code = "import sys; print('out line'); print('err line', file=sys.stderr)"
    assert pod.start("app", [sys.executable, "-c", code], ENV, "/tmp", 0)[0]
    assert _exited(pod).exits[0].code == 0
    _until(lambda: len(pod.lines) >= 2, "two lines")  # type: ignore[attr-defined]
    assert sorted(pod.lines) == [("stderr", "err line"), ("stdout", "out line")]  # type: ignore[attr-defined]


def test_exit_codes_and_a_restart_in_the_same_pod(pod: Pod) -> None:
    assert pod.start("app", [sys.executable, "-c", "raise SystemExit(3)"], ENV, "/tmp", 0)[0]
    assert _exited(pod).exits[0].code == 3
    assert pod.start("app", [sys.executable, "-c", "import os; print(os.getpid())"], ENV, "/tmp", 0)[0]
    assert _exited(pod).exits[0].code == 0
    _until(lambda: pod.lines, "the pid")  # type: ignore[attr-defined]
    assert pod.lines[-1] == ("stdout", "1")  # type: ignore[attr-defined]  # pid 1 of a fresh PID namespace


def test_a_missing_program_does_not_start(pod: Pod) -> None:
    ok, error = pod.start("app", ["definitely-not-a-program"], ENV, "/tmp", 0)
    assert not ok and "definitely-not-a-program" in error


def test_over_the_memory_limit_the_container_is_killed_137(pod: Pod) -> None:
    hog = "import time; hog = b'x' * (300 * 1024 * 1024); time.sleep(30)"
    assert pod.start("app", [sys.executable, "-c", hog], ENV, "/tmp", 128 * 1024 * 1024)[0]
    ended = _exited(pod).exits[0]
    assert (ended.code, ended.signal, ended.oom) == (137, 9, True)
    assert ended.peak_rss > 128 * 1024 * 1024


def test_the_cpu_allocation_is_a_quota(pod: Pod) -> None:
    """A busy loop of 1.5 s of wall time gets about a quarter of a core (where the OS allows cgroups)."""
    code = ("import time\nstart, cpu = time.time(), time.process_time()\n"
            "while time.time() - start < 1.5: pass\n"
            "print(round((time.process_time() - cpu) / (time.time() - start), 3))")
    assert pod.start("app", [sys.executable, "-c", code], ENV, "/tmp", 0, cpu=0.25)[0]
    if not pod.cpu_limited:
        pytest.skip("this OS refuses a CPU cgroup to the emulator: CPU allocation is not enforced here")
    assert _exited(pod).exits[0].code == 0
    _until(lambda: pod.lines, "the ratio")  # type: ignore[attr-defined]
    share = float(pod.lines[-1][1])  # type: ignore[attr-defined]
    assert share < 0.5  # a cap: load on the machine can only lower it


def test_temporary_files_live_as_long_as_the_container() -> None:
    """What a workload writes with ``tempfile`` (an exporter's offline storage) does not outlive it on the host."""
    lines: list[str] = []
    pod = Pod("scratch", isolate=True, on_log=lambda _stream, line, _t: lines.append(line))
    code = ("import tempfile, os; f = tempfile.NamedTemporaryFile(delete=False); f.write(b'x'); f.close(); "
            "print(f.name)")
    try:
        assert pod.start("app", [sys.executable, "-c", code], ENV, "/tmp", 0)[0]
        assert _exited(pod).exits[0].code == 0
        first = Path(_until(lambda: lines and lines[0], "the file's name"))
        assert first.is_file() and not str(first).startswith("/tmp/tmp")  # not straight in the host's /tmp
        assert pod.start("app", [sys.executable, "-c", code], ENV, "/tmp", 0)[0]  # a restart: a fresh layer
        second = Path(_until(lambda: len(lines) > 1 and lines[1], "the restart's file"))
        assert not first.exists() and second.is_file()
    finally:
        pod.close()
    assert not second.exists() and not second.parent.exists()


def test_closing_the_pod_ends_its_processes() -> None:
    pod = Pod("closing", isolate=True)
    assert pod.start("app", [sys.executable, "-c", "import time; time.sleep(60)"], ENV, "/tmp", 0)[0]
    pid = pod.process.pid
    pod.close()
    with pytest.raises(ProcessLookupError):
        import os
        os.kill(pid, 0)
