"""Report tests run labs in-process through pytester (one copy of the Azure SDKs: see ``helpers.inprocess``),
some attached to an emulator this process owns, as a run against real Azure would be (no Azure reached)."""

import helpers.inprocess  # noqa: F401
from helpers.attached import attached, clean_env, drop_groups, live_emu, resource_client  # noqa: F401 - fixtures
