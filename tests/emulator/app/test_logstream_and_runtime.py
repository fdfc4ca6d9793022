"""The container log stream (recorded shape) and a revision whose process listens elsewhere (recorded state)."""

from __future__ import annotations

import json

import pytest
from app_helpers import Lab, wait_until

from pytest_acalab.emulator.app import replicas as kubelet

QUICKSTART = "mcr.microsoft.com/k8se/quickstart:latest"


def _replica(lab: Lab, app: str) -> tuple[str, str, str]:
    rev = lab.client.container_apps.get(lab.rg, app).latest_revision_name
    rep = wait_until(lambda: list(lab.client.container_apps_revision_replicas.list_replicas(lab.rg, app, rev).value),
                     "a replica")[0]
    return rev, rep.name, rep.containers[0].log_stream_endpoint


def test_log_stream_lines(lab: Lab) -> None:
    """Recorded (containerapp logstream 2023/2025): two connection lines in .NET's encoding, then the
    container's own output (the quickstart stand-in's "Listening on :80...")."""
    lab.create("logs", QUICKSTART)
    rev, replica, url = _replica(lab, "logs")
    token = lab.token("logs")
    ca = lab.emu.ca_bundle

    def lines() -> tuple[str, list[dict[str, str]]] | None:
        resp = lab.session.get(url, params={"follow": "false", "output": "json", "tailLines": 20},
                               headers={"Authorization": f"Bearer {token}"}, timeout=10, verify=ca)
        assert resp.status_code == 200, resp.text
        found = [json.loads(x) for x in resp.text.splitlines() if x.strip()]
        return (resp.text, found) if len(found) >= 3 else None

    text, got = wait_until(lines, "the container's first console line")
    assert all(list(x) == ["TimeStamp", "Log"] for x in got)
    assert got[0]["Log"] == "Connecting to the container 'app'..."
    assert got[1]["Log"] == f"Successfully Connected to container: 'app' [Revision: '{rev}', Replica: '{replica}']"
    assert "Listening on :80..." in got[2]["Log"]
    assert "\\u0027" in text.splitlines()[0]  # .NET's encoder on the connection lines, as recorded
    assert not got[0]["TimeStamp"].endswith("0") and "+" not in got[0]["TimeStamp"]  # trimmed, no offset
    assert lab.session.get(url, timeout=10, verify=ca).status_code == 401
    auth = {"Authorization": f"Bearer {token}"}
    other = lab.session.get(url.replace(replica, replica + "x"), headers=auth, timeout=10, verify=ca)
    assert other.status_code == 404 and other.text == f"Replica '{replica}x' of revision '{rev}' was not found."
    wrong = lab.session.get(url.replace("/containers/app/", "/containers/nope/"), headers=auth, timeout=10, verify=ca)
    assert wrong.status_code == 404 and wrong.text == f"Container 'nope' was not found in replica '{replica}'."


def test_a_port_mismatch_within_the_deadline_is_activating_with_details(lab: Lab,
                                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    """Recorded (containerapp debug 2025; the guide's traffic-routing-canary): the quickstart image listens
    on 80, the target port is 8000; before the progress deadline the revision is Activating, Provisioned,
    with the port sentence as its details. (The deadline is pushed out so that the state lasts.)"""
    monkeypatch.setattr(kubelet, "PROGRESS_DEADLINE_SECONDS", 3600.0 * 10_000)
    app = lab.create("port", QUICKSTART)
    props = lab.revision_json_when("port", app.latest_revision_name, lambda p: "runningStateDetails" in p,
                                   "runningStateDetails")["properties"]
    assert (props["runningState"], props["healthState"], props["provisioningState"]) == (
        "Activating", "None", "Provisioned")
    assert props["runningStateDetails"] == "The TargetPort 8000 does not match the listening port 80."
