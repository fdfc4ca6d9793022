"""Durations as lab authors write them: ``30s``, ``5m``, ``1h``, ``1m30s``, ``500ms`` or ISO 8601 ``PT5M``."""

from __future__ import annotations

import re

__all__ = ["DURATION_HINT", "parse_duration"]

DURATION_HINT = "a duration like 30s, 5m, 1h, 1m30s, 500ms or PT5M"

_NUM = r"\d+(?:\.\d+)?"
# Units must come in decreasing order and at most once each: 1h30m, 1m30s, 2s500ms.
_SHORT = re.compile(rf"^(?:(?P<h>{_NUM})h)?(?:(?P<m>{_NUM})m(?!s))?(?:(?P<s>{_NUM})s)?(?:(?P<ms>{_NUM})ms)?$")
_ISO = re.compile(
    rf"^P(?:(?P<d>{_NUM})D)?(?:T(?:(?P<h>{_NUM})H)?(?:(?P<m>{_NUM})M)?(?:(?P<s>{_NUM})S)?)?$",
    re.IGNORECASE,
)


def parse_duration(text: str) -> float:
    """Return the duration in seconds; raise ValueError naming the accepted forms."""
    if not isinstance(text, str):
        numeric = isinstance(text, int | float) and not isinstance(text, bool)
        hint = f" (a number needs a unit, e.g. '{text}s')" if numeric else ""
        raise ValueError(f"expected {DURATION_HINT}; got {text!r}{hint}")
    raw = text.strip()
    match = _SHORT.match(raw)
    if match and raw:
        parts = match.groupdict()
        factors = {"h": 3600.0, "m": 60.0, "s": 1.0, "ms": 0.001}
    else:
        match = _ISO.match(raw)
        if not match or raw.upper() in ("P", "PT") or raw.upper().endswith("T"):
            raise ValueError(f"expected {DURATION_HINT}; got {text!r}")
        parts = match.groupdict()
        factors = {"d": 86400.0, "h": 3600.0, "m": 60.0, "s": 1.0}
    return sum(float(value) * factors[unit] for unit, value in parts.items() if value is not None)
