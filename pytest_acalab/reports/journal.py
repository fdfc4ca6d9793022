"""The journal: every action and probe attempt of a lab run, with timings (Chaos Toolkit's idea)."""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pytest_acalab.reports.scrub import Scrubber


@dataclass
class Journal:
    lab: str
    scrubber: Scrubber
    entries: list[dict[str, Any]] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    _t0: float = field(default_factory=time.monotonic, repr=False)

    def record(self, kind: str, name: str, **fields: Any) -> dict[str, Any]:
        entry = {"kind": kind, "name": name, "at": datetime.now(UTC).isoformat(timespec="milliseconds"),
                 "t": round(time.monotonic() - self._t0, 4), **fields}
        entry = self.scrubber.data(entry)
        with self._lock:
            self.entries.append(entry)
        return entry

    def to_json(self) -> str:
        return json.dumps({"lab": self.lab, "entries": self.entries}, indent=2, default=str)

    def write(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(self.to_json(), encoding="utf-8")
