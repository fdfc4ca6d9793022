"""Compile a lab's ``main.bicep`` when a Bicep compiler is at hand, and report drift from ``main.json``.

A lab commits both its Bicep source and the ARM JSON compiled from it; the JSON is what runs everywhere
(no compiler needed). Where ``bicep`` is on PATH (or ``az`` with its Bicep already installed), the
template deployed is the one compiled now from the Bicep source, and any semantic difference from the
committed JSON (parameters, variables, resources, outputs; ``metadata._generator`` ignored) is reported:
a stale ``main.json`` means users who deploy it by hand see something else than the lab tests.

``ACALAB_BICEP=off`` deploys ``main.json`` even when a compiler is present.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pytest_acalab.labfile.model import Lab
from pytest_acalab.reports.runinfo import bicep_line

COMPARED = ("parameters", "variables", "functions", "resources", "outputs")
"""Template sections whose content decides what a deployment does."""
MAX_DIFFERENCES = 8
TIMEOUT = 180.0


@dataclass
class BicepResult:
    """What compiling one lab's Bicep source gave."""

    source: str
    """The ``.bicep`` file."""
    committed: str
    """The committed ARM JSON it is compared with."""
    compiler: str
    """The command used (``bicep`` or ``az bicep``)."""
    deployed: str
    """``compiled`` (the fresh template was deployed) or ``committed`` (compiling failed)."""
    drift: list[str] = field(default_factory=list)
    """Differences between compiled and committed template, one line each (empty: they match)."""
    error: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {"source": self.source, "committed": self.committed, "compiler": self.compiler,
                "deployed": self.deployed, "drift": list(self.drift), "error": self.error}

    def warning(self) -> str:
        """One line for logs and the terminal summary (empty when the templates match)."""
        return bicep_line(self.as_dict()) if self.error or self.drift else ""


def compiler_command(bicep_file: Path) -> list[str] | None:
    """The command printing the compiled template on stdout, or None when no compiler is on PATH."""
    if os.environ.get("ACALAB_BICEP", "").lower() in ("off", "0", "false", "no"):
        return None
    bicep = shutil.which("bicep")
    if bicep:
        return [bicep, "build", "--stdout", str(bicep_file)]
    az = shutil.which("az")
    if az and _az_bicep_installed():
        return [az, "bicep", "build", "--file", str(bicep_file), "--stdout"]
    return None


def _az_bicep_installed() -> bool:
    """``az bicep`` downloads the compiler on first use: only use it when it is already there (no network)."""
    config = Path(os.environ.get("AZURE_CONFIG_DIR") or Path.home() / ".azure")
    return (config / "bin" / ("bicep.exe" if os.name == "nt" else "bicep")).is_file()


def compile_bicep(bicep_file: Path, command: list[str], timeout: float = TIMEOUT) -> dict[str, Any]:
    """Run the compiler; ``ValueError`` with its message when it fails or prints no template."""
    env = dict(os.environ, AZURE_BICEP_CHECK_VERSION="false")  # az: no version check over the network
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=timeout, env=env,
                              cwd=bicep_file.parent, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise ValueError(str(exc)) from None
    if done.returncode != 0:
        lines = (done.stderr or done.stdout).strip().splitlines()
        raise ValueError(f"exit code {done.returncode}: {lines[-1] if lines else 'no output'}")
    try:
        template = json.loads(done.stdout)
    except ValueError:
        raise ValueError("its output is not a JSON template") from None
    if not isinstance(template, dict) or "resources" not in template:
        raise ValueError("its output is not an ARM template (no 'resources')")
    return template


def template_drift(compiled: dict[str, Any], committed: dict[str, Any]) -> list[str]:
    """Semantic differences, section by section; key order and ``metadata._generator`` do not count."""
    out: list[str] = []
    for section in COMPARED:
        _diff(section, _normal(compiled.get(section)), _normal(committed.get(section)), out)
    if len(out) > MAX_DIFFERENCES:
        out = out[:MAX_DIFFERENCES] + [f"... {len(out) - MAX_DIFFERENCES} more"]
    return out


def resolve_template(lab: Lab) -> tuple[dict[str, Any] | None, BicepResult | None]:
    """The template to deploy (None: the committed JSON) and what compiling the Bicep source gave."""
    source = lab.infra.bicep
    if source is None or not source.is_file():
        return None, None
    command = compiler_command(source)
    if command is None:
        return None, None
    name = "az bicep" if Path(command[0]).name.startswith("az") else "bicep"
    result = BicepResult(str(source), str(lab.infra.template), name, "committed")
    try:
        compiled = compile_bicep(source, command)
        committed = json.loads(lab.infra.template.read_text(encoding="utf-8"))
    except ValueError as exc:
        result.error = str(exc)
        return None, result
    result.deployed = "compiled"
    result.drift = template_drift(compiled, committed)
    return compiled, result


def _normal(value: Any) -> Any:
    """Comparable form: ``_generator`` metadata (compiler version, template hash) dropped everywhere."""
    if isinstance(value, dict):
        return {k: _normal(v) for k, v in value.items() if k != "_generator"}
    if isinstance(value, list):
        return [_normal(v) for v in value]
    return value


def _label(item: Any, index: int) -> str:
    if isinstance(item, dict) and "type" in item:
        return f"[{index}] {item.get('type')} {item.get('name')!s}"
    return f"[{index}]"


def _diff(path: str, a: Any, b: Any, out: list[str]) -> None:
    """Append ``path: ...`` lines; ``a`` is compiled from Bicep, ``b`` is the committed JSON."""
    if a == b:
        return
    if isinstance(a, dict) and isinstance(b, dict):
        for key in sorted(set(a) | set(b)):
            if key not in b:
                out.append(f"{path}.{key}: in main.bicep only")
            elif key not in a:
                out.append(f"{path}.{key}: in main.json only")
            else:
                _diff(f"{path}.{key}", a[key], b[key], out)
        return
    if isinstance(a, list) and isinstance(b, list):
        if len(a) != len(b):
            out.append(f"{path}: {len(a)} entries compiled from main.bicep, {len(b)} in main.json")
            return
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            _diff(f"{path}{_label(x, i)}" if isinstance(x, dict) else f"{path}[{i}]", x, y, out)
        return
    out.append(f"{path}: main.bicep gives {_short(a)}, main.json has {_short(b)}")


def _short(value: Any, limit: int = 60) -> str:
    text = json.dumps(value, sort_keys=True)
    return text if len(text) <= limit else text[: limit - 3] + "..."
