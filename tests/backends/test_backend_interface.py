"""The Backend interface: one place builds backends, and the clock divisor comes from the emulator in use."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest

from pytest_acalab.backends import Deadlines, check_configuration, create_backend
from pytest_acalab.backends.base import DEFAULT_MIN_WAIT
from pytest_acalab.backends.clients import Clients
from pytest_acalab.emulator import Emulator
from pytest_acalab.errors import ConfigurationError


def _attach(env: pytest.MonkeyPatch, emu: Emulator, url: str | None = None) -> None:
    for key, value in {"ACALAB_EMULATOR_URL": url or emu.url, "ACALAB_EMULATOR_CA_BUNDLE": emu.ca_bundle,
                       "AZURE_TENANT_ID": emu.tenant_id, "AZURE_CLIENT_ID": emu.client_id,
                       "AZURE_CLIENT_SECRET": emu.client_secret,
                       "AZURE_SUBSCRIPTION_ID": emu.subscription_id}.items():
        env.setenv(key, value)


@pytest.fixture(scope="module")
def slow_standalone() -> Iterator[Emulator]:
    """A standalone emulator whose clock runs 50 times faster than Azure (not the options' 'fast')."""
    with Emulator(profile="realistic", speed=50) as emulator:
        yield emulator


def test_an_attached_emulators_own_clock_sets_the_waits(clean_env: pytest.MonkeyPatch,
                                                        slow_standalone: Emulator) -> None:
    _attach(clean_env, slow_standalone)
    backend = create_backend("emulator", profile="fast", speed=1.0)  # options the attached emulator overrides
    try:
        assert backend.clock_divisor == slow_standalone.clock.divisor == 50
        assert backend.deadlines == Deadlines.for_clock(50)
        assert backend.scale_wait(600) == max(600 / 50, DEFAULT_MIN_WAIT)
        assert backend.client_options()["retry_backoff_factor"] == pytest.approx(0.8 / 50)
        assert backend.describe()["emulator_profile"] == "attached (realistic)"
        assert backend.kept_group_location() == f"the standalone emulator at {slow_standalone.url}"
        assert backend.awaits_group_deletion
    finally:
        backend.close()


def test_a_clock_slower_than_azure_keeps_its_divisor(clean_env: pytest.MonkeyPatch) -> None:
    """Speed 0.5 (twice Azure's durations): waits double; they used to be cut to speed 1."""
    backend = create_backend("emulator", profile="realistic", speed=0.5, min_wait=1.0)
    try:
        assert backend.clock_divisor == 0.5
        assert backend.deadlines == Deadlines.for_clock(0.5, 1.0)
        assert backend.scale_wait(60) == 120
        assert "gone when this process exits" in backend.kept_group_location()
    finally:
        backend.close()


def test_the_clients_take_the_backends_options(clean_env: pytest.MonkeyPatch, slow_standalone: Emulator) -> None:
    _attach(clean_env, slow_standalone)
    backend = create_backend("emulator")
    try:
        groups = Clients(backend).resources.resource_groups
        assert groups.check_existence("no-such-group") is False  # through the emulator: its URL and CA
        assert Clients(backend).resources._config.retry_policy.backoff_factor == pytest.approx(0.8 / 50)
    finally:
        backend.close()


def test_an_attached_emulator_that_is_not_running_is_one_clear_error(clean_env: pytest.MonkeyPatch,
                                                                     slow_standalone: Emulator) -> None:
    with socket.socket() as sock:  # a loopback port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    _attach(clean_env, slow_standalone, url=f"https://127.0.0.1:{port}")
    with pytest.raises(ConfigurationError, match=r"cannot read the emulator's clock .*acalab emulator serve"):
        create_backend("emulator")


def test_unknown_backend_kind_is_a_configuration_error() -> None:
    with pytest.raises(ConfigurationError, match="unknown backend 'aws'"):
        check_configuration("aws")


def test_azure_deadlines_are_azures_pace() -> None:
    azure = Deadlines.azure()
    assert (azure.probe, azure.action, azure.poll_interval) == (600.0, 1800.0, 10.0)
    assert Deadlines.for_clock(1.0, 0.0).probe == azure.probe
