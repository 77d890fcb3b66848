"""Time arithmetic (and one planner hint) in SQL that reads the same on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Float, Integer
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.functions import FunctionElement

from models.columns import UTCDateTime


class epoch(FunctionElement[float]):  # noqa: N801  (used like a SQL function)
    """Seconds since 1970 of a stored UTC time."""

    type = Float()
    inherit_cache = True


@compiles(epoch)
def _epoch_default(element: epoch, compiler: SQLCompiler, **kw: Any) -> str:
    return f"EXTRACT(EPOCH FROM {compiler.process(element.clauses, **kw)})"


@compiles(epoch, "postgresql")
def _epoch_postgresql(element: epoch, compiler: SQLCompiler, **kw: Any) -> str:
    # date_part returns double precision as is; EXTRACT computes a numeric (slower).
    return f"date_part('epoch', {compiler.process(element.clauses, **kw)})"


@compiles(epoch, "sqlite")
def _epoch_sqlite(element: epoch, compiler: SQLCompiler, **kw: Any) -> str:
    # Stored as 'YYYY-MM-DD HH:MM:SS.ffffff' (UTC): julianday reads it.
    return f"((julianday({compiler.process(element.clauses, **kw)}) - 2440587.5) * 86400.0)"


class floor_int(FunctionElement[int]):  # noqa: N801
    """The whole number at or below a value (CAST rounds on PostgreSQL, truncates on
    SQLite)."""

    type = Integer()
    inherit_cache = True


@compiles(floor_int)
def _floor_default(element: floor_int, compiler: SQLCompiler, **kw: Any) -> str:
    return f"CAST(FLOOR({compiler.process(element.clauses, **kw)}) AS INTEGER)"


@compiles(floor_int, "sqlite")
def _floor_sqlite(element: floor_int, compiler: SQLCompiler, **kw: Any) -> str:
    value = compiler.process(element.clauses, **kw)
    # SQLite has no FLOOR before 3.35's math functions (not always compiled in).
    return f"(CAST({value} AS INTEGER) - (CAST({value} AS INTEGER) > {value}))"


class unindexed(FunctionElement[datetime]):  # noqa: N801
    """A time column SQLite must not look up through an index (`+column`), so that it
    reads an index that gives the order wanted instead: it cannot tell how much of a time
    range a period covers, and would sort all it found through the time's index.
    PostgreSQL keeps statistics on the range and chooses well: the column as is."""

    type = UTCDateTime()
    inherit_cache = True


@compiles(unindexed)
def _unindexed_default(element: unindexed, compiler: SQLCompiler, **kw: Any) -> str:
    return compiler.process(element.clauses, **kw)


@compiles(unindexed, "sqlite")
def _unindexed_sqlite(element: unindexed, compiler: SQLCompiler, **kw: Any) -> str:
    return f"+{compiler.process(element.clauses, **kw)}"
