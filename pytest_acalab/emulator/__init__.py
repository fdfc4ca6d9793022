"""A local Azure for labs: real SDK clients talk to it unmodified over HTTPS."""

from pytest_acalab.emulator.emulator import Emulator

__all__ = ["Emulator"]
