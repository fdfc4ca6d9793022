"""The container log stream (recorded shape) and a runtime that reports a container not serving."""

from __future__ import annotations

import json

from app_helpers import Lab, wait_until

from pytest_acalab.emulator.app.runtime import StartOutcome

GOOD = "mcr.microsoft.com/k8se/quickstart:latest"


def _replica(lab: Lab, app: str) -> tuple[str, str, str]:
    rev = lab.client.container_apps.get(lab.rg, app).latest_revision_name
    rep = wait_until(lambda: list(lab.client.container_apps_revision_replicas.list_replicas(lab.rg, app, rev).value),
                     "a replica")[0]
    return rev, rep.name, rep.containers[0].log_stream_endpoint


def test_log_stream_lines(lab: Lab) -> None:
    lab.create("logs", GOOD)
    rev, replica, url = _replica(lab, "logs")
    token = lab.token("logs")
    ca = lab.emu.ca_bundle
    resp = lab.session.get(url, params={"follow": "false", "output": "json", "tailLines": 20},
                           headers={"Authorization": f"Bearer {token}"}, timeout=10, verify=ca)
    assert resp.status_code == 200, resp.text
    lines = [json.loads(x) for x in resp.text.splitlines()]
    assert [list(x) for x in lines] == [["TimeStamp", "Log"], ["TimeStamp", "Log"]]
    assert lines[0]["Log"] == "Connecting to the container 'app'..."
    assert lines[1]["Log"] == f"Successfully Connected to container: 'app' [Revision: '{rev}', Replica: '{replica}']"
    assert "\\u0027" in resp.text  # .NET's encoder, as recorded
    assert lab.session.get(url, timeout=10, verify=ca).status_code == 401
    other = lab.session.get(url.replace(replica, replica + "x"), headers={"Authorization": f"Bearer {token}"},
                            timeout=10, verify=ca)
    assert other.status_code == 404


class PortMismatch:
    def start(self, replica: str, image: str, config: dict) -> StartOutcome:  # noqa: ARG002
        return StartOutcome(False, [], f"The TargetPort {config.get('targetPort')} does not match the listening "
                                       "port 80.")


def test_a_container_that_does_not_serve_keeps_its_revision_activating_with_details(lab: Lab) -> None:
    lab.emu.platform.services.extra["app"].runtime = PortMismatch()
    app = lab.create("port", GOOD)
    token = lab.emu.credential().get_token("https://management.azure.com/.default").token
    url = f"{lab.emu.url}{app.id}/revisions/{app.latest_revision_name}?api-version=2025-02-02-preview"

    def details() -> dict | None:
        props = lab.session.get(url, headers={"Authorization": f"Bearer {token}"}, timeout=10,
                                verify=lab.emu.ca_bundle).json()["properties"]
        return props if "runningStateDetails" in props else None

    props = wait_until(details, "runningStateDetails")  # (the SDK's Revision model has no such field)
    assert (props["runningState"], props["healthState"], props["provisioningState"]) == (
        "Activating", "None", "Provisioned")
    assert props["runningStateDetails"] == "The TargetPort 8000 does not match the listening port 80."
