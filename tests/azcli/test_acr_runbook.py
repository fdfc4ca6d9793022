"""The ACR lab page's ``az`` runbook, verbatim, against the emulator: what the page says a reader sees."""

from __future__ import annotations

import json
import re
import time

import pytest
from azcli_helpers import REPO, AzShell, az_block, commands, describe, script, split

README = REPO / "labs" / "acr_pull_failure" / "README.md"
# after the page's block, in the same shell: the data plane through the proxy, and the deployment state
EXTRA = [
    "az acr repository show-tags --name $ACR --repository labacr -o json",
    "az deployment group show -g $RG -n main --query properties.provisioningState -o tsv",
]


def _find(steps, pattern: str):
    found = [s for s in steps if re.search(pattern, s.command)]
    assert found, f"no command matching {pattern!r} in the runbook"
    return found


def test_the_page_has_the_commands_the_lab_needs() -> None:
    cmds = commands(az_block(README))
    joined = "\n".join(cmds)
    for needed in ("az deployment group create", "az deployment operation group list",
                   "az containerapp revision list", "az acr build", "az containerapp update",
                   "az containerapp logs show"):
        assert needed in joined
    assert "--template-file labs/acr_pull_failure/infra/main.json" in joined


@pytest.mark.azcli
def test_acr_runbook_runs_verbatim_and_shows_what_the_page_says(az_shell: AzShell) -> None:
    cmds = commands(az_block(README)) + EXTRA
    started = time.monotonic()
    proc = az_shell.run(script(cmds))
    elapsed = time.monotonic() - started
    steps = split(cmds, proc.stdout, proc.stderr)
    log = describe(steps)
    assert all(s.rc >= 0 for s in steps), f"the runbook stopped early\n{log}"
    print(f"runbook: {len(cmds)} commands in {elapsed:.1f}s")

    group = _find(steps, r"^az group create")[0]
    assert group.rc == 0, log

    deploy = _find(steps, r"^az deployment group create")[0]
    assert deploy.rc != 0, f"the deployment must fail (case A)\n{log}"
    assert "DeploymentFailed" in deploy.stderr, log

    ops = _find(steps, r"^az deployment operation group list")[0]
    assert ops.rc == 0, log
    assert "MANIFEST_UNKNOWN" in ops.stdout, log
    assert 'manifest tagged by "does-not-exist" is not found' in ops.stdout, log
    assert "ContainerAppOperationError" not in ops.stdout  # -o tsv of the message only

    show = _find(steps, r"^az containerapp show")[0]
    assert show.rc == 0, log
    assert json.loads(show.stdout) == {"state": "Failed", "latest": None}, log

    before, after = _find(steps, r"^az containerapp revision list")
    assert before.rc == 0 and before.stdout.strip() == "", f"no revision in case A\n{log}"

    build = _find(steps, r"^az acr build")[0]
    assert build.rc == 0, log
    assert re.search(r"Run ID: \w+ was successful", build.stdout + build.stderr), log

    update = _find(steps, r"^az containerapp update")[0]
    assert update.rc == 0, log
    app = json.loads(update.stdout)
    assert app["properties"]["template"]["containers"][0]["image"].endswith(".azurecr.io/labacr:v1")
    assert app["properties"]["provisioningState"] == "Succeeded", log

    assert after.rc == 0, log
    rows = [line.split() for line in after.stdout.splitlines()[2:] if line.strip()]
    assert len(rows) == 1, log
    assert rows[0][1:] == ["Healthy", "RunningAtMaxScale"], log

    logs = _find(steps, r"^az containerapp logs show")[0]
    assert logs.rc == 0, log
    events = [json.loads(line) for line in logs.stdout.splitlines() if line.strip()]
    reasons = [e["Reason"] for e in events]
    assert "RevisionReady" in reasons and "PulledImage" in reasons, log
    assert "ContainerTerminated" not in reasons, log

    tags, state = steps[-2], steps[-1]
    assert tags.rc == 0 and json.loads(tags.stdout) == ["v1"], log
    assert state.rc == 0 and state.stdout.strip() == "Failed", log

    secret = az_shell.emu.client_secret
    assert secret not in proc.stdout and secret not in proc.stderr
