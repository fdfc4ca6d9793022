"""``acalab sweep``: delete resource groups this tool created whose ``DeleteAfter`` has passed.

Only groups carrying both the ``acalab-run`` tag and a ``DeleteAfter`` tag are candidates; a group
without them is never touched, whoever named it what.
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
from pytest_acalab.lifecycle.naming import TAG_CREATED, TAG_DELETE_AFTER, TAG_RUN
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


def decide(groups: list[Any], now: datetime, older_than: timedelta | None = None) -> list[Decision]:
    out = []
    for g in groups:
        tags = {k.lower(): v for k, v in (g.tags or {}).items()}
        if TAG_RUN.lower() not in tags or TAG_DELETE_AFTER.lower() not in tags:
            continue  # not ours: never listed, never touched
        delete_after = _when(tags[TAG_DELETE_AFTER.lower()])
        created = _when(tags.get(TAG_CREATED.lower()))
        if delete_after is None:
            out.append(Decision(g.name, False, f"unreadable DeleteAfter '{tags[TAG_DELETE_AFTER.lower()]}'"))
        elif delete_after > now:
            out.append(Decision(g.name, False, f"DeleteAfter {delete_after.isoformat()} not reached"))
        elif older_than is not None and (created is None or now - created < older_than):
            out.append(Decision(g.name, False, f"created {created} is not older than {older_than}"))
        else:
            out.append(Decision(g.name, True, f"DeleteAfter {delete_after.isoformat()} passed"))
    return out


def sweep(clients: Any, dry_run: bool, older_than: timedelta | None = None, wait: bool = False,
          now: datetime | None = None, deadline: float = 300.0) -> list[Decision]:
    """Decide for every group tagged ``acalab-run``; delete the expired ones unless ``dry_run``.

    A deletion that fails is recorded on its decision (``error``) and the sweep goes on with the others.
    """

    api = clients.resources.resource_groups
    groups = call(lambda: list(api.list(filter=f"tagName eq '{TAG_RUN}'")), deadline=deadline,
                  what="list resource groups tagged acalab-run")
    decisions = decide(groups, now or datetime.now(UTC), older_than)
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
