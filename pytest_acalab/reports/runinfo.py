"""What every report says about the run that produced it: backend, location, run id, versions.

An emulator result says nothing about Azure, so no report leaves the backend out.
"""

from __future__ import annotations

from datetime import UTC, datetime
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

PACKAGES = ("pytest-acalab", "azure-mgmt-appcontainers", "azure-mgmt-containerregistry", "azure-mgmt-resource",
            "azure-monitor-query", "azure-identity")
"""The packages whose versions decide what a run talks to and how (reported with every run)."""


def package_versions() -> dict[str, str]:
    out = {}
    for pkg in PACKAGES:
        try:
            out[pkg] = version(pkg)
        except PackageNotFoundError:
            pass
    return out


def run_info(options: Any, run_id: str) -> dict[str, Any]:
    """The run's identity as plain data (``Options`` of the session, its run id)."""
    info: dict[str, Any] = {
        "backend": options.backend,
        "run_id": run_id,
        "location": options.location or "lab default",
        "started": datetime.now(UTC).isoformat(timespec="seconds"),
        "versions": package_versions(),
    }
    if options.backend == "emulator":
        info["emulator_profile"] = options.profile
        if options.profile == "realistic":
            info["emulator_speed"] = options.speed
    return info


def backend_label(info: dict[str, Any]) -> str:
    """``emulator (fast profile; says nothing about Azure itself)`` or ``Azure``."""
    backend = info.get("backend") or "unknown backend"
    if backend == "emulator":
        profile = info.get("emulator_profile") or "fast"
        speed = f", speed {info['emulator_speed']:g}" if info.get("emulator_speed") else ""
        return f"emulator ({profile} profile{speed}; says nothing about Azure itself)"
    return "Azure" if backend == "azure" else str(backend)


def backend_line(info: dict[str, Any]) -> str:
    """``emulator (fast profile), location lab default, run 3ddd84cd``: one line for text reports."""
    return f"{backend_label(info)}, location {info.get('location') or 'lab default'}, run {info.get('run_id') or '?'}"


def bicep_line(result: dict[str, Any]) -> str:
    """One line on what compiling a lab's Bicep gave (a ``BicepResult.as_dict()``): drift, error or match."""
    source, committed = Path(result["source"]).name, Path(result["committed"]).name
    if result.get("error"):
        return (f"{result['source']}: '{result['compiler']}' could not compile it ({result['error']}); "
                f"deployed the committed {committed} as is")
    if result.get("drift"):
        return (f"{result['committed']} has drifted from {source} (compiled with {result['compiler']}; "
                f"the compiled template was deployed): " + "; ".join(result["drift"]))
    return f"{committed} matches {source} compiled with {result['compiler']}"
