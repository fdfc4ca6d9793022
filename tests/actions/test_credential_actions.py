"""Registry, secret, registry-credential and environment actions against the emulator, through the same SDK
calls as on Azure (ContainerRegistryManagementClient, ContainerAppsAPIClient)."""

from __future__ import annotations

import json

import pytest
from test_actions_emulator import act, recover

from pytest_acalab.actions import run_action
from pytest_acalab.actions.secrets import registry_entries, secret_entries
from pytest_acalab.context import LabContext
from pytest_acalab.errors import ActionError
from pytest_acalab.labfile.model import Action
from pytest_acalab.probes import run_probe


def secret(action_id: str, **args: object) -> Action:
    """``set_app_secret`` (its ``name`` argument clashes with ``act``'s)."""
    return Action(id=action_id, name="set_app_secret", args=args, description=None, timeout=10, line=1)


def _passwords(ctx: LabContext) -> list[str]:
    creds = ctx.clients.registries.registries.list_credentials(ctx.resource_group, ctx.resource("registry").name)
    return [p.value for p in creds.passwords]


def _secrets(ctx: LabContext) -> dict[str, str]:
    listed = ctx.clients.apps.container_apps.list_secrets(ctx.resource_group, ctx.resource("app").name)
    return {s.name: s.value for s in listed.value}


def _recorded(ctx: LabContext) -> str:
    return json.dumps([ctx.journal.entries, [vars(r) for r in ctx.action_results.values()]], default=str)


def test_admin_user_off_and_on(case_a) -> None:
    off = run_action(case_a, act("off", "update_registry", registry="registry", admin_user_enabled=False))
    assert (off.status, off.data["adminUserEnabled"]) == ("Succeeded", False)
    assert run_probe(case_a, "registry_state", {"registry": "registry", "field": "adminUserEnabled"}).value is False
    assert run_probe(case_a, "registry_state", {"registry": "registry", "field": "sku.name"}).value == "Basic"
    # with the admin user off, reading its password is refused: an action needing it cannot run
    with pytest.raises(ActionError, match=r"listCredentials of registry .*UnAuthorizedForCredentialOperations"):
        run_action(case_a, secret("secret", app="app", name="acr-password", registry="registry"))
    again = run_action(case_a, act("regen", "regenerate_registry_credential", registry="registry"))
    assert again.status == "Failed" and "admin user is disabled" in again.detail  # Azure refused: evidence
    on = run_action(case_a, act("on", "update_registry", registry="registry", admin_user_enabled=True))
    assert (on.status, on.data["adminUserEnabled"]) == ("Succeeded", True)


def test_regenerated_password_is_scrubbed_and_the_secret_follows_it(case_a) -> None:
    recover(case_a)  # an app with a revision (case A's app re-validates its missing image on any PATCH)
    before = _passwords(case_a)
    renew = run_action(case_a, act("renew", "regenerate_registry_credential", registry="registry", password="password"))
    after = _passwords(case_a)
    assert renew.status == "Succeeded" and after[0] != before[0] and after[1] == before[1]
    assert _secrets(case_a)["acr-password"] == before[0]  # the app still holds the old one
    update = run_action(case_a, secret("update-secret", app="app", name="acr-password", registry="registry",
                                       password="password"))
    assert update.status == "Succeeded", update.detail
    assert _secrets(case_a)["acr-password"] == after[0]
    recorded = _recorded(case_a)
    assert not [p for p in [*before, *after] if p in recorded]  # no password in the journal or the results
    assert case_a.scrubber.text(f"x {after[0]} y") != f"x {after[0]} y"


def test_set_app_secret_from_a_value_keeps_the_other_secrets(case_a) -> None:
    recover(case_a)
    result = run_action(case_a, secret("s", app="app", name="extra", value="not-a-real-secret-1"))
    assert result.status == "Succeeded", result.detail
    secrets = _secrets(case_a)
    assert secrets["extra"] == "not-a-real-secret-1" and secrets["acr-password"] == _passwords(case_a)[0]
    recorded = _recorded(case_a)
    at = recorded.find("not-a-real-secret-1")
    assert at < 0, recorded[max(at - 400, 0):at + 50]


def test_set_app_registry_with_the_password_and_with_an_identity(case_a) -> None:
    recover(case_a)  # a running app
    revisions = run_probe(case_a, "revisions", {"app": "app"}).value
    result = run_action(case_a, act("reg", "set_app_registry", app="app", registry="registry", password="password2",
                                    password_secret="acr-password2"))
    assert result.status == "Succeeded", result.detail
    entry = run_probe(case_a, "app_state", {"app": "app", "field": "configuration.registries.0"}).value
    assert entry["passwordSecretRef"] == "acr-password2" and entry["username"] == case_a.resource("registry").name
    assert _secrets(case_a)["acr-password2"] == _passwords(case_a)[1]
    assert run_probe(case_a, "revisions", {"app": "app"}).value == revisions  # app scope: no revision minted
    identity = run_action(case_a, act("mi", "set_app_registry", app="app", registry="registry", identity="system"))
    # the app has no system-assigned identity: Azure refuses the registry entry, the action reports it
    assert identity.status == "Failed" and "identity" in identity.detail.lower()


def test_update_app_resources_and_a_secret_reference(case_a) -> None:
    recover(case_a)
    result = run_action(case_a, act("res", "update_app", app="app", resources={"cpu": 0.25, "memory": "0.5Gi"},
                                    env={"PASSWORD": {"secret_ref": "acr-password"}, "MODE": "lab"}))
    assert result.status == "Succeeded", result.detail
    container = run_probe(case_a, "app_state", {"app": "app", "field": "template.containers.0"}).value
    assert (container["resources"]["cpu"], container["resources"]["memory"]) == (0.25, "0.5Gi")
    assert {"name": "PASSWORD", "secretRef": "acr-password"} in container["env"]
    assert {"name": "MODE", "value": "lab"} in container["env"]


def test_update_environment(case_a) -> None:
    result = run_action(case_a, act("env", "update_environment", environment="environment",
                                    properties={"zoneRedundant": False}))
    assert result.status == "Succeeded", result.detail


def test_request_bodies() -> None:
    assert secret_entries([{"name": "a", "value": "1", "identity": None}, {"name": "b", "value": "2"}], "a", "3") == [
        {"name": "b", "value": "2"}, {"name": "a", "value": "3"}]
    assert registry_entries([{"server": "X.azurecr.io", "username": "x", "passwordSecretRef": "p", "identity": ""},
                             {"server": "other.io", "identity": "system"}], "x.azurecr.io", username="u",
                            password_secret="s", identity=None) == [
        {"server": "other.io", "identity": "system"},
        {"server": "x.azurecr.io", "username": "u", "passwordSecretRef": "s"}]
