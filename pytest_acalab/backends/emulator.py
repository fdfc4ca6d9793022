"""The default backend: an emulator started in this process, or one already running.

Attach to a running one (``acalab emulator serve --env-file F`` then ``eval "$(acalab emulator env
--from F)"``) by setting ``ACALAB_EMULATOR_URL``, ``ACALAB_EMULATOR_CA_BUNDLE`` and the usual
``AZURE_TENANT_ID`` / ``AZURE_CLIENT_ID`` / ``AZURE_CLIENT_SECRET`` / ``AZURE_SUBSCRIPTION_ID``.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

from pytest_acalab.backends.base import ARM_SCOPE, Backend, Deadlines
from pytest_acalab.errors import ConfigurationError

if TYPE_CHECKING:
    from pytest_acalab.emulator import Emulator

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
    """The emulator as a backend. Its clock (profile and speed) is the emulator's own: the one started here
    with ``profile``/``speed``, or the one an attached emulator reports (``GET /acalab/clock``)."""

    name = "emulator"
    awaits_group_deletion = True

    def __init__(self, profile: str = "fast", speed: float = 1.0, location: str | None = None,
                 min_wait: float | None = None) -> None:
        self.location_override = location
        self._emulator: Emulator | None = None
        self._cred: Any = None
        check_configuration()
        if os.environ.get("ACALAB_EMULATOR_URL"):
            self.url = os.environ["ACALAB_EMULATOR_URL"].rstrip("/")
            self.ca_bundle = os.environ["ACALAB_EMULATOR_CA_BUNDLE"]
            self.tenant_id = os.environ["AZURE_TENANT_ID"]
            self.client_id = os.environ["AZURE_CLIENT_ID"]
            self._secret = os.environ["AZURE_CLIENT_SECRET"]
            self.subscription_id = os.environ["AZURE_SUBSCRIPTION_ID"]
            clock = self._attached_clock()
            self.profile = f"attached ({clock['profile']})"
            self.clock_divisor = float(clock["divisor"])
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
            self.clock_divisor = self._emulator.clock.divisor
        self.deadlines = Deadlines.for_clock(self.clock_divisor, min_wait)
        self._proxy: str | None = None
        """The attached emulator's proxy once asked ("" when it has none)."""

    @property
    def emulator(self) -> Emulator | None:
        """The emulator this backend started in this process (None when attached to a standalone one)."""
        return self._emulator

    def _attached_clock(self) -> dict[str, Any]:
        """The attached emulator's clock (``{"profile", "speed", "divisor"}``): waits follow it, not our options."""
        # the Azure SDK stack loads when a lab runs, not at collection
        import requests

        try:
            with requests.Session() as session:
                session.trust_env = False  # the emulator's own URL: never through an exported HTTPS_PROXY
                resp = session.get(f"{self.url}/acalab/clock", verify=self.ca_bundle, timeout=30)
            resp.raise_for_status()
            return dict(resp.json())
        except (OSError, ValueError) as exc:  # requests' errors are OSErrors
            raise ConfigurationError(f"ACALAB_EMULATOR_URL {self.url}: cannot read the emulator's clock "
                                     f"({type(exc).__name__}: {exc}); is 'acalab emulator serve' running?") from None

    def reaches(self, host: str) -> bool:
        """Whether the emulator serves ``host`` (an app's ingress fqdn; loopback names always). Asked of the
        emulator itself, never of DNS: looking an invented fqdn up would send a query off this machine."""
        if host in ("127.0.0.1", "localhost", "::1"):
            return True
        if self._emulator is not None:
            return bool(self._emulator.serves(host))
        return self._attached_proxy() is not None

    def _attached_proxy(self) -> str | None:
        """The attached emulator's CONNECT proxy: ``HTTPS_PROXY`` when ``acalab emulator env`` set it (on
        loopback), else asked of the emulator itself (``GET /acalab/proxy``)."""
        # loaded only on this path (a command or report most runs never reach)
        from urllib.parse import urlsplit

        proxy = os.environ.get("HTTPS_PROXY") or os.environ.get("https_proxy")
        if proxy and urlsplit(proxy).hostname in ("127.0.0.1", "localhost", "::1"):
            return proxy
        if self._proxy is None:
            # the Azure SDK stack loads when a lab runs, not at collection
            import requests

            token = self.credential().get_token(ARM_SCOPE).token
            resp = requests.get(f"{self.url}/acalab/proxy", verify=self.ca_bundle, timeout=30,
                                headers={"Authorization": f"Bearer {token}"})
            found = resp.json().get("proxy") if resp.ok else None
            self._proxy = found if found and urlsplit(found).hostname in ("127.0.0.1", "localhost") else ""
        return self._proxy or None

    def http_settings(self) -> dict[str, Any]:
        proxy = self._emulator.proxy_url if self._emulator is not None else self._attached_proxy()
        return {"verify": self.ca_bundle, "proxies": {"https": proxy} if proxy else None}

    def credential(self) -> Any:
        if self._cred is None:
            # the Azure SDK stack loads when a lab runs, not at collection
            from azure.identity import ClientSecretCredential

            self._cred = ClientSecretCredential(
                self.tenant_id, self.client_id, self._secret, authority=self.url,
                disable_instance_discovery=True, connection_verify=self.ca_bundle)
        return self._cred

    def client_options(self) -> dict[str, Any]:
        # azure-core backs off 0.8 s x 2^n between retries without Retry-After (connection resets): Azure
        # time, which the emulator's clock runs faster; its LROs answer Retry-After, so no default poll pause
        return {"base_url": self.url, "credential_scopes": [ARM_SCOPE], "connection_verify": self.ca_bundle,
                "polling_interval": 0, "retry_backoff_factor": max(0.8 / self.clock_divisor, 0.01)}

    def data_plane_options(self) -> dict[str, Any]:
        return {"connection_verify": self.ca_bundle}

    def kept_group_location(self) -> str:
        if self._emulator is not None:
            return (f"emulator {self.url} (gone when this process exits; attach a standalone "
                    "'acalab emulator serve' to keep it)")
        return f"the standalone emulator at {self.url}"

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

    def unmodelled(self, resource_group: str) -> list[str]:
        """Reasons the emulator recorded for resources of ``resource_group`` it cannot model (never a pass)."""
        if self._emulator is not None:
            return self._emulator.platform.unmodelled_under(self._scope(resource_group))
        return [str(r) for r in self._runtime_report(resource_group).get("reasons", [])]

    def settling(self, resource_group: str) -> bool:
        if self._emulator is not None:
            return self._emulator.platform.settling_under(self._scope(resource_group))
        return bool(self._runtime_report(resource_group).get("settling"))

    def _scope(self, resource_group: str) -> str:
        return f"/subscriptions/{self.subscription_id}/resourceGroups/{resource_group}"

    def _runtime_report(self, resource_group: str) -> dict[str, Any]:
        # the Azure SDK stack loads when a lab runs, not at collection
        import requests

        token = self.credential().get_token(ARM_SCOPE).token
        resp = requests.get(f"{self.url}/acalab/unmodelled", params={"scope": self._scope(resource_group)},
                            verify=self.ca_bundle, timeout=30, headers={"Authorization": f"Bearer {token}"})
        resp.raise_for_status()
        report: dict[str, Any] = resp.json()
        return report

    @property
    def tls_verify(self) -> str:
        return self.ca_bundle

    def secrets(self) -> set[str]:
        out = {self._secret}
        if self._emulator is not None:
            out |= self._emulator.platform.secrets
        return out

    def describe(self) -> dict[str, str]:
        return {"backend": "emulator", "emulator_profile": self.profile, "endpoint": self.url}

    def close(self) -> None:
        if self._emulator is not None:
            self._emulator.stop()
            self._emulator = None
