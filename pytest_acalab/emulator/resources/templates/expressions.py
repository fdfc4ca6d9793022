"""Parser for ARM template language expressions (``"[concat('a', parameters('b')).x[0]]"``)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from .errors import ExpressionError


@dataclass(frozen=True)
class Literal:
    value: str | int


@dataclass(frozen=True)
class Call:
    name: str
    args: tuple[Node, ...]


@dataclass(frozen=True)
class Member:
    target: Node
    name: str


@dataclass(frozen=True)
class Index:
    target: Node
    index: Node


Node = Literal | Call | Member | Index


def is_expression(text: str) -> bool:
    """True when a JSON string is a template expression (``[...]`` but not the ``[[`` escape)."""
    return len(text) >= 2 and text[0] == "[" and text[-1] == "]" and not text.startswith("[[")


def unescape_literal(text: str) -> str:
    """``"[[abc]"`` is the literal ``"[abc]"``."""
    if text.startswith("[[") and text.endswith("]"):
        return text[1:]
    return text


@dataclass(frozen=True)
class _Token:
    kind: str  # str, int, ident, punct, end
    value: str | int
    pos: int


def _describe(tok: _Token) -> str:
    return {"str": "String", "int": "Integer", "ident": "Identifier", "end": "EndOfData"}.get(
        tok.kind, str(tok.value)
    )


MAX_EXPRESSION_LENGTH = 24_576
"""ARM's limit on the characters of one template expression
(https://learn.microsoft.com/azure/azure-resource-manager/troubleshooting/error-job-size-exceeded)."""
MAX_NESTING = 100
"""How deeply calls, members and indexes may nest in one expression here: deeper ones are refused with a
template error rather than exhausting the interpreter's stack (well within ARM's length limit in practice)."""


class _Parser:
    def __init__(self, source: str) -> None:
        self.source = source
        self.tokens = list(self._tokenize())
        self.pos = 0
        self.depth = 0

    def fail(self, reason: str) -> Exception:
        return ExpressionError(f"Unable to parse language expression '{self.source}': {reason}")

    def _tokenize(self) -> Iterator[_Token]:
        text, i, n = self.source, 0, len(self.source)
        while i < n:
            ch = text[i]
            if ch.isspace():
                i += 1
            elif ch == "'":
                start, i, buf = i, i + 1, []
                while True:
                    if i >= n:
                        raise self.fail(f"the string literal starting at position '{start}' is not closed.")
                    if text[i] == "'":
                        if i + 1 < n and text[i + 1] == "'":
                            buf.append("'")
                            i += 2
                            continue
                        i += 1
                        break
                    buf.append(text[i])
                    i += 1
                yield _Token("str", "".join(buf), start)
            elif ch.isdigit() or (ch == "-" and i + 1 < n and text[i + 1].isdigit()):
                start = i
                i += 1
                while i < n and text[i].isdigit():
                    i += 1
                if i < n and text[i] == "." and i + 1 < n and text[i + 1].isdigit():
                    raise self.fail(f"the numeric literal at position '{start}' is not an integer.")
                yield _Token("int", int(text[start:i]), start)
            elif ch.isalpha() or ch in "_$":
                start = i
                while i < n and (text[i].isalnum() or text[i] in "_$."):
                    i += 1
                yield _Token("ident", text[start:i], start)
            elif ch in "(),.[]":
                yield _Token("punct", ch, i)
                i += 1
            else:
                raise self.fail(f"the character '{ch}' at position '{i}' is not expected.")
        yield _Token("end", "", n)

    def peek(self) -> _Token:
        return self.tokens[self.pos]

    def take(self) -> _Token:
        tok = self.tokens[self.pos]
        self.pos += 1
        return tok

    def expect(self, punct: str) -> None:
        tok = self.take()
        if tok.kind != "punct" or tok.value != punct:
            raise self.fail(f"expected token '{punct}' and actual '{_describe(tok)}' at position '{tok.pos}'.")

    def parse_root(self) -> Node:
        node = self.parse_expr()
        tok = self.peek()
        if tok.kind != "end":
            raise self.fail(f"expected token 'EndOfData' and actual '{_describe(tok)}' at position '{tok.pos}'.")
        return node

    def parse_expr(self) -> Node:
        self.depth += 1
        try:
            if self.depth > MAX_NESTING:
                raise self.fail(f"the expression nests more than {MAX_NESTING} levels deep at position "
                                f"'{self.peek().pos}'.")
            return self._parse_expr()
        finally:
            self.depth -= 1

    def _parse_expr(self) -> Node:
        tok = self.take()
        node: Node
        if tok.kind in ("str", "int"):
            node = Literal(tok.value)
        elif tok.kind == "ident":
            name = str(tok.value)
            nxt = self.peek()
            if nxt.kind != "punct" or nxt.value != "(":
                raise self.fail(
                    f"expected token '(' and actual '{_describe(nxt)}' at position '{nxt.pos}'"
                    f" after the identifier '{name}'."
                )
            self.take()
            args: list[Node] = []
            if not (self.peek().kind == "punct" and self.peek().value == ")"):
                while True:
                    args.append(self.parse_expr())
                    sep = self.take()
                    if sep.kind == "punct" and sep.value == ")":
                        break
                    if sep.kind != "punct" or sep.value != ",":
                        raise self.fail(
                            f"expected token ',' or ')' and actual '{_describe(sep)}' at position '{sep.pos}'."
                        )
            else:
                self.take()
            node = Call(name, tuple(args))
        else:
            raise self.fail(f"the token '{_describe(tok)}' at position '{tok.pos}' is not expected.")
        while True:
            nxt = self.peek()
            if nxt.kind == "punct" and nxt.value == ".":
                self.take()
                prop = self.take()
                parts = str(prop.value).split(".") if prop.kind == "ident" else [""]
                if not all(parts):
                    raise self.fail(
                        f"expected a property name and actual '{_describe(prop)}' at position '{prop.pos}'."
                    )
                for part in parts:  # the tokenizer reads "a.b" as one identifier
                    node = Member(node, part)
            elif nxt.kind == "punct" and nxt.value == "[":
                self.take()
                index = self.parse_expr()
                self.expect("]")
                node = Index(node, index)
            else:
                return node


def parse(text: str) -> Node:
    """Parse a full expression string (including the surrounding brackets)."""
    if not is_expression(text):
        raise ExpressionError(f"The string '{text}' is not a template language expression.")
    body = text[1:-1]
    if len(text) > MAX_EXPRESSION_LENGTH:
        raise ExpressionError(f"The template language expression '{text[:80]}...' is {len(text)} characters long; "
                              f"an expression may have at most {MAX_EXPRESSION_LENGTH} characters.")
    if not body.strip():
        raise ExpressionError(f"Unable to parse language expression '{body}': the expression is empty.")
    return _Parser(body).parse_root()


def iter_calls(node: Node) -> Iterator[Call]:
    """Every function call in an expression tree, outermost first."""
    if isinstance(node, Call):
        yield node
        for arg in node.args:
            yield from iter_calls(arg)
    elif isinstance(node, Member):
        yield from iter_calls(node.target)
    elif isinstance(node, Index):
        yield from iter_calls(node.target)
        yield from iter_calls(node.index)
