"""Contract: the emulator answers the recorded real-Azure requests with the same status codes and body shapes.

Recordings: data/la_recordings.yaml (copied from the Azure CLI's public test recordings, see its header).
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml

RECORDINGS = yaml.safe_load((Path(__file__).parent / "data" / "la_recordings.yaml").read_text())
#: ``properties.source`` appears only in the 2020-08-01 answer, not in newer api-versions' answers.
VERSION_ONLY_KEYS = {"source"}


def shape(value: Any) -> Any:
    """Keys and JSON types, values left out."""
    if isinstance(value, dict):
        return {k: shape(v) for k, v in value.items() if k not in VERSION_ONLY_KEYS}
    if isinstance(value, list):
        return [shape(value[0])] if value else []
    return type(value).__name__


def _replay(emu, http, token, group: str, interaction: dict) -> tuple[int, dict]:
    recorded = urlsplit(interaction["request"]["uri"])
    parts = recorded.path.split("/")
    parts[2], parts[4] = emu.subscription_id, group
    body = interaction["request"]["body"]
    resp = http(interaction["request"]["method"], f"{'/'.join(parts)}?{recorded.query}", token,
                data=body.encode() if body else None, headers={"Content-Type": "application/json"})
    return resp.status_code, resp.json()


@pytest.mark.parametrize("recording", ["test_query_2021", "containerapp_logstream_2023"])
def test_workspace_put_then_get_match_the_recording(emu, http, arm_token, group, recording) -> None:
    put, get = RECORDINGS[recording][:2]
    status, body = _replay(emu, http, arm_token, group, put)
    expected = json.loads(put["response"]["body"])
    assert status == put["response"]["status"] == 201
    assert shape(body) == shape(expected)
    assert body["properties"]["provisioningState"] == expected["properties"]["provisioningState"] == "Creating"
    assert body["name"] == expected["name"] and body["type"] == expected["type"]
    assert body["properties"]["retentionInDays"] == expected["properties"]["retentionInDays"]
    deadline = time.monotonic() + 2
    while True:
        status, got = _replay(emu, http, arm_token, group, get)
        if got["properties"]["provisioningState"] != "Creating" or time.monotonic() > deadline:
            break
        time.sleep(0.005)
    expected_get = json.loads(get["response"]["body"])
    assert status == get["response"]["status"] == 200
    assert shape(got) == shape(expected_get)
    assert got["properties"]["provisioningState"] == expected_get["properties"]["provisioningState"]
    assert got["properties"]["customerId"] == body["properties"]["customerId"]


def test_query_response_matches_the_recording(emu, http, arm_token, logs_token, group) -> None:
    put, _, query = RECORDINGS["test_query_2021"]
    _, workspace = _replay(emu, http, arm_token, group, put)
    customer_id = workspace["properties"]["customerId"]
    emu.platform.services.logs.ingest(customer_id, "ContainerAppSystemLogs_CL", [{"Reason_s": "PullingImage"}],
                                      emu.clock.now().replace(year=2020))
    # the recording asked for Heartbeat's schema; the equivalent here is a table the emulator has
    request = json.loads(query["request"]["body"])
    assert request == {"query": "Heartbeat | getschema"}
    resp = http("POST", urlsplit(query["request"]["uri"]).path.replace("514eb233-d846-49be-8715-84e2a9244560",
                                                                      customer_id),
                logs_token, json={"query": "ContainerAppSystemLogs_CL | getschema"})
    expected = json.loads(query["response"]["body"])
    assert resp.status_code == query["response"]["status"] == 200
    assert resp.headers["Content-Type"].startswith("application/json")
    body = resp.json()
    assert shape(body) == shape(expected)
    (table,), (recorded,) = body["tables"], expected["tables"]
    assert table["name"] == recorded["name"] == "getschema"
    assert table["columns"] == recorded["columns"]
    # same .NET type names for the same Kusto types
    recorded_types = {row[3]: row[2] for row in recorded["rows"]}
    for name, ordinal, dotnet, kusto in table["rows"]:
        assert isinstance(name, str) and isinstance(ordinal, int)
        if kusto in recorded_types:
            assert dotnet == recorded_types[kusto], name
    assert [r[1] for r in table["rows"]] == list(range(len(table["rows"])))
    assert {"TenantId", "SourceSystem", "TimeGenerated", "Type", "_ResourceId"} <= {r[0] for r in table["rows"]}
