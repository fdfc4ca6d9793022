"""The lab file format: schema, loader with line numbers, typed model."""

from pytest_acalab.errors import LabFileError
from pytest_acalab.labfile.durations import parse_duration
from pytest_acalab.labfile.loader import LAB_FILE, SCHEMA_PATH, load_lab, schema
from pytest_acalab.labfile.model import (
    Action,
    ActionCheck,
    AllOfCheck,
    AnyOfCheck,
    Check,
    FrozenMap,
    Hypothesis,
    Infra,
    Lab,
    Metadata,
    ProbeCheck,
    Row,
    Step,
    Trigger,
)

__all__ = [
    "LAB_FILE",
    "SCHEMA_PATH",
    "Action",
    "ActionCheck",
    "AllOfCheck",
    "AnyOfCheck",
    "Check",
    "FrozenMap",
    "Hypothesis",
    "Infra",
    "Lab",
    "LabFileError",
    "Metadata",
    "ProbeCheck",
    "Row",
    "Step",
    "Trigger",
    "load_lab",
    "parse_duration",
    "schema",
]
