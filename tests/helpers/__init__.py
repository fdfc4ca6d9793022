"""Helpers the project's tests share, importable as ``helpers.<module>`` (``pythonpath`` in pyproject.toml)."""
