"""Names and tags for the resource groups a run creates: unique per run, lab and worker."""

from __future__ import annotations

import os
import re
import secrets
from datetime import UTC, datetime, timedelta

TAG_RUN = "acalab-run"
TAG_LAB = "acalab-lab"
TAG_CREATED = "acalab-created"
TAG_DELETE_AFTER = "DeleteAfter"
TAG_WORKER = "acalab-worker"
TAG_LEASE = "acalab-lease-until"
"""Until when the run that created the group vouches for it; the run renews it while alive, so a group
whose lease has lapsed belongs to a dead run and ``acalab sweep`` may remove it at once."""
DEFAULT_LEASE = timedelta(minutes=3)


def new_run_id() -> str:
    """Random, not clock-seeded: parallel runs started in the same second never collide.

    64 bits: among a million runs the chance that two share an id is below 3e-8 (32 bits collided
    in about one draw of 20,000 ids in twenty)."""
    return secrets.token_hex(8)


def worker_id() -> str:
    return os.environ.get("PYTEST_XDIST_WORKER", "main")


MAX_GROUP_NAME = 90


def group_name(lab_id: str, run_id: str, worker: str | None = None) -> str:
    """``acalab-<lab>-<run id>-<worker>``: only the lab part is ever shortened, so the run id and worker,
    which make the name unique, always survive Azure's 90-character limit."""
    safe = re.sub(r"[^A-Za-z0-9_\-]", "-", lab_id)[:40]
    worker_part = re.sub(r"[^A-Za-z0-9_\-]", "-", worker or worker_id())[:24]
    suffix = f"-{run_id}-{worker_part}"
    return f"acalab-{safe}"[: MAX_GROUP_NAME - len(suffix)] + suffix


def group_tags(lab_id: str, run_id: str, keep_for: timedelta, now: datetime | None = None,
               lease: timedelta = DEFAULT_LEASE) -> dict[str, str]:
    now = now or datetime.now(UTC)
    return {
        TAG_RUN: run_id,
        TAG_LAB: lab_id,
        TAG_CREATED: now.isoformat(timespec="seconds"),
        TAG_DELETE_AFTER: (now + keep_for).isoformat(timespec="seconds"),
        TAG_WORKER: worker_id(),
        TAG_LEASE: lease_until(now, lease),
    }


def lease_until(now: datetime, lease: timedelta) -> str:
    return (now + lease).isoformat(timespec="seconds")
