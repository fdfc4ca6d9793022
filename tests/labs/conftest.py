"""Inner pytest runs in-process (pytester) share one copy of the Azure SDKs: see ``helpers.inprocess``."""

import helpers.inprocess  # noqa: F401
