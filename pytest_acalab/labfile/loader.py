"""Load lab.yaml into the typed model, or fail with ONE LabFileError naming file, line, field and fix.

Pipeline: YAML nodes with line numbers (``yaml_nodes``) -> JSON Schema (``schema``) -> semantic checks and
the frozen model (``semantics``). Never touches Azure or the network.
"""

from __future__ import annotations

from pathlib import Path

from pytest_acalab.errors import LabFileError
from pytest_acalab.labfile.model import Lab
from pytest_acalab.labfile.schema import SCHEMA_PATH, SchemaErrors, describe_value, schema, validator
from pytest_acalab.labfile.semantics import LabBuilder
from pytest_acalab.labfile.vocabulary import Vocabulary
from pytest_acalab.labfile.yaml_nodes import ParsedYaml

__all__ = ["LAB_FILE", "SCHEMA_PATH", "LabFileError", "load_lab", "schema"]

LAB_FILE = "lab.yaml"


def load_lab(path: Path | str, vocabulary: Vocabulary | None = None) -> Lab:
    """Load ``lab.yaml`` (or its folder) into a ``Lab``; raise one ``LabFileError`` on any problem.

    ``vocabulary``: the probes and actions the lab may name; each name must be in it and its ``with`` must
    match the arguments schema registered with it. Without one (rendering pages, reading results), names
    are only checked for their form and built-ins' arguments against the lab schema.
    """
    path = Path(path)
    file = path / LAB_FILE if path.is_dir() else path
    if not file.is_file():
        raise LabFileError(
            file, None, "<file>", f"a lab folder holding {LAB_FILE} or a lab.yaml file", "no such file"
        )
    try:
        text = file.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise LabFileError(file, None, "<file>", "UTF-8 text", f"undecodable bytes ({exc.reason})") from None
    parsed = ParsedYaml(file, text)
    if not isinstance(parsed.data, dict):
        raise LabFileError(
            file,
            parsed.lines[()],
            "<top level>",
            "a mapping of lab keys (title, metadata, infra, hypothesis, trigger, recovery, experiment_log)",
            describe_value(parsed.data),
        )
    errors = list(validator().iter_errors(parsed.data))
    if errors:
        raise SchemaErrors(parsed).first(errors)
    return LabBuilder(parsed, file.parent.resolve(), vocabulary).build()
