"""pytest-acalab: Azure Container Apps troubleshooting labs as pytest tests, with a local Azure emulator."""

__version__ = "0.1.0"
