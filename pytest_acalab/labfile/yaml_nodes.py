"""lab.yaml as plain data, with the line of every JSON path: YAML 1.2 booleans, no timestamps, duplicate keys
and tabs reported as one ``LabFileError`` in words."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from pytest_acalab.errors import LabFileError

__all__ = ["JsonPath", "ParsedYaml", "field_name", "line_of"]

JsonPath = tuple[str | int, ...]


def field_name(path: Iterable[str | int]) -> str:
    """``("hypothesis", "rows", 1, "failing")`` -> ``hypothesis.rows[1].failing``."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        elif re.fullmatch(r"[A-Za-z_$][\w$-]*", part):
            out += f".{part}" if out else part
        else:
            out += f"[{part!r}]"
    return out or "<top level>"



def line_of(lines: Mapping[JsonPath, int], path: JsonPath) -> int:
    while path not in lines and path:
        path = path[:-1]
    return lines.get(path, 1)



class _LabYamlLoader(yaml.SafeLoader):
    """SafeLoader with YAML 1.2 booleans (only true/false), no timestamps: ``control: No`` stays text."""


_BOOL = "tag:yaml.org,2002:bool"
_TIMESTAMP = "tag:yaml.org,2002:timestamp"
_LabYamlLoader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag not in (_BOOL, _TIMESTAMP)]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_LabYamlLoader.add_implicit_resolver(
    _BOOL, re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
)
_MERGE = "tag:yaml.org,2002:merge"


class ParsedYaml:
    """Plain data built from YAML nodes plus the line of every JSON path."""

    def __init__(self, path: Path, text: str) -> None:
        self.path = path
        self.lines: dict[JsonPath, int] = {}
        loader = _LabYamlLoader(text)
        try:
            try:
                root = loader.get_single_node()
            except yaml.MarkedYAMLError as exc:
                raise self._yaml_error(exc) from None
            except yaml.YAMLError as exc:
                raise LabFileError(path, None, "<file>", "valid YAML", str(exc).replace("\n", " ")) from None
            if root is None:
                raise LabFileError(
                    path,
                    1,
                    "<top level>",
                    "a mapping of lab keys (title, metadata, infra, ...)",
                    "an empty file",
                )
            self.lines[()] = root.start_mark.line + 1
            self._in_progress: set[int] = set()
            self.data = self._convert(root, (), loader)
        finally:
            loader.dispose()

    def _yaml_error(self, exc: yaml.MarkedYAMLError) -> LabFileError:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else None
        problem = (exc.problem or "invalid YAML").strip()
        tab = _tab_position(mark) if mark else None
        if tab == "indent":
            return LabFileError(
                self.path, line, "<yaml>", "spaces for indentation (YAML forbids tabs)", "a tab character"
            )
        if tab == "text":
            return LabFileError(
                self.path,
                line,
                "<yaml>",
                "no tab outside quotes (quote the text or use spaces)",
                "a tab character",
            )
        if problem == "mapping values are not allowed here":
            return LabFileError(
                self.path,
                line,
                "<yaml>",
                "valid YAML (quote text that contains ': ', and check the indentation)",
                "a ':' where no mapping can start",
            )
        context = exc.context or ""
        if context.startswith("expected ") and problem.startswith("but "):
            # e.g. context "expected a single document in the stream", problem "but found another document"
            expected, found = context[len("expected ") :], problem.split(" ", 2)[-1]
            return LabFileError(self.path, line, "<yaml>", expected, found)
        if context and exc.context_mark and exc.context_mark.line + 1 != line:
            context = f" ({context} that starts at line {exc.context_mark.line + 1})"
        elif context:
            context = f" ({context})"
        expected, found = "valid YAML", problem
        if problem.startswith("expected ") and ", but " in problem:
            what, _, found = problem[len("expected ") :].partition(", but ")
            expected, found = _token(what), _token(found.removeprefix("got ").removeprefix("found "))
            if what == "<block end>":
                context = ""
        return LabFileError(self.path, line, "<yaml>", expected + context, found)

    def _convert(self, node: Node, path: JsonPath, loader: _LabYamlLoader) -> Any:
        if isinstance(node, ScalarNode):
            return loader.construct_object(node)
        if id(node) in self._in_progress:
            raise LabFileError(
                self.path,
                node.start_mark.line + 1,
                field_name(path),
                "no recursive YAML aliases",
                "an alias that contains itself",
            )
        self._in_progress.add(id(node))
        try:
            if isinstance(node, SequenceNode):
                out_list = []
                for index, child in enumerate(node.value):
                    self.lines.setdefault((*path, index), child.start_mark.line + 1)
                    out_list.append(self._convert(child, (*path, index), loader))
                return out_list
            assert isinstance(node, MappingNode)
            return self._convert_mapping(node, path, loader)
        finally:
            self._in_progress.discard(id(node))

    def _convert_mapping(self, node: MappingNode, path: JsonPath, loader: _LabYamlLoader) -> dict[str, Any]:
        first_seen: dict[str, int] = {}
        for key_node, _ in node.value:
            if key_node.tag == _MERGE:
                continue
            key = self._key(key_node, path)
            line = key_node.start_mark.line + 1
            if key in first_seen:
                raise LabFileError(
                    self.path,
                    line,
                    field_name((*path, key)),
                    f"each key once per mapping (first '{key}' is at line {first_seen[key]})",
                    f"'{key}' again",
                )
            first_seen[key] = line
        if any(key_node.tag == _MERGE for key_node, _ in node.value):
            loader.flatten_mapping(node)  # merged pairs first, explicit ones after (they win)
        out: dict[str, Any] = {}
        for key_node, value_node in node.value:
            key = self._key(key_node, path)
            self.lines[(*path, key)] = key_node.start_mark.line + 1
            out[key] = self._convert(value_node, (*path, key), loader)
        return out

    def _key(self, key_node: Node, path: JsonPath) -> str:
        if not isinstance(key_node, ScalarNode):
            raise LabFileError(
                self.path,
                key_node.start_mark.line + 1,
                field_name(path),
                "a plain text key",
                "a list or mapping used as a key",
            )
        return str(key_node.value)


_TOKENS = {
    "<block end>": "lines of one block at the same indentation (check the indentation and unclosed quotes)",
    "<block mapping start>": "a line indented differently",
    "<block sequence start>": "a list item indented differently",
    "<scalar>": "a value",
}


def _token(text: str) -> str:
    """PyYAML token names in words."""
    return _TOKENS.get(text.strip("'"), text)


def _tab_position(mark: yaml.Mark) -> str | None:
    """Where the line of a YAML error holds a tab: in its indentation ("indent"), elsewhere ("text"), none."""
    buffer = mark.buffer or ""
    start = buffer.rfind("\n", 0, mark.index) + 1
    end = buffer.find("\n", mark.index)
    text = buffer[start : end if end >= 0 else None]
    if "\t" not in text:
        return None
    return "indent" if "\t" in text[: len(text) - len(text.lstrip(" \t"))] else "text"

