"""``acalab sweep``: delete resource groups this tool created whose run is over.

Only groups carrying both the ``acalab-run`` tag and a ``DeleteAfter`` tag are candidates; a group
without them (one the tool did not create, or one a run reused with ``--acalab-resource-group``,
which is never tagged) is never touched, whoever named it what. A candidate goes when its
``DeleteAfter`` has passed, or as soon as its lease (``acalab-lease-until``, renewed by the live run
that created it) has lapsed: a run killed with SIGKILL leaves groups that are swept minutes later,
not hours. A run that ends keeping a group (``--acalab-keep``) extends the lease to ``DeleteAfter``.
"""

from __future__ import annotations

import argparse
import functools
import os
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from pytest_acalab.backends import create_backend
from pytest_acalab.backends.clients import Clients
from pytest_acalab.labfile.durations import parse_duration
from pytest_acalab.lifecycle.naming import TAG_CREATED, TAG_DELETE_AFTER, TAG_LEASE, TAG_RUN
from pytest_acalab.polling import call, describe_error


@dataclass
class Decision:
    group: str
    delete: bool
    reason: str
    error: str | None = None
    """Why the deletion failed (only when it was attempted and failed)."""


def _when(text: str | None) -> datetime | None:
    if not text:
        return None
    try:
        dt = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return dt if dt.tzinfo else dt.replace(tzinfo=UTC)


def decide(groups: list[Any], now: datetime, older_than: timedelta | None = None,
           leases_only: bool = False) -> list[Decision]:
    """One decision per group this tool created; ``leases_only`` considers only lapsed leases (what a
    run does at its start for the groups of dead runs)."""
    out = []
    for g in groups:
        tags = {k.lower(): v for k, v in (g.tags or {}).items()}
        if TAG_RUN.lower() not in tags or TAG_DELETE_AFTER.lower() not in tags:
            continue  # not ours: never listed, never touched
        delete_after = _when(tags[TAG_DELETE_AFTER.lower()])
        created = _when(tags.get(TAG_CREATED.lower()))
        lease_text = tags.get(TAG_LEASE.lower())
        lease = _when(lease_text)
        if delete_after is None:
            out.append(Decision(g.name, False, f"unreadable DeleteAfter '{tags[TAG_DELETE_AFTER.lower()]}'"))
        elif lease_text is not None and lease is None:
            out.append(Decision(g.name, False, f"unreadable {TAG_LEASE} '{lease_text}'"))
        elif older_than is not None and (created is None or now - created < older_than):
            out.append(Decision(g.name, False, f"created {created} is not older than {older_than}"))
        elif lease is not None and lease < delete_after and lease > now:
            out.append(Decision(g.name, False, f"its run holds a lease until {lease.isoformat()}"))
        elif lease is not None and lease < delete_after and delete_after > now:
            # a lease reaching DeleteAfter (a group kept on purpose) leaves the decision to DeleteAfter
            out.append(Decision(g.name, True, f"lease {lease.isoformat()} lapsed: its run ended without "
                                              "deleting it"))
        elif leases_only:
            continue
        elif delete_after > now:
            out.append(Decision(g.name, False, f"DeleteAfter {delete_after.isoformat()} not reached"))
        else:
            out.append(Decision(g.name, True, f"DeleteAfter {delete_after.isoformat()} passed"))
    return out


def sweep(clients: Any, dry_run: bool, older_than: timedelta | None = None, wait: bool = False,
          now: datetime | None = None, deadline: float = 300.0, leases_only: bool = False) -> list[Decision]:
    """Decide for every group tagged ``acalab-run``; delete the expired ones unless ``dry_run``.

    A deletion that fails is recorded on its decision (``error``) and the sweep goes on with the others.
    """

    api = clients.resources.resource_groups
    groups = call(lambda: list(api.list(filter=f"tagName eq '{TAG_RUN}'")), deadline=deadline,
                  what="list resource groups tagged acalab-run")
    decisions = decide(groups, now or datetime.now(UTC), older_than, leases_only)
    if not dry_run:
        for d in decisions:
            if not d.delete:
                continue
            try:
                poller = call(functools.partial(api.begin_delete, d.group), deadline=deadline,
                              what=f"delete resource group '{d.group}'")
                if wait:
                    poller.result(timeout=deadline)
            except Exception as exc:  # noqa: BLE001 - report it, sweep the others
                d.error = describe_error(exc)
    return decisions


def clean_run(clients: Any, run_id: str, spare: set[str], deadline: float = 120.0,
              wait: bool = False) -> list[Decision]:
    """Delete the groups of run ``run_id`` still there, except ``spare`` (kept on purpose or already tried):
    what the xdist controller does at the end for workers that died or were killed before their teardown."""
    api = clients.resources.resource_groups
    flt = f"tagName eq '{TAG_RUN}' and tagValue eq '{run_id}'"
    groups = call(lambda: list(api.list(filter=flt)), deadline=deadline,
                  what=f"list resource groups of run {run_id}")
    spared = {s.lower() for s in spare}
    decisions = []
    for g in groups:
        tags = {k.lower(): v for k, v in (g.tags or {}).items()}
        if tags.get(TAG_RUN.lower()) != run_id or TAG_DELETE_AFTER.lower() not in tags or g.name.lower() in spared:
            continue
        d = Decision(g.name, True, f"left by a worker of run {run_id} that ended before its teardown")
        try:
            poller = call(functools.partial(api.begin_delete, d.group), deadline=deadline,
                          what=f"delete resource group '{d.group}'")
            if wait:
                poller.result(timeout=deadline)
        except Exception as exc:  # noqa: BLE001 - report it, clean the others
            d.error = describe_error(exc)
        decisions.append(d)
    return decisions


def sweep_command(args: argparse.Namespace) -> int:
    """``acalab sweep``: one line per group tagged by this tool; exit 1 when a deletion failed."""

    if args.backend != "azure" and not os.environ.get("ACALAB_EMULATOR_URL"):
        raise ValueError("--backend emulator-url needs ACALAB_EMULATOR_URL and the variables "
                         "'acalab emulator env' prints")
    backend = create_backend("azure" if args.backend == "azure" else "emulator", subscription=args.subscription)
    try:
        older = timedelta(seconds=parse_duration(args.older_than)) if args.older_than else None
    except ValueError as exc:
        raise ValueError(f"--older-than {args.older_than}: {exc}") from None
    wait = backend.awaits_group_deletion
    decisions = sweep(Clients(backend), args.dry_run, older, wait=wait)
    failed = 0
    for d in decisions:
        if not d.delete:
            print(f"keeping {d.group}: {d.reason}")
        elif args.dry_run:
            print(f"would delete {d.group}: {d.reason}")
        elif d.error:
            failed += 1
            print(f"FAILED to delete {d.group}: {d.reason}; {d.error}")
        else:
            print(f"{'deleted' if wait else 'deleting'} {d.group}: {d.reason}")
    if not decisions:
        print("no resource groups tagged by pytest-acalab")
    else:
        chosen = sum(d.delete for d in decisions)
        verb = "would delete" if args.dry_run else "deleted" if wait else "deletion started for"
        print(f"{verb} {chosen - failed} of {len(decisions)} tagged resource group(s)"
              + (f"; {failed} could not be deleted" if failed else ""))
    return 1 if failed else 0
