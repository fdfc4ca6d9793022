"""Log Analytics query evaluation: KQL in, the query API's response body out.

The KQL is run by a real engine, duckdb-kql (KQL translated to DuckDB SQL), over the views
:class:`~.logstore.WorkspaceLogs` keeps; nothing here interprets the query by matching text. What
this module adds is what the service adds around its engine:

* the ``timespan`` of the request (ISO 8601), applied to ``TimeGenerated`` relative to ``now``;
* the response shape ``{"tables": [{"name": "PrimaryResult", "columns": [...], "rows": [...]}]}``
  with Log Analytics' column types and value encodings (datetimes as ``2026-06-29T08:50:15.7662306Z``);
* errors in the service's shape, raised as :class:`LogQueryError` with the HTTP status and body.

Error bodies (400, all ``BadArgumentError`` "The request had some invalid properties"), as users
pasted them from the real API (grafana/grafana#35224, MicrosoftDocs/feedback#1792,
Azure/azure-quickstart-templates#5174, Cj-Scott/Get-AppRegistrationExpiration#4, Azure docs
"Log Analytics API errors"):

* syntax: innererror ``SyntaxError`` "A recognition error occurred in the query." → ``SYN0002``
  "Query could not be parsed at '<token>' on line [l,p]" with ``line``, ``pos``, ``token``;
* unresolved table: ``SemanticError`` "A semantic error occurred." → ``SEM0100``
  "'where' operator: Failed to resolve table or column expression named 'X'";
* unresolved column: the same with "Failed to resolve scalar expression named 'X'".

Not from a capture, shaped like the above: an empty query (``SYN0002`` at ``<EOF>``), a malformed
timespan (``InvalidTimespan``), KQL the local engine cannot run (``EMULATOR_UNSUPPORTED``, naming
the construct; Azure would run it) and any other engine refusal (``EMULATOR_ENGINE_ERROR``, DuckDB's
message). A DuckDB internal error is not the query's fault and propagates as is.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import re
import uuid
from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from .logstore import parse_datetime_ns

if TYPE_CHECKING:
    from .logstore import WorkspaceLogs
    from .tables import TableSchema

__all__ = ["LogQueryError", "run_query", "parse_timespan", "format_datetime", "format_timespan"]

_BAD_ARGUMENT = "The request had some invalid properties"


class LogQueryError(Exception):
    """A query the service refuses: ``status`` is the HTTP status, ``body`` the JSON response body."""

    def __init__(self, status: int, body: dict[str, Any]) -> None:
        self.status = status
        self.body = body
        super().__init__(f"{status} {self.code}: {self.message}")

    @property
    def code(self) -> str:
        return str(self.body.get("error", {}).get("code", ""))

    @property
    def message(self) -> str:
        """The innermost message, the one ``LogsQueryClient`` reports."""
        error = self.body.get("error", {})
        while isinstance(error.get("innererror"), dict):
            error = error["innererror"]
        return str(error.get("message", ""))


def _error(inner_code: str, inner_message: str, detail: dict[str, Any] | None = None) -> LogQueryError:
    inner: dict[str, Any] = {"code": inner_code, "message": inner_message}
    if detail is not None:
        inner["innererror"] = detail
    body = {
        "error": {
            "message": _BAD_ARGUMENT,
            "code": "BadArgumentError",
            "correlationId": str(uuid.uuid4()),
            "innererror": inner,
        }
    }
    return LogQueryError(400, body)


def _syntax_error(token: str, line: int, pos: int) -> LogQueryError:
    return _error(
        "SyntaxError",
        "A recognition error occurred in the query.",
        {
            "code": "SYN0002",
            "message": f"Query could not be parsed at '{token}' on line [{line},{pos}]",
            "line": line,
            "pos": pos,
            "token": token,
        },
    )


def _semantic_error(message: str, code: str = "SEM0100") -> LogQueryError:
    return _error("SemanticError", "A semantic error occurred.", {"code": code, "message": message})


def _unresolved(kind: str, name: str, operator: str | None) -> LogQueryError:
    what = "table or column expression" if kind == "table" else "scalar expression"
    prefix = f"'{operator}' operator: " if operator else ""
    return _semantic_error(f"{prefix}Failed to resolve {what} named '{name}'")


# -- timespan ----------------------------------------------------------------------------------

_DURATION = re.compile(
    r"^(?P<sign>-)?P(?:(?P<w>\d+(?:\.\d+)?)W)?(?:(?P<d>\d+(?:\.\d+)?)D)?"
    r"(?:T(?:(?P<h>\d+(?:\.\d+)?)H)?(?:(?P<m>\d+(?:\.\d+)?)M)?(?:(?P<s>\d+(?:\.\d+)?)S)?)?$",
    re.IGNORECASE,
)


def _duration(text: str) -> dt.timedelta | None:
    text = text.strip()
    m = _DURATION.match(text)
    if not m:
        return None
    parts = {k: float(v) for k, v in m.groupdict().items() if k != "sign" and v is not None}
    if not parts or ("T" in text.upper() and not parts.keys() & {"h", "m", "s"}):
        return None
    delta = dt.timedelta(
        weeks=parts.get("w", 0),
        days=parts.get("d", 0),
        hours=parts.get("h", 0),
        minutes=parts.get("m", 0),
        seconds=parts.get("s", 0),
    )
    return -delta if m.group("sign") else delta


def _moment(text: str) -> dt.datetime | None:
    try:
        ns = parse_datetime_ns(text)
    except ValueError:
        return None
    return dt.datetime(1970, 1, 1, tzinfo=dt.UTC) + dt.timedelta(microseconds=ns // 1000)


def parse_timespan(timespan: str, now: dt.datetime) -> tuple[dt.datetime, dt.datetime]:
    """The ``[start, end]`` window an ISO 8601 ``timespan`` denotes at *now*.

    ``PT1H`` / ``P1D`` / ``PT3600.0S`` (what azure-monitor-query sends for a timedelta): the
    duration up to *now*; ``start/end``; ``start/duration``; ``duration/end``.
    Raises :class:`LogQueryError` (400) for anything else.
    """
    if now.tzinfo is None:
        now = now.replace(tzinfo=dt.UTC)
    text = timespan.strip()
    window: tuple[dt.datetime, dt.datetime] | None = None
    if "/" in text:
        left, _, right = text.partition("/")
        start, end = _moment(left), _moment(right)
        if start is not None and end is not None:
            window = (start, end)
        elif start is not None and (length := _duration(right)) is not None:
            window = (start, start + length)
        elif end is not None and (length := _duration(left)) is not None:
            window = (end - length, end)
    elif (length := _duration(text)) is not None:
        window = (now - length, now)
    if window is None or window[0] > window[1]:
        raise _error(
            "InvalidTimespan",
            f"The timespan '{timespan}' is not a valid ISO 8601 time interval "
            "(expected e.g. PT1H, P1D, <start>/<end> or <start>/<duration>).",
        )
    return window


# -- value encoding ----------------------------------------------------------------------------


def format_datetime(ns: int) -> str:
    """A datetime as Log Analytics writes it: 100 ns ticks, trailing zeros of the fraction dropped."""
    seconds, rest = divmod(ns, 1_000_000_000)
    moment = dt.datetime(1970, 1, 1) + dt.timedelta(seconds=seconds)
    fraction = f"{rest // 100:07d}".rstrip("0")
    return moment.strftime("%Y-%m-%dT%H:%M:%S") + (f".{fraction}" if fraction else "") + "Z"


def format_timespan(value: dt.timedelta) -> str:
    """A timespan as Kusto writes it, ``[-][d.]hh:mm:ss[.fffffff]``."""
    ticks = (value.days * 86_400 + value.seconds) * 10_000_000 + value.microseconds * 10
    sign = "-" if ticks < 0 else ""
    ticks = abs(ticks)
    seconds, fraction = divmod(ticks, 10_000_000)
    days, seconds = divmod(seconds, 86_400)
    hours, seconds = divmod(seconds, 3_600)
    minutes, seconds = divmod(seconds, 60)
    text = f"{sign}{f'{days}.' if days else ''}{hours:02d}:{minutes:02d}:{seconds:02d}"
    return text + (f".{fraction:07d}" if fraction else "")


_INT_TYPES = {"TINYINT", "SMALLINT", "INTEGER", "UTINYINT", "USMALLINT"}
_LONG_TYPES = {"BIGINT", "UINTEGER", "UBIGINT", "HUGEINT", "UHUGEINT"}


def _la_type(duck_type: str) -> str:
    t = duck_type.upper()
    if t == "VARCHAR":
        return "string"
    if t == "JSON" or t.endswith("]") or t.startswith(("STRUCT", "MAP", "UNION")):
        return "dynamic"
    if t == "BOOLEAN":
        return "bool"
    if t in _INT_TYPES:
        return "int"
    if t in _LONG_TYPES:
        return "long"
    if t in ("DOUBLE", "FLOAT") or t.startswith("DECIMAL"):
        return "real"
    if t.startswith("TIMESTAMP") or t == "DATE":
        return "datetime"
    if t == "INTERVAL":
        return "timespan"
    if t == "UUID":
        return "guid"
    return "string"


def _encode(value: Any, la_type: str) -> Any:
    if value is None:
        return None
    if la_type == "datetime":
        return format_datetime(value)  # fetched as epoch nanoseconds
    if la_type == "timespan":
        return format_timespan(value)
    if la_type == "real":
        number = float(value)
        if math.isnan(number):
            return "NaN"
        if math.isinf(number):
            return "Infinity" if number > 0 else "-Infinity"
        return number
    if la_type in ("int", "long"):
        return int(value)
    if la_type == "bool":
        return bool(value)
    if la_type == "dynamic":
        return value if isinstance(value, str) else json.dumps(value, default=_json_default)
    if la_type == "guid":
        return str(value)
    return value if isinstance(value, str) else str(value)


def _json_default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, dt.timedelta):
        return format_timespan(value)
    return str(value)


# -- query text: tokens, operators, identifier case ----------------------------------------------


def _tokens(query: str) -> list[Any]:
    """The query's tokens on the default channel (no comments, no whitespace)."""
    from antlr4 import InputStream
    from duckdb_kql._antlr.KqlLexer import KqlLexer

    lexer = KqlLexer(InputStream(query))
    lexer.removeErrorListeners()
    return [t for t in lexer.getAllTokens() if t.channel == 0]


def _kinds() -> dict[str, Any]:
    from duckdb_kql._antlr.KqlLexer import KqlLexer

    return {
        "bar": KqlLexer.BAR,
        "semi": KqlLexer.SEMICOLON,
        "eq": KqlLexer.EQUAL,
        "dot": KqlLexer.DOT,
        "ident": KqlLexer.IDENTIFIER,
        "open": KqlLexer.OPENPAREN,
        "opens": frozenset({KqlLexer.OPENPAREN, KqlLexer.OPENBRACKET, KqlLexer.OPENBRACE}),
        "closes": frozenset({KqlLexer.CLOSEPAREN, KqlLexer.CLOSEBRACKET, KqlLexer.CLOSEBRACE}),
    }


def _enclosing_operator(tokens: Sequence[Any], index: int) -> str | None:
    """The tabular operator (``where``, ``project``...) whose clause holds token *index*."""
    k = _kinds()
    stack: list[str | None] = [None]
    for i, token in enumerate(tokens[:index]):
        if token.type in k["opens"]:
            stack.append(None)
        elif token.type in k["closes"] and len(stack) > 1:
            stack.pop()
        elif token.type == k["bar"] and i + 1 < len(tokens):
            stack[-1] = tokens[i + 1].text.lower()
        elif token.type == k["semi"]:
            stack[-1] = None
    for operator in reversed(stack):
        if operator:
            return operator
    return None


def _following_operator(tokens: Sequence[Any], index: int) -> str | None:
    """The operator a table reference at *index* feeds (Kusto names it in the error)."""
    k = _kinds()
    depth = 0
    for i in range(index + 1, len(tokens)):
        token = tokens[i]
        if token.type in k["opens"]:
            depth += 1
        elif token.type in k["closes"]:
            depth -= 1
            if depth < 0:
                break
        elif depth == 0 and token.type == k["semi"]:
            break
        elif depth == 0 and token.type == k["bar"]:
            return tokens[i + 1].text.lower() if i + 1 < len(tokens) else None
    return _enclosing_operator(tokens, index)


def _find_identifier(tokens: Sequence[Any], name: str) -> int | None:
    ident = _kinds()["ident"]
    for exact in (True, False):
        for i, token in enumerate(tokens):
            if token.type == ident and (token.text == name if exact else token.text.lower() == name.lower()):
                return i
    return None


def _check_identifier_case(tokens: Sequence[Any], schemas: Mapping[str, TableSchema]) -> None:
    """Refuse a table or column name written in the wrong case.

    KQL names are case-sensitive, DuckDB's are not: without this, ``where reason_s == 'x'`` would
    run here and fail on Azure.
    """
    k = _kinds()
    tables = {name.lower(): name for name in schemas}
    columns = {c.name.lower(): c.name for s in schemas.values() for c in s.columns}
    exact = set(tables.values()) | set(columns.values())
    defined = {t.text for i, t in enumerate(tokens[:-1]) if t.type == k["ident"] and tokens[i + 1].type == k["eq"]}
    for i, token in enumerate(tokens):
        if token.type != k["ident"] or token.text in exact or token.text in defined:
            continue
        if i + 1 < len(tokens) and (tokens[i + 1].type == k["open"] or tokens[i + 1].text == ":"):
            continue  # a function call, or a name declared with its type (datatable, let parameters)
        if i > 0 and tokens[i - 1].type == k["dot"]:
            continue  # a property of a dynamic value
        lowered = token.text.lower()
        if lowered in tables:
            raise _unresolved("table", token.text, _following_operator(tokens, i))
        if lowered in columns:
            raise _unresolved("column", token.text, _enclosing_operator(tokens, i))


# -- the query -------------------------------------------------------------------------------------

_MISSING_TABLE = re.compile(r"Table with name (.+?) does not exist")
_MISSING_COLUMN = re.compile(
    r'Referenced column "(.+?)" not found|Column "(.+?)" referenced that exists in the SELECT clause'
)


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def run_query(logs: WorkspaceLogs, query: str | None, timespan: str | None, now: dt.datetime) -> dict[str, Any]:
    """Run *query* against *logs* as the Log Analytics query API would at *now*.

    Returns the response body. Raises :class:`LogQueryError` for a query the service refuses.
    """
    import duckdb
    from duckdb_kql import KqlError, KqlSyntaxError, KqlUnsupportedError

    if now.tzinfo is None:
        now = now.replace(tzinfo=dt.UTC)
    if not isinstance(query, str) or not (tokens := _tokens(query)):
        raise _syntax_error("<EOF>", 1, 0)
    if tokens[0].text.startswith("."):
        # Control commands (.show, .set-or-replace...) are not queries; the query API does not run them.
        raise _syntax_error(tokens[0].text, tokens[0].line, tokens[0].column)
    start, end = parse_timespan(timespan, now) if timespan else (None, None)
    _check_identifier_case(tokens, logs.schemas)

    with logs.snapshot(now, start, end) as con:
        try:
            relation = _engine_query(con, query, now)
            names = list(relation.columns)
            la_types = [_la_type(str(t)) for t in relation.types]
            fetch = [
                f"epoch_ns(CAST({_quote(n)} AS TIMESTAMP_NS))" if t == "datetime" else _quote(n)
                for n, t in zip(names, la_types, strict=True)
            ]
            raw_rows = relation.project(", ".join(fetch)).fetchall()
        except KqlSyntaxError as exc:
            raise _from_syntax_error(exc, tokens) from None
        except KqlUnsupportedError as exc:
            raise _semantic_error(
                f"The emulator's KQL engine (duckdb-kql) cannot run {exc.construct!r}"
                + (f" at line {exc.span.line}, position {exc.span.column}" if exc.span else "")
                + (f" ({exc.hint})" if exc.hint else "")
                + ". Azure would run it; rewrite the query with supported operators.",
                code="EMULATOR_UNSUPPORTED",
            ) from None
        except KqlError as exc:
            raise _semantic_error(str(exc), code="EMULATOR_ENGINE_ERROR") from None
        except duckdb.CatalogException as exc:
            missing = _MISSING_TABLE.search(str(exc))
            if missing is None:
                raise _semantic_error(_first_line(exc), code="EMULATOR_ENGINE_ERROR") from None
            name = missing.group(1).strip('"')
            index = _find_identifier(tokens, name)
            operator = _following_operator(tokens, index) if index is not None else None
            raise _unresolved("table", name, operator) from None
        except duckdb.BinderException as exc:
            missing = _MISSING_COLUMN.search(str(exc))
            if missing is None:
                raise _semantic_error(_first_line(exc), code="EMULATOR_ENGINE_ERROR") from None
            name = missing.group(1) or missing.group(2)
            index = _find_identifier(tokens, name)
            operator = _enclosing_operator(tokens, index) if index is not None else None
            raise _unresolved("column", name, operator) from None
        except duckdb.InternalException:
            raise
        except duckdb.Error as exc:
            raise _semantic_error(_first_line(exc), code="EMULATOR_ENGINE_ERROR") from None

    rows = [[_encode(v, t) for v, t in zip(row, la_types, strict=True)] for row in raw_rows]
    return {
        "tables": [
            {
                "name": "PrimaryResult",
                "columns": [{"name": n, "type": t} for n, t in zip(names, la_types, strict=True)],
                "rows": rows,
            }
        ]
    }


def _engine_query(con: Any, query: str, now: dt.datetime) -> Any:
    """The engine call: *query* on *con* with ``now()``/``ago()`` pinned to *now*, writes refused."""
    import duckdb_kql

    return duckdb_kql.kql(con, query, query_now=now, allow_write=False)


def _first_line(exc: BaseException) -> str:
    return str(exc).splitlines()[0] if str(exc) else type(exc).__name__


def _from_syntax_error(exc: Any, tokens: Sequence[Any]) -> LogQueryError:
    if not exc.diagnostics:
        return _syntax_error("<EOF>", 1, 0)
    span = exc.diagnostics[0].span
    token = next((t.text for t in tokens if t.line == span.line and t.column == span.column), None)
    return _syntax_error(token or "<EOF>", span.line, span.column)
