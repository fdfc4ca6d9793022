"""Root conftest: enables pytester for the plugin's own tests (it must be declared at the root)."""

import os

from pytest_acalab.emulator.runtime.python_envs import cache_root

pytest_plugins = ["pytester"]

# pytester gives each inner run a HOME of its own, which would give each its own (empty) cache of the Python
# environments that workload images install: one pip install of Flask per test. The suite shares the cache of
# the user who runs it (what a user's own runs use too); a test of the cache itself sets ACALAB_CACHE_DIR.
os.environ.setdefault("ACALAB_CACHE_DIR", str(cache_root().parent))
