"""Scaffolded labs run in-process through pytester (one copy of the Azure SDKs: see ``helpers.inprocess``)."""

import helpers.inprocess  # noqa: F401
