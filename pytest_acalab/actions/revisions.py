"""``activate_revision`` / ``deactivate_revision``: ``az containerapp revision activate|deactivate``.

Both are POSTs on the revision (``.../revisions/{name}/activate``); Azure answers 200 with no body and
the revision's ``active`` flag (and its replicas) follow. Only apps in ``Multiple`` revision mode may
hold more than one active revision: Azure refuses the rest with a 400 the action reports as ``Failed``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pytest_acalab.actions.apps import _arm_message
from pytest_acalab.actions.base import Outcome, resource, sdk
from pytest_acalab.context import LabContext
from pytest_acalab.errors import ActionError
from pytest_acalab.labfile.model import Action
from pytest_acalab.probes.revisions import latest_of_app

__all__ = ["activate_revision", "deactivate_revision", "revision_name"]


def revision_name(ctx: LabContext, app: str, wanted: str | None, deadline: float) -> str | None:
    """``wanted``, or the app's latest revision for ``latest`` / nothing (None when it has none)."""
    if wanted and wanted != "latest":
        return wanted
    api = ctx.clients.apps.container_apps_revisions
    revisions = sdk(ctx, lambda: [r.as_dict() for r in api.list_revisions(ctx.resource_group, app)],
                    what=f"list revisions of app '{app}'", deadline=deadline)
    latest = latest_of_app(ctx, app, revisions, deadline)
    return str(latest.get("name")) if latest else None


def _post(ctx: LabContext, args: Mapping[str, Any], deadline: float, verb: str) -> Outcome:
    # the Azure SDK stack loads when a lab runs, not at collection
    from azure.core.exceptions import HttpResponseError

    app = resource(ctx, args["app"]).name
    revision = revision_name(ctx, app, args.get("revision"), deadline)
    if revision is None:
        return Outcome.failed(f"app '{app}' has no revision to {verb}")
    api = ctx.clients.apps.container_apps_revisions
    call = api.activate_revision if verb == "activate" else api.deactivate_revision
    try:
        sdk(ctx, lambda: call(ctx.resource_group, app, revision), what=f"{verb} revision '{revision}'",
            deadline=deadline, keep=(HttpResponseError,))
    except HttpResponseError as exc:
        if exc.status_code in (401, 403) or (exc.status_code or 0) >= 500:
            raise ActionError(f"{verb} revision '{revision}': {exc}") from exc
        return Outcome.failed(f"{verb} of revision '{revision}' failed: {_arm_message(exc)}", revision=revision)
    return Outcome.succeeded(f"{verb}d revision '{revision}'", revision=revision)


def activate_revision(ctx: LabContext, args: Mapping[str, Any], deadline: float, act: Action) -> Outcome:
    return _post(ctx, args, deadline, "activate")


def deactivate_revision(ctx: LabContext, args: Mapping[str, Any], deadline: float, act: Action) -> Outcome:
    return _post(ctx, args, deadline, "deactivate")
