"""Case A (validation when an image reference changes) and case B (pulls at replica start),
as the live captures in tests/contract/data show."""

from __future__ import annotations

from datetime import datetime

import pytest
from app_helpers import OK, UNAUTHORIZED, Lab, missing, wait_until
from azure.core.exceptions import HttpResponseError

from pytest_acalab.emulator.platform.services import PullAuth, PullResult

ACR = "acrlab.azurecr.io"
GOOD = f"{ACR}/labacr:v1"
BROKEN = f"{ACR}/labacr:does-not-exist"


def _reasons(lines: list[dict]) -> list[str]:
    return [line["Reason"] for line in lines]


def _ts(text: str) -> datetime:
    head, frac = text.split(" +0000")[0].split(".")
    return datetime.strptime(f"{head}.{frac[:6]}", "%Y-%m-%d %H:%M:%S.%f")


def test_case_a_create_fails_with_azures_message_and_leaves_no_revision(lab: Lab) -> None:
    lab.registry.missing(BROKEN)
    with pytest.raises(HttpResponseError) as err:
        lab.create("ca-labacr", BROKEN)
    assert err.value.error.code == "ContainerAppOperationError"
    assert err.value.error.message == (
        "Failed to provision revision for container app 'ca-labacr'. Error details: The following field(s) are "
        "either invalid or missing. Field 'template.containers.app.image' is invalid with details: 'Invalid value: "
        f"\"{BROKEN}\": GET https:: MANIFEST_UNKNOWN: manifest tagged by \"does-not-exist\" is not found; "
        "map[Tag:does-not-exist]';..")
    app = lab.client.container_apps.get(lab.rg, "ca-labacr")
    assert app.provisioning_state == "Failed"
    assert app.latest_revision_name is None and app.latest_revision_fqdn is None
    assert app.event_stream_endpoint is None
    assert app.configuration.ingress.fqdn is None
    assert app.template.containers[0].image == BROKEN  # Azure shows what was asked
    assert lab.revisions("ca-labacr") == {}
    assert lab.logs.rows == []


def test_case_a_update_keeps_latest_revision_and_makes_none(lab: Lab) -> None:
    app = lab.create("ca-upd", GOOD)
    before = app.latest_revision_name
    lab.registry.missing(BROKEN)
    with pytest.raises(HttpResponseError) as err:
        lab.client.container_apps.begin_create_or_update(lab.rg, "ca-upd", lab.app_body(BROKEN)).result()
    assert "MANIFEST_UNKNOWN" in err.value.error.message and err.value.error.code == "ContainerAppOperationError"
    app = lab.client.container_apps.get(lab.rg, "ca-upd")
    assert app.provisioning_state == "Failed" and app.latest_revision_name == before
    assert list(lab.revisions("ca-upd")) == [before]


def test_case_a_skips_validation_when_the_image_does_not_change(lab: Lab) -> None:
    lab.create("ca-same", GOOD)
    calls = len(lab.registry.calls)
    lab.registry.missing(GOOD)  # the tag is gone, but a config-only update does not validate images
    body = lab.app_body(GOOD)
    body["properties"]["configuration"]["ingress"]["external"] = False  # app scope, and no pod restarts
    app = lab.client.container_apps.begin_create_or_update(lab.rg, "ca-same", body).result()
    assert app.provisioning_state == "Succeeded"
    assert len(lab.registry.calls) == calls


@pytest.mark.parametrize("result, detail", [
    (UNAUTHORIZED, "GET https:?scope=repository%3Alabacr%3Apull&service=acrlab.azurecr.io: UNAUTHORIZED: "
                   "authentication required, visit https://aka.ms/acr/authorization for more information."),
    (PullResult(False, "NO_SUCH_HOST", "no such host"),
     "failed to resolve registry 'acrlab.azurecr.io': lookup acrlab.azurecr.io on 100.100.253.162:53: no such host"),
])
def test_case_a_variants(lab: Lab, result: PullResult, detail: str) -> None:
    lab.registry.results[GOOD] = result
    with pytest.raises(HttpResponseError) as err:
        lab.create("ca-var", GOOD)
    assert err.value.error.message.endswith(f"'Invalid value: \"{GOOD}\": {detail}';..")


def test_image_without_tag_is_validated_as_latest(lab: Lab) -> None:
    lab.create("ca-notag", f"{ACR}/labacr")
    assert lab.registry.calls[0][0] == f"{ACR}/labacr:latest"
    assert lab.client.container_apps.get(lab.rg, "ca-notag").template.containers[0].image == f"{ACR}/labacr"


def test_case_b_pull_failure_gives_unhealthy_revision_and_keeps_the_old_one(lab: Lab) -> None:
    app = lab.create("ca-b", GOOD)
    good_rev = app.latest_revision_name
    lab.revision_when("ca-b", good_rev, lambda r: r.health_state == "Healthy", "first revision healthy")
    lab.registry.script[BROKEN] = [OK, missing(BROKEN)]  # validation passes, the pull later fails
    app = lab.client.container_apps.begin_create_or_update(lab.rg, "ca-b", lab.app_body(BROKEN)).result()
    assert app.provisioning_state == "Succeeded"
    bad = lab.revision_when("ca-b", app.latest_revision_name, lambda r: r.health_state == "Unhealthy", "unhealthy")
    assert (bad.provisioning_state, bad.running_state) == ("Failed", "Failed")
    raw = bad.as_dict()["properties"]  # the SDK model has no attribute for these two real fields
    assert raw["runningStateDetails"] == "1/1 Pending:ImagePullBackOff on legion"
    assert raw["provisioningError"] == "Pending:ImagePullBackOff on legion"
    assert bad.active and bad.traffic_weight == 100 and bad.replicas == 1
    old = lab.client.container_apps_revisions.get_revision(lab.rg, "ca-b", good_rev)
    assert old.active and old.health_state == "Healthy" and old.running_state == "RunningAtMaxScale"
    assert old.traffic_weight == 0  # as captured: the latest revision holds the weight
    replica = lab.client.container_apps_revision_replicas.list_replicas(lab.rg, "ca-b", bad.name).value[0]
    assert replica.running_state == "NotRunning"
    assert replica.containers[0].running_state == "Waiting"
    lines = wait_until(lambda: [x for x in lab.system_lines("ca-b") if x["RevisionName"] == bad.name
                                and x["Reason"] == "ContainerTerminated"][2:] and lab.system_lines("ca-b"),
                       "three pull failures")
    mine = [x for x in lines if x["RevisionName"] == bad.name]
    terminated = [x for x in mine if x["Reason"] == "ContainerTerminated"]
    assert terminated[0]["Type"] == "Warning"
    assert terminated[0]["Msg"].startswith(
        f"Container 'app' was terminated with exit code '' and reason 'ImagePullFailure'. Image {BROKEN} not found "
        "in registry. ErrorMessage=Image not found or access denied. Error: {\"errors\":[{\"code\":"
        "\"MANIFEST_UNKNOWN\",\"message\":\"manifest tagged by \\\"does-not-exist\\\" is not found\"")
    assert [t["Count"] for t in terminated[:3]] == [1, 2, 3]
    assert "ImagePullUnauthorized" not in _reasons(mine)  # only where auth failed
    assert "RevisionReady" in _reasons(mine)  # Azure logs it even for a revision that then fails
    assert not {"ImagePullBackOff", "ErrImagePull", "BackOff"} & set(_reasons(lines))
    # kubelet back-off: each wait is longer than the one before (10 s, 20 s, 40 s on Azure)
    pulls = [_ts(x["TimeStamp"]) for x in mine if x["Reason"] == "PullingImage"][:3]
    gaps = [(b - a).total_seconds() for a, b in zip(pulls, pulls[1:], strict=False)]
    scale = lab.emu.clock.scale
    assert gaps[0] == pytest.approx(scale(10) + scale(2.5), abs=5e-4)
    assert gaps[1] == pytest.approx(scale(20) + scale(2.5), abs=5e-4)


def test_recovery_to_a_good_image(lab: Lab) -> None:
    lab.registry.script[BROKEN] = [OK, missing(BROKEN)]
    app = lab.create("ca-rec", BROKEN)
    bad = app.latest_revision_name
    lab.revision_when("ca-rec", bad, lambda r: r.health_state == "Unhealthy", "unhealthy")
    fixed = f"{ACR}/labacr:v2"
    app = lab.client.container_apps.begin_create_or_update(lab.rg, "ca-rec", lab.app_body(fixed)).result()
    assert app.provisioning_state == "Succeeded" and app.latest_revision_name != bad
    rev = lab.revision_when("ca-rec", app.latest_revision_name, lambda r: r.health_state == "Healthy", "healthy")
    assert (rev.running_state, rev.traffic_weight, rev.active, rev.replicas) == ("RunningAtMaxScale", 100, True, 1)
    old = lab.revision_when("ca-rec", bad, lambda r: not r.active, "old revision deactivated")
    assert (old.running_state, old.replicas, old.traffic_weight) == ("Stopped", 0, 0)
    assert wait_until(lambda: lab.client.container_apps.get(lab.rg, "ca-rec").latest_ready_revision_name
                      == rev.name, "latest ready")


def _admin(lab: Lab) -> dict:
    return {"secrets": [{"name": "acr-password", "value": "pw-1"}], "activeRevisionsMode": "Single",
            "ingress": {"external": True, "targetPort": 8000},
            "registries": [{"server": ACR, "username": "acrlab", "passwordSecretRef": "acr-password"}]}


def _identity(lab: Lab) -> dict:
    return {"activeRevisionsMode": "Single", "ingress": {"external": True, "targetPort": 8000},
            "registries": [{"server": ACR, "identity": "system"}]}


CAUSES = {
    # cause: (configuration, identity, registry state flip, expects ImagePullUnauthorized)
    "tag deleted": (_admin, None, "tag", False),
    "admin user disabled": (_admin, None, "admin", True),
    "password regenerated": (_admin, None, "password", True),
    "role assignment removed": (_identity, {"type": "SystemAssigned"}, "role", True),
}


@pytest.mark.parametrize("cause", list(CAUSES))
def test_case_b_later_failure_causes(lab: Lab, cause: str) -> None:
    configuration, identity, flip, unauthorized = CAUSES[cause]
    state = {"tag": True, "admin": True, "password": "pw-1", "role": True}
    principals: list[str | None] = []

    def policy(image: str, auth: PullAuth) -> PullResult:
        if not state["tag"]:
            return missing(image)
        if auth.principal_id:
            principals.append(auth.principal_id)
            return OK if state["role"] else UNAUTHORIZED
        if auth.username:
            return OK if state["admin"] and auth.password == state["password"] else UNAUTHORIZED
        return UNAUTHORIZED

    lab.registry.policy = policy
    body = lab.app_body(GOOD, configuration=configuration(lab))
    if identity:
        body["identity"] = identity
    app = lab.client.container_apps.begin_create_or_update(lab.rg, "ca-cause", body).result()
    rev = lab.revision_when("ca-cause", app.latest_revision_name, lambda r: r.health_state == "Healthy", "healthy")
    if identity:
        assert principals and principals[0] == app.identity.principal_id
    state[flip] = False if flip != "password" else "pw-2"
    lab.client.container_apps_revisions.restart_revision(lab.rg, "ca-cause", rev.name)
    lab.revision_when("ca-cause", rev.name, lambda r: r.health_state == "Unhealthy", "unhealthy after restart")
    reasons = _reasons(lab.system_lines("ca-cause"))
    assert ("ImagePullUnauthorized" in reasons) is unauthorized
    assert "ContainerTerminated" in reasons


def test_restart_re_pulls_with_new_replicas(lab: Lab) -> None:
    app = lab.create("ca-rs", GOOD)
    rev = lab.revision_when("ca-rs", app.latest_revision_name, lambda r: r.health_state == "Healthy", "healthy")
    first = [r.name for r in lab.client.container_apps_revision_replicas.list_replicas(lab.rg, "ca-rs", rev.name).value]
    pulls = len(lab.registry.calls)
    lab.client.container_apps_revisions.restart_revision(lab.rg, "ca-rs", rev.name)
    lab.revision_when("ca-rs", rev.name, lambda r: r.health_state == "Healthy", "healthy again")
    listed = lab.client.container_apps_revision_replicas.list_replicas(lab.rg, "ca-rs", rev.name).value
    second = [r.name for r in listed]
    assert len(lab.registry.calls) > pulls and set(first).isdisjoint(second)
