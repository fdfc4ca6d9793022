"""An attached backend reaches app fqdns through the standalone emulator's proxy, found without HTTPS_PROXY."""

from __future__ import annotations

import pytest

from pytest_acalab.backends.emulator import EmulatorBackend
from pytest_acalab.emulator import Emulator


def test_an_attached_backend_asks_the_emulator_for_its_proxy(attached: Emulator,
                                                             clean_env: pytest.MonkeyPatch) -> None:
    clean_env.delenv("HTTPS_PROXY", raising=False)
    clean_env.delenv("https_proxy", raising=False)
    backend = EmulatorBackend()
    assert backend.emulator is None  # attached, not in-process
    settings = backend.http_settings()
    assert settings == {"verify": attached.ca_bundle, "proxies": {"https": attached.proxy_url}}
    assert backend.reaches("ca.example.azurecontainerapps.io")  # decided by the proxy, never by DNS


def test_an_exported_loopback_https_proxy_wins(attached: Emulator, clean_env: pytest.MonkeyPatch) -> None:
    clean_env.setenv("HTTPS_PROXY", "http://127.0.0.1:9")
    assert EmulatorBackend().http_settings()["proxies"] == {"https": "http://127.0.0.1:9"}
