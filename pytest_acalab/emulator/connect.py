"""How to point clients at a running emulator: SDK snippets and Azure CLI environment."""

from __future__ import annotations

import shlex
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pytest_acalab.emulator.emulator import Emulator

CLOUD_NAME = "AcalabEmulator"


def cli_config_dir(emu: Emulator) -> str:
    return str(emu.state_dir / "azure-cli")


def azure_cli_env(emu: Emulator, shell: bool = True) -> str:
    """Shell lines that make an unmodified ``az`` talk to this emulator (``eval`` them)."""
    env = {
        "AZURE_CONFIG_DIR": cli_config_dir(emu),
        "REQUESTS_CA_BUNDLE": emu.ca_bundle,
        "AZURE_CORE_INSTANCE_DISCOVERY": "false",
        "AZURE_CORE_COLLECT_TELEMETRY": "false",
        "AZURE_CORE_SURVEY_MESSAGE": "false",
        "AZURE_CORE_ONLY_SHOW_ERRORS": "false",
        "NO_PROXY": "127.0.0.1,localhost",
        "ACALAB_EMULATOR_URL": emu.url,
        "ACALAB_EMULATOR_CA_BUNDLE": emu.ca_bundle,
        "AZURE_SUBSCRIPTION_ID": emu.subscription_id,
        "AZURE_TENANT_ID": emu.tenant_id,
        "AZURE_CLIENT_ID": emu.client_id,
        "AZURE_CLIENT_SECRET": emu.client_secret,
        "AZURE_AUTHORITY_HOST": emu.url,
    }
    lines = [f"export {k}={shlex.quote(v)}" for k, v in env.items()]
    lines += [
        f"az cloud register -n {CLOUD_NAME} --endpoint-resource-manager {emu.url}/ "
        f"--endpoint-active-directory {emu.url} --endpoint-active-directory-resource-id "
        f"https://management.core.windows.net/ >/dev/null 2>&1 || true",
        f"az cloud set -n {CLOUD_NAME} >/dev/null",
        'az login --service-principal -u "$AZURE_CLIENT_ID" -p "$AZURE_CLIENT_SECRET" '
        '--tenant "$AZURE_TENANT_ID" >/dev/null',
    ]
    return "\n".join(lines)


def how_to_connect(emu: Emulator) -> str:
    """What ``acalab emulator serve`` prints: endpoints, CA file and how to use them."""
    return f"""pytest-acalab emulator listening on 127.0.0.1 (Ctrl-C stops it)

  ARM endpoint      {emu.url}
  CA bundle         {emu.ca_bundle}
  Subscription      {emu.subscription_id}
  Tenant            {emu.tenant_id}
  Client id         {emu.client_id}
  Logs endpoint     {emu.logs_endpoint}   (LogsQueryClient(endpoint=...))
  Registries        each <name>.azurecr.io gets its own https://127.0.0.1:<port>; ask
                    Emulator.registry_endpoint(login_server) or GET {emu.url}/acalab/registries

Python SDK clients:
    from azure.identity import ClientSecretCredential
    cred = ClientSecretCredential("{emu.tenant_id}", "{emu.client_id}", "<secret from the env file>",
                                  authority="{emu.url}", disable_instance_discovery=True,
                                  connection_verify="{emu.ca_bundle}")
    ContainerAppsAPIClient(cred, "{emu.subscription_id}", base_url="{emu.url}",
                           credential_scopes=["https://management.azure.com/.default"],
                           connection_verify="{emu.ca_bundle}")

Azure CLI (a custom cloud and a service principal; never 'az login --identity'):
    eval "$(acalab emulator env --from <the --env-file you passed>)"
"""
