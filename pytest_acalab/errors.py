"""Every error pytest-acalab raises on purpose, in one hierarchy: catch ``AcalabError``, tell them apart
with ``isinstance``.

- ``ConfigurationError``: settings (credentials, subscription, backend options) are missing or contradict.
- ``LabFileError`` (and ``ToleranceError`` inside it): a lab file is invalid; one line with file and line.
- ``LabError``: the lab could not run (provisioning, deployment refused, a resource missing).
- ``ProbeError`` / ``ActionError``: a probe or an action could not run (a pytest ERROR, not a failure).
- ``ProbeSkipped``: nothing can be observed from here (a pytest skip with the reason).
- ``RetryExhausted``: transient failures (429, 5xx, resets) outlasted the deadline.
- ``LabFailure``: a check ran and saw the wrong state (a pytest FAILURE).
"""

from __future__ import annotations

import os
from pathlib import Path


class AcalabError(Exception):
    """Base of pytest-acalab's errors: its message is one clear line, shown without a traceback."""


class ConfigurationError(AcalabError):
    """Missing or contradictory settings (credentials, subscription, backend options)."""


class LabFileError(AcalabError):
    """A lab file is invalid. ``str()`` is one line: ``<file>:<line>: <field>: expected <x>; got <y>``."""

    def __init__(self, path: Path | str, line: int | None, field: str, expected: str, got: str) -> None:
        super().__init__(path, line, field, expected, got)
        self.path = Path(path)
        self.line = line
        self.field = field
        self.expected = expected
        self.got = got

    def __str__(self) -> str:
        where = display_path(self.path) + (f":{self.line}" if self.line else "")
        return f"{where}: {self.field}: expected {self.expected}; got {self.got}"


class ToleranceError(AcalabError, ValueError):
    """A tolerance mapping is malformed.

    ``subpath`` locates the problem inside the tolerance (``()`` for the mapping itself,
    ``("all_of", 1, "regex")`` for a nested one) so callers can map it to a file line.
    """

    def __init__(self, where: str, subpath: tuple[str | int, ...], expected: str, got: str) -> None:
        self.where = where
        self.subpath = subpath
        self.expected = expected
        self.got = got
        location = where + "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in subpath)
        super().__init__(f"{location}: expected {expected}; got {got}")


class LabError(AcalabError):
    """The lab could not run (provisioning, an action or a probe could not be executed)."""


class ProbeError(AcalabError):
    """The probe could not run (API error, auth, throttling past the retries, missing resource).

    Reported as a pytest ERROR, distinct from a deviation (the probe ran and the answer was wrong).
    """


class ProbeSkipped(AcalabError):  # it is a signal, reported as a pytest skip
    """The probe cannot observe anything from here (e.g. the app's host does not resolve)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class ActionError(AcalabError):
    """The action could not run at all (auth, 5xx past the retries, unknown alias, bad arguments).

    An action that ran and whose effect Azure refused (a failed LRO, a failed build) is not an error: it
    is recorded as an ``ActionResult`` with status ``Failed``.
    """


class RetryExhausted(AcalabError):  # reads as "the retries are exhausted"
    """Transient failures lasted until the deadline; ``last`` is the final error."""

    def __init__(self, what: str, attempts: int, elapsed: float, last: BaseException, message: str) -> None:
        self.what = what
        self.attempts = attempts
        self.elapsed = elapsed
        self.last = last
        super().__init__(message)


class LabFailure(AcalabError):
    """A check ran and saw the wrong state (a deviation): a test failure."""

    def __init__(self, message: str, outcome: object = None) -> None:
        super().__init__(message)
        self.outcome = outcome


def display_path(path: Path) -> str:
    """``path`` relative to the working directory when it lies below it (shorter messages)."""
    try:
        return os.path.relpath(path) if path.is_absolute() and Path.cwd() in path.parents else str(path)
    except ValueError:  # another drive on Windows
        return str(path)


class DriftInputError(AcalabError, ValueError):
    """A path given to ``acalab compare`` is neither a report directory nor a junit file."""
