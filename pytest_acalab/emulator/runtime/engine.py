"""The container engine the Container Apps provider drives: images in, isolated processes out.

It knows nothing of revisions or probes; it prepares images (``images``), opens pods (``sandbox``)
and starts a container's process in one. Isolation is checked once: where the OS refuses private
network namespaces, no workload is started at all (a workload on the host network could listen on
every interface) and every start fails with that reason, said once in the log.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping, Sequence
from pathlib import Path

from pytest_acalab.emulator.platform.services import ImageFiles
from pytest_acalab.emulator.runtime.images import ImageStore, LaunchPlan, RunnableImage, Unrunnable, plan_launch
from pytest_acalab.emulator.runtime.python_envs import Log
from pytest_acalab.emulator.runtime.sandbox import LogSink, Pod, SandboxError

log = logging.getLogger("pytest_acalab.emulator.runtime")


def memory_bytes(value: object) -> int:
    """``"0.5Gi"`` → bytes (the template's ``resources.memory``); 0 when absent or unreadable."""
    text = str(value or "").strip()
    units = {"Gi": 1024**3, "Mi": 1024**2, "Ki": 1024, "G": 1000**3, "M": 1000**2}
    for suffix, factor in units.items():
        if text.endswith(suffix):
            try:
                return int(float(text[: -len(suffix)]) * factor)
            except ValueError:
                return 0
    return 0


class ContainerEngine:
    def __init__(self, state_dir: Path) -> None:
        self.images = ImageStore(state_dir)
        self.scratch_root = state_dir / "pods"
        """Where the replicas' temporary files go (inside the emulator's state directory, removed with it)."""
        self._lock = threading.Lock()
        self._isolation_error: str | None = None

    def prepare(self, reference: str, content: ImageFiles | None, log_line: Log | None = None) -> RunnableImage:
        if content is None:
            raise Unrunnable(f"image {reference} was pulled but its content is not available to the emulator")
        return self.images.prepare(reference, content, log_line)

    def open_pod(self, name: str, on_log: LogSink) -> Pod:
        with self._lock:
            refused = self._isolation_error
        if refused:
            raise Unrunnable(refused)
        try:
            return Pod(name, isolate=True, on_log=on_log, scratch_root=self.scratch_root)
        except SandboxError as exc:
            if "unshare" not in str(exc):
                raise Unrunnable(f"the replica's sandbox could not start: {exc}") from None
            reason = (f"workloads cannot run here: this OS refuses a private network namespace ({exc}); "
                      "the emulator never runs a workload on the host's network. Allow unprivileged user "
                      "namespaces (sysctl kernel.unprivileged_userns_clone=1) or run as root")
            with self._lock:
                first = self._isolation_error is None
                self._isolation_error = reason
            if first:
                log.warning("%s", reason)
            raise Unrunnable(reason) from None

    @staticmethod
    def plan(image: RunnableImage, command: Sequence[str] | None, args: Sequence[str] | None,
             env: Mapping[str, str]) -> LaunchPlan:
        return plan_launch(image, command, args, env)

    @staticmethod
    def start(pod: Pod, name: str, plan: LaunchPlan, memory_limit: int, cpu: float = 0.0) -> tuple[bool, str]:
        try:
            return pod.start(name, plan.argv, plan.env, plan.cwd, memory_limit, cpu)
        except SandboxError as exc:
            return False, str(exc)
