"""Helpers for running the real Azure CLI against the emulator: finding ``az``, a logged-in shell, and
running a lab page's ``az`` block verbatim, one command at a time in one bash session, with what each
command printed (stdout, stderr, exit code) split out so a test can check them one by one."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from pytest_acalab.emulator import Emulator

REPO = Path(__file__).resolve().parents[2]
FENCE = re.compile(r"```bash\n(.*?)```", re.S)
MARK = "@@acalab-step@@"


def find_az() -> tuple[str | None, str]:
    """The az binary to use (``$ACALAB_AZ``, else ``az`` on PATH), or None and why not."""
    configured = os.environ.get("ACALAB_AZ")
    if configured:
        if os.path.isfile(configured) and os.access(configured, os.X_OK):
            return configured, ""
        return None, f"ACALAB_AZ={configured!r} is not an executable file"
    found = shutil.which("az")
    if found:
        return found, ""
    return None, "the Azure CLI is not installed (no 'az' on PATH, ACALAB_AZ unset); run 'nox -s azcli'"


@dataclass
class AzShell:
    """Runs bash scripts whose ``az`` is the CLI under test, logged in to the emulator."""

    emu: Emulator
    env: dict[str, str]

    def run(self, script: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
        return subprocess.run(["bash", "-c", script], env=self.env, cwd=REPO, capture_output=True, text=True,
                              timeout=timeout)


@dataclass
class Step:
    command: str
    stdout: str
    stderr: str
    rc: int


def az_block(readme: Path, after: str = "with the Azure CLI") -> str:
    """The first ```bash block after the sentence containing ``after``."""
    text = readme.read_text(encoding="utf-8")
    start = text.find(after)
    if start < 0:
        raise ValueError(f"{readme}: no '{after}' section")
    m = FENCE.search(text, start)
    if m is None:
        raise ValueError(f"{readme}: no bash block after '{after}'")
    return m.group(1)


def commands(block: str) -> list[str]:
    """Logical commands of a shell block: continuation lines joined, comments and blanks dropped."""
    out: list[str] = []
    current = ""
    for line in block.splitlines():
        if not current and (not line.strip() or line.lstrip().startswith("#")):
            continue
        if line.rstrip().endswith("\\"):
            current += line.rstrip()[:-1] + " "
            continue
        out.append(current + line)
        current = ""
    if current:
        out.append(current)
    return out


def script(cmds: list[str]) -> str:
    """A bash script running ``cmds`` unchanged, with a marker before each on both streams."""
    lines = []
    for i, cmd in enumerate(cmds):
        lines.append(f"echo {MARK}{i}; echo {MARK}{i} >&2")
        lines.append(cmd)
        lines.append(f"echo {MARK}rc$?")
    return "\n".join(lines) + "\n"


def split(cmds: list[str], stdout: str, stderr: str) -> list[Step]:
    def sections(text: str) -> dict[int, str]:
        parts = re.split(rf"^{re.escape(MARK)}(\d+)\n", text, flags=re.M)
        return {int(parts[i]): parts[i + 1] for i in range(1, len(parts) - 1, 2)}

    outs, errs = sections(stdout), sections(stderr)
    steps = []
    for i, cmd in enumerate(cmds):
        out = outs.get(i, "")
        rc_match = re.search(rf"^{re.escape(MARK)}rc(\d+)\n?", out, flags=re.M)
        rc = int(rc_match.group(1)) if rc_match else -1
        if rc_match:
            out = out[:rc_match.start()]
        steps.append(Step(cmd, out, errs.get(i, ""), rc))
    return steps


def describe(steps: list[Step]) -> str:
    """What each step did, for assertion messages."""
    return "\n".join(f"$ {s.command}\n[rc={s.rc}]\n{s.stdout}{s.stderr}" for s in steps)
