"""pytest entry point (``pytest11``): the plugin's options and hook specifications, and nothing else.

``pytest --version --version``, ``--help`` and every run load this module; it imports nothing of the
package but the hook specifications, so the plugin adds almost nothing to pytest's start. The hooks and
fixtures that run labs (:mod:`pytest_acalab.hooks`) are registered when pytest configures a run.
"""

from __future__ import annotations

import pytest

from pytest_acalab import hookspecs

HOOKS_PLUGIN = "acalab-hooks"
"""The name :mod:`pytest_acalab.hooks` is registered under (``-p no:acalab`` blocks this module, hence both)."""


# ---------------------------------------------------------------------------------------------- options
def pytest_addhooks(pluginmanager: pytest.PytestPluginManager) -> None:
    """``pytest_acalab_register_probes`` / ``_actions``: how probes and actions join the lab vocabulary."""
    pluginmanager.add_hookspecs(hookspecs)


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("acalab", "Azure Container Apps labs (pytest-acalab)")
    group.addoption("--acalab-backend", choices=("emulator", "azure"), default=None,
                    help="where labs run: the local emulator (default) or real Azure [env ACALAB_BACKEND]")
    group.addoption("--acalab-subscription", default=None,
                    help="Azure subscription id for --acalab-backend azure [env AZURE_SUBSCRIPTION_ID]")
    group.addoption("--acalab-location", default=None, help="override every lab's location [env ACALAB_LOCATION]")
    group.addoption("--acalab-keep", action="store_true", default=False,
                    help="keep each lab's resource group after the run and print how to reach it")
    group.addoption("--acalab-keep-on-failure", action="store_true", default=False,
                    help="keep a lab's resource group when one of its items failed or errored")
    group.addoption("--acalab-resource-group", default=None,
                    help="run in this existing resource group; it is never deleted")
    group.addoption("--acalab-report-dir", default=None,
                    help="write the HTML report (index.html, a page per lab with its timeline) and each lab's "
                         "experiment log (Markdown), results and journal (JSON) here")
    group.addoption("--acalab-baseline", default=None,
                    help="compare this run with an earlier one (its report directory or junit file): what changed "
                         "per lab and row, in the terminal, the HTML report and $GITHUB_STEP_SUMMARY "
                         "[env ACALAB_BASELINE]")
    group.addoption("--acalab-profile", choices=("fast", "realistic"), default=None,
                    help="emulator clock: fast (waits ~0) or realistic (Azure's durations / --acalab-speed)")
    group.addoption("--acalab-speed", default=None, help="speed factor of the realistic emulator clock")
    group.addoption("--acalab-min-wait", default=None,
                    help="emulator only: the least real time a stated wait gets (default 10s), e.g. 1s in "
                         "the project's own tests [env ACALAB_MIN_WAIT]")
    group.addoption("--acalab-max-wait", default=None,
                    help="azure only: cap every wait (stated 'within', 'wait' windows, load durations, action "
                         "timeouts, deadlines) at this duration, "
                         "e.g. 60s against the cloud-faithful emulator so a regression fails in seconds "
                         "[env ACALAB_MAX_WAIT]")
    group.addoption("--acalab-poll-interval", default=None,
                    help="azure only: pause between polls (default 10s, Azure's pace), e.g. 0.2s against the "
                         "cloud-faithful emulator [env ACALAB_POLL_INTERVAL]")
    group.addoption("--acalab-delete-after", default=None,
                    help="DeleteAfter tag on created groups, as a duration (default 6h) for 'acalab sweep'")
    group.addoption("--acalab-lease", default=None,
                    help="lease the run holds on its groups and renews while alive (default 3m): once it "
                         "lapses (the run was killed), 'acalab sweep' removes the group [env ACALAB_LEASE]")
    parser.addini("acalab_backend", "default backend (emulator|azure)", default="")
    parser.addini("acalab_report_dir", "default --acalab-report-dir", default="")
    parser.addini("acalab_profile", "default emulator clock profile", default="")
    parser.addini("acalab_delete_after", "default DeleteAfter duration", default="")
    parser.addini("acalab_min_wait", "emulator only: least real time a stated wait gets", default="")
    parser.addini("acalab_lease", "default --acalab-lease", default="")


# ---------------------------------------------------------------------------------------------- configure
@pytest.hookimpl(tryfirst=True)
def pytest_cmdline_main(config: pytest.Config) -> None:
    if config.option.version or config.option.help:
        return  # pytest answers these before configuring: nothing to guard, nothing to load
    # loaded only for a run, keeping pytest --version and --help light
    from pytest_acalab.hooks import keep_cache_out_of_labs

    keep_cache_out_of_labs(config)


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config: pytest.Config) -> None:
    """Register the hooks and fixtures; pytest replays ``pytest_configure`` to them on registration."""
    if not config.pluginmanager.has_plugin(HOOKS_PLUGIN):
        # loaded only for a run, keeping pytest --version and --help light
        from pytest_acalab import hooks

        config.pluginmanager.register(hooks, HOOKS_PLUGIN)
