"""Root conftest: enables pytester for the plugin's own tests (it must be declared at the root)."""

pytest_plugins = ["pytester"]
