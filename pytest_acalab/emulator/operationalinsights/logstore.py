"""The rows of one Log Analytics workspace, held in DuckDB.

Each table lives in its own DuckDB connection (one per workspace), in a storage table with one extra
column, the moment the row becomes visible to queries. Queries never read the storage tables: they
read one view per table, which filters on that moment and on the request's timespan through DuckDB
session variables. So a query costs no copy of the data, and ingesting is an append.

Time is the emulator's, never the wall clock: ``ingest`` is told when the rows become visible
(the emulated ingestion delay) and every query says what "now" is.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import threading
import uuid
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from .tables import TABLES, TableSchema

if TYPE_CHECKING:
    from duckdb import DuckDBPyConnection

__all__ = ["LogIngestionError", "WorkspaceLogs", "to_ns", "parse_datetime_ns"]

_STORE_SCHEMA = "la_store"
_VISIBLE = "__visible_at_ns"
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
#: Bounds of the timespan filter when the request has none.
_MIN_NS = -(2**63) + 1
_MAX_NS = 2**63 - 1

_DUCK_TYPES = {
    "string": "VARCHAR",
    "datetime": "TIMESTAMP_NS",
    "real": "DOUBLE",
    "long": "BIGINT",
    "int": "INTEGER",
    "bool": "BOOLEAN",
    "dynamic": "JSON",
    "guid": "UUID",
    "timespan": "INTERVAL",
}

_ISO = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?\s*(Z|[+-]\d{2}:?\d{2})?$",
    re.IGNORECASE,
)


class LogIngestionError(ValueError):
    """Rows refused by :meth:`WorkspaceLogs.ingest`; nothing of the batch was stored."""


def to_ns(moment: dt.datetime) -> int:
    """Nanoseconds since the Unix epoch, UTC. A naive datetime is taken as UTC."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    delta = moment - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000_000 + delta.microseconds * 1_000


def parse_datetime_ns(text: str) -> int:
    """Parse an ISO 8601 datetime as Log Analytics writes it (``2026-06-29T08:50:15.7662306Z``).

    Keeps up to nanoseconds, which ``datetime.fromisoformat`` cannot. No offset means UTC.
    """
    m = _ISO.match(text.strip())
    if not m:
        raise ValueError(f"not an ISO 8601 datetime: {text!r}")
    year, month, day, hour, minute, second = (int(g) for g in m.groups()[:6])
    fraction = (m.group(7) or "").ljust(9, "0")
    base = dt.datetime(year, month, day, hour, minute, second, tzinfo=dt.UTC)
    offset = m.group(8)
    if offset and offset.upper() != "Z":
        sign = 1 if offset[0] == "+" else -1
        digits = offset[1:].replace(":", "")
        base -= sign * dt.timedelta(hours=int(digits[:2]), minutes=int(digits[2:]))
    return to_ns(base) + int(fraction)


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _convert(value: Any, col_type: str) -> Any:
    """One value into what DuckDB's parameter binding takes for *col_type*; raises on a bad value."""
    if value is None:
        return None
    if col_type == "string":
        if not isinstance(value, str):
            raise TypeError(f"expected a string, got {type(value).__name__}")
        return value
    if col_type == "datetime":
        if isinstance(value, dt.datetime):
            return to_ns(value)
        if isinstance(value, str):
            return parse_datetime_ns(value)
        raise TypeError(f"expected a datetime or an ISO 8601 string, got {type(value).__name__}")
    if col_type == "real":
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise TypeError(f"expected a number, got {type(value).__name__}")
        return float(value)
    if col_type in ("long", "int"):
        if isinstance(value, bool) or not isinstance(value, int):
            raise TypeError(f"expected an integer, got {type(value).__name__}")
        limit = 2**31 if col_type == "int" else 2**63
        if not -limit <= value < limit:
            raise ValueError(f"{value} is out of range for {col_type}")
        return value
    if col_type == "bool":
        if not isinstance(value, bool):
            raise TypeError(f"expected a bool, got {type(value).__name__}")
        return value
    if col_type == "guid":
        if isinstance(value, uuid.UUID):
            return str(value)
        if isinstance(value, str):
            return str(uuid.UUID(value))
        raise TypeError(f"expected a GUID string, got {type(value).__name__}")
    if col_type == "timespan":
        if not isinstance(value, dt.timedelta):
            raise TypeError(f"expected a timedelta, got {type(value).__name__}")
        return value
    if col_type == "dynamic":
        return json.dumps(value)
    raise AssertionError(f"unknown column type {col_type}")  # pragma: no cover - schemas are checked


class WorkspaceLogs:
    """The log tables of one workspace.

    A table exists from its first ingested row on, as on Azure: ``tables()`` lists only those, and a
    query naming any other fails. Safe to use from several threads; calls are serialised.
    """

    def __init__(self, customer_id: str, schemas: Mapping[str, TableSchema] = TABLES) -> None:
        import duckdb  # imported here so that importing the emulator package stays cheap

        self.customer_id = customer_id
        self._schemas = dict(schemas)
        self._lock = threading.RLock()
        # One thread per workspace: the data is small, and a 2-core machine runs many workspaces.
        self._con: DuckDBPyConnection | None = duckdb.connect(":memory:", config={"threads": 1})
        self._con.execute("SET TimeZone='UTC'")
        self._con.execute(f"CREATE SCHEMA {_STORE_SCHEMA}")
        #: table -> earliest visible_at (ns) of its rows; a table is created by its first ingest.
        self._first_visible: dict[str, int] = {}
        self._rows: dict[str, int] = {}
        self._views: set[str] = set()
        for schema in self._schemas.values():
            if schema.builtin:  # tables every workspace has from its creation, empty until written
                self._create_table(self._con, schema)
                self._first_visible[schema.name] = _MIN_NS
                self._rows[schema.name] = 0

    # -- public ---------------------------------------------------------------------------------

    @property
    def schemas(self) -> Mapping[str, TableSchema]:
        """The tables this workspace accepts rows for, by name."""
        return dict(self._schemas)

    def ingest(self, table: str, rows: Sequence[Mapping[str, Any]], visible_at: dt.datetime) -> int:
        """Store *rows* in *table*, visible to queries whose ``now`` is at or after *visible_at*.

        Values are typed by the table's schema: strings, numbers, bools, ``datetime`` or ISO 8601
        strings for datetimes, GUID strings, ``timedelta`` for timespans, JSON-able values for
        dynamic. A missing column is null (the empty string for a string column: Kusto strings are
        never null), except ``TimeGenerated`` (defaults to *visible_at*, as
        Azure stamps ingestion time), ``TenantId`` (the workspace id), ``SourceSystem`` and ``Type``.
        All rows are checked before any is stored. Returns the number of rows stored.
        """
        schema = self._schemas.get(table)
        if schema is None:
            raise LogIngestionError(f"unknown table {table!r}: this workspace accepts {sorted(self._schemas)}")
        if not isinstance(visible_at, dt.datetime):
            raise LogIngestionError(f"visible_at must be a datetime, got {type(visible_at).__name__}")
        visible_ns = to_ns(visible_at)
        columns = self._columns(schema, rows, visible_ns)
        if not rows:
            return 0
        with self._lock:
            con = self._connection()
            if table not in self._first_visible:
                self._create_table(con, schema)
            placeholders = ", ".join(self._unnest(i, c.type) for i, c in enumerate(schema.columns, 1))
            n = len(schema.columns) + 1
            names = ", ".join([*(_quote(c.name) for c in schema.columns), _VISIBLE])
            con.execute(
                f"INSERT INTO {_STORE_SCHEMA}.{_quote('rows_' + table)} ({names}) "
                f"SELECT {placeholders}, UNNEST(${n})",
                [*columns, [visible_ns] * len(rows)],
            )
            self._first_visible[table] = min(self._first_visible.get(table, visible_ns), visible_ns)
            self._rows[table] = self._rows.get(table, 0) + len(rows)
        return len(rows)

    def extend_schema(self, schema: TableSchema) -> None:
        """Accept rows for *schema*: a new table, or more columns for a known one.

        Custom-log tables grow a column the first time a record carries a new field (the HTTP Data
        Collector API); existing columns keep their place and type, new ones are appended.
        """
        with self._lock:
            current = self._schemas.get(schema.name)
            if current is None:
                self._schemas[schema.name] = schema
                return
            for column in schema.columns:
                known = current.column(column.name)
                if known is not None and known.type != column.type:
                    raise LogIngestionError(
                        f"{schema.name}: column {column.name!r} is {known.type}, not {column.type}"
                    )
            added = [c for c in schema.columns if current.column(c.name) is None]
            if not added:
                return
            grown = TableSchema(current.name, current.columns + tuple(added), current.source_system,
                                current.type_is_table_name)
            if schema.name in self._first_visible:
                con = self._connection()
                table = f"{_STORE_SCHEMA}.{_quote('rows_' + schema.name)}"
                for column in added:
                    con.execute(f"ALTER TABLE {table} ADD COLUMN {_quote(column.name)} {_DUCK_TYPES[column.type]}")
                if schema.name in self._views:
                    con.execute(f"DROP VIEW main.{_quote(schema.name)}")
                    self._views.discard(schema.name)
            self._schemas[schema.name] = grown

    def tables(self, now: dt.datetime | None = None) -> list[str]:
        """Names of the tables that received a row (visible at *now*, if given). Built-in tables are
        queryable from the start but listed only once written to."""
        with self._lock:
            written = {t: first for t, first in self._first_visible.items() if self._rows.get(t)}
            if now is None:
                return sorted(written)
            now_ns = to_ns(now)
            return sorted(t for t, first in written.items() if first <= now_ns)

    def row_count(self, table: str) -> int:
        """Rows ever ingested into *table*, visible or not (0 for a table that does not exist)."""
        with self._lock:
            return self._rows.get(table, 0)

    def close(self) -> None:
        """Free the DuckDB database. The object is unusable afterwards."""
        with self._lock:
            if self._con is not None:
                self._con.close()
                self._con = None

    @contextmanager
    def snapshot(
        self,
        now: dt.datetime,
        start: dt.datetime | None = None,
        end: dt.datetime | None = None,
    ) -> Iterator[DuckDBPyConnection]:
        """A connection on which each existing table is a view of its rows visible at *now*,
        with ``TimeGenerated`` between *start* and *end* (inclusive, each optional).

        For :mod:`.query`. The workspace is locked until the block ends: run the query and fetch
        its rows inside it.
        """
        now_ns = to_ns(now)
        start_ns = _MIN_NS if start is None else to_ns(start)
        end_ns = _MAX_NS if end is None else to_ns(end)
        with self._lock:
            con = self._connection()
            for table, first in self._first_visible.items():
                exists = first <= now_ns
                if exists and table not in self._views:
                    self._create_view(con, self._schemas[table])
                elif not exists and table in self._views:
                    con.execute(f"DROP VIEW main.{_quote(table)}")
                    self._views.discard(table)
            con.execute(f"SET VARIABLE la_now = {now_ns}::BIGINT")
            con.execute(f"SET VARIABLE la_start = {start_ns}::BIGINT")
            con.execute(f"SET VARIABLE la_end = {end_ns}::BIGINT")
            yield con

    # -- internals ------------------------------------------------------------------------------

    def _connection(self) -> DuckDBPyConnection:
        if self._con is None:
            raise RuntimeError(f"workspace {self.customer_id} logs are closed")
        return self._con

    def _columns(self, schema: TableSchema, rows: Sequence[Mapping[str, Any]], visible_ns: int) -> list[list[Any]]:
        """Check and convert *rows* into one list per column, in schema order."""
        defaults: dict[str, Any] = {
            "TimeGenerated": visible_ns,
            "TenantId": self.customer_id,
            "SourceSystem": schema.source_system,
        }
        if schema.type_is_table_name:
            defaults["Type"] = schema.name
        columns: list[list[Any]] = [[] for _ in schema.columns]
        known = set(schema.column_names)
        for index, row in enumerate(rows):
            if not isinstance(row, Mapping):
                raise LogIngestionError(f"{schema.name}: row {index} is a {type(row).__name__}, not a dict")
            unknown = [name for name in row if name not in known]
            if unknown:
                raise LogIngestionError(
                    f"{schema.name}: row {index} has column(s) {unknown} that the table does not have; "
                    f"its columns are {list(schema.column_names)}"
                )
            if schema.type_is_table_name and row.get("Type") not in (None, schema.name):
                raise LogIngestionError(
                    f"{schema.name}: row {index}: Type is the table name, {schema.name!r}, not {row['Type']!r}"
                )
            for position, column in enumerate(schema.columns):
                value = row.get(column.name)
                if value is None:
                    # Kusto strings have no null: an absent string is the empty string (the captures
                    # show "ReplicaName_s": "" on revision-level events).
                    empty = "" if column.type == "string" else None
                    columns[position].append(defaults.get(column.name, empty))
                    continue
                try:
                    columns[position].append(_convert(value, column.type))
                except (TypeError, ValueError) as exc:
                    raise LogIngestionError(
                        f"{schema.name}: row {index}: column {column.name!r} ({column.type}): {exc}"
                    ) from None
        return columns

    @staticmethod
    def _unnest(index: int, col_type: str) -> str:
        if col_type == "datetime":
            return f"make_timestamp_ns(UNNEST(${index}::BIGINT[]))"
        return f"CAST(UNNEST(${index}) AS {_DUCK_TYPES[col_type]})"

    def _create_table(self, con: DuckDBPyConnection, schema: TableSchema) -> None:
        body = ", ".join(f"{_quote(c.name)} {_DUCK_TYPES[c.type]}" for c in schema.columns)
        con.execute(f"CREATE TABLE {_STORE_SCHEMA}.{_quote('rows_' + schema.name)} ({body}, {_VISIBLE} BIGINT)")

    def _create_view(self, con: DuckDBPyConnection, schema: TableSchema) -> None:
        select = ", ".join(_quote(c.name) for c in schema.columns)
        con.execute(
            f"CREATE VIEW main.{_quote(schema.name)} AS SELECT {select} "
            f"FROM {_STORE_SCHEMA}.{_quote('rows_' + schema.name)} "
            f"WHERE {_VISIBLE} <= getvariable('la_now') "
            f"AND epoch_ns(\"TimeGenerated\") BETWEEN getvariable('la_start') AND getvariable('la_end')"
        )
        self._views.add(schema.name)
