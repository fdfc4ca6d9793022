"""Contract: the registry-credential labs (acr_admin_disabled, acr_password_regenerated) produce, on the
emulator, what live Azure produced for an unauthorized pull: the Practical Guide's acr-network-path-pe-direct
system logs (an ``ImagePullUnauthorized`` loop) and acr-network-path-firewall-allowlist revision list (the new
revision ``1/1 Pending:ImagePullBackOff on legion``, the previous one still active and Healthy). Those
captures fail the pull for network reasons; the labs' pages say what is inferred for credentials.

The labs run unchanged in pytester with the recorder of ``test_runtime_labs_evidence`` (which also reads the
registry's current passwords here, to show they reach no report).
"""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from test_runtime_labs_evidence import EVIDENCE, _seen, run_lab

PE_DIRECT = EVIDENCE / "acr-network-path-pe-direct"
FIREWALL = EVIDENCE / "acr-network-path-firewall-allowlist"
PULL_REASONS = ("PullingImage", "ImagePullUnauthorized", "ContainerTerminated")

PASSWORDS = '''

def test_zz_passwords(lab_context, lab_probe):
    creds = lab_context.clients.registries.registries.list_credentials(
        lab_context.resource_group, lab_context.resource("registry").name)
    (Path(__file__).parent / "passwords.json").write_text(json.dumps([p.value for p in creds.passwords]))
    failures = {since: len(lab_probe("system_logs", app="app", message="ImagePullFailure", since=since).value)
                for since in ("lab", "phase", "restart-after-fix")}
    (Path(__file__).parent / "windows.json").write_text(json.dumps(failures))
'''


def _azure_pull_loop() -> tuple[set[tuple[str, str, str]], dict[str, Any], dict[str, Any]]:
    """(type, reason, message) of Azure's unauthorized pull loop, image names as <image>; the failing revision
    and the previous active one of the firewall capture."""
    rows = [json.loads(line) for line in (PE_DIRECT / "06-system-logs-pre-fix.json").read_text().splitlines()]
    loop = {(r["Type"], r["Reason"], _image_free(r["Msg"])) for r in rows if r["Reason"] in PULL_REASONS
            and "ImagePullFailure" in r["Msg"] or r["Reason"] in ("PullingImage", "ImagePullUnauthorized")}
    revisions = json.loads((FIREWALL / "02-revision-list-pre-fix.json").read_text())
    failing = next(r["properties"] for r in revisions if r["properties"]["healthState"] == "Unhealthy")
    previous = next(r["properties"] for r in revisions
                    if r["properties"]["active"] and r["properties"]["healthState"] == "Healthy")
    return loop, failing, previous


def _image_free(message: str) -> str:
    return re.sub(r"'[a-z0-9]+\.azurecr\.io/[^']+'", "'<image>'", message)


def _pairs(logs: list[dict[str, Any]], revision: str) -> set[tuple[str, str, str]]:
    return {(r["type"], r["reason"], _image_free(r["message"])) for r in logs
            if r.get("revision") == revision and r["reason"] in PULL_REASONS}


def _run(pytester: pytest.Pytester, name: str) -> tuple[dict[str, Any], list[dict[str, Any]], list[str], str]:
    produced, failing = run_lab(pytester, name, extra={"test_zz_passwords.py": "import json\nfrom pathlib import "
                                                       "Path\n" + PASSWORDS})
    folder = pytester.path / "labs" / name
    passwords = json.loads((folder / "passwords.json").read_text())
    windows = json.loads((folder / "windows.json").read_text())
    # the window from the end of the fix's restart holds no pull failure; the lab's whole window holds the loop,
    # and so does the recovered phase's (it starts before the fix ran): why the labs write since: <action id>
    assert windows["restart-after-fix"] == 0 and windows["lab"] >= 1, windows
    reports = "".join(p.read_text(errors="replace") for p in (pytester.path / "reports").rglob("*") if p.is_file())
    return produced, failing, passwords, reports + pytester_output(pytester)


def pytester_output(pytester: pytest.Pytester) -> str:
    return "".join(p.read_text(errors="replace") for p in pytester.path.glob("*.txt"))


def test_acr_admin_disabled_matches_azure_s_unauthorized_pull(pytester: pytest.Pytester) -> None:
    loop, failing_revision, previous_revision = _azure_pull_loop()
    produced, failing, passwords, reports = _run(pytester, "acr_admin_disabled")

    # the failing state, in Azure's words
    assert failing_revision["healthState"] in _seen(failing, "revision_health")
    assert failing_revision["runningStateDetails"] in _seen(failing, "revision_state")
    # the revision the template change minted loops exactly as Azure's unauthorized pull did
    minted = produced["actions"]["new-revision"]["latestRevisionName"]
    assert minted != produced["actions"]["move-to-acr"]["latestRevisionName"]
    assert loop and loop <= _pairs(produced["logs"], minted)
    assert not any("MANIFEST_UNKNOWN" in r["message"] for r in produced["logs"])  # auth, not a missing tag
    # the previous revision stayed active and Healthy, as in the firewall capture
    assert (previous_revision["active"], previous_revision["healthState"]) == (True, "Healthy")
    seen = {str(v).lower() for v in _seen(failing, "revision_state")}
    assert {"true", "healthy"} <= seen  # the workload's revision: active and Healthy while the new one loops
    # recovered: the same revision, Healthy, with a start after the fix; the fix minted no revision
    assert produced["latest"] == minted and len(produced["revisions"]) == 3
    assert produced["final"]["healthState"] == "Healthy"
    assert produced["actions"]["admin-off"]["adminUserEnabled"] is False
    assert produced["actions"]["admin-on"]["adminUserEnabled"] is True
    # the admin passwords the recovery read reach no report, journal or terminal output
    assert passwords and not [p for p in passwords if p in reports]


def test_acr_password_regenerated_matches_azure_s_unauthorized_pull(pytester: pytest.Pytester) -> None:
    loop, failing_revision, _ = _azure_pull_loop()
    produced, failing, passwords, reports = _run(pytester, "acr_password_regenerated")

    assert failing_revision["healthState"] in _seen(failing, "revision_health")
    assert failing_revision["runningStateDetails"] in _seen(failing, "revision_state")
    revision = produced["actions"]["move-to-acr"]["latestRevisionName"]
    assert loop and loop <= _pairs(produced["logs"], revision)
    # secrets and restarts are app-scope: no revision minted by the fault or by the fix
    assert produced["latest"] == revision and len(produced["revisions"]) == 2
    assert produced["actions"]["update-secret"]["secret"] == "registry-password"
    assert produced["final"]["healthState"] == "Healthy"
    assert passwords and not [p for p in passwords if p in reports]
