"""Fixtures of the contract tests (helpers live in acalab_replay.py)."""

from acalab_replay import lab  # noqa: F401 - a fixture
