"""Replicas run their image for real: what Azure measures (ports, probes, exits, memory) is measured here.

Every expectation comes from live captures of the Azure Container Apps Practical Guide's labs
(probe-and-port-mismatch, revision-failover, revision-provisioning-failure, memory-leak-oomkilled).
Each test drives the emulator through the real SDK client; the workloads are real processes.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from app_helpers import Lab, python_image, wait_until, web_image

GOOD = "acrlab.azurecr.io/labacr:v1"
OTHER = "acrlab.azurecr.io/labacr:v2"

HOG = ("import sys, time\n"
       "print('allocating 700 MiB', flush=True)\n"
       "hog = b'x' * (700 * 1024 * 1024)\n"
       "time.sleep(60)\n")


def _events(lab: Lab, app: str) -> list[dict[str, Any]]:
    return lab.system_lines(app)


def _reasons(lab: Lab, app: str) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = {}
    for line in _events(lab, app):
        out.setdefault(line.get("Reason") or "", []).append(line)
    return out


def _update_ingress(lab: Lab, app: str, **ingress: Any) -> Any:
    current = lab.client.container_apps.get(lab.rg, app)
    for key, value in ingress.items():
        setattr(current.configuration.ingress, key, value)
    updated = lab.client.container_apps.begin_create_or_update(lab.rg, app, current).result()
    assert all(getattr(updated.configuration.ingress, k) == v for k, v in ingress.items())
    return updated


def test_the_app_listens_where_its_code_says(lab: Lab) -> None:
    """3000 vs 8000: Degraded with Azure's words, ProbeFailed and Pending:PortMismatch in the system logs."""
    lab.registry.content[GOOD] = web_image(3000)
    app = lab.create("ca-port", GOOD)
    rev = lab.revision_json_when("ca-port", app.latest_revision_name, lambda p: p.get("runningState") == "Degraded",
                                 "the progress deadline")["properties"]
    assert rev["healthState"] == "Unhealthy" and rev["provisioningState"] == "Provisioned"
    assert rev["runningStateDetails"] == ("Deployment Progress Deadline Exceeded. 0/1 replicas ready. "
                                          "The TargetPort 8000 does not match the listening port 3000.")
    reasons = wait_until(lambda: (r := _reasons(lab, "ca-port")).get("Pending:PortMismatch") and r, "PortMismatch")
    # besides each probe answer, the kubelet's line before a kill ("Container app failed startup probe, will
    # be restarted", captured in the revision-provisioning-failure lab) is a ProbeFailed too
    assert {e["Msg"] for e in reasons["ProbeFailed"]} - {"Container app failed startup probe, will be restarted"} \
        == {"Probe of StartUp failed with status code: 1"}
    assert all(e["Type"] == "Warning" for e in reasons["ProbeFailed"])
    assert {e["Msg"] for e in reasons["Pending:PortMismatch"]} == {
        "The TargetPort 8000 does not match the listening port 3000."}
    replica = next(iter(lab.client.container_apps_revisions.list_revisions(lab.rg, "ca-port")))
    assert replica.name == app.latest_revision_name


def test_the_same_image_on_the_right_port_is_healthy(lab: Lab) -> None:
    """The control of the test above: only the port differs, and the revision becomes Healthy."""
    lab.registry.content[GOOD] = web_image(8000)
    app = lab.create("ca-right", GOOD)
    rev = lab.revision_json_when("ca-right", app.latest_revision_name, lambda p: p.get("healthState") == "Healthy",
                                 "healthy")["properties"]
    assert rev["runningState"] == "RunningAtMaxScale" and not rev.get("runningStateDetails")
    replicas = lab.client.container_apps_revision_replicas.list_replicas(lab.rg, "ca-right", app.latest_revision_name)
    container = replicas.value[0].containers[0]
    assert container.ready and container.running_state == "Running" and container.restart_count == 0


def test_a_startup_probe_on_a_missing_path_never_gets_ready(lab: Lab) -> None:
    """The revision-provisioning-failure lab: HTTP 404 from the probe path, ProbeFailure, a crash loop."""
    lab.registry.content[GOOD] = web_image(8000)
    body = lab.app_body(GOOD)
    body["properties"]["template"]["containers"][0]["probes"] = [{
        "type": "Startup", "httpGet": {"path": "/nonexistent-health-endpoint", "port": 8000, "scheme": "HTTP"},
        "periodSeconds": 5, "failureThreshold": 3, "timeoutSeconds": 1, "successThreshold": 1}]
    app = lab.client.container_apps.begin_create_or_update(lab.rg, "ca-404", body).result()
    rev = lab.revision_json_when("ca-404", app.latest_revision_name,
                                 lambda p: p.get("runningState") == "Failed", "the crash loop")["properties"]
    assert rev["healthState"] == "Unhealthy" and rev["provisioningState"] == "Failed"
    assert rev["runningStateDetails"] == "1/1 Container crashing: app"
    assert rev["provisioningError"] == "Container crashing: app"
    reasons = _reasons(lab, "ca-404")
    assert "Probe of StartUp failed with status code: 404" in {e["Msg"] for e in reasons["ProbeFailed"]}
    assert "Container 'app' was terminated with exit code '' and reason 'ProbeFailure'" in {
        e["Msg"] for e in reasons["ContainerTerminated"]}
    replica = lab.client.container_apps_revision_replicas.list_replicas(lab.rg, "ca-404", app.latest_revision_name)
    container = replica.value[0].containers[0]
    assert not container.ready


def test_a_target_port_flip_breaks_the_same_revision_and_flipping_back_recovers_it(lab: Lab) -> None:
    """revision-failover: an app-scope change, no new revision; Unhealthy after the deadline; fixed in place."""
    lab.registry.content[GOOD] = web_image(8000)
    app = lab.create("ca-flip", GOOD)
    name = app.latest_revision_name
    lab.revision_json_when("ca-flip", name, lambda p: p.get("healthState") == "Healthy", "healthy first")
    _update_ingress(lab, "ca-flip", target_port=9999)
    broken = lab.revision_json_when("ca-flip", name, lambda p: p.get("healthState") == "Unhealthy",
                                    "unhealthy after the flip")["properties"]
    assert broken["runningStateDetails"] == ("Deployment Progress Deadline Exceeded. 0/1 replicas ready. "
                                             "The TargetPort 9999 does not match the listening port 8000.")
    assert broken["runningState"] == "Failed"  # an in-place update of a serving revision (revision-failover)
    assert list(lab.revisions("ca-flip")) == [name]
    updates = [e["Msg"] for e in _reasons(lab, "ca-flip").get("RevisionUpdate", [])]
    assert f"Revision '{name}' updated. No new revision was provisioned." in updates
    _update_ingress(lab, "ca-flip", target_port=8000)
    fixed = lab.revision_json_when("ca-flip", name, lambda p: p.get("healthState") == "Healthy"
                                   and p.get("replicas") == 1, "healthy again, the rollout done")["properties"]
    assert fixed["runningState"] in ("Running", "RunningAtMaxScale") and fixed["replicas"] == 1
    assert list(lab.revisions("ca-flip")) == [name]
    assert lab.client.container_apps.get(lab.rg, "ca-flip").latest_revision_name == name


def test_a_container_over_its_memory_limit_exits_137_and_restarts_with_back_off(lab: Lab) -> None:
    """memory-leak-oomkilled: exit code 137 (reason ProcessExited), restarts, CrashLoopBackOff, Failed."""
    lab.registry.content[GOOD] = python_image(["python", "-c", HOG])
    body = lab.app_body(GOOD)
    body["properties"]["configuration"]["ingress"] = None
    app = lab.client.container_apps.begin_create_or_update(lab.rg, "ca-oom", body).result()

    def restarted_twice() -> Any:
        replicas = lab.client.container_apps_revision_replicas.list_replicas(lab.rg, "ca-oom",
                                                                            app.latest_revision_name)
        container = replicas.value[0].containers[0]
        return container if container.restart_count >= 2 else None

    wait_until(restarted_twice, "two restarts", timeout=30)
    reasons = _reasons(lab, "ca-oom")
    terminated = {e["Msg"] for e in reasons["ContainerTerminated"]}
    assert "Container 'app' was terminated with exit code '137' and reason 'ProcessExited'" in terminated
    assert "Container 'app' was terminated with exit code '137'" in {e["Msg"] for e in reasons["ProcessExited"]}
    assert len(reasons["ContainerStarted"]) >= 3
    rev = lab.revision_json_when("ca-oom", app.latest_revision_name, lambda p: p.get("runningState") == "Failed",
                                 "failed")["properties"]
    assert rev["healthState"] == "Unhealthy" and rev["runningStateDetails"] == "1/1 Container crashing: app"
    logs = [row for _, table, row, _ in lab.logs.rows if table == "ContainerAppConsoleLogs_CL"]
    assert any(row["Log_s"] == "allocating 700 MiB" and row["Stream_s"] == "stdout" for row in logs)


def test_a_crash_loop_slows_down_as_the_back_off_doubles(lab: Lab) -> None:
    """On the fast clock Kubernetes' back-off (10, 20, 40 s) is milliseconds; the restarts still wait a real
    floor that doubles with it (0.1, 0.2, 0.4 s), so a crash loop neither burns the CPU nor stalls a lab.
    Load can only lengthen a gap, never shorten it below its floor. A readiness probe that never passes keeps
    the container unready: Kubernetes resets the back-off of a container that ran ready for 10 minutes
    (60 ms on the fast clock), which a slow start on a loaded machine would otherwise reach."""
    lab.registry.content[GOOD] = python_image(["python", "-c", "raise SystemExit(3)"])
    body = lab.app_body(GOOD)
    body["properties"]["configuration"]["ingress"] = None
    body["properties"]["template"]["containers"][0]["probes"] = [
        {"type": "Readiness", "tcpSocket": {"port": 8080}, "periodSeconds": 1, "failureThreshold": 3}]
    lab.client.container_apps.begin_create_or_update(lab.rg, "ca-loop", body).result()
    started = wait_until(lambda: [line for line in _events(lab, "ca-loop")
                                  if line["Reason"] == "ContainerStarted"][3:] and
                         [line for line in _events(lab, "ca-loop") if line["Reason"] == "ContainerStarted"],
                         "three restarts", timeout=30)
    # the event stream's form: 2026-06-22 13:20:46.0916810 +0000 UTC
    times = [datetime.strptime(line["TimeStamp"][:26], "%Y-%m-%d %H:%M:%S.%f") for line in started[:4]]
    gaps = [(b - a).total_seconds() for a, b in zip(times, times[1:], strict=False)]
    assert [round(gap, 3) >= floor for gap, floor in zip(gaps, (0.1, 0.2, 0.4), strict=True)] == [True] * 3, gaps
    exits = {line["Msg"] for line in _events(lab, "ca-loop") if line["Reason"] == "ContainerTerminated"}
    assert exits == {"Container 'app' was terminated with exit code '3' and reason 'ProcessExited'"}


def test_the_memory_limit_is_the_template_s(lab: Lab) -> None:
    """Control: the same program under a 2 GiB limit keeps running (no restart)."""
    lab.registry.content[GOOD] = python_image(["python", "-c", HOG.replace("time.sleep(60)", "print('ok', flush=True);"
                                                                            "time.sleep(60)")])
    body = lab.app_body(GOOD)
    body["properties"]["configuration"]["ingress"] = None
    body["properties"]["template"]["containers"][0]["resources"] = {"cpu": 1.0, "memory": "2Gi"}
    lab.client.container_apps.begin_create_or_update(lab.rg, "ca-big", body).result()
    wait_until(lambda: any(row["Log_s"] == "ok" for _, t, row, _ in lab.logs.rows
                           if t == "ContainerAppConsoleLogs_CL" and row["ContainerAppName_s"] == "ca-big"), "ok")
    reasons = _reasons(lab, "ca-big")
    assert "ContainerTerminated" not in reasons and len(reasons["ContainerStarted"]) == 1


def test_two_apps_listen_on_the_same_port_side_by_side(lab: Lab) -> None:
    """Each replica has its own loopback: two workloads on 8000 do not collide, and nothing is on the host."""
    import socket

    lab.registry.content[GOOD] = web_image(8000, b"one")
    lab.registry.content[OTHER] = web_image(8000, b"two")
    first, second = lab.create("ca-one", GOOD), lab.create("ca-two", OTHER)
    for app in (first, second):
        lab.revision_json_when(app.name, app.latest_revision_name, lambda p: p.get("healthState") == "Healthy",
                               f"{app.name} healthy")
    with socket.socket() as probe:
        assert probe.connect_ex(("127.0.0.1", 8000)) != 0  # the host's loopback has nobody on 8000


def test_a_command_that_does_not_exist_is_a_create_failure(lab: Lab) -> None:
    lab.registry.content[GOOD] = python_image(["no-such-program"])
    body = lab.app_body(GOOD)
    body["properties"]["configuration"]["ingress"] = None
    app = lab.client.container_apps.begin_create_or_update(lab.rg, "ca-nocmd", body).result()
    lab.revision_json_when("ca-nocmd", app.latest_revision_name, lambda p: p.get("runningState") == "Failed",
                           "failed")
    messages = [e["Msg"] for e in _reasons(lab, "ca-nocmd")["ContainerTerminated"]]
    assert any("reason 'ContainerCreateFailure'" in m and "no-such-program" in m for m in messages)


def test_an_image_the_emulator_cannot_run_is_never_healthy(lab: Lab) -> None:
    """A base the emulator cannot run: the reason is recorded and shown; the revision is never Healthy."""
    from pytest_acalab.emulator.platform.services import ImageFiles

    lab.registry.content[GOOD] = ImageFiles("sha256:" + "1" * 64, {"config": {
        "Cmd": ["node", "server.js"], "Labels": {"org.opencontainers.image.base.name": "node:20-alpine"}}}, {})
    app = lab.create("ca-node", GOOD)
    rev = lab.revision_json_when("ca-node", app.latest_revision_name,
                                 lambda p: "cannot be run" in (p.get("runningStateDetails") or ""), "the reason")
    assert rev["properties"]["healthState"] == "None"
    reasons = lab.emu.platform.unmodelled_under(f"/subscriptions/{lab.emu.subscription_id}/resourceGroups/{lab.rg}")
    assert any("node:20-alpine" in r for r in reasons)


def test_env_and_secret_refs_reach_the_process(lab: Lab) -> None:
    script = ("import os; print('GREETING=' + os.environ['GREETING'], os.environ['TOKEN'] == 's3cret-token', "
              "flush=True)\n") + \
             "import time; time.sleep(60)\n"
    lab.registry.content[GOOD] = python_image(["python", "-c", script])
    body = lab.app_body(GOOD)
    body["properties"]["configuration"]["ingress"] = None
    body["properties"]["configuration"]["secrets"] = [{"name": "token", "value": "s3cret-token"}]
    body["properties"]["template"]["containers"][0]["env"] = [{"name": "GREETING", "value": "hi"},
                                                              {"name": "TOKEN", "secretRef": "token"}]
    lab.client.container_apps.begin_create_or_update(lab.rg, "ca-env", body).result()
    row = wait_until(lambda: next((r for _, t, r, _ in lab.logs.rows if t == "ContainerAppConsoleLogs_CL"
                                   and r["ContainerAppName_s"] == "ca-env"), None), "a console line")
    assert row["Log_s"] == "GREETING=hi True"  # the secret's value reached the process (and is not printed)
    assert row["ContainerName_s"] == "app" and row["RevisionName_s"].startswith("ca-env--")


def test_console_logs_on_the_log_stream_and_in_log_analytics(lab: Lab) -> None:
    """``az containerapp logs show --type console``: connection lines, then the process's own lines."""
    import json

    script = "import sys, time\nprint('hello stdout', flush=True)\nprint('hello stderr', file=sys.stderr, " \
             "flush=True)\ntime.sleep(60)\n"
    lab.registry.content[GOOD] = python_image(["python", "-c", script])
    body = lab.app_body(GOOD)
    body["properties"]["configuration"]["ingress"] = None
    app = lab.client.container_apps.begin_create_or_update(lab.rg, "ca-console", body).result()

    def endpoint() -> str | None:
        replicas = lab.client.container_apps_revision_replicas.list_replicas(lab.rg, "ca-console",
                                                                            app.latest_revision_name).value
        return replicas[0].containers[0].log_stream_endpoint if replicas and replicas[0].containers else None

    url = wait_until(endpoint, "a replica")
    token = lab.token("ca-console")

    def lines() -> list[dict[str, str]] | None:
        resp = lab.session.get(url, params={"follow": "false", "output": "json", "tailLines": 20},
                               headers={"Authorization": f"Bearer {token}"}, timeout=10,
                               verify=lab.emu.ca_bundle)
        assert resp.status_code == 200, resp.text
        found = [json.loads(x) for x in resp.text.splitlines() if x.strip()]
        return found if len(found) >= 4 else None

    got = wait_until(lines, "two console lines")
    assert got[0]["Log"] == "Connecting to the container 'app'..."
    assert got[1]["Log"].startswith("Successfully Connected to container: 'app' [Revision: 'ca-console--")
    assert {g["Log"] for g in got[2:]} == {"F hello stdout", "F hello stderr"}
    assert all(g["TimeStamp"].endswith("+00:00") for g in got[2:])
    rows = [r for _, t, r, _ in lab.logs.rows if t == "ContainerAppConsoleLogs_CL"]
    assert {(r["Log_s"], r["Stream_s"]) for r in rows} == {("hello stdout", "stdout"), ("hello stderr", "stderr")}
    bad = lab.session.get(url, headers={"Authorization": "Bearer nope"}, timeout=10, verify=lab.emu.ca_bundle)
    assert bad.status_code == 401
