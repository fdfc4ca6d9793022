"""The emulator against recorded Azure interactions (data/recorded_interactions.json, from the Azure CLI
team's containerapp scenario recordings, MIT): status codes, LRO headers, body keys and enum values."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from app_helpers import Lab, wait_until

RECORDED = json.loads((Path(__file__).parent / "data" / "recorded_interactions.json").read_text())["interactions"]
GOOD = "mcr.microsoft.com/k8se/quickstart:latest"
# Keys Azure returns for features the emulator does not model (all null/empty in the recordings).
NOT_MODELLED = {"kedaConfiguration", "daprConfiguration"}


def _keys(obj: Any) -> set[str]:
    return set(obj) if isinstance(obj, dict) else set()


def _shape(url: str) -> str:
    """``…/locations/{loc}/containerappOperationStatuses/{id}`` → ``locations/containerappOperationStatuses``."""
    parts = [p for p in url.split("?")[0].split("/") if p]
    return f"{parts[-4]}/{parts[-2]}"


class Wire:
    def __init__(self, lab: Lab) -> None:
        self.lab = lab
        self.token = lab.emu.credential().get_token("https://management.azure.com/.default").token

    def call(self, method: str, path: str, body: Any = None, version: str = "2025-07-01") -> Any:
        sep = "&" if "?" in path else "?"
        return self.lab.session.request(method, f"{self.lab.emu.url}{path}{sep}api-version={version}", json=body,
                                        headers={"Authorization": f"Bearer {self.token}"},
                                        verify=self.lab.emu.ca_bundle, timeout=10)

    def arm(self, kind: str, name: str) -> str:
        return (f"/subscriptions/{self.lab.emu.subscription_id}/resourceGroups/{self.lab.rg}/providers/"
                f"Microsoft.App/{kind}/{name}")


@pytest.fixture
def wire(lab: Lab) -> Wire:
    return Wire(lab)


def _version(name: str) -> str:
    """The api-version the recorded request sent (bodies are shaped per version)."""
    return re.search(r"api-version=([^&]+)", RECORDED[name]["query"]).group(1)  # type: ignore[union-attr]


def _compare(name: str, resp: Any) -> dict[str, Any]:
    rec = RECORDED[name]
    assert resp.status_code == rec["status"], (name, resp.text)
    for header in ("azure-asyncoperation", "location", "x-ms-async-operation-timeout"):
        if header in rec["headers"]:
            assert header in {k.lower() for k in resp.headers}, (name, header)
            if header != "x-ms-async-operation-timeout":
                assert _shape(resp.headers[header]) == _shape(rec["headers"][header]), (name, header)
            else:
                assert resp.headers[header] == rec["headers"][header]
    body = resp.json() if resp.content else None
    if isinstance(rec["body"], dict):
        assert _keys(rec["body"]) <= _keys(body), (name, _keys(rec["body"]) - _keys(body))
        rprops, props = rec["body"].get("properties"), (body or {}).get("properties")
        missing = _keys(rprops) - _keys(props) - NOT_MODELLED
        assert not missing, (name, missing)
    return body or {}


def test_environment_put_and_get(wire: Wire, lab: Lab) -> None:
    rec = RECORDED["environment_put"]["request_body"]
    rec["properties"]["appLogsConfiguration"]["logAnalyticsConfiguration"] = {
        "customerId": lab.customer_id, "sharedKey": lab.shared_key}
    version = _version("environment_put")
    body = _compare("environment_put", wire.call("PUT", wire.arm("managedEnvironments", "env000003"), rec, version))
    assert body["properties"]["provisioningState"] == RECORDED["environment_put"]["body"]["properties"][
        "provisioningState"] == "Waiting"
    assert body["properties"]["appLogsConfiguration"]["logAnalyticsConfiguration"]["sharedKey"] is None
    got = wait_until(lambda: (r := wire.call("GET", wire.arm("managedEnvironments", "env000003"), None, version)
                              ).json()["properties"]["provisioningState"] == "Succeeded" and r, "env provisioned")
    _compare("environment_get", got)


def test_app_lifecycle_matches_the_recording(wire: Wire, lab: Lab) -> None:
    request = RECORDED["app_put"]["request_body"]
    request["location"] = "koreacentral"
    request["properties"]["environmentId"] = lab.env.id
    path = wire.arm("containerApps", "aca000002")
    put = _compare("app_put", wire.call("PUT", path, request))
    assert put["properties"]["provisioningState"] == "InProgress"
    status_url = wire.call("PUT", path, request).headers["Azure-AsyncOperation"]
    status = lab.session.get(status_url, headers={"Authorization": f"Bearer {wire.token}"},
                             verify=lab.emu.ca_bundle, timeout=10)
    assert _keys(RECORDED["app_operation_status"]["body"]) <= _keys(status.json())
    assert status.json()["status"] in ("InProgress", "Succeeded")
    got = wait_until(lambda: (r := wire.call("GET", path)).json()["properties"]["provisioningState"] == "Succeeded"
                     and r, "app created")
    body = _compare("app_get", got)
    rec_props, props = RECORDED["app_get"]["body"]["properties"], body["properties"]
    assert _keys(rec_props["configuration"]) <= _keys(props["configuration"])
    assert _keys(rec_props["configuration"]["ingress"]) <= _keys(props["configuration"]["ingress"])
    assert _keys(rec_props["template"]) <= _keys(props["template"])
    assert _keys(rec_props["template"]["containers"][0]) <= _keys(props["template"]["containers"][0])
    assert props["runningStatus"] == rec_props["runningStatus"] == "Running"
    assert props["configuration"]["ingress"]["traffic"] == rec_props["configuration"]["ingress"]["traffic"]
    assert re.fullmatch(r"aca000002--[a-z0-9]{7}", props["latestRevisionName"])
    assert props["template"]["scale"]["maxReplicas"] == rec_props["template"]["scale"]["maxReplicas"] == 10
    assert props["template"]["containers"][0]["resources"] == rec_props["template"]["containers"][0]["resources"]
    revision = props["latestRevisionName"]
    replicas = wire.call("GET", f"{path}/revisions/{revision}/replicas")
    listed = _compare("replicas_list", replicas)["value"]
    rec_replica = RECORDED["replicas_list"]["body"]["value"][0]
    assert len(listed) == 3  # minReplicas 3, as in the recording
    assert _keys(rec_replica["properties"]) <= _keys(listed[0]["properties"])
    assert _keys(rec_replica["properties"]["containers"][0]) <= _keys(listed[0]["properties"]["containers"][0])
    rev = wire.call("GET", f"{path}/revisions/{revision}", None, _version("revision_get"))
    rev_body = _compare("revision_get", rev)
    assert rev_body["type"] == RECORDED["revision_get"]["body"]["type"]
    assert rev_body["properties"]["runningState"] in ("Activating", "Running", "RunningAtMaxScale")
    _compare("app_patch", wire.call("PATCH", path, RECORDED["app_patch"]["request_body"]))
    token = wire.call("POST", f"{path}/getAuthToken")
    token_body = _compare("app_auth_token", token)
    assert token_body["type"] == RECORDED["app_auth_token"]["body"]["type"]
    claims = json.loads(__import__("base64").urlsafe_b64decode(token_body["properties"]["token"].split(".")[1] + "=="))
    assert claims["iss"] == "AzureContainerApps" and claims["capp_name"] == "aca000002"
    stream = lab.session.get(props["eventStreamEndpoint"], params={"follow": "false", "output": "json",
                                                                 "tailLines": 20},
                             headers={"Authorization": f"Bearer {token_body['properties']['token']}"},
                             verify=lab.emu.ca_bundle, timeout=10)
    assert stream.status_code == RECORDED["app_eventstream"]["status"]
    assert stream.headers.get("Transfer-Encoding") == RECORDED["app_eventstream"]["headers"]["transfer-encoding"]
    recorded_lines = [json.loads(x) for x in RECORDED["app_eventstream"]["body"]]
    lines = [json.loads(x) for x in stream.text.splitlines()]
    assert [list(x) for x in lines[:3]] == [list(x) for x in recorded_lines]
    assert [x["Msg"] for x in lines[:2]] == [x["Msg"] for x in recorded_lines[:2]]
    env_token = wire.call("POST", wire.arm("managedEnvironments", "env-lab") + "/getAuthToken")
    assert _compare("environment_auth_token", env_token)["type"] == RECORDED["environment_auth_token"]["body"]["type"]
    deleted = wire.call("DELETE", path)
    _compare("app_delete", deleted)
    final = wait_until(lambda: (r := lab.session.get(deleted.headers["Location"], verify=lab.emu.ca_bundle,
                                                     headers={"Authorization": f"Bearer {wire.token}"},
                                                     timeout=10)).status_code != 202 and r, "delete done")
    _compare("app_delete_result", final)
