"""Dockerfile parsing, variable substitution and ``.dockerignore`` matching (no execution).

Follows the classic docker builder's rules: parser directives at the top (``# escape=`` and
``# syntax=``), ``\\`` (or the escape character) line continuations, comment lines (also inside a
continued instruction), instruction keywords case-insensitive, exec form (JSON array) vs shell form.
Errors use docker's wording: ``dockerfile parse error line N: unknown instruction: FOO``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

KNOWN_INSTRUCTIONS = frozenset(
    {
        "ADD", "ARG", "CMD", "COPY", "ENTRYPOINT", "ENV", "EXPOSE", "FROM", "HEALTHCHECK", "LABEL",
        "MAINTAINER", "ONBUILD", "RUN", "SHELL", "STOPSIGNAL", "USER", "VOLUME", "WORKDIR",
    }
)  # fmt: skip

_DIRECTIVE_RE = re.compile(r"^#\s*([a-zA-Z][a-zA-Z0-9]*)\s*=\s*(.+?)\s*$")
_FLAG_RE = re.compile(r"^--([a-zA-Z][a-zA-Z0-9-]*)(?:=(.*))?$")


class DockerfileError(ValueError):
    """A Dockerfile that cannot be parsed or interpreted; ``str()`` is docker's message."""

    def __init__(self, message: str, line: int | None = None) -> None:
        super().__init__(message)
        self.line = line


@dataclass(frozen=True)
class Instruction:
    """One logical instruction (continuations joined)."""

    keyword: str  # upper case, e.g. "COPY"
    args: str  # everything after the keyword and the leading flags, continuations joined
    line: int  # 1-based line of the keyword
    original: str  # the instruction as written (continuations joined), for logs and history
    flags: dict[str, str] = field(default_factory=dict)  # e.g. {"from": "build", "chown": "1000"}

    def json_args(self) -> list[str] | None:
        """The exec-form arguments when ``args`` is a JSON array of strings, else None."""
        text = self.args.strip()
        if not text.startswith("["):
            return None
        try:
            value = json.loads(text)
        except ValueError:
            return None
        if isinstance(value, list) and all(isinstance(item, str) for item in value):
            return value
        return None


@dataclass(frozen=True)
class Dockerfile:
    directives: dict[str, str]
    instructions: tuple[Instruction, ...]
    escape: str = "\\"


def parse(text: str) -> Dockerfile:
    """Parse Dockerfile text into instructions; raises :class:`DockerfileError`."""
    lines = text.splitlines()
    directives: dict[str, str] = {}
    index = 0
    # Parser directives: only at the very top, before any comment, blank line or instruction.
    while index < len(lines):
        match = _DIRECTIVE_RE.match(lines[index].strip())
        if not match or match.group(1).lower() in directives:
            break
        directives[match.group(1).lower()] = match.group(2)
        index += 1
    escape = directives.get("escape", "\\")
    if escape not in ("\\", "`"):
        raise DockerfileError(f"invalid ESCAPE '{escape}'. Must be ` or \\", 1)

    instructions: list[Instruction] = []
    pending: list[str] = []
    start_line = 0
    while index < len(lines):
        raw = lines[index]
        index += 1
        stripped = raw.strip()
        if not pending:
            if not stripped or stripped.startswith("#"):
                continue
            start_line = index
        elif not stripped or stripped.startswith("#"):
            continue  # comments and empty lines inside a continued instruction are dropped
        body = raw.rstrip()
        if body.endswith(escape):
            pending.append(body[: -len(escape)])
            continue
        pending.append(body)
        instructions.append(_instruction(" ".join(part.strip() for part in pending), start_line))
        pending = []
    if pending:
        instructions.append(_instruction(" ".join(part.strip() for part in pending), start_line))
    return Dockerfile(directives=directives, instructions=tuple(instructions), escape=escape)


def _instruction(text: str, line: int) -> Instruction:
    keyword, _, rest = text.partition(" ")
    upper = keyword.upper()
    if upper not in KNOWN_INSTRUCTIONS:
        raise DockerfileError(f"dockerfile parse error line {line}: unknown instruction: {upper}", line)
    rest = rest.strip()
    flags: dict[str, str] = {}
    if upper in ("ADD", "COPY", "FROM", "RUN", "HEALTHCHECK"):
        while rest.startswith("--"):
            token, _, remainder = rest.partition(" ")
            match = _FLAG_RE.match(token)
            if not match:
                break
            flags[match.group(1).lower()] = match.group(2) if match.group(2) is not None else "true"
            rest = remainder.strip()
    if not rest and upper not in ("RUN", "CMD", "ENTRYPOINT", "SHELL"):
        raise DockerfileError(f"dockerfile parse error line {line}: {upper} requires at least one argument", line)
    return Instruction(
        keyword=upper, args=rest, line=line, original=f"{upper} {text[len(keyword) :].strip()}", flags=flags
    )


# --- word processing (quotes, escapes, $VAR substitution) --------------------------------------


def expand(text: str, env: Mapping[str, str], escape: str = "\\") -> str:
    """Substitute variables and remove quotes, without splitting into words."""
    return "".join(_process(text, env, escape, split=False))


def split_words(text: str, env: Mapping[str, str], escape: str = "\\") -> list[str]:
    """Split on unquoted whitespace after substitution (how COPY/EXPOSE/ENV k=v read their args)."""
    return _process(text, env, escape, split=True)


def _process(text: str, env: Mapping[str, str], escape: str, *, split: bool) -> list[str]:
    words: list[str] = []
    current: list[str] = []
    in_word = False
    i = 0
    n = len(text)
    while i < n:
        ch = text[i]
        if split and ch.isspace():
            if in_word:
                words.append("".join(current))
                current, in_word = [], False
            i += 1
            continue
        in_word = True
        if ch == escape:
            if i + 1 < n:
                current.append(text[i + 1])
                i += 2
            else:
                current.append(ch)
                i += 1
        elif ch == "'":
            end = text.find("'", i + 1)
            if end < 0:
                raise DockerfileError(
                    f"unexpected end of statement while looking for matching single-quote in {text!r}"
                )
            current.append(text[i + 1 : end])
            i = end + 1
        elif ch == '"':
            i += 1
            while i < n and text[i] != '"':
                if text[i] == escape and i + 1 < n and text[i + 1] in ('"', "$", escape):
                    current.append(text[i + 1])
                    i += 2
                elif text[i] == "$":
                    value, i = _variable(text, i, env, escape)
                    current.append(value)
                else:
                    current.append(text[i])
                    i += 1
            if i >= n:
                raise DockerfileError(
                    f"unexpected end of statement while looking for matching double-quote in {text!r}"
                )
            i += 1
        elif ch == "$":
            value, i = _variable(text, i, env, escape)
            current.append(value)
        else:
            current.append(ch)
            i += 1
    if in_word or not split:
        words.append("".join(current))
    return words


_NAME_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def _variable(text: str, i: int, env: Mapping[str, str], escape: str) -> tuple[str, int]:
    """Expand the ``$...`` starting at ``text[i]``; returns (value, index after it)."""
    if i + 1 < len(text) and text[i + 1] == "{":
        end = _matching_brace(text, i + 2)
        if end < 0:
            raise DockerfileError(f"missing '}}' in {text!r}")
        inner = text[i + 2 : end]
        match = _NAME_RE.match(inner)
        if not match:
            raise DockerfileError(f"bad substitution {text[i : end + 1]!r}")
        name, op = match.group(0), inner[match.end() :]
        value = env.get(name)
        if op == "":
            return value or "", end + 1
        for modifier in (":-", ":+", "-", "+"):
            if op.startswith(modifier):
                word = expand(op[len(modifier) :], env, escape)
                if modifier == ":-":
                    return (value if value else word), end + 1
                if modifier == ":+":
                    return (word if value else ""), end + 1
                if modifier == "-":
                    return (value if value is not None else word), end + 1
                return (word if value is not None else ""), end + 1
        raise DockerfileError(f"unsupported modifier ({op[:2]!r}) in substitution {text[i : end + 1]!r}")
    match = _NAME_RE.match(text, i + 1)
    if not match:
        return "$", i + 1
    return env.get(match.group(0), ""), match.end()


def _matching_brace(text: str, start: int) -> int:
    depth = 1
    for j in range(start, len(text)):
        if text[j] == "{":
            depth += 1
        elif text[j] == "}":
            depth -= 1
            if depth == 0:
                return j
    return -1


def parse_key_values(args: str, env: Mapping[str, str], escape: str, keyword: str, line: int) -> list[tuple[str, str]]:
    """ENV/LABEL arguments: ``k=v k2="v 2"`` or the legacy ``k value with spaces`` form."""
    first = args.split(None, 1)[0]
    if "=" not in first:
        if keyword == "LABEL":
            raise DockerfileError(f"dockerfile parse error line {line}: LABEL must have two arguments", line)
        rest = args[len(first) :].strip()
        if not rest:
            raise DockerfileError(f"dockerfile parse error line {line}: {keyword} must have two arguments", line)
        return [(expand(first, env, escape), expand(rest, env, escape))]
    pairs = []
    for word in split_words(args, env, escape):
        key, sep, value = word.partition("=")
        if not sep or not key:
            raise DockerfileError(
                f"dockerfile parse error line {line}: {keyword} names can not be blank"
                if not key
                else f'dockerfile parse error line {line}: Syntax error - can\'t find = in "{word}". '
                "Must be of the form: name=value",
                line,
            )
        pairs.append((key, value))
    return pairs


def command_form(instruction: Instruction, shell: Sequence[str] = ("/bin/sh", "-c")) -> list[str]:
    """CMD/ENTRYPOINT/RUN argv: the JSON array, or ``shell + [text]`` for the shell form."""
    exec_form = instruction.json_args()
    if exec_form is not None:
        return exec_form
    return [*shell, instruction.args]


# --- .dockerignore -----------------------------------------------------------------------------


@dataclass(frozen=True)
class IgnoreRule:
    pattern: str
    exclude: bool  # False for a ``!`` exception
    regex: re.Pattern[str]


def parse_dockerignore(text: str) -> list[IgnoreRule]:
    """Rules of a ``.dockerignore`` (comments, blank lines, ``!`` exceptions, ``**``)."""
    rules = []
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        exclude = True
        if line.startswith("!"):
            exclude, line = False, line[1:].strip()
        pattern = _clean(line)
        if not pattern:
            continue
        rules.append(IgnoreRule(pattern, exclude, re.compile(_glob_regex(pattern))))
    return rules


def _clean(pattern: str) -> str:
    parts: list[str] = []
    for part in pattern.replace("\\", "/").split("/"):
        if part in ("", "."):
            continue
        if part == "..":
            if parts:
                parts.pop()
            continue
        parts.append(part)
    return "/".join(parts)


def _glob_regex(pattern: str, double_star: bool = True) -> str:
    """Anchored regex for a glob; ``**`` spans directories only when ``double_star``."""
    out = []
    i = 0
    while i < len(pattern):
        ch = pattern[i]
        if double_star and pattern.startswith("**", i):
            i += 2
            if pattern.startswith("/", i):
                out.append("(?:.*/)?")
                i += 1
            else:
                out.append(".*")
            continue
        if ch == "*":
            out.append("[^/]*")
        elif ch == "?":
            out.append("[^/]")
        elif ch == "[" and pattern.find("]", i + 2) > 0:
            end = pattern.find("]", i + 2)
            body = pattern[i + 1 : end]
            if body[0] in "^!":
                body = "^" + body[1:]
            out.append("[" + body.replace("\\", "\\\\") + "]")
            i = end
        else:
            out.append(re.escape(ch))
        i += 1
    return "^" + "".join(out) + "$"


def is_ignored(path: str, rules: Sequence[IgnoreRule]) -> bool:
    """True when ``path`` (context-relative) is excluded; the last matching rule wins.

    A rule matching a parent directory matches everything below it, as docker's matcher does.
    """
    candidates = [path]
    parts = path.split("/")
    candidates.extend("/".join(parts[:i]) for i in range(1, len(parts)))
    ignored = False
    for rule in rules:
        if any(rule.regex.match(candidate) for candidate in candidates):
            ignored = rule.exclude
    return ignored


def match_segments(pattern: str, path: str) -> bool:
    """Go ``filepath.Match`` semantics (``*`` does not cross ``/``) for COPY source wildcards."""
    return re.match(_glob_regex(pattern, double_star=False), path) is not None


def has_glob(value: str) -> bool:
    return any(ch in value for ch in "*?[")
