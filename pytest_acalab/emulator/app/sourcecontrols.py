"""GitHub Actions source control on container apps (``containerApps/sourcecontrols``): the resource
``az containerapp github-action add`` writes (name ``current``; the portal writes
``<app>-AutoDeployTrigger-<guid>``, microsoft/azure-container-apps#187).

Shapes follow azure-rest-api-specs, specification/app/resource-manager/Microsoft.App/stable/2024-03-01/
SourceControls.json and its examples (2022-03-01 SourceControls_CreateOrUpdate.json, 2024-03-01
SourceControls_Delete.json): the answer repeats ``repoUrl``, ``branch`` and the readable parts of
``githubActionConfiguration``; the fields the spec marks ``x-ms-secret`` or create/update-only
(``registryPassword``, ``clientId``, ``clientSecret``, ``tenantId``, ``kind``, ``githubPersonalAccessToken``)
are never sent back; ``operationState`` is ``InProgress`` until Azure has set up the repository.

What Azure does behind the operation (commit a workflow file to the repository with the token, store the
registry and service-principal credentials as repository secrets, and later run the workflow) needs GitHub,
which the emulator does not reach: the operation ends ``Succeeded`` having done none of it, and the app is
recorded as unmodelled (``Platform.unmodelled``), so a lab relying on it gets no verdict rather than a pass.

Bad input: a body without ``properties``, a missing or non-GitHub ``repoUrl``, a missing ``branch`` are 400s in
our words (guess: Azure's wording for them was not captured).
"""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass, field
from typing import Any

from pytest_acalab.emulator.platform.errors import ArmError

TYPE = "Microsoft.App/containerapps/sourcecontrols"
"""The ``type`` Azure answers (lower-case ``containerapps``, as in the REST spec's examples)."""

SECRET_FIELDS = (("registryInfo", "registryPassword"), ("azureCredentials", "clientId"),
                 ("azureCredentials", "clientSecret"), ("azureCredentials", "tenantId"))
"""``githubActionConfiguration`` fields marked ``x-ms-secret`` in the spec: kept, never answered."""
WRITE_ONLY = (("azureCredentials", "kind"),)
"""Create/update-only (``x-ms-mutability``), not secret: never answered either."""
_GITHUB_REPO = re.compile(r"^https://github\.com/[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+/?$")


@dataclass
class SourceControl:
    name: str
    repo_url: str
    branch: str
    configuration: dict[str, Any] = field(default_factory=dict)
    """``githubActionConfiguration`` as sent, secrets included (the emulator never answers them)."""
    operation_state: str = "InProgress"


def secret_values(body: Any) -> list[str]:
    """Every secret a PUT body carries (the scrubber must know them before anything is logged)."""
    props = body.get("properties") if isinstance(body, dict) else None
    config = props.get("githubActionConfiguration") if isinstance(props, dict) else None
    if not isinstance(config, dict):
        return []
    found = [config.get("githubPersonalAccessToken")]
    for group, key in SECRET_FIELDS:
        part = config.get(group)
        if isinstance(part, dict):
            found.append(part.get(key))
    return [str(v) for v in found if v]


def validate(app_name: str, name: str, body: Any) -> SourceControl:
    """The source control a PUT asks for, or a 400 naming what is wrong and where."""
    props = body.get("properties") if isinstance(body, dict) else None
    if not isinstance(props, dict):
        raise ArmError(400, "InvalidRequestContent", "The request content must have a 'properties' object.")
    where = f"SourceControl '{name}' of container app '{app_name}'"
    repo = props.get("repoUrl")
    if not isinstance(repo, str) or not repo:
        raise ArmError(400, "InvalidRequestParameterWithDetails", f"{where}: 'properties.repoUrl' is required.")
    if not _GITHUB_REPO.match(repo):
        raise ArmError(400, "InvalidRequestParameterWithDetails",
                       f"{where}: 'properties.repoUrl' must be a GitHub repository URL "
                       f"(https://github.com/<owner>/<repository>), not '{repo}'.")
    branch = props.get("branch")
    if not isinstance(branch, str) or not branch:
        raise ArmError(400, "InvalidRequestParameterWithDetails", f"{where}: 'properties.branch' is required.")
    config = props.get("githubActionConfiguration") or {}
    if not isinstance(config, dict):
        raise ArmError(400, "InvalidRequestContent",
                       f"{where}: 'properties.githubActionConfiguration' must be an object.")
    for group in ("registryInfo", "azureCredentials"):
        if config.get(group) is not None and not isinstance(config[group], dict):
            raise ArmError(400, "InvalidRequestContent",
                           f"{where}: 'properties.githubActionConfiguration.{group}' must be an object.")
    return SourceControl(name, repo, branch, copy.deepcopy(config))


def body(app_id: str, sc: SourceControl) -> dict[str, Any]:
    """What GET (and the PUT) answers: the readable fields only."""
    config: dict[str, Any] = {k: copy.deepcopy(v) for k, v in sc.configuration.items()
                              if k not in ("githubPersonalAccessToken", "registryInfo", "azureCredentials")}
    hidden = {*SECRET_FIELDS, *WRITE_ONLY}
    for group in ("registryInfo", "azureCredentials"):
        part = sc.configuration.get(group)
        if isinstance(part, dict):
            kept = {k: v for k, v in part.items() if (group, k) not in hidden}
            if kept:
                config[group] = kept
    return {"id": f"{app_id}/sourcecontrols/{sc.name}", "name": sc.name, "type": TYPE,
            "properties": {"operationState": sc.operation_state, "repoUrl": sc.repo_url, "branch": sc.branch,
                           "githubActionConfiguration": config}}


def unmodelled_reason(sc: SourceControl) -> str:
    return (f"GitHub Actions source control '{sc.name}' ({sc.repo_url}, branch {sc.branch}): the emulator does not "
            "reach GitHub, so the workflow file, the repository secrets and the runs that would build and "
            "deploy new revisions are not modelled")
