"""``acalab sweep``: delete resource groups this tool created whose ``DeleteAfter`` has passed.

Only groups carrying both the ``acalab-run`` tag and a ``DeleteAfter`` tag are candidates; a group
without them is never touched, whoever named it what.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from pytest_acalab.labfile.durations import parse_duration
from pytest_acalab.lifecycle.naming import TAG_CREATED, TAG_DELETE_AFTER, TAG_RUN


@dataclass
class Decision:
    group: str
    delete: bool
    reason: str


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
          now: datetime | None = None) -> list[Decision]:
    groups = list(clients.resources.resource_groups.list(filter=f"tagName eq '{TAG_RUN}'"))
    decisions = decide(groups, now or datetime.now(UTC), older_than)
    if not dry_run:
        for d in decisions:
            if d.delete:
                poller = clients.resources.resource_groups.begin_delete(d.group)
                if wait:
                    poller.result()
    return decisions


def sweep_command(args: argparse.Namespace) -> int:
    from pytest_acalab.backends.clients import Clients

    if args.backend == "azure":
        from pytest_acalab.backends.azure import AzureBackend

        backend: Any = AzureBackend(args.subscription)
    else:
        from pytest_acalab.backends.emulator import EmulatorBackend

        backend = EmulatorBackend()
        if backend.emulator is not None:
            backend.close()
            raise ValueError("--backend emulator-url needs ACALAB_EMULATOR_URL and the variables "
                             "'acalab emulator env' prints")
    older = timedelta(seconds=parse_duration(args.older_than)) if args.older_than else None
    decisions = sweep(Clients(backend), args.dry_run, older, wait=backend.name == "emulator")
    verb = "would delete" if args.dry_run else "deleting"
    for d in decisions:
        print(f"{verb if d.delete else 'keeping'} {d.group}: {d.reason}")
    if not decisions:
        print("no resource groups tagged by pytest-acalab")
    return 0
