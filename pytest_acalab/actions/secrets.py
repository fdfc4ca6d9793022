"""App credential actions: ``set_app_secret`` (as ``az containerapp secret set``) and ``set_app_registry`` (as
``az containerapp registry set``).

Both PATCH the app's configuration: secrets and registries are app-scope, so no revision is minted and the
running replicas keep what they pulled; a replica pulls with the new credentials when it next starts
(a restart or a new revision). learn.microsoft.com/azure/container-apps/manage-secrets: "Adding,
removing, or changing secrets doesn't generate new revisions".

A PATCH of ``configuration.secrets`` replaces the whole list, so every existing secret is sent back with its
value, read with ``listSecrets`` as the CLI does. Secret values join the scrubber before anything is recorded.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from typing import Any

from pytest_acalab.actions.apps import _get_app, _patch  # one PATCH path for every app action
from pytest_acalab.actions.base import Outcome, resource, sdk
from pytest_acalab.actions.registry import admin_password
from pytest_acalab.context import LabContext
from pytest_acalab.errors import ActionError
from pytest_acalab.labfile.model import Action

__all__ = ["registry_entries", "secret_entries", "set_app_registry", "set_app_secret"]


# ---- request bodies (pure) -----------------------------------------------------------------------------

def secret_entries(current: Sequence[Mapping[str, Any]], name: str, value: str) -> list[dict[str, Any]]:
    """The app's secrets (name, value or keyVaultUrl + identity) with ``name`` set to ``value``."""
    out = [{k: v for k, v in dict(s).items() if v is not None} for s in current if s.get("name") != name]
    return [*out, {"name": name, "value": value}]


def registry_entries(current: Sequence[Mapping[str, Any]], server: str, *, username: str | None,
                     password_secret: str | None, identity: str | None) -> list[dict[str, Any]]:
    """The app's registries with the entry for ``server`` replaced (the server name compared case-blind)."""
    kept = [{k: v for k, v in dict(r).items() if v not in (None, "")} for r in current
            if str(r.get("server", "")).lower() != server.lower()]
    entry: dict[str, Any] = {"server": server}
    if identity:
        entry["identity"] = identity
    else:
        entry.update(username=username, passwordSecretRef=password_secret)
    return [*kept, entry]


# ---- SDK -----------------------------------------------------------------------------------------------

def _secrets(ctx: LabContext, app: str, deadline: float) -> list[dict[str, Any]]:
    listed = sdk(ctx, lambda: ctx.clients.apps.container_apps.list_secrets(ctx.resource_group, app),
                 what=f"listSecrets of container app '{app}'", deadline=deadline)
    out = []
    for secret in listed.value or []:
        entry = {"name": secret.name, "value": secret.value, "keyVaultUrl": secret.key_vault_url,
                 "identity": secret.identity}
        if secret.value:
            ctx.scrubber.add(secret.value)
        out.append(entry)
    return out


def _secret_value(ctx: LabContext, args: Mapping[str, Any], deadline: float) -> str:
    if "value" in args:
        value = str(args["value"])
        if not value:
            raise ActionError("value: an empty secret cannot be set")
        ctx.scrubber.add(value)
        return value
    _, password = admin_password(ctx, args["registry"], str(args.get("password") or "password"), deadline)
    return password


def set_app_secret(ctx: LabContext, args: Mapping[str, Any], deadline: float, act: Action) -> Outcome:
    """Set the app secret ``name`` to ``value``, or to a registry's admin password (``registry`` +
    ``password``: ``password`` or ``password2``, read now with ``listCredentials``)."""
    app = resource(ctx, args["app"]).name
    name = str(args["name"])
    value = _secret_value(ctx, args, deadline)
    body = {"properties": {"configuration": {"secrets": secret_entries(_secrets(ctx, app, deadline), name, value)}}}
    source = (f"registry '{resource(ctx, args['registry']).name}' {args.get('password') or 'password'}"
              if "registry" in args else "the given value")
    outcome = _patch(ctx, app, body, deadline, f"secret '{name}' of app '{app}' (from {source})")
    outcome.data["secret"] = name
    return outcome


def set_app_registry(ctx: LabContext, args: Mapping[str, Any], deadline: float, act: Action) -> Outcome:
    """Point the app's credentials for a registry at a secret (and optionally set that secret to the
    registry's admin password), or at a managed identity."""
    app_name = resource(ctx, args["app"]).name
    registry = resource(ctx, args["registry"])
    server = str(registry.field("loginServer"))
    identity = args.get("identity")
    secret_name = str(args.get("password_secret") or "registry-password")
    username = args.get("username")
    configuration: dict[str, Any] = {}
    if identity is None and "password" in args:
        admin_user, password = admin_password(ctx, args["registry"], str(args["password"]), deadline)
        username = username or admin_user
        configuration["secrets"] = secret_entries(_secrets(ctx, app_name, deadline), secret_name, password)
    if identity is None and not username:
        username = registry.name  # the admin user's name is the registry's
    app = _get_app(ctx, app_name, deadline)
    current = copy.deepcopy(((app.get("properties") or {}).get("configuration") or {}).get("registries") or [])
    configuration["registries"] = registry_entries(current, server, username=None if identity else str(username),
                                                   password_secret=None if identity else secret_name,
                                                   identity=str(identity) if identity else None)
    how = f"identity {identity}" if identity else f"user {username}, secret '{secret_name}'"
    outcome = _patch(ctx, app_name, {"properties": {"configuration": configuration}}, deadline,
                     f"registry {server} of app '{app_name}' ({how})")
    outcome.data["server"] = server
    return outcome
