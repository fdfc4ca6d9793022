"""pytest entry point (registered under ``pytest11``): options, hooks and fixtures."""
