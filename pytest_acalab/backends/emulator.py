"""The default backend: an emulator started in this process, or one already running.

Attach to a running one (``acalab emulator serve --env-file F`` then ``eval "$(acalab emulator env
--from F)"``) by setting ``ACALAB_EMULATOR_URL``, ``ACALAB_EMULATOR_CA_BUNDLE`` and the usual
``AZURE_TENANT_ID`` / ``AZURE_CLIENT_ID`` / ``AZURE_CLIENT_SECRET`` / ``AZURE_SUBSCRIPTION_ID``.
"""

from __future__ import annotations

import os
from typing import Any

from pytest_acalab.backends.base import ARM_SCOPE, Backend, Deadlines
from pytest_acalab.errors import ConfigurationError

ATTACH_VARS = ("ACALAB_EMULATOR_URL", "ACALAB_EMULATOR_CA_BUNDLE", "AZURE_TENANT_ID", "AZURE_CLIENT_ID",
               "AZURE_CLIENT_SECRET", "AZURE_SUBSCRIPTION_ID")


def check_configuration() -> None:
    """``ConfigurationError`` when attaching to a running emulator is asked for but half configured."""
    if os.environ.get("ACALAB_EMULATOR_URL"):
        missing = [v for v in ATTACH_VARS if not os.environ.get(v)]
        if missing:
            raise ConfigurationError(
                f"ACALAB_EMULATOR_URL is set but {', '.join(missing)} not: run "
                "'eval \"$(acalab emulator env --from <env file>)\"' to attach to a running emulator")


class EmulatorBackend(Backend):
    name = "emulator"

    def __init__(self, profile: str = "fast", speed: float = 1.0, location: str | None = None,
                 min_wait: float | None = None) -> None:
        self.location_override = location
        self._emulator = None
        check_configuration()
        if os.environ.get("ACALAB_EMULATOR_URL"):
            self.url = os.environ["ACALAB_EMULATOR_URL"].rstrip("/")
            self.ca_bundle = os.environ["ACALAB_EMULATOR_CA_BUNDLE"]
            self.tenant_id = os.environ["AZURE_TENANT_ID"]
            self.client_id = os.environ["AZURE_CLIENT_ID"]
            self._secret = os.environ["AZURE_CLIENT_SECRET"]
            self.subscription_id = os.environ["AZURE_SUBSCRIPTION_ID"]
            self.profile = "attached"
        else:
            # the emulator's dependencies (TLS, DuckDB) load only when it starts
            from pytest_acalab.emulator import Emulator

            self._emulator = Emulator(profile=profile, speed=speed).start()
            self.url = self._emulator.url
            self.ca_bundle = self._emulator.ca_bundle
            self.tenant_id = self._emulator.tenant_id
            self.client_id = self._emulator.client_id
            self._secret = self._emulator.client_secret
            self.subscription_id = self._emulator.subscription_id
            self.profile = profile
        divisor = 10_000.0 if profile == "fast" else max(speed, 1.0)
        self.divisor = divisor
        # Waits scale with the emulator's clock: ten minutes of Azure time, at least a few real seconds.
        floor = 10.0 if min_wait is None else min_wait
        self.deadlines = Deadlines(
            probe=max(600 / divisor, floor), action=max(1800 / divisor, 3 * floor),
            deployment=max(1800 / divisor, 60.0), teardown=60.0,
            poll_interval=min(max(5 / divisor, 0.005), 0.5), transient=max(300 / divisor, floor / 2),
        )
        self._cred = None

    def scale_wait(self, azure_seconds: float) -> float:
        """Lab waits are Azure time: the emulator's clock runs them ``divisor`` times faster, yet a
        wait keeps a floor of real seconds so a slow machine does not turn a pass into a timeout."""
        return max(azure_seconds / self.divisor, min(azure_seconds, self.deadlines.probe))

    def reaches(self, host: str) -> bool:
        """The emulator runs no workload: the fqdns it hands out route nowhere, and even looking them up
        would send a DNS query off this machine. Only loopback hosts are requested."""
        return host in ("127.0.0.1", "localhost", "::1")

    @property
    def emulator(self):  # noqa: ANN201 - Emulator | None (in-process only)
        return self._emulator

    def credential(self) -> Any:
        if self._cred is None:
            # the Azure SDK stack loads when a lab runs, not at collection
            from azure.identity import ClientSecretCredential

            self._cred = ClientSecretCredential(
                self.tenant_id, self.client_id, self._secret, authority=self.url,
                disable_instance_discovery=True, connection_verify=self.ca_bundle)
        return self._cred

    def arm_kwargs(self) -> dict[str, Any]:
        return {"base_url": self.url, "credential_scopes": [ARM_SCOPE], "connection_verify": self.ca_bundle}

    def logs_endpoint(self) -> str:
        return self.url

    def registry_endpoint(self, login_server: str) -> str:
        if self._emulator is not None:
            return self._emulator.registry_endpoint(login_server)
        # the Azure SDK stack loads when a lab runs, not at collection
        import requests

        token = self.credential().get_token(ARM_SCOPE).token
        resp = requests.get(f"{self.url}/acalab/registries/{login_server}", verify=self.ca_bundle, timeout=30,
                            headers={"Authorization": f"Bearer {token}"})
        resp.raise_for_status()
        return resp.json()["endpoint"]

    @property
    def tls_verify(self) -> str:
        return self.ca_bundle

    def secrets(self) -> set[str]:
        out = {self._secret}
        if self._emulator is not None:
            out |= self._emulator.platform.secrets
        return out

    def live_secrets(self) -> set[str]:
        """Secrets the emulator minted since start (registry passwords, keys, tokens)."""
        return self.secrets()

    def describe(self) -> dict[str, str]:
        return {"backend": "emulator", "emulator_profile": self.profile, "endpoint": self.url}

    def close(self) -> None:
        if self._emulator is not None:
            self._emulator.stop()
            self._emulator = None
