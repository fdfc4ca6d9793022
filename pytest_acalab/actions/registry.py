"""Registry management actions: ``update_registry`` (admin user on/off, as ``az acr update --admin-enabled``)
and ``regenerate_registry_credential`` (as ``az acr credential renew --password-name``).

Both go through ``ContainerRegistryManagementClient`` (``registries.begin_update`` and
``registries.regenerate_credential``, REST: azure-rest-api-specs
specification/containerregistry/resource-manager/Microsoft.ContainerRegistry/stable/2023-07-01/containerregistry.json).
New passwords join the scrubber before anything else sees them; results never carry them.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pytest_acalab.actions.base import Outcome, resource, sdk
from pytest_acalab.context import LabContext
from pytest_acalab.errors import ActionError
from pytest_acalab.labfile.model import Action

__all__ = ["admin_password", "arm_message", "update_registry", "regenerate_registry_credential"]

CREDENTIAL_NAMES = ("password", "password2")


def arm_message(exc: Any) -> str:
    """``(code) message`` of an ARM error the SDK raised."""
    err = getattr(exc, "error", None)
    code, message = getattr(err, "code", None), getattr(err, "message", None)
    if message:
        return f"({code}) {message}" if code else str(message)
    return str(exc).splitlines()[0]


def refused(exc: Any) -> bool:
    """Azure answered and refused the request (4xx other than auth), as opposed to not answering usefully."""
    status = getattr(exc, "status_code", None) or 0
    return 400 <= status < 500 and status not in (401, 403, 408, 429)


def admin_password(ctx: LabContext, alias: str, which: str, deadline: float) -> tuple[str, str]:
    """(username, password ``which``) of a registry's admin user, read with ``listCredentials``; the password
    joins the scrubber at once. Raises ``ActionError`` when Azure refuses (admin user disabled)."""
    # the Azure SDK stack loads when a lab runs, not at collection
    from azure.core.exceptions import HttpResponseError

    if which not in CREDENTIAL_NAMES:
        raise ActionError(f"credential name {which!r}: expected one of {', '.join(CREDENTIAL_NAMES)}")
    name = resource(ctx, alias).name
    try:
        creds = sdk(ctx, lambda: ctx.clients.registries.registries.list_credentials(ctx.resource_group, name),
                    what=f"listCredentials of registry '{name}'", deadline=deadline, keep=(HttpResponseError,))
    except HttpResponseError as exc:
        raise ActionError(f"listCredentials of registry '{name}': {arm_message(exc)}") from exc
    for entry in creds.passwords or []:
        if entry.value:
            ctx.scrubber.add(entry.value)
    found = next((p.value for p in creds.passwords or [] if str(getattr(p.name, "value", p.name)) == which), None)
    if not found:
        raise ActionError(f"registry '{name}' returned no credential named {which!r}")
    return str(creds.username), str(found)


def update_registry(ctx: LabContext, args: Mapping[str, Any], deadline: float, act: Action) -> Outcome:
    """PATCH the registry: ``admin_user_enabled`` (and/or ``anonymous_pull_enabled``)."""
    # the Azure SDK stack loads when a lab runs, not at collection
    from azure.core.exceptions import HttpResponseError
    from azure.mgmt.containerregistry.models import RegistryUpdateParameters

    name = resource(ctx, args["registry"]).name
    changes = {key: bool(args[key]) for key in ("admin_user_enabled", "anonymous_pull_enabled") if key in args}
    params = RegistryUpdateParameters({"properties": {_ARM[k]: v for k, v in changes.items()}})
    shown = ", ".join(f"{k}={'true' if v else 'false'}" for k, v in changes.items())
    try:
        poller = sdk(ctx, lambda: ctx.clients.registries.registries.begin_update(ctx.resource_group, name, params),
                     what=f"PATCH registry '{name}'", deadline=deadline, keep=(HttpResponseError,))
        registry = poller.result(timeout=deadline)
    except HttpResponseError as exc:
        if not refused(exc):
            raise ActionError(f"PATCH registry '{name}': {arm_message(exc)}") from exc
        return Outcome.failed(f"update of registry '{name}' ({shown}) failed: {arm_message(exc)}")
    if not poller.done():
        return Outcome.failed(f"update of registry '{name}' ({shown}) did not finish within {deadline:g}s")
    data = {"adminUserEnabled": registry.admin_user_enabled, "anonymousPullEnabled": registry.anonymous_pull_enabled,
            "provisioningState": str(getattr(registry.provisioning_state, "value", registry.provisioning_state))}
    wrong = [k for k, v in changes.items() if data[_ARM[k]] is not v]
    if wrong:
        return Outcome.failed(f"registry '{name}' answered the update ({shown}) but still shows "
                              + ", ".join(f"{_ARM[k]}={data[_ARM[k]]}" for k in wrong), **data)
    return Outcome.succeeded(f"registry '{name}': {shown}", **data)


_ARM = {"admin_user_enabled": "adminUserEnabled", "anonymous_pull_enabled": "anonymousPullEnabled"}


def regenerate_registry_credential(ctx: LabContext, args: Mapping[str, Any], deadline: float,
                                   act: Action) -> Outcome:
    """``regenerateCredential`` of ``password`` (default) or ``password2``: the old value stops working."""
    # the Azure SDK stack loads when a lab runs, not at collection
    from azure.core.exceptions import HttpResponseError
    from azure.mgmt.containerregistry.models import RegenerateCredentialParameters

    name = resource(ctx, args["registry"]).name
    which = str(args.get("password") or "password")
    try:
        creds = sdk(ctx, lambda: ctx.clients.registries.registries.regenerate_credential(
            ctx.resource_group, name, RegenerateCredentialParameters(name=which)),
            what=f"regenerateCredential of registry '{name}'", deadline=deadline, keep=(HttpResponseError,))
    except HttpResponseError as exc:
        if not refused(exc):
            raise ActionError(f"regenerateCredential of registry '{name}': {arm_message(exc)}") from exc
        return Outcome.failed(f"regeneration of {which} of registry '{name}' failed: {arm_message(exc)}",
                              credential=which)
    for entry in creds.passwords or []:
        if entry.value:
            ctx.scrubber.add(entry.value)
    return Outcome.succeeded(f"registry '{name}': {which} regenerated (the previous value no longer signs in)",
                             credential=which)
