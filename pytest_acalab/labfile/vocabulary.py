"""The words a lab file may use for probes and actions: their names, the JSON Schema of their ``with``
arguments, and the function behind each.

Filled through pytest hooks (``pytest_acalab_register_probes`` / ``pytest_acalab_register_actions``, see
``pytest_acalab.hookspecs``): the built-ins register themselves that way, and so can a lab's ``conftest.py``
or an installed plugin. The loader checks every probe and action of a lab file against it, so an unknown
name or bad arguments is one collection error with the file and line, whoever provides the word.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, cast

from pytest_acalab.labfile.schema import schema

__all__ = ["Registry", "Vocabulary", "Word", "builtin_names", "lab_schema_args"]


@dataclass(frozen=True)
class Word:
    """One probe or action: ``run`` is called as ``run(ctx, args, deadline)`` (probes) or
    ``run(ctx, args, deadline, action)`` (actions); ``args`` is the JSON Schema of its ``with`` mapping
    (``None``: any mapping); ``origin`` names who registered it (shown when two register one name).

    ``target`` is the function, or where to find it (``"package.module:function"``), imported when the word
    first runs: a lab file is checked against the vocabulary without loading what implements it."""

    name: str
    target: Callable[..., Any] | str
    args: Mapping[str, Any] | None
    origin: str

    @property
    def run(self) -> Callable[..., Any]:
        if callable(self.target):
            return self.target
        module, _, attribute = self.target.partition(":")
        return cast(Callable[..., Any], getattr(importlib.import_module(module), attribute))


@dataclass
class Registry:
    """Name -> ``Word`` for one kind (``probe`` or ``action``), in registration order."""

    kind: str
    words: dict[str, Word] = field(default_factory=dict)

    def add(self, name: str, run: Callable[..., Any] | str, *, args: Mapping[str, Any] | None = None) -> None:
        """Register ``run`` (a function, or ``"package.module:function"``) under ``name``; ``args`` is a JSON
        Schema (draft 2020-12) for ``with``.

        The schema may use the lab schema's definitions, e.g. ``{"$ref": "#/$defs/app_alias"}``.
        Registering a name twice with another function is an error.
        """
        if not isinstance(name, str) or not name.isidentifier():
            raise ValueError(f"{self.kind} name {name!r}: expected a Python-identifier-like name")
        if isinstance(run, str) and ":" not in run:
            raise ValueError(f"{self.kind} '{name}': expected a function or 'package.module:function', got {run!r}")
        origin = run.partition(":")[0] if isinstance(run, str) else getattr(run, "__module__", None) or repr(run)
        known = self.words.get(name)
        if known is not None and known.target != run:
            raise ValueError(f"{self.kind} '{name}' is registered twice ({known.origin}, {origin})")
        self.words[name] = Word(name, run, args, origin)

    def __contains__(self, name: object) -> bool:
        return name in self.words

    def __getitem__(self, name: str) -> Word:
        return self.words[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self.words)

    def __len__(self) -> int:
        return len(self.words)

    def names(self) -> list[str]:
        return list(self.words)


@dataclass
class Vocabulary:
    """The probes and actions lab files may name."""

    probes: Registry = field(default_factory=lambda: Registry("probe"))
    actions: Registry = field(default_factory=lambda: Registry("action"))


def builtin_names(kind: str) -> list[str]:
    """The built-in probes (``kind="probe"``) or actions, in the order the lab schema documents them."""
    definition = "probe_check" if kind == "probe" else "action"
    return list(schema()["$defs"][definition]["properties"][kind]["examples"])


def lab_schema_args(definition: str) -> dict[str, Any]:
    """The arguments schema of a built-in, kept in the lab schema (``lab.schema.json``) under ``$defs``."""
    return {"$ref": f"#/$defs/{definition}"}
