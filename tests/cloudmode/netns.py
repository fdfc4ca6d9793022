"""Run a command in a private network namespace whose only interface is loopback.

``unshare --net`` (as root) or ``unshare --net --map-root-user`` (as a user, where user namespaces are
allowed) gives the child a network namespace of its own with a single interface, ``lo``, down. The
driver brings it up (``ioctl(SIOCSIFFLAGS)``: no dependency on iproute2), so nothing the child starts
can reach anything but 127.0.0.1, whatever it tries.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import socket
import struct
import subprocess
import sys

SIOCGIFFLAGS = 0x8913
SIOCSIFFLAGS = 0x8914
IFF_UP = 0x1


def unshare_argv() -> tuple[list[str] | None, str]:
    """The ``unshare`` prefix that works here, or None and why not (for a skip reason)."""
    tool = shutil.which("unshare")
    if tool is None:
        return None, "no 'unshare' (util-linux) on PATH: cannot make a loopback-only network namespace"
    candidates = [[tool, "--net"]] if os.geteuid() == 0 else []
    candidates.append([tool, "--net", "--map-root-user"])
    errors = []
    for argv in candidates:
        probe = subprocess.run([*argv, sys.executable, __file__, "--check"], capture_output=True, text=True,
                               timeout=60)
        if probe.returncode == 0:
            return argv, ""
        errors.append(f"{' '.join(argv[1:])}: {(probe.stderr or probe.stdout).strip()[-200:]}")
    return None, "cannot make a loopback-only network namespace here (" + "; ".join(errors) + ")"


def bring_loopback_up() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        request = struct.pack("16sh", b"lo", 0)
        flags = struct.unpack("16sh", fcntl.ioctl(sock, SIOCGIFFLAGS, request))[1]
        fcntl.ioctl(sock, SIOCSIFFLAGS, struct.pack("16sh", b"lo", flags | IFF_UP))


def isolation_report() -> dict[str, object]:
    """What this process's network looks like: its interfaces, and what a connection off-machine gets."""
    interfaces = sorted(name for _, name in socket.if_nameindex())
    with socket.socket() as sock:
        sock.settimeout(2)
        outside = os.strerror(sock.connect_ex(("192.0.2.1", 443)))  # TEST-NET-1: documentation only
    return {"interfaces": interfaces, "connect_192.0.2.1": outside}


if __name__ == "__main__" and sys.argv[1:] == ["--check"]:
    bring_loopback_up()
    report = isolation_report()
    sys.exit(0 if report["interfaces"] == ["lo"] else 1)
