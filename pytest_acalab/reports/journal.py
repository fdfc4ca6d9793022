"""The journal: every action and probe attempt of a lab run, with timings (Chaos Toolkit's idea).

Entries hold plain JSON values only (strings, numbers, booleans, null, lists, objects), whatever the
caller passed: a parsed check is written as what it looks at, an SDK enum as its value, a datetime in
ISO 8601. Reports (HTML timeline, drift) read the journal back, so its shape is part of the reports.
"""

from __future__ import annotations

import dataclasses
import enum
import json
import threading
import time
from collections.abc import Mapping
from datetime import UTC, date, datetime
from pathlib import PurePath
from typing import Any

from pytest_acalab.reports.scrub import Scrubber


def plain(value: Any) -> Any:
    """``value`` as plain JSON data (no reprs of Python objects)."""
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, enum.Enum):
        return plain(value.value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, PurePath):
        return str(value)
    if isinstance(value, Mapping):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [plain(v) for v in value]
    describe = getattr(value, "describe", None)
    if callable(describe):  # a lab check or tolerance: what it looks at, as the reports phrase it
        return str(describe())
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    as_dict = getattr(value, "as_dict", None)
    if callable(as_dict):  # an Azure SDK model
        return plain(as_dict())
    return str(value)


@dataclasses.dataclass
class Journal:
    lab: str
    scrubber: Scrubber
    entries: list[dict[str, Any]] = dataclasses.field(default_factory=list)
    _lock: threading.Lock = dataclasses.field(default_factory=threading.Lock, repr=False)
    _t0: float = dataclasses.field(default_factory=time.monotonic, repr=False)

    def now(self) -> float:
        """Seconds since the journal began (the ``t`` of an entry recorded now)."""
        return round(time.monotonic() - self._t0, 4)

    def at(self, monotonic: float) -> float:
        """The journal time of a ``time.monotonic()`` reading."""
        return round(monotonic - self._t0, 4)

    def record(self, kind: str, name: str, **fields: Any) -> dict[str, Any]:
        entry = {"kind": kind, "name": name, "at": datetime.now(UTC).isoformat(timespec="milliseconds"),
                 "t": self.now(), **fields}
        entry = self.scrubber.data(plain(entry))
        with self._lock:
            self.entries.append(entry)
        return entry

    def to_json(self) -> str:
        return json.dumps({"lab": self.lab, "entries": self.entries}, indent=2)

    def write(self, path: PurePath) -> None:
        # loaded only on this path (a command or report most runs never reach)
        from pathlib import Path

        target = Path(path)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(self.to_json(), encoding="utf-8")
