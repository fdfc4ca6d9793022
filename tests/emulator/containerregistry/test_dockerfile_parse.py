"""Dockerfile parsing, substitution and .dockerignore matching."""

from __future__ import annotations

import pytest

from pytest_acalab.emulator.containerregistry.dockerfile import (
    DockerfileError,
    expand,
    is_ignored,
    match_segments,
    parse,
    parse_dockerignore,
    parse_key_values,
    split_words,
)


def test_continuations_comments_and_directives() -> None:
    text = (
        "# syntax=docker/dockerfile:1\n"
        "# escape=\\\n"
        "\n"
        "# a comment\n"
        "from python:3.11-slim AS base\n"
        "RUN apt-get update && \\\n"
        "    # comment inside a continuation\n"
        "    apt-get install -y curl\n"
        "COPY --from=base --chmod=755 a b\n"
    )
    dockerfile = parse(text)
    assert dockerfile.directives == {"syntax": "docker/dockerfile:1", "escape": "\\"}
    keywords = [(ins.keyword, ins.line) for ins in dockerfile.instructions]
    assert keywords == [("FROM", 5), ("RUN", 6), ("COPY", 9)]
    run = dockerfile.instructions[1]
    assert run.args == "apt-get update && apt-get install -y curl"
    copy = dockerfile.instructions[2]
    assert copy.flags == {"from": "base", "chmod": "755"} and copy.args == "a b"


def test_backtick_escape_directive() -> None:
    dockerfile = parse("# escape=`\nFROM scratch\nRUN echo a `\n  b\n")
    assert dockerfile.escape == "`"
    assert dockerfile.instructions[1].args == "echo a b"


def test_unknown_instruction_names_the_line() -> None:
    with pytest.raises(DockerfileError) as excinfo:
        parse("FROM scratch\n\nCOPPY a b\n")
    assert str(excinfo.value) == "dockerfile parse error line 3: unknown instruction: COPPY"
    assert excinfo.value.line == 3


def test_exec_form_detection() -> None:
    cmd, shell = parse('FROM scratch\nCMD ["python", "app.py"]\nCMD python app.py\n').instructions[1:]
    assert cmd.json_args() == ["python", "app.py"]
    assert shell.json_args() is None


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("$A", "1"),
        ("${A}x", "1x"),
        ("${MISSING:-fallback}", "fallback"),
        ("${A:-fallback}", "1"),
        ("${A:+set}", "set"),
        ("${MISSING:+set}", ""),
        ("'$A'", "$A"),
        ('"$A b"', "1 b"),
        ("\\$A", "$A"),
        ("${EMPTY:-d}${EMPTY-e}", "d"),
    ],
)
def test_expand(text: str, expected: str) -> None:
    assert expand(text, {"A": "1", "EMPTY": ""}) == expected


def test_split_words_and_key_values() -> None:
    env = {"V": "2"}
    assert split_words('a "b c" $V', env) == ["a", "b c", "2"]
    assert parse_key_values('A=1 B="two words" C=$V', env, "\\", "ENV", 1) == [
        ("A", "1"),
        ("B", "two words"),
        ("C", "2"),
    ]
    assert parse_key_values("PATH /usr/bin:$V with spaces", env, "\\", "ENV", 1) == [("PATH", "/usr/bin:2 with spaces")]
    with pytest.raises(DockerfileError):
        parse_key_values("A=1 B", env, "\\", "ENV", 4)


def test_dockerignore() -> None:
    rules = parse_dockerignore("# comment\n*.md\n!README.md\n**/__pycache__\n.git\nsecrets/\n")
    assert is_ignored("notes.md", rules)
    assert not is_ignored("README.md", rules)
    assert not is_ignored("docs/notes.md", rules)  # '*' does not cross directories
    assert is_ignored("pkg/sub/__pycache__/x.pyc", rules)
    assert is_ignored(".git/config", rules)
    assert is_ignored("secrets/key", rules)
    assert not is_ignored("app.py", rules)


def test_copy_source_wildcards() -> None:
    assert match_segments("*.py", "app.py")
    assert not match_segments("*.py", "pkg/app.py")
    assert match_segments("pkg/*.py", "pkg/app.py")
    assert match_segments("requirements*.txt", "requirements-dev.txt")
    assert match_segments("file[0-9]", "file3") and not match_segments("file[!0-9]", "file3")
