"""How to point clients at a running emulator: SDK snippets and the Azure CLI's environment.

Cloud-faithful mode (``acalab emulator serve``): nothing is pointed anywhere. ``HTTPS_PROXY`` names the
emulator's loopback CONNECT proxy, which answers Azure's own host names (``management.azure.com``,
``login.microsoftonline.com``, ``<acr>.azurecr.io``, ...), and ``REQUESTS_CA_BUNDLE`` / ``SSL_CERT_FILE``
trust the emulator's CA; the Azure CLI stays on its built-in ``AzureCloud`` and any Azure SDK credential
keeps its default authority.

Loopback mode (an in-process ``Emulator()``): the unmodified Azure CLI reaches the emulator through
documented knobs only: a custom cloud whose resource manager is the emulator (``az cloud register``
reads ``/metadata/endpoints``), the emulator's CA in ``REQUESTS_CA_BUNDLE``, instance discovery and
telemetry off, a fresh ``AZURE_CONFIG_DIR``, a service-principal login against the emulator's token
authority, and ``HTTPS_PROXY`` for data-plane host names (``<acr>.azurecr.io``).

Either way, never ``az login --identity``: its fallback is the instance-metadata address.
"""

from __future__ import annotations

import os
import shlex
import subprocess
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from pytest_acalab.errors import AcalabError

if TYPE_CHECKING:
    from pytest_acalab.emulator.emulator import Emulator

CLOUD_NAME = "AcalabEmulator"
AZURE_CLOUD = "AzureCloud"
DEFAULT_AUTHORITY = "https://login.microsoftonline.com"
LOOPBACK = "127.0.0.1,localhost"
SECRET_VARIABLE = "AZURE_CLIENT_SECRET"


class AzureCliSetupError(AcalabError):
    """An ``az`` command preparing the CLI for the emulator failed, or no emulator answers."""


def cli_config_dir(emu: Emulator) -> str:
    return str(emu.state_dir / "azure-cli")


def azure_cli_environment(emu: Emulator, config_dir: str | os.PathLike[str] | None = None) -> dict[str, str]:
    """Environment variables for an unmodified ``az`` (and the SDKs' environment credential).

    Holds the service principal's secret (``AZURE_CLIENT_SECRET``): never print it.
    """
    proxy = emu.proxy_url
    trust = {"REQUESTS_CA_BUNDLE": emu.ca_bundle,
             "CURL_CA_BUNDLE": emu.ca_bundle}  # curl https://<app fqdn>/ as the lab runbooks do (via HTTPS_PROXY)
    if emu.cloud:  # also for clients on OpenSSL's default trust (urllib; aiohttp, untested: not installed here)
        trust["SSL_CERT_FILE"] = emu.ca_bundle
    else:
        trust["AZURE_CORE_INSTANCE_DISCOVERY"] = "false"
    return {
        "AZURE_CONFIG_DIR": str(config_dir) if config_dir is not None else cli_config_dir(emu),
        **trust,
        "AZURE_CORE_COLLECT_TELEMETRY": "false",
        "AZURE_CORE_SURVEY_MESSAGE": "false",
        # both spellings: Python's urllib lets lower-case proxy variables win over upper-case ones
        "HTTPS_PROXY": proxy,
        "https_proxy": proxy,
        "NO_PROXY": LOOPBACK,
        "no_proxy": LOOPBACK,
        "ACALAB_EMULATOR_URL": emu.url,
        "ACALAB_EMULATOR_CA_BUNDLE": emu.ca_bundle,
        "AZURE_SUBSCRIPTION_ID": emu.subscription_id,
        "AZURE_TENANT_ID": emu.tenant_id,
        "AZURE_CLIENT_ID": emu.client_id,
        SECRET_VARIABLE: emu.client_secret,
        # cloud mode: Azure's own authority (what the credentials default to), answered through the proxy
        "AZURE_AUTHORITY_HOST": DEFAULT_AUTHORITY if emu.cloud else emu.url,
    }


def login_commands(emu: Emulator) -> list[list[str]]:
    """The ``az`` invocations that select the cloud (registering the emulator's custom cloud in loopback mode)
    and log the service principal in (the secret comes from the environment)."""
    login = ["az", "login", "--service-principal", "-u", "$AZURE_CLIENT_ID", "-p", f"${SECRET_VARIABLE}",
             "--tenant", "$AZURE_TENANT_ID", "-o", "none"]
    if emu.cloud:
        return [["az", "cloud", "set", "-n", AZURE_CLOUD], login]
    return [
        ["az", "cloud", "register", "-n", CLOUD_NAME, "--endpoint-resource-manager", f"{emu.url}/"],
        ["az", "cloud", "set", "-n", CLOUD_NAME],
        login,
    ]


def azure_cli_script(emu: Emulator) -> str:
    """A shell script to ``eval``: the exports, then the custom cloud and the service-principal login.

    Running it twice in one shell is harmless (the cloud is registered once per config dir).
    """
    env = azure_cli_environment(emu)
    lines = ["# pytest-acalab: point the Azure CLI at the local emulator (eval this; it holds a secret)"]
    lines += [f"export {k}={shlex.quote(v)}" for k, v in env.items()]
    *setup, _ = login_commands(emu)
    select = setup[-1]
    az_lines = [] if emu.cloud else [
        f"az cloud show -n {CLOUD_NAME} >/dev/null 2>&1 || {shlex.join(setup[0])} --only-show-errors >/dev/null"]
    az_lines += [
        f"{shlex.join(select)} --only-show-errors >/dev/null",
        # expands the variables exported above: the secret is not repeated on this line
        f'az login --service-principal -u "$AZURE_CLIENT_ID" -p "${SECRET_VARIABLE}" '
        '--tenant "$AZURE_TENANT_ID" --only-show-errors >/dev/null',
    ]
    # without the Azure CLI the exports alone serve the SDKs: the az lines are skipped, not failed
    lines += ["if command -v az >/dev/null 2>&1; then", *(f"  {line}" for line in az_lines), "fi"]
    return "\n".join(lines) + "\n"


def write_env_file(path: str | os.PathLike[str], text: str) -> None:
    """Write ``text`` readable by its owner only (0600), also when the file already existed."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.fchmod(fd, 0o600)
        os.write(fd, text.encode())
    finally:
        os.close(fd)


def read_exports(text: str) -> dict[str, str]:
    """The ``export NAME=value`` lines of an env script, values unquoted."""
    out: dict[str, str] = {}
    for line in text.splitlines():
        if line.startswith("export ") and "=" in line:
            name, _, value = line[len("export "):].partition("=")
            words = shlex.split(value)
            out[name.strip()] = words[0] if words else ""
    return out


def check_emulator(url: str, ca_bundle: str, timeout: float = 5.0) -> None:
    """Raise AzureCliSetupError unless an emulator answers ARM's metadata request at ``url``."""
    import ssl
    import urllib.error
    import urllib.request

    try:
        context = ssl.create_default_context(cafile=ca_bundle)
        handler = urllib.request.HTTPSHandler(context=context)
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}), handler)
        with opener.open(f"{url}/metadata/endpoints?api-version=2022-09-01", timeout=timeout) as resp:
            resp.read()
    except (OSError, ValueError, urllib.error.URLError) as exc:
        raise AzureCliSetupError(
            f"no emulator answers at {url} ({exc}); is 'acalab emulator serve' still running?") from None


def prepare_azure_cli(emu: Emulator, config_dir: str | os.PathLike[str], az: str = "az",
                      extra_env: Mapping[str, str] | None = None, timeout: float = 120) -> dict[str, str]:
    """Register the emulator's cloud and log the service principal in, in a fresh ``config_dir``.

    Returns the full environment for later ``az`` subprocesses. Raises AzureCliSetupError naming the
    command that failed (with the secret masked in the message).
    """
    Path(config_dir).mkdir(parents=True, exist_ok=True)
    env = {**os.environ, **(extra_env or {}), **azure_cli_environment(emu, config_dir)}
    for argv in login_commands(emu):
        argv = [az] + [env.get(a[1:], a) if a.startswith("$") else a for a in argv[1:]]
        proc = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=timeout)
        if proc.returncode != 0:
            shown = " ".join("***" if a == emu.client_secret else a for a in argv)
            output = (proc.stderr + proc.stdout).replace(emu.client_secret, "***")
            raise AzureCliSetupError(f"'{shown}' failed with exit code {proc.returncode}: {output.strip()}")
    return env


def how_to_connect(emu: Emulator, env_file: str | None = None) -> str:
    """What ``acalab emulator serve`` prints: endpoints, CA file and how to use them (never the secret)."""
    env_hint = env_file or "<the --env-file you passed>"
    head = f"""pytest-acalab emulator listening on 127.0.0.1 (Ctrl-C stops it)

  Emulator URL      {emu.url}   (loopback; ACALAB_EMULATOR_URL)
  CA bundle         {emu.ca_bundle}
  Subscription      {emu.subscription_id}
  Tenant            {emu.tenant_id}
  Client id         {emu.client_id}   (secret: in the env file, mode 0600)
  HTTPS proxy       {emu.proxy_url}   (routes Azure host names here)
"""
    if emu.cloud:
        return head + f"""  Mode              cloud-faithful: every URL it hands out names Azure's real hosts
                    (management.azure.com, login.microsoftonline.com, <acr>.azurecr.io,
                    <account>.blob.core.windows.net, api.loganalytics.io, <region>.azurecontainerapps.dev,
                    app FQDNs), answered through the proxy with certificates from its CA

In a shell (SDK credentials with their default authority, the Azure CLI on AzureCloud, the Azure backend):
    eval "$(acalab emulator env --from {env_hint})"
    pytest labs --acalab-backend azure --acalab-subscription "$AZURE_SUBSCRIPTION_ID"
"""
    return head + f"""  Logs endpoint     {emu.logs_endpoint}   (LogsQueryClient(endpoint=...))
  Registries        each <name>.azurecr.io gets its own https://127.0.0.1:<port>; ask
                    Emulator.registry_endpoint(login_server) or GET {emu.url}/acalab/registries/<login server>

Python SDK clients:
    from azure.identity import ClientSecretCredential
    cred = ClientSecretCredential("{emu.tenant_id}", "{emu.client_id}", "<secret from the env file>",
                                  authority="{emu.url}", disable_instance_discovery=True,
                                  connection_verify="{emu.ca_bundle}")
    ContainerAppsAPIClient(cred, "{emu.subscription_id}", base_url="{emu.url}",
                           credential_scopes=["https://management.azure.com/.default"],
                           connection_verify="{emu.ca_bundle}")

Azure CLI (custom cloud '{CLOUD_NAME}', config dir {cli_config_dir(emu)}, CA bundle, instance
discovery and telemetry off, HTTPS_PROXY for data-plane host names, service-principal login;
never 'az login --identity'):
    eval "$(acalab emulator env --from {env_hint})"
"""
