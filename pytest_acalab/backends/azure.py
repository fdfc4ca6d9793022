"""Real Azure: ``DefaultAzureCredential`` without the managed-identity probe unless asked for.

The managed-identity leg of the default chain calls the instance-metadata address when nothing
else is configured; we only enable it when its variables say a managed identity exists.
"""

from __future__ import annotations

import os
import shutil
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


class AzureBackend(Backend):
    name = "azure"

    def __init__(self, subscription_id: str | None, location: str | None = None) -> None:
        subscription_id, sources = check_configuration(subscription_id)
        self.subscription_id = subscription_id
        self.location_override = location
        self.sources = sources
        self.deadlines = Deadlines.azure()
        self._cred: Any = None

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
        return {"credential_scopes": [ARM_SCOPE]}

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
        return {"backend": "azure", "credential_sources": ",".join(self.sources)}
