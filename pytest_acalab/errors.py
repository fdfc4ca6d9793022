"""Errors the plugin reports as one clear line instead of a traceback."""


class AcalabError(Exception):
    """Base for configuration and usage errors."""


class ConfigurationError(AcalabError):
    """Missing or contradictory settings (credentials, subscription, backend options)."""
