"""One lab's lifecycle, shared by its items: backend, group, deployment, trigger, recovery, teardown."""

from __future__ import annotations

import logging
import time
from datetime import UTC, datetime
from typing import Any

from pytest_acalab.actions import run_action
from pytest_acalab.backends.clients import Clients
from pytest_acalab.context import ActionResult, LabContext, retried
from pytest_acalab.context.deployments import deploy_template
from pytest_acalab.errors import ActionError, ConfigurationError, LabError, RetryExhausted
from pytest_acalab.extensions import builtin_vocabulary
from pytest_acalab.labfile.model import Lab, Phase, Row
from pytest_acalab.labfile.vocabulary import Vocabulary
from pytest_acalab.lifecycle.bicep import BicepResult, resolve_template
from pytest_acalab.lifecycle.naming import group_name, group_tags
from pytest_acalab.lifecycle.session import AcalabSession
from pytest_acalab.polling import describe_error, is_transient, poll
from pytest_acalab.probes.checks import evaluate
from pytest_acalab.reports.journal import Journal

log = logging.getLogger("pytest_acalab")


class LabRun:
    """Provisioned on first use, torn down once, whatever happened in between."""

    def __init__(self, lab: Lab, session: AcalabSession, vocabulary: Vocabulary | None = None) -> None:
        self.lab = lab
        self.vocabulary = vocabulary or builtin_vocabulary()
        self.session = session
        self.journal = Journal(lab.id, session.scrubber)
        self.ctx: LabContext | None = None
        self.error: BaseException | None = None
        self.stage = "new"
        self.failed = False
        self.group_state = "none"
        """``none`` (no create sent), ``requested`` (sent, outcome unknown: an interrupt or an error during the
        call), ``created`` (Azure answered it), ``refused`` (the request never reached Azure, or Azure refused it)."""
        self.create_error = ""
        self.torn_down = False
        self.teardown_note = ""
        self.outcomes: dict[str, Any] = {}
        self.trigger_failure: LabError | None = None
        """Why the failing state was never induced (a trigger action failed or could not run): every
        failing-phase item errors with it, and recovery does not run."""
        self.recovery_failure: LabError | None = None
        """Why the recovery did not complete (a recovery action failed or could not run): every
        recovered-phase item errors with it."""
        self.bicep: BicepResult | None = None
        """The template compiled from the lab's Bicep and its drift from the committed JSON (if compiled)."""
        self.started = time.monotonic()
        self.phase_t: dict[str, float] = {}
        """Journal time at which each phase began: the trigger (or the deployment that is the trigger), recovery."""
        self._last_progress: dict[str, float] = {}

    # ------------------------------------------------------------------ provisioning
    def provision(self) -> LabContext:
        if self.error is not None:
            raise self.error
        if self.ctx is not None:
            return self.ctx
        try:
            return self._provision()
        except (LabError, ConfigurationError) as exc:
            self.error = exc
            raise
        except Exception as exc:  # noqa: BLE001 - an SDK error while provisioning: the lab cannot run
            if isinstance(exc, RetryExhausted):
                message = f"lab '{self.lab.id}' could not be provisioned: {transient_failure(exc)}"
            else:
                message = (f"lab '{self.lab.id}' could not be provisioned: {type(exc).__name__}: "
                           f"{self.session.scrubber.text(str(exc))}")
            self.error = LabError(self.session.scrubber.text(message))
            raise self.error from None

    def _provision(self) -> LabContext:
        opts = self.session.options
        backend = self.session.backend()
        clients = Clients(backend)
        location = backend.location_override or self.lab.location or "koreacentral"
        reuse = opts.resource_group
        group = reuse or group_name(self.lab.id, self.session.run_id)
        ctx = LabContext(
            lab=self.lab, backend=backend, clients=clients, resource_group=group,
            deployment_name=f"acalab-{self.lab.id}"[:64], location=location, run_id=self.session.run_id,
            journal=self.journal, scrubber=self.session.scrubber, vocabulary=self.vocabulary,
            parameters=dict(self.lab.infra.parameters),
        )
        deadline = min(backend.deadlines.action, backend.deadlines.transient)
        if reuse:
            exists = retried(backend, lambda: clients.resources.resource_groups.check_existence(group),
                             deadline=deadline, what=f"check resource group '{group}'")
            if not exists:
                raise ConfigurationError(f"--acalab-resource-group {group}: no such resource group in "
                                         f"subscription {backend.subscription_id}")
            self.journal.record("lifecycle", "reuse-group", resource_group=group)
        else:
            tags = group_tags(self.lab.id, self.session.run_id, opts.delete_after, lease=opts.lease)
            self.group_state = "requested"  # set first: an interrupt during the call still checks and deletes
            with self.session.interrupts.shielded():  # a signal waits until the group exists, then interrupts
                try:
                    retried(backend, lambda: clients.resources.resource_groups.create_or_update(
                        group, {"location": location, "tags": tags}), deadline=deadline,
                        what=f"create resource group '{group}'")
                except Exception as exc:
                    self.create_error = self.session.scrubber.text(f"{type(exc).__name__}: {exc}".splitlines()[0])
                    if _never_created(exc):
                        self.group_state = "refused"
                    raise
                self.group_state = "created"
                self.session.group_created(group)
            self.journal.record("lifecycle", "create-group", resource_group=group, tags=tags)
        ctx.on_wait = self._progress
        self.ctx = ctx
        ctx.phase = "failing"
        ctx.lab_started = datetime.now(UTC)
        ctx.phase_started["failing"] = ctx.lab_started
        ctx.template, self.bicep = resolve_template(self.lab)
        if self.bicep is not None:
            self.journal.record("lifecycle", "bicep-build", **self.bicep.as_dict())
            if self.bicep.drift:
                log.warning("%s", self.bicep.warning())
        if not self.lab.trigger.actions:  # the deployment itself induces the fault
            self._begin_phase("failing")
        deploy_template(ctx)
        self.session.refresh_secrets()
        ctx.refresh_resources()
        if self.lab.trigger.actions:
            # the failing phase begins when the fault is induced: evidence logged during the trigger counts
            ctx.phase_started["failing"] = datetime.now(UTC)
            self._begin_phase("failing")
        self.trigger_failure = self._run_phase_actions("trigger", self.lab.trigger.actions)
        self.stage = "failing"
        return ctx

    def _run_phase_actions(self, phase: str, actions: Any) -> LabError | None:
        """Run a phase's actions in order; the first that cannot run, or ends otherwise than its ``expect``,
        stops the phase: its error is returned (and journaled) for the phase's items to report."""
        for action in actions:
            try:
                result = self._act(action)
            except ActionError as exc:
                failure = LabError(self.session.scrubber.text(
                    f"{phase} action '{action.id}' ({action.name}, line {action.line}) could not run: {exc}"))
            else:
                if result.status == action.expect:
                    continue
                failure = LabError(self.session.scrubber.text(
                    f"{phase} action '{action.id}' ({action.name}, line {action.line}) ended {result.status}, "
                    f"expected {action.expect}: {result.detail}"))
            what = ("the failing state was never induced, so the failing checks are not evaluated" if phase == "trigger"
                    else "the recovery did not complete, so the recovered checks are not evaluated")
            self.journal.record("lifecycle", f"{phase}-failed", action=action.id, error=str(failure), note=what)
            log.warning("[%s] %s; %s", self.lab.id, failure, what)
            return LabError(f"{failure}; {what}")
        return None

    def _begin_phase(self, phase: str) -> None:
        self.phase_t[phase] = self.journal.now()
        self.journal.record("phase", phase)

    def _progress(self, what: str, elapsed: float, deadline: float, attempts: int, last: str) -> None:
        """Long waits say what they wait for, elapsed against the deadline, and attempts (every 5 s)."""
        if elapsed < 5.0 or elapsed - self._last_progress.get(what, 0.0) < 5.0:
            return
        self._last_progress[what] = elapsed
        message = self.session.scrubber.text(
            f"[{self.lab.id}] waiting for {what}: {elapsed:.0f}s of {deadline:.0f}s, {attempts} attempts; {last}")
        log.info(message)
        if self.session.progress is not None:
            self.session.progress(message)

    def _act(self, action: Any) -> ActionResult:
        assert self.ctx is not None
        result = run_action(self.ctx, action)
        self.session.refresh_secrets()
        return result

    def recover(self) -> LabContext:
        ctx = self.provision()
        if self.stage == "recovered":
            if self.recovery_failure is not None:
                raise self.recovery_failure
            return ctx
        if self.error is not None:
            raise self.error
        if self.trigger_failure is not None:
            raise LabError(f"recovery not run: {self.trigger_failure}")
        ctx.phase = "recovered"
        ctx.phase_started["recovered"] = datetime.now(UTC)
        self._begin_phase("recovered")
        try:
            self.recovery_failure = self._run_phase_actions("recovery", self.lab.recovery)
            ctx.refresh_resources()
        except Exception as exc:  # noqa: BLE001 - whatever else failed, recovery could not run: one LabError
            self.error = exc if isinstance(exc, LabError) else LabError(
                f"recovery of lab '{self.lab.id}' could not run: {self.session.scrubber.text(str(exc))}")
            raise self.error from None
        self.stage = "recovered"
        if self.recovery_failure is not None:
            raise self.recovery_failure
        return ctx

    def ensure(self, phase: str) -> LabContext:
        """The context in ``phase``: provisioned and triggered (``failing``), or recovered; raises the
        trigger's (recovery's) failure when that phase's actions did not all end as expected."""
        ctx = self.recover() if phase == "recovered" else self.provision()
        if phase == "failing" and self.stage == "recovered":
            raise LabError(f"'{self.lab.id}' is already past recovery: failing-state items must run first")
        if phase == "failing" and self.trigger_failure is not None:
            raise self.trigger_failure
        ctx.phase = phase
        return ctx

    def check(self, row: Row, phase: Phase) -> Any:
        check, item = row.check(phase), row.item_id(phase)
        try:
            ctx = self.ensure(phase)
        except LabError as exc:
            if self.trigger_failure is not None or self.recovery_failure is not None:
                # a phase's actions failed: the timeline shows the item as an error, with why
                self.journal.record("verdict", item, row=row.key, phase=phase, ok=None, expected=check.describe(),
                                    began=self.journal.now(), line=check.line,
                                    error=self.session.scrubber.text(str(exc)))
            raise
        began = self.journal.now()
        try:
            outcome = evaluate(ctx, check, default_within=ctx.backend.deadlines.probe)
        except Exception as exc:  # could not run (error) or nothing to observe here (skip): the timeline says so
            skipped = type(exc).__name__ == "ProbeSkipped"
            self.journal.record("verdict", item, row=row.key, phase=phase, ok=None, expected=check.describe(),
                                began=began, line=check.line,
                                **{"skipped" if skipped else "error": self.session.scrubber.text(str(exc))})
            raise
        first_held = None if outcome.first_held is None else round(began + outcome.first_held, 3)
        if first_held is not None and phase in self.phase_t:
            outcome.held_after = round(first_held - self.phase_t[phase], 3)
        self.journal.record("verdict", item, row=row.key, phase=phase, ok=outcome.ok, expected=outcome.expected,
                            actual=outcome.actual, source=outcome.source, excerpt=outcome.excerpt,
                            attempts=outcome.attempts, began=began, first_held=first_held,
                            held_after=outcome.held_after, line=check.line)
        self.outcomes[item] = outcome
        if not outcome.ok:
            self.failed = True
        return outcome

    # ------------------------------------------------------------------ teardown
    def teardown(self) -> None:
        """Delete the group this run created, unless told to keep it. Runs once, after anything."""
        if self.torn_down:
            return
        self.torn_down = True
        ctx = self.ctx
        opts = self.session.options
        group = ctx.resource_group if ctx else (opts.resource_group or group_name(self.lab.id, self.session.run_id))
        backend = self.session.created_backend
        if self.group_state in ("none", "refused") or backend is None:
            if opts.resource_group:
                self.teardown_note = f"reused resource group '{group}' left in place (not created by this run)"
            elif self.group_state == "refused":
                self.teardown_note = (f"resource group '{group}' was not created ({self.create_error}): "
                                      "nothing to delete")
                self.journal.record("lifecycle", "group-not-created", resource_group=group, note=self.teardown_note)
            return
        keep_reason = ("--acalab-keep" if opts.keep else "cleanup: keep" if self.lab.cleanup == "keep"
                       else "--acalab-keep-on-failure" if opts.keep_on_failure and (self.failed or self.error)
                       else None)
        if keep_reason:
            where = backend.kept_group_location()
            self.teardown_note = (f"kept resource group '{group}' ({keep_reason}) in {where}; inspect with: "
                                  f"az group show -n {group}; rerun its checks with --acalab-resource-group {group}")
            self.journal.record("lifecycle", "keep-group", resource_group=group, reason=keep_reason)
            return
        # the Azure SDK stack loads when a lab runs, not at collection
        from azure.core.exceptions import ResourceNotFoundError


        clients = ctx.clients if ctx else Clients(backend)
        started = time.monotonic()
        deadline = min(backend.deadlines.teardown, backend.deadlines.transient)
        try:
            if self.group_state == "requested" and not retried(
                    backend, lambda: clients.resources.resource_groups.check_existence(group), deadline=deadline,
                    what=f"check whether resource group '{group}' was created"):
                self.teardown_note = (f"resource group '{group}' was not created ({self.create_error or 'interrupted'})"
                                      ": nothing to delete")
                self.journal.record("lifecycle", "group-not-created", resource_group=group, note=self.teardown_note)
                return
            with self.session.interrupts.shielded(deliver_after=False):  # a signal cannot abandon the delete
                poller = retried(backend, lambda: clients.resources.resource_groups.begin_delete(group),
                                 deadline=deadline, what=f"delete resource group '{group}'")
                if backend.awaits_group_deletion:
                    _wait_deleted(backend, clients, poller, group, deadline)
            if backend.awaits_group_deletion:
                self.teardown_note = f"deleted resource group '{group}'"
            else:
                self.teardown_note = (f"deletion of resource group '{group}' requested, not awaited (Azure deletes it "
                                      "in the background; if that fails, its DeleteAfter tag lets 'acalab sweep' "
                                      "remove it)")
        except ResourceNotFoundError:
            self.teardown_note = f"resource group '{group}' was already gone"
        except Exception as exc:  # noqa: BLE001 - report, never mask the test outcome
            why = transient_failure(exc) if isinstance(exc, RetryExhausted) else str(exc)
            self.teardown_note = (f"could not delete resource group '{group}': {self.session.scrubber.text(why)}; "
                                  f"it is left with its DeleteAfter tag for 'acalab sweep' to remove")
            log.warning(self.teardown_note)
        self.journal.record("lifecycle", "delete-group", resource_group=group, note=self.teardown_note,
                            elapsed=round(time.monotonic() - started, 3))

    # ------------------------------------------------------------------ reporting
    def summary(self) -> dict[str, Any]:
        """What the controller needs to fill the experiment log (travels with xdist reports)."""
        ctx = self.ctx
        return {
            "lab": self.lab.id,
            "resource_group": ctx.resource_group if ctx else None,
            "deployment": dict(ctx.deployment) if ctx else {},
            "actions": {k: vars(v) for k, v in (ctx.action_results.items() if ctx else [])},
            "teardown": self.teardown_note,
            "error": self.session.scrubber.text(str(self.error or self.trigger_failure or self.recovery_failure))
            if (self.error or self.trigger_failure or self.recovery_failure) else None,
            "bicep": self.bicep.as_dict() if self.bicep is not None else None,
            "elapsed": round(time.monotonic() - self.started, 3),
            "backend": self.session.options.backend,
            "location": ctx.location if ctx else None,
            "resources": {alias: ref.name for alias, ref in (ctx.resources.items() if ctx else [])},
            "phases": dict(self.phase_t),
        }


def _never_created(exc: BaseException) -> bool:
    """The create request certainly created nothing: no token (the request was never sent), or Azure refused
    it with a 4xx other than a conflict (throttling and 5xx leave the outcome unknown)."""
    # the Azure SDK stack loads when a lab runs, not at collection
    from azure.core.exceptions import ClientAuthenticationError, HttpResponseError

    if isinstance(exc, RetryExhausted):
        return False
    if isinstance(exc, ClientAuthenticationError) and getattr(exc, "status_code", None) is None:
        return True
    status = getattr(exc, "status_code", None)
    return isinstance(exc, HttpResponseError) and isinstance(status, int) and 400 <= status < 500 and \
        status not in (408, 409, 429)


def transient_failure(exc: Any) -> str:
    """What persistent transient errors mean for the user: which request, what Azure said, for how long."""

    last = exc.last
    status = getattr(last, "status_code", None)
    kind = ("throttled (HTTP 429)" if status == 429 else "unavailable (HTTP 503)" if status == 503
            else f"failing (HTTP {status})" if isinstance(status, int) else "unreachable (connection reset or refused)")
    return (f"{exc.what}: Azure was still {kind} after {exc.attempts} attempts over {exc.elapsed:.1f}s "
            f"(each attempt includes the Azure SDK's own retries); last answer: {describe_error(last)}")


def _wait_deleted(backend: Any, clients: Any, poller: Any, group: str, deadline: float) -> None:
    """Wait for a group deletion; if polling itself fails transiently, ask whether the group still exists."""
    # the Azure SDK stack loads when a lab runs, not at collection
    from azure.core.exceptions import ResourceNotFoundError


    started = time.monotonic()
    try:
        poller.result(timeout=deadline)
        return
    except ResourceNotFoundError:
        return
    except Exception as exc:
        if not is_transient(exc):
            raise

    def gone() -> bool:
        left = max(deadline - (time.monotonic() - started), 0.5)
        return not retried(backend, lambda: clients.resources.resource_groups.check_existence(group), deadline=left,
                           what=f"check that resource group '{group}' is gone")

    if not poll(gone, until=bool, deadline=deadline - (time.monotonic() - started),
                interval=max(backend.deadlines.poll_interval, 0.05)):
        raise LabError(f"resource group '{group}' still exists {deadline:.0f}s after its deletion started")
