"""The Practical Guide's ingress-target-port-mismatch snapshot, 60 s after ``az containerapp ingress update
--target-port 8081``: the revision still ``Healthy`` / ``RunningAtMaxScale`` with 2 replicas (the old pod
template's and the new one's, both ``Running``) and all the traffic, while the edge answers 503.

A fast clock passes those 60 s (and the 240 s deadline after them) before anything can look, so the emulator's
clock turns realistic for the update and what follows (the app is set up on the fast clock: not what is
measured); the Azure side is the Guide's evidence (``tests/labs/data/guide_evidence``, MIT).
"""

from __future__ import annotations

import json
import time

import requests
from app_helpers import Lab, wait_until, web_image

from helpers.guide_labs import EVIDENCE

SPEED = 10.0
"""Azure seconds per real second: the snapshot at 60 s is 6 real seconds after the update, and the rollout's
240 s deadline 18 real seconds after it, room for a loaded machine to look in between."""
IMAGE = "acrlab.azurecr.io/helloworld:latest"


def test_sixty_seconds_after_a_target_port_flip_the_revision_is_still_healthy_with_two_replicas(lab: Lab) -> None:
    azure = EVIDENCE / "ingress-target-port-mismatch"
    revision_60s = json.loads((azure / "07-revision-status-after-trigger.json").read_text())
    replicas_60s = json.loads((azure / "06-replicas-after-trigger.json").read_text())
    lab.registry.content[IMAGE] = web_image(80)
    body = lab.app_body(IMAGE)
    body["properties"]["configuration"]["ingress"]["targetPort"] = 80
    app = lab.client.container_apps.begin_create_or_update(lab.rg, "ingressport", body).result()
    revision = app.latest_revision_name
    lab.revision_when("ingressport", revision, lambda r: r.health_state == "Healthy" and r.running_state in (
        "Running", "RunningAtMaxScale"), "the baseline healthy")
    clock = lab.emu.platform.clock
    clock.profile, clock.speed = "realistic", SPEED
    lab.client.container_apps.begin_update(lab.rg, "ingressport", {"properties": {"configuration": {
        "ingress": {"external": True, "targetPort": 8081}}}}).result()
    flipped = time.monotonic()

    def azure_seconds() -> float:
        return (time.monotonic() - flipped) * SPEED

    def both_pods_up_after_sixty_seconds() -> list | None:
        if azure_seconds() < 60:
            return None
        replicas = lab.client.container_apps_revision_replicas.list_replicas(lab.rg, "ingressport", revision).value
        return replicas if len(replicas) == 2 and all(r.running_state == "Running" for r in replicas) else None

    # the Guide looked 60 s after the flip; a loaded machine may start the new pod later than Azure did, so the
    # snapshot is taken once both pods run, and must still come before the rollout's 240 s deadline
    replicas = wait_until(both_pods_up_after_sixty_seconds,
                          "60 s of Azure time after the flip (the Guide's propagation wait) and both pods running")
    shown = lab.client.container_apps_revisions.get_revision(lab.rg, "ingressport", revision)
    looked_at = azure_seconds()
    assert looked_at < 240, f"looked {looked_at:.0f} Azure seconds after the flip, past the rollout's deadline"

    assert lab.client.container_apps.get(lab.rg, "ingressport").latest_revision_name == revision  # none minted
    assert (shown.health_state, shown.running_state, shown.replicas, shown.traffic_weight) == (
        revision_60s["healthState"], revision_60s["runningState"], revision_60s["replicas"],
        revision_60s["trafficWeight"])
    assert [r.running_state for r in replicas] == [r["runningState"] for r in replicas_60s] == ["Running"] * 2
    assert len({r.name.rsplit("-", 2)[-2] for r in replicas}) == 2  # two pod templates: the old and the new
    session = requests.Session()
    session.trust_env = False
    answer = session.get(f"https://{app.configuration.ingress.fqdn}/", timeout=30, verify=lab.emu.ca_bundle,
                         proxies={"https": lab.emu.proxy_url})
    assert answer.status_code == 503  # while the revision says Healthy
