"""The plugin's hooks and fixtures: collection of lab folders, the lab session, reports, junit.

Registered by :mod:`pytest_acalab.plugin` when pytest configures a run (not for ``pytest --version`` or
``--help``). Nothing here imports an Azure SDK either: the SDKs load when a lab first runs.
"""

from __future__ import annotations

import gc
import json
import re
from collections.abc import Callable, Generator
from pathlib import Path
from typing import Any

import pytest

from pytest_acalab.collection.nodes import NOTES_KEY, SESSION_KEY, LabDir, LabFile, LabItem, is_lab_dir
from pytest_acalab.collection.phases import lab_phase_of, order_lab_items, phase_to_ensure
from pytest_acalab.errors import AcalabError, LabFailure, ProbeSkipped
from pytest_acalab.extensions import BUILTIN_PLUGINS
from pytest_acalab.labfile import load_lab
from pytest_acalab.lifecycle.session import AcalabSession, Options
from pytest_acalab.reports.experiment_log import LabResults
from pytest_acalab.reports.runinfo import bicep_line
from pytest_acalab.reports.scrub import excerpt, install_log_scrubber

RESULTS_KEY = pytest.StashKey[dict[str, Any]]()
_CONFIGS: list[pytest.Config] = []
"""Configs of the runs in this process (pytest_keyboard_interrupt is given no config)."""
RUN_KEY = pytest.StashKey[dict[str, Any]]()
"""The run's identity (backend, location, run id, versions) every report names."""
DRIFT_KEY = pytest.StashKey[Any]()
"""The comparison with --acalab-baseline (a ``Drift``, or the one-line reason it could not be made)."""
PROPERTY_CAP = 600


# ---------------------------------------------------------------------------------------------- configure
def keep_cache_out_of_labs(config: pytest.Config) -> None:
    """No ``.pytest_cache`` inside a lab folder, nor at the filesystem root.

    A lab run outside a configured project gets its lab folder (or ``/``) as pytest's rootdir, and the cache
    would land there, beside lab.yaml. Then the cache is switched off for this run, as ``-p no:cacheprovider``
    does (before pytest configures it, so nothing is written); anywhere else it is left alone.
    """
    manager = config.pluginmanager
    if manager.is_blocked("cacheprovider") or config.getoption("cacheshow", None):
        return
    if config.getoption("stepwise", False) or config.getoption("stepwise_skip", False):
        return  # --sw needs the cache: the user asked for it
    try:
        cache_dir = config.rootpath / str(config.getini("cache_dir"))
    except (ValueError, KeyError):
        return
    parent = cache_dir.parent
    if parent == Path(parent.anchor) or any(is_lab_dir(p) for p in (parent, *parent.parents)):
        manager.set_blocked("cacheprovider")
        manager.set_blocked("stepwise")




def pytest_configure(config: pytest.Config) -> None:
    for name, plugin in BUILTIN_PLUGINS.items():  # the built-in probes and actions answer the hooks
        if not config.pluginmanager.has_plugin(name):
            config.pluginmanager.register(plugin, name)
    for marker in ("acalab: an item generated from a lab file",
                   "failing: a hypothesis row checked in the failing state",
                   "recovered: a hypothesis row checked after the recovery actions",
                   "lab_phase(phase): a Python test in a lab folder that runs in that phase of the lab: trigger, "
                   "failing, recovery or recovered (docs/lab-format.md, Python tests in a lab)"):
        config.addinivalue_line("markers", marker)
    try:
        options = Options.from_config(config)
    except AcalabError as exc:
        raise pytest.UsageError(str(exc)) from None
    session = AcalabSession(options)
    workerinput = getattr(config, "workerinput", None)
    if workerinput and workerinput.get("acalab_run_id"):
        session.run_id = workerinput["acalab_run_id"]
    config.stash[SESSION_KEY] = session
    config.stash[RESULTS_KEY] = {}
    session.interrupts.install()  # the controller and every xdist worker
    _CONFIGS.append(config)
    if workerinput is None:
        # loaded only on this path, keeping pytest --version and collection light
        from pytest_acalab.reports.runinfo import run_info

        config.stash[RUN_KEY] = run_info(options, session.run_id)
        config.pluginmanager.register(ResultCollector(config), "acalab-results")


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    """Items of one lab share its deployment: one worker per lab, labs spread over workers.

    Applies to xdist's default distribution (``-n N`` alone, or ``--dist load``); an explicit other mode
    (``--dist loadfile`` ...) is left to xdist.
    """
    if getattr(config.option, "dist", "load") != "load":
        return None
    from pytest_acalab.collection.scheduling import make_scheduler  # only with xdist's scheduler at work

    return make_scheduler(config, log)


@pytest.hookimpl(optionalhook=True)
def pytest_configure_node(node: Any) -> None:  # pytest-xdist hook (controller side)
    node.workerinput["acalab_run_id"] = node.config.stash[SESSION_KEY].run_id


@pytest.hookimpl(tryfirst=True)  # before xdist starts workers
def pytest_sessionstart(session: pytest.Session) -> None:
    config = session.config
    _scrub_logs(config)
    if getattr(config, "workerinput", None) is None and SESSION_KEY in config.stash:
        if config.pluginmanager.has_plugin("dsession") and not config.option.collectonly:
            _validate_backend(config)  # the xdist controller never sees the items: check up front
        state = config.stash[SESSION_KEY]
        _suite_properties(config, state)
        tr = config.pluginmanager.get_plugin("terminalreporter")
        if tr is not None and config.option.verbose > 0:
            state.progress = lambda message: (tr.ensure_newline(), tr.write_line(message))
    _freeze_import_time_objects()


_FROZEN: list[bool] = []


def _freeze_import_time_objects() -> None:
    """Move what the imports built so far (pytest, its plugins, this plugin's schemas and parsers: ~44,000
    objects that live as long as the process) out of the garbage collector's sight, once per process
    (``gc.freeze``; refcounting still frees them). Every full collection walked them: those during a lab and
    the five pytest runs at the session's end (its unraisable-exception check); 0.2-0.5 s of a lab run's wall
    time, measured side by side on memory_leak_oomkilled and probe_and_port_mismatch."""
    if not _FROZEN:
        _FROZEN.append(True)
        gc.freeze()


def _scrub_logs(config: pytest.Config) -> None:
    """Secrets never reach live logs, the log file or the logs captured into reports, whoever logged them."""

    logging_plugin = config.pluginmanager.get_plugin("logging-plugin")
    state = config.stash.get(SESSION_KEY, None)
    if logging_plugin is None or state is None:
        return
    handlers = [getattr(logging_plugin, name, None) for name in
                ("log_cli_handler", "log_file_handler", "caplog_handler", "report_handler")]
    install_log_scrubber([h for h in handlers if h is not None], state.scrubber)


def pytest_collection_finish(session: pytest.Session) -> None:
    config = session.config
    if getattr(config, "workerinput", None) is not None or config.option.collectonly:
        return  # workers: the controller has checked; --collect-only needs no backend
    if any(item.getparent(LabDir) is not None for item in session.items):
        _validate_backend(config)


def _validate_backend(config: pytest.Config) -> None:
    """Fail fast, once, with one line saying what to set (no credential built, no network)."""
    state = config.stash.get(SESSION_KEY, None)
    if state is None:
        return
    try:
        state.validate()
    except AcalabError as exc:
        raise pytest.UsageError(f"pytest-acalab (--acalab-backend {state.options.backend}): {exc}") from None


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_protocol(item: pytest.Item) -> None:
    """A signal that waited for a group deletion to finish interrupts the run before the next item."""
    state = item.config.stash.get(SESSION_KEY, None)
    if state is not None:
        state.interrupts.deliver()


def pytest_keyboard_interrupt(excinfo: pytest.ExceptionInfo[BaseException]) -> None:
    """pytest caught the interrupt and is about to tear down: further signals must not stop that."""
    for config in _CONFIGS:
        state = config.stash.get(SESSION_KEY, None)
        if state is not None:
            state.interrupts.interrupted = state.interrupts.acknowledged = True


@pytest.hookimpl(trylast=True)  # after xdist has stopped its workers
def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """The run's last word on its groups: an interrupt that never got raised still marks the run
    interrupted, and the controller deletes groups that died workers left behind."""
    config = session.config
    state = config.stash.get(SESSION_KEY, None)
    if state is None:
        return
    if state.interrupts.pending is not None and not state.interrupts.interrupted:
        session.exitstatus = pytest.ExitCode.INTERRUPTED
    if getattr(config, "workerinput", None) is None and not config.option.collectonly:
        _clean_up_after_workers(config, state)


def _may_have_run_labs(config: pytest.Config) -> bool:
    """Whether lab folders were among the run's arguments (the xdist controller collects no items)."""
    if config.stash.get(RESULTS_KEY, {}):
        return True
    return any(is_lab_dir(p) or any(is_lab_dir(c.parent) for c in p.rglob("lab.yaml"))
               for p in (Path(a.split("::")[0]) for a in config.args) if p.is_dir()) or any(
        a.split("::")[0].endswith("lab.yaml") for a in config.args)


def _clean_up_after_workers(config: pytest.Config, state: Any) -> None:
    """Groups of this run that no teardown handled (their worker was killed or crashed) are deleted."""
    results = config.stash.get(RESULTS_KEY, {})
    if not state.shares_state() or not _may_have_run_labs(config):
        return  # every worker's groups died with its in-process emulator, or no lab can have run
    spare = set()
    for lab_results in results.values():
        summary = lab_results.summary or {}
        if summary.get("resource_group") and summary.get("teardown"):
            spare.add(summary["resource_group"])  # deleted, kept on purpose, or tried and reported
    from pytest_acalab.backends.clients import Clients
    from pytest_acalab.lifecycle.sweep import clean_run

    with state.interrupts.shielded(deliver_after=False):
        try:
            backend = state.backend()
            decisions = clean_run(Clients(backend), state.run_id, spare,
                                  deadline=min(backend.deadlines.teardown, backend.deadlines.transient, 120.0),
                                  wait=backend.name == "emulator")
        except Exception as exc:  # noqa: BLE001 - report, never mask the outcome
            decisions = []
            config.stash.setdefault(NOTES_KEY, {})["acalab-run-cleanup"] = (
                f"could not check for groups left by workers of run {state.run_id}: {state.scrubber.text(str(exc))}")
    for d in decisions:
        note = (f"deleted resource group '{d.group}' ({d.reason})" if d.error is None else
                f"could not delete resource group '{d.group}' ({d.reason}): {d.error}; "
                "'acalab sweep' removes it once its lease lapses")
        config.stash.setdefault(NOTES_KEY, {})[f"acalab-run-cleanup:{d.group}"] = state.scrubber.text(note)


def _junit_xml(config: pytest.Config) -> Any:
    """pytest's junit writer, if --junitxml is on. Its stash key is not public API: degrade, never crash."""
    try:
        # private to pytest: guarded, degrade when it moves
        from _pytest.junitxml import xml_key
    except ImportError:
        return None
    return config.stash.get(xml_key, None)


def _suite_properties(config: pytest.Config, session: Any) -> None:
    """Suite-level junit properties from the controller (record_testsuite_property fails under xdist)."""
    xml = _junit_xml(config)
    if xml is None:
        return
    run = config.stash[RUN_KEY]
    xml.add_global_property("acalab.backend", run["backend"])
    xml.add_global_property("acalab.run_id", run["run_id"])
    xml.add_global_property("acalab.location", run["location"])
    if "emulator_profile" in run:
        xml.add_global_property("acalab.emulator_profile", run["emulator_profile"])
    for pkg, found in run["versions"].items():
        xml.add_global_property(f"version.{pkg}", found)


# ---------------------------------------------------------------------------------------------- collection
def pytest_collect_directory(path: Path, parent: pytest.Collector) -> pytest.Collector | None:
    if is_lab_dir(path):
        return LabDir.from_parent(parent, path=path)
    return None


def pytest_collect_file(file_path: Path, parent: pytest.Collector) -> pytest.Collector | None:
    if file_path.name == "lab.yaml" and isinstance(parent, LabDir):
        return LabFile.from_parent(parent, path=file_path)
    return None


@pytest.hookimpl(tryfirst=True)  # before xdist's worker reads the xdist_group marks
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Marks for ``--dist loadgroup`` users (pytest < 9.2); the default grouping is our scheduler's. Each lab's
    items are put in phase order, Python tests marked ``lab_phase`` among them (``collection.phases``)."""
    order_lab_items(items, LabDir, LabItem)
    if not config.pluginmanager.has_plugin("xdist"):
        return  # the mark is xdist's: without it, an unknown mark (an error under --strict-markers)
    for item in items:
        lab_dir = item.getparent(LabDir)
        if lab_dir is not None:
            item.add_marker(pytest.mark.xdist_group(name=f"acalab-{lab_dir.path.name}"))


def pytest_runtest_setup(item: pytest.Item) -> None:
    """A Python test marked ``lab_phase`` starts with its lab in that phase (whatever fixtures it uses)."""
    phase = None if isinstance(item, LabItem) else lab_phase_of(item)
    lab_dir = item.getparent(LabDir) if phase else None
    if phase and lab_dir is not None:
        lab_dir.get_run().ensure(phase_to_ensure(phase))


# ---------------------------------------------------------------------------------------------- reports
@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Generator[None, Any, Any]:
    report = yield

    session = item.config.stash[SESSION_KEY]
    scrub = session.scrubber.text
    exc = call.excinfo.value if call.excinfo else None
    clean_error = isinstance(exc, AcalabError) and not isinstance(exc, LabFailure)  # failures: repr_failure
    if clean_error and report.failed:
        where = f"{item.path}:{item.line()}: " if isinstance(item, LabItem) else ""
        report.longrepr = scrub(f"{where}{type(exc).__name__}: {exc}")
    elif report.longrepr is not None and not isinstance(report.longrepr, tuple):
        report.longrepr = scrub(str(report.longrepr))
    if isinstance(exc, ProbeSkipped) and call.when == "setup":
        report.outcome = "skipped"
        report.longrepr = (str(item.path), item.line() if isinstance(item, LabItem) else 0, f"Skipped: {exc}")
    lab_dir = item.getparent(LabDir)
    if lab_dir is None:
        return report
    if report.failed and lab_dir.run is not None:  # any item of the lab, YAML or Python: keep-on-failure
        lab_dir.run.failed = True
    data: dict[str, Any] = {"lab_dir": str(lab_dir.path), "item": item.name, "when": call.when,
                            "lab": item.lab.id if isinstance(item, LabItem) else _lab_id(lab_dir)}
    if isinstance(item, LabItem):
        outcome = getattr(item, "outcome", None)
        props = {"lab": item.lab.id, "phase": item.phase if item.row else "deployment"}
        if item.row is not None:
            props["variable"] = item.row.variable
        elif lab_dir.run is not None and lab_dir.run.bicep is not None:  # the deployment item
            props["bicep"] = bicep_line(lab_dir.run.bicep.as_dict())
        if outcome is not None:
            props.update(expected=outcome.expected, actual=outcome.actual, evidence_source=outcome.source,
                         attempts=outcome.attempts, elapsed=f"{outcome.elapsed:.2f}s",
                         evidence=excerpt(outcome.excerpt or "", PROPERTY_CAP))
            if outcome.held_after is not None:
                props["held_after"] = f"{outcome.held_after:.2f}s"
        elif item.row is not None:
            props["expected"] = item.row.check(item.phase).describe()
        if call.when == "call" or (call.when == "setup" and report.outcome != "passed"):
            # junitxml writes the properties the *teardown* report copies from the item
            for key, value in props.items():
                item.user_properties.append((f"acalab.{key}", scrub(str(value))))
            report.user_properties = list(item.user_properties)
        data.update(props)
    if call.when == "teardown" and lab_dir.run is not None and lab_dir.run.torn_down:
        data["summary"] = session.scrubber.data(lab_dir.run.summary())
        _write_journal(session, lab_dir)
    report.acalab = session.scrubber.data(data)  # travels to the xdist controller
    return report


def _lab_id(lab_dir: LabDir) -> str:
    try:
        return lab_dir.lab().id
    except Exception:  # noqa: BLE001 - a broken lab file already gave its collection error
        return lab_dir.path.name


def _junit_classname(xml: Any, report: pytest.TestReport, lab_id: str) -> None:
    """``labs.<lab>`` wherever the lab folder lives (pytest would derive it from the path relative to rootdir).

    A Python test in the lab folder gets ``labs.<lab>.<module>[.<class>]``. junitxml keeps attributes set before
    it records a report, so setting it first is enough; its reporter API is not public: degrade, never crash.
    """
    try:
        reporter = xml.node_reporter(report)
        parts = report.nodeid.split("::")
        rest = [] if parts[0].endswith("lab.yaml") else [Path(parts[0]).stem, *parts[1:-1]]
        prefix = [xml.prefix] if getattr(xml, "prefix", None) else []
        reporter.attrs["classname"] = ".".join([*prefix, "labs", lab_id, *rest])
    except Exception:  # noqa: BLE001
        pass


def _write_journal(session: Any, lab_dir: LabDir) -> None:
    report_dir = session.options.report_dir
    if report_dir is None or lab_dir.run is None:
        return
    lab_dir.run.journal.write(Path(report_dir) / lab_dir.run.lab.id / "journal.json")


def _message(report: pytest.TestReport, lab_item: bool) -> str | None:
    """Why an item did not pass, in one line: the skip reason, or the error or failure.

    A lab item's message starts with what went wrong; a Python test's traceback ends with it.
    """
    longrepr = report.longrepr
    if not longrepr:
        return None
    if isinstance(longrepr, tuple):  # a skip: (path, line, "Skipped: reason")
        return str(longrepr[2]).removeprefix("Skipped: ")
    lines = [line.strip() for line in str(longrepr).splitlines() if line.strip()]
    if not lines:
        return None
    line = lines[0] if lab_item else lines[-1]
    return re.sub(r"^\S+:\d+: ", "", line)[:400]  # the item's path:line is not part of the wording


def _seconds(value: Any) -> float | None:
    if value is None:
        return None
    try:
        return float(str(value).rstrip("s"))
    except ValueError:
        return None


class ResultCollector:
    """Controller-side: assembles each lab's results from item reports (also those sent by xdist workers)."""

    def __init__(self, config: pytest.Config) -> None:
        self.config = config

    @pytest.hookimpl(tryfirst=True)  # before junitxml records the report
    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        data = getattr(report, "acalab", None)
        if not data:
            return

        xml = _junit_xml(self.config)
        if xml is not None and data.get("lab"):
            _junit_classname(xml, report, data["lab"])
        results: dict[str, LabResults] = self.config.stash[RESULTS_KEY]
        key = data["lab_dir"]
        if key not in results:
            try:
                results[key] = LabResults(load_lab(Path(key)), run=self.config.stash[RUN_KEY])
            except Exception:  # noqa: BLE001 - a broken lab already reported its collection error
                return
        lab_results = results[key]
        if report.when == "call" or report.outcome != "passed":
            outcome = "error" if report.when != "call" and report.failed else report.outcome
            lab_results.record_item(data["item"], {
                "outcome": outcome, "expected": data.get("expected"), "actual": data.get("actual"),
                "source": data.get("evidence_source"), "message": _message(report, "phase" in data),
                "excerpt": data.get("evidence"), "held_after": _seconds(data.get("held_after")),
                "attempts": data.get("attempts"), "elapsed": _seconds(data.get("elapsed")),
                "phase": data.get("phase"), "variable": data.get("variable"),
            })
        if "summary" in data:
            lab_results.summary = data["summary"]
            names = {**(data["summary"].get("resources") or {}), "group": data["summary"].get("resource_group")}
            if xml is not None and any(names.values()):  # lets 'acalab compare' mask them in junit files too
                xml.add_global_property(f"acalab.resources.{lab_results.lab.id}",
                                        json.dumps({k: v for k, v in names.items() if v}, sort_keys=True))
            bicep = data["summary"].get("bicep")
            xml = _junit_xml(self.config) if bicep else None
            if xml is not None and bicep and (bicep.get("drift") or bicep.get("error")):
                xml.add_global_property(f"acalab.bicep_drift.{lab_results.lab.id}", bicep_line(bicep))

    @pytest.hookimpl(tryfirst=True)  # before junitxml writes its file
    def pytest_sessionfinish(self, session: pytest.Session, exitstatus: int) -> None:
        # loaded only on this path, keeping pytest --version and collection light
        from pytest_acalab.reports.output import compare_with_baseline, write_reports

        state = self.config.stash[SESSION_KEY]
        results = list(self.config.stash[RESULTS_KEY].values())
        xml = _junit_xml(self.config)
        if xml is not None:  # the filled experiment log itself travels in the junit file
            for lab_results in results:
                xml.add_global_property(f"acalab.experiment_log.{lab_results.lab.id}",
                                        state.scrubber.text(lab_results.table_markdown()))
        run = self.config.stash[RUN_KEY]
        if state.options.baseline is not None and results:
            self.config.stash[DRIFT_KEY] = compare_with_baseline(state.options.baseline, results, run,
                                                                         state.scrubber)
        if state.options.report_dir:
            write_reports(state.options.report_dir, results, run, self.config.stash.get(DRIFT_KEY, None),
                          state.scrubber)


@pytest.hookimpl(trylast=True)
def pytest_unconfigure(config: pytest.Config) -> None:
    state = config.stash.get(SESSION_KEY, None)
    if state is not None:
        with state.interrupts.shielded(deliver_after=False):
            state.close()
        state.interrupts.uninstall()
    if config in _CONFIGS:
        _CONFIGS.remove(config)


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: pytest.Config) -> None:
    results = config.stash.get(RESULTS_KEY, {})
    stashed: dict[str, str] = config.stash.get(NOTES_KEY, {})
    notes = dict(stashed)
    if not results and not notes:
        return
    state = config.stash[SESSION_KEY]
    tr = terminalreporter
    width = config.get_terminal_writer().fullwidth
    for key, lab_results in results.items():
        tr.write_sep("-", f"experiment log: {lab_results.lab.id}")
        for line in lab_results.terminal(width):
            tr.write_line(state.scrubber.text(line))
        note = lab_results.summary.get("teardown") or notes.get(key)
        notes.pop(key, None)
        if note:
            tr.write_line(state.scrubber.text(note))
        bicep = lab_results.summary.get("bicep") or {}
        if bicep.get("drift") or bicep.get("error"):
            tr.write_line(f"WARNING: {bicep_line(bicep)}", yellow=True, bold=True)
    for note in notes.values():  # labs torn down without a final report (interrupted)
        tr.write_line(state.scrubber.text(note))
    drift = config.stash.get(DRIFT_KEY, None)
    if drift is not None:
        # loaded only on this path, keeping pytest --version and collection light
        from pytest_acalab.reports.drift import format_text

        tr.write_sep("-", "drift from the baseline")
        for line in ([drift] if isinstance(drift, str) else format_text(drift, width)):
            tr.write_line(state.scrubber.text(line))
    if state.options.report_dir:
        index = Path(state.options.report_dir) / "index.html"
        tr.write_line(f"acalab reports written to {state.options.report_dir}"
                      + (f" (open {index})" if index.is_file() else ""))


# ---------------------------------------------------------------------------------------------- fixtures
def _lab_dir(request: pytest.FixtureRequest) -> LabDir:
    node = request.node.getparent(LabDir)
    if node is None:
        raise pytest.UsageError(f"{request.node.nodeid}: lab fixtures work only in tests inside a lab folder "
                                "(a folder holding lab.yaml)")
    return node


@pytest.fixture
def lab_run(request: pytest.FixtureRequest) -> Any:
    """The LabRun of the lab folder this test lives in, provisioned (deployed and triggered); for a test marked
    ``lab_phase``, brought to that phase (recovered for ``recovery``/``recovered``)."""
    run = _lab_dir(request).get_run()
    phase = lab_phase_of(request.node) if isinstance(request.node, pytest.Item) else None
    if phase is None:
        run.provision()
    else:
        run.ensure(phase_to_ensure(phase))
    return run


@pytest.fixture
def lab_context(lab_run: Any) -> Any:
    """The LabContext: clients, resource group, resources by alias, ``resolve('${registry.loginServer}')``."""
    return lab_run.ctx


@pytest.fixture
def lab_resources(lab_context: Any) -> dict[str, Any]:
    return lab_context.refresh_resources()


@pytest.fixture
def lab_probe(lab_context: Any) -> Callable[..., Any]:
    """``lab_probe("revision_health", app="app")`` → Observation(value, source, excerpt)."""
    from pytest_acalab.probes import run_probe  # the lab runner loads when a lab runs, not at `pytest --version`

    return lambda name, **args: run_probe(lab_context, name, args)


@pytest.fixture
def lab_action(lab_context: Any) -> Callable[..., Any]:
    """``lab_action("update_app", app="app", image=...)`` → ActionResult (``ctx.action_results`` keeps it)."""
    from pytest_acalab.actions import run_named_action  # the lab runner loads when a lab runs, not at startup

    return lambda name, **args: run_named_action(lab_context, name, args)


