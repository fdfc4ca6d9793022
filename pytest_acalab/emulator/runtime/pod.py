"""The pod supervisor: one process per replica, the emulator's stand-in for a Kubernetes pod sandbox.

Run as ``python -I -S pod.py SPEC_JSON``; the spec names the control socket's fd. Standard library only and
no imports from this package: it starts in a few milliseconds and runs before anything else could.

What it does, in order:

1. Dies with the emulator: ``PR_SET_PDEATHSIG`` and end of file on the control socket.
2. Enters namespaces of its own where the OS allows (``unshare``): a network namespace with only
   its loopback up (the workload may bind ``0.0.0.0``; nothing reaches a host interface), a user
   namespace when not root, and a PID namespace so that every descendant of the workload dies with
   it (the kernel kills a PID namespace whose init exits).
3. Answers the emulator on the control socket, one JSON request a line: ``start`` (fork and exec
   the container's command), ``dial`` (a TCP socket created inside the pod's network namespace,
   passed back with SCM_RIGHTS, so the emulator connects to the workload's own loopback), ``ports``
   (listening sockets, from ``/proc/self/net/tcp*`` of this namespace), ``status`` (exits since the
   last call, memory in use), ``kill``.
4. Enforces the memory limit by sampling the resident memory of every process in the workload's
   PID namespace every 100 ms; over the limit, the whole namespace is SIGKILLed and the exit is
   reported as ``OOMKilled`` with code 137, as the kubelet reports a cgroup OOM kill.
"""

from __future__ import annotations

import ctypes
import errno
import fcntl
import json
import os
import select
import signal
import socket
import struct
import sys
import time

CLONE_NEWUSER = 0x10000000
CLONE_NEWNET = 0x40000000
CLONE_NEWPID = 0x20000000
PR_SET_PDEATHSIG = 1
SIOCGIFFLAGS = 0x8913
SIOCSIFFLAGS = 0x8914
IFF_UP = 0x1
SAMPLE_SECONDS = 0.1  # the memory sampler's pace while every container's resident set is steady
SAMPLE_SECONDS_MIN = 0.01  # its fastest pace, while one grows toward its limit
PAGE = os.sysconf("SC_PAGE_SIZE")

_libc = ctypes.CDLL(None, use_errno=True)


def _die_with_parent() -> None:
    _libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)


def _unshare(flags: int) -> None:
    if _libc.unshare(flags) != 0:
        err = ctypes.get_errno()
        raise OSError(err, os.strerror(err))


def _write(path: str, text: str) -> None:
    with open(path, "w") as fh:
        fh.write(text)


def _loopback_up() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        req = struct.pack("16sH14s", b"lo", 0, b"")
        flags = struct.unpack("16sH14s", fcntl.ioctl(s.fileno(), SIOCGIFFLAGS, req))[1]
        fcntl.ioctl(s.fileno(), SIOCSIFFLAGS, struct.pack("16sH14s", b"lo", flags | IFF_UP, b""))


def isolate() -> str:
    """Enter private namespaces; returns how (``"netns+pidns"``), raises OSError when not allowed."""
    uid, gid = os.getuid(), os.getgid()
    flags = CLONE_NEWNET
    if uid != 0:
        flags |= CLONE_NEWUSER
    _unshare(flags)
    if uid != 0:
        _write("/proc/self/setgroups", "deny")
        _write("/proc/self/uid_map", f"0 {uid} 1")
        _write("/proc/self/gid_map", f"0 {gid} 1")
    _loopback_up()
    return "netns+pidns" + ("+userns" if uid != 0 else "")


def listening_ports() -> list[int]:
    """TCP ports something listens on in this network namespace, asked of the kernel over sock_diag netlink.

    (``/proc/net/tcp`` would do, but the kernel walks its whole socket hash table to write it: ~20 ms.)
    """
    ports: set[int] = set()
    for family in (socket.AF_INET, socket.AF_INET6):
        try:
            ports.update(_diag_listeners(family))
        except OSError:
            continue
    return sorted(ports)


def _diag_listeners(family: int) -> list[int]:
    sock_diag_by_family, nlm_request_dump, tcp_listen = 20, 0x1 | 0x300, 10
    req = struct.pack("=BBBBI", family, socket.IPPROTO_TCP, 0, 0, 1 << tcp_listen) + bytes(48)
    msg = struct.pack("=IHHII", 16 + len(req), sock_diag_by_family, nlm_request_dump, 1, 0) + req
    out: list[int] = []
    with socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, 4) as nl:  # NETLINK_SOCK_DIAG
        nl.sendto(msg, (0, 0))
        while True:
            data = nl.recv(65536)
            offset = 0
            while offset + 16 <= len(data):
                length, kind = struct.unpack_from("=IH", data, offset)
                if kind == 3:  # NLMSG_DONE
                    return out
                if kind == 2:  # NLMSG_ERROR
                    raise OSError("sock_diag refused the request")
                out.append(struct.unpack_from("!H", data, offset + 16 + 4)[0])  # inet_diag_msg.id.sport
                offset += (length + 3) & ~3
            if not data:
                return out


def _tree(root: int) -> list[int]:
    """``root`` and its descendants, from the kernel's per-task children lists."""
    out, todo = [], [root]
    while todo:
        pid = todo.pop()
        out.append(pid)
        try:
            for tid in os.listdir(f"/proc/{pid}/task"):
                with open(f"/proc/{pid}/task/{tid}/children") as fh:
                    todo.extend(int(c) for c in fh.read().split())
        except OSError:
            continue
    return out


def tree_rss(root: int) -> int:
    """Resident bytes of a container: its init and every descendant (all of its PID namespace)."""
    total = 0
    for pid in _tree(root):
        try:
            with open(f"/proc/{pid}/statm") as fh:
                total += int(fh.read().split()[1]) * PAGE
        except (OSError, ValueError, IndexError):
            continue
    return total


CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def tree_cpu_ns(root: int) -> int:
    """CPU time (user + system) of a container's processes so far, in nanoseconds: every live process of
    its tree, plus what its init has collected from children that already exited (``cutime``/``cstime``)."""
    total = 0
    for pid in _tree(root):
        try:
            with open(f"/proc/{pid}/stat") as fh:
                fields = fh.read().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        try:  # fields[0] is the state (field 3): utime is field 14, cutime 16
            total += int(fields[11]) + int(fields[12])
            if pid == root:
                total += int(fields[13]) + int(fields[14])
        except (ValueError, IndexError):
            continue
    return total * 1_000_000_000 // CLOCK_TICKS


def _readline(reader) -> bytes:
    line = b""
    while not line.endswith(b"\n"):
        chunk = reader.read(1)
        if not chunk:
            break
        line += chunk
    return line.strip()


def _shim(status_w: int, argv: list[str], env: dict[str, str], cwd: str, isolate: bool) -> None:
    """In the forked shim: never returns."""
    try:
        _die_with_parent()
        if isolate:
            _unshare(CLONE_NEWPID)
        err_r, err_w = os.pipe()
        pid = os.fork()
        if pid == 0:  # the container: pid 1 of its PID namespace when isolated
            try:
                os.close(err_r)
                os.setsid()
                _die_with_parent()
                fcntl.fcntl(err_w, fcntl.F_SETFD, fcntl.FD_CLOEXEC)
                for sig in (signal.SIGTERM, signal.SIGCHLD, signal.SIGINT, signal.SIGPIPE):
                    signal.signal(sig, signal.SIG_DFL)
                os.chdir(cwd)
                os.closerange(3, err_w)  # the container keeps no fd of the pod: control socket, status pipes
                os.closerange(err_w + 1, os.sysconf("SC_OPEN_MAX"))
                os.execvpe(argv[0], argv, env)
            except BaseException as exc:  # noqa: BLE001 - any failure before exec is the container's
                os.write(err_w, f"{type(exc).__name__}: {exc}".encode())
                os._exit(127 if isinstance(exc, FileNotFoundError) else 126)
        os.close(err_w)
        os.write(status_w, f"pid {pid}\n".encode())
        failure = b""
        while chunk := os.read(err_r, 4096):
            failure += chunk
        os.close(err_r)
        if failure:
            os.write(status_w, b"error " + failure.replace(b"\n", b" ") + b"\n")
            os.waitpid(pid, 0)
            os._exit(0)
        os.write(status_w, b"started\n")
        _, status = os.waitpid(pid, 0)
        os.write(status_w, f"exit {os.waitstatus_to_exitcode(status)}\n".encode())
    except BaseException as exc:  # noqa: BLE001
        try:
            os.write(status_w, f"error {type(exc).__name__}: {exc}\n".encode())
        finally:
            os._exit(1)
    os._exit(0)


CPU_ROOTS = ("/sys/fs/cgroup/cpu", "/sys/fs/cgroup")
CFS_PERIOD = 100_000


def cpu_limit(name: str, pid: int, cpu: float) -> str | None:
    """Put ``pid`` in a cgroup of its own capped at ``cpu`` cores (CFS quota); None where the OS refuses."""
    if cpu <= 0:
        return None
    quota = max(int(cpu * CFS_PERIOD), 1000)
    for root in CPU_ROOTS:
        v1 = os.path.exists(os.path.join(root, "cpu.cfs_quota_us"))
        v2 = os.path.exists(os.path.join(root, "cgroup.controllers"))
        if not (v1 or v2):
            continue
        path = os.path.join(root, "acalab", name)
        try:
            os.makedirs(path, exist_ok=True)
            if v1:
                _write(os.path.join(path, "cpu.cfs_period_us"), str(CFS_PERIOD))
                _write(os.path.join(path, "cpu.cfs_quota_us"), str(quota))
            else:
                _write(os.path.join(path, "cpu.max"), f"{quota} {CFS_PERIOD}")
            _write(os.path.join(path, "cgroup.procs"), str(pid))
            return path
        except OSError:
            continue
    return None


def drop_cgroup(path: str | None) -> None:
    if path:
        try:
            os.rmdir(path)
        except OSError:
            pass


class Container:
    """One container of the pod: its shim, its init's pid, the pipe the shim reports on."""

    def __init__(self, name: str, shim: int, child: int, status, memory_limit: int) -> None:
        self.name, self.shim, self.child, self.status = name, shim, child, status
        self.memory_limit = memory_limit
        self.oom = False
        self.peak = 0
        self.last_rss, self.last_sampled = 0, 0.0
        self.cgroup: str | None = None


class Pod:
    def __init__(self, control: socket.socket, spec: dict) -> None:
        self.control = control
        self.spec = spec
        self.containers: dict[str, Container] = {}
        self.exits: list[dict] = []
        self.buffer = b""
        self.sample_wait = SAMPLE_SECONDS

    # -- containers -------------------------------------------------------------------------
    def start(self, req: dict) -> dict:
        """Fork a shim that enters a fresh PID namespace and forks the container as its pid 1.

        A PID namespace whose init has exited accepts no new process, so each start (and restart)
        needs a namespace of its own; the shim relays the container's pid and exit over a pipe.
        """
        name = str(req.get("name") or "main")
        if name in self.containers:
            return {"ok": False, "error": f"container {name} is already running in this pod"}
        status_r, status_w = os.pipe()
        shim = os.fork()
        if shim == 0:
            os.close(status_r)
            _shim(status_w, req["argv"], req["env"], req["cwd"], self.spec.get("isolate", True))
        os.close(status_w)
        reader = os.fdopen(status_r, "rb", buffering=0)
        first = _readline(reader)
        second = _readline(reader) if first.startswith(b"pid ") else first
        if not first.startswith(b"pid ") or not second.startswith(b"started"):
            reader.close()
            os.waitpid(shim, 0)
            text = second.decode(errors="replace").partition(" ")[2].strip() or "the container did not start"
            return {"ok": False, "error": text}
        child = int(first.split()[1])
        container = Container(name, shim, child, reader, int(req.get("memory_limit") or 0))
        container.cgroup = cpu_limit(f"{self.spec.get('name')}-{name}-{child}", child, float(req.get("cpu") or 0))
        self.containers[name] = container
        return {"ok": True, "pid": child, "cpu_limited": container.cgroup is not None}

    def _reap(self, c: Container, block: bool = False) -> None:
        if not block and not select.select([c.status], [], [], 0)[0]:
            return
        line = _readline(c.status)
        code = int(line.split()[1]) if line.startswith(b"exit ") else -9
        c.status.close()
        try:
            os.waitpid(c.shim, 0)
        except ChildProcessError:
            pass
        signalled = code < 0
        self.exits.append({
            "name": c.name,
            "code": 128 - code if signalled else code,
            "signal": -code if signalled else None,
            "oom": c.oom,
            "peak_rss": c.peak,
            "at": time.time(),
        })
        self.containers.pop(c.name, None)
        drop_cgroup(c.cgroup)

    def _reap_all(self) -> None:
        for c in list(self.containers.values()):
            self._reap(c)

    def _sample(self) -> None:
        """Kill a container whose resident set is over its limit, as the kernel's memory cgroup would.

        The kernel kills at the allocation that crosses the limit; a sampler kills after it, so a fast
        grower overshoots by what it allocates between two samples. The next sample is therefore due at
        half the time the growth since the last one projects to the limit (never sooner than 10 ms), and
        every 100 ms while memory is steady.
        """
        now, wait = time.monotonic(), SAMPLE_SECONDS
        for c in list(self.containers.values()):
            if not c.memory_limit:
                continue
            rss = tree_rss(c.child)
            c.peak = max(c.peak, rss)
            if rss > c.memory_limit:
                c.oom = True
                self._signal(c, signal.SIGKILL)
                continue
            if c.last_sampled and rss > c.last_rss:
                growth = (rss - c.last_rss) / max(now - c.last_sampled, 0.001)
                wait = min(wait, max((c.memory_limit - rss) / growth / 2, SAMPLE_SECONDS_MIN))
            c.last_rss, c.last_sampled = rss, now
        self.sample_wait = wait

    @staticmethod
    def _signal(c: Container, sig: int) -> None:
        for kill in (os.kill, os.killpg):
            try:  # the init of its PID namespace: its death takes every descendant along
                kill(c.child, sig)
            except (ProcessLookupError, PermissionError):
                pass

    def _kill(self, c: Container, sig: int, wait: bool, grace: float) -> None:
        self._signal(c, sig)
        if not wait:
            return
        deadline = time.monotonic() + grace
        while c.name in self.containers and time.monotonic() < deadline:
            self._reap(c)
            time.sleep(0.01)
        if c.name in self.containers:
            self._signal(c, signal.SIGKILL)
            self._reap(c, block=True)

    # -- requests ---------------------------------------------------------------------------
    def handle(self, req: dict) -> tuple[dict, int | None]:
        op = req.get("op")
        if op == "start":
            return self.start(req), None
        if op == "dial":
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            return {"ok": True}, s.detach()
        if op == "ports":
            return {"ok": True, "ports": listening_ports()}, None
        if op == "status":
            self._reap_all()
            exits, self.exits = self.exits, []
            rss, cpu = {}, {}
            for c in self.containers.values():
                rss[c.name] = tree_rss(c.child)
                cpu[c.name] = tree_cpu_ns(c.child)
                c.peak = max(c.peak, rss[c.name])
            return {"ok": True, "running": sorted(self.containers), "exits": exits, "rss": rss, "cpu_ns": cpu}, None
        if op == "kill":
            names = [req["name"]] if req.get("name") else list(self.containers)
            for name in names:
                target = self.containers.get(name)
                if target is not None:
                    self._kill(target, int(req.get("signal", signal.SIGKILL)), bool(req.get("wait")),
                               float(req.get("grace", 5)))
            return {"ok": True}, None
        return {"ok": False, "error": f"unknown op {op!r}"}, None

    def reply(self, answer: dict, fd: int | None) -> None:
        data = (json.dumps(answer) + "\n").encode()
        if fd is None:
            self.control.sendall(data)
        else:
            socket.send_fds(self.control, [data], [fd])
            os.close(fd)

    def serve(self) -> None:
        while True:
            watched = [self.control] + [c.status for c in self.containers.values()]
            ready, _, _ = select.select(watched, [], [], self.sample_wait)
            self._reap_all()
            self._sample()
            if self.control not in ready:
                continue
            try:
                chunk = self.control.recv(65536)
            except OSError:
                chunk = b""
            if not chunk:
                return  # the emulator is gone: take the workload down with us
            self.buffer += chunk
            while b"\n" in self.buffer:
                line, self.buffer = self.buffer.split(b"\n", 1)
                answer, fd = self.handle(json.loads(line))
                self.reply(answer, fd)

    def shutdown(self) -> None:
        for c in list(self.containers.values()):
            self._signal(c, signal.SIGKILL)
        for c in list(self.containers.values()):
            self._reap(c, block=True)


def main() -> int:
    _die_with_parent()
    spec = json.loads(sys.argv[1])
    control = socket.socket(fileno=int(spec["control_fd"]))
    if os.getppid() == 1:  # the emulator died before we armed PDEATHSIG
        return 1
    isolation = "none"
    if spec.get("isolate", True):
        try:
            isolation = isolate()
        except OSError as exc:
            control.sendall((json.dumps({"ok": False, "error": f"unshare: {exc.strerror or exc}"}) + "\n").encode())
            return 2
    pod = Pod(control, spec)

    def on_sigterm(*_: object) -> None:
        pod.shutdown()
        os._exit(0)

    signal.signal(signal.SIGTERM, on_sigterm)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C reaches the emulator, which stops us in order
    control.sendall((json.dumps({"ok": True, "isolation": isolation, "pid": os.getpid()}) + "\n").encode())
    try:
        pod.serve()
    except (BrokenPipeError, ConnectionResetError):
        pass
    except OSError as exc:
        if exc.errno not in (errno.EBADF, errno.EPIPE):
            raise
    finally:
        pod.shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
