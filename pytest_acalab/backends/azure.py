"""Real Azure: ``DefaultAzureCredential`` without the managed-identity probe unless asked for.

The managed-identity leg of the default chain calls the instance-metadata address when nothing
else is configured; we only enable it when its variables say a managed identity exists.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import fields, replace
from typing import Any

from pytest_acalab.backends.base import ARM_SCOPE, Backend, Deadlines
from pytest_acalab.errors import ConfigurationError

WHAT_TO_SET = (
    "no Azure credentials: run 'az login', or set AZURE_TENANT_ID, AZURE_CLIENT_ID and AZURE_CLIENT_SECRET "
    "(service principal), or AZURE_TENANT_ID, AZURE_CLIENT_ID and AZURE_FEDERATED_TOKEN_FILE (workload identity)"
)


def _credential_sources() -> list[str]:
    env = os.environ
    sources = []
    if env.get("AZURE_TENANT_ID") and env.get("AZURE_CLIENT_ID") and (
            env.get("AZURE_CLIENT_SECRET") or env.get("AZURE_CLIENT_CERTIFICATE_PATH")):
        sources.append("environment")
    if env.get("AZURE_FEDERATED_TOKEN_FILE") and env.get("AZURE_CLIENT_ID"):
        sources.append("workload-identity")
    if env.get("IDENTITY_ENDPOINT") or env.get("MSI_ENDPOINT"):
        sources.append("managed-identity")
    if shutil.which("az"):
        sources.append("azure-cli")
    return sources


NO_SUBSCRIPTION = "no Azure subscription: pass --acalab-subscription ID or set AZURE_SUBSCRIPTION_ID"


def check_configuration(subscription_id: str | None) -> tuple[str, list[str]]:
    """The subscription and the credential sources that are configured, or ``ConfigurationError``.

    Looks at the environment and PATH only: no credential object is built and nothing touches the network,
    so a run can refuse to start (one line, before any item) instead of erroring in every lab.
    """
    subscription_id = subscription_id or os.environ.get("AZURE_SUBSCRIPTION_ID")
    sources = _credential_sources()
    if not sources:
        raise ConfigurationError(WHAT_TO_SET)
    if not subscription_id:
        raise ConfigurationError(NO_SUBSCRIPTION)
    return subscription_id, sources


AZURE_DEADLINES = Deadlines.azure()
"""Azure's pace: ten-second polls, deadlines of minutes (environment creation alone takes about 2.5)."""


def shrunk(deadlines: Deadlines, max_wait: float | None, poll_interval: float | None) -> Deadlines:
    """``deadlines`` with every wait capped at ``max_wait`` and the poll interval replaced (None: unchanged)."""
    changes: dict[str, float] = {}
    if max_wait is not None:
        changes = {f.name: min(getattr(deadlines, f.name), max_wait) for f in fields(deadlines)
                   if f.name != "poll_interval"}
    if poll_interval is not None:
        changes["poll_interval"] = poll_interval
    return replace(deadlines, **changes)


class AzureBackend(Backend):
    name = "azure"

    def __init__(self, subscription_id: str | None, location: str | None = None, *,
                 max_wait: float | None = None, poll_interval: float | None = None) -> None:
        """``max_wait`` / ``poll_interval`` (``--acalab-max-wait`` / ``--acalab-poll-interval``) shrink Azure's
        waits, e.g. so that a run against the cloud-faithful emulator fails in seconds instead of minutes."""
        subscription_id, sources = check_configuration(subscription_id)
        self.subscription_id = subscription_id
        self.location_override = location
        self.sources = sources
        self.max_wait = max_wait
        self.poll_interval = poll_interval
        self.deadlines = shrunk(AZURE_DEADLINES, max_wait, poll_interval)
        self._cred: Any = None

    def scale_wait(self, azure_seconds: float) -> float:
        """A lab's stated wait (``within: 10m``) in real seconds: as stated, capped by ``max_wait``."""
        return azure_seconds if self.max_wait is None else min(azure_seconds, self.max_wait)

    def window_seconds(self, azure_seconds: float) -> float:
        """A lab's fixed window in real seconds: as stated, capped by ``max_wait`` like every other wait (against
        the cloud-faithful emulator, whose fast clock is over the window long before)."""
        return azure_seconds if self.max_wait is None else min(azure_seconds, self.max_wait)

    def credential(self) -> Any:
        if self._cred is None:
            # the Azure SDK stack loads when a lab runs, not at collection
            from azure.identity import DefaultAzureCredential

            self._cred = DefaultAzureCredential(
                exclude_managed_identity_credential="managed-identity" not in self.sources,
                exclude_visual_studio_code_credential=True, exclude_powershell_credential=True,
                exclude_developer_cli_credential=True, exclude_interactive_browser_credential=True,
            )
        return self._cred

    def client_options(self) -> dict[str, Any]:
        kwargs: dict[str, Any] = {"credential_scopes": [ARM_SCOPE]}
        if self.poll_interval is not None:  # the SDK pollers' pace when Azure sends no Retry-After
            kwargs["polling_interval"] = self.poll_interval
        return kwargs

    def logs_endpoint(self) -> str:
        return "https://api.loganalytics.io"

    def registry_endpoint(self, login_server: str) -> str:
        return f"https://{login_server}"

    @property
    def tls_verify(self) -> bool:
        return True

    def kept_group_location(self) -> str:
        return f"subscription {self.subscription_id}"

    def describe(self) -> dict[str, str]:
        out = {"backend": "azure", "credential_sources": ",".join(self.sources)}
        if self.max_wait is not None or self.poll_interval is not None:
            out["deadlines"] = (f"shrunk: max wait {self.max_wait}s, poll interval "
                                f"{self.deadlines.poll_interval}s")
        return out
