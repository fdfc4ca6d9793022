"""Labs attached to an emulator this process owns, as a run against real Azure would be (no Azure reached)."""

from helpers.attached import attached, clean_env, drop_groups, live_emu, resource_client  # noqa: F401 - fixtures
