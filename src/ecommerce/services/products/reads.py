"""product-service's one read path: every catalog read is one statement on the database driver itself.

Why not the SQLAlchemy engine or a session: profiled (bench/results/product_raw.md), a by-id read through the chassis
session cost six round trips to PostgreSQL (the pool's pre-ping BEGIN, `;`, ROLLBACK; then BEGIN, the SELECT,
COMMIT) plus the ORM's execution path, and reached a fifth of a raw asyncpg endpoint; the driver path reaches more
than half of it. So the fastest honest path is the only one, on both databases: PostgreSQL reads on a small asyncpg
pool of this service's own, SQLite (the embedded default) on one read-only aiosqlite connection. A read is a single
statement, which sees one snapshot, so it needs no transaction around it.

The statements stay SQLAlchemy Core, written once in service.py, each a `Statement` compiled once for the
`Reader`'s dialect (a list read's values are bind parameters, so it compiles once per shape: see service.py).
`Reader` converts the columns the driver cannot (SQLite has no decimal type: money comes back as Decimal through
the column type's own result processor, as the ORM would give it).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from typing import Any

import aiosqlite
import asyncpg
from fastapi import FastAPI
from sqlalchemy import Select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Dialect

from ecommerce.chassis import Database, ServiceUnavailable, database_unavailable

POOL_SIZE = 4
ATTEMPTS = 3  # a restarted database can leave more than one pooled connection dead
_PG: Dialect = postgresql.asyncpg.dialect()  # type: ignore[no-untyped-call]
_SQLITE: Dialect = sqlite.aiosqlite.dialect()
Query = Select[*tuple[Any, ...]]

Processor = Callable[[Any], Any] | None


class _Compiled:
    """A statement's SQL for one dialect, the names of its positional parameters and its column converters."""

    __slots__ = ("sql", "names", "defaults", "processors")

    def __init__(self, statement: Query, dialect: Dialect) -> None:
        compiled = statement.compile(dialect=dialect, compile_kwargs={"render_postcompile": True})
        self.sql = compiled.string
        self.names: tuple[str, ...] = tuple(compiled.positiontup or ())
        self.defaults = compiled.params
        processors = [column.type.result_processor(dialect, None) for column in statement.selected_columns]
        self.processors: tuple[Processor, ...] | None = tuple(processors) if any(processors) else None

    def args(self, params: dict[str, Any]) -> list[Any]:
        return [params[name] if name in params else self.defaults[name] for name in self.names]

    def row(self, raw: Sequence[Any]) -> Sequence[Any]:
        if self.processors is None:
            return raw
        return tuple(value if p is None else p(value) for p, value in zip(self.processors, raw, strict=True))


class Statement:
    """A read of one fixed shape: compiled once per dialect, its values (bind parameters) given per call."""

    def __init__(self, select: Query) -> None:
        self.select = select
        self._compiled: dict[str, _Compiled] = {}

    def compiled(self, dialect: Dialect) -> _Compiled:
        found = self._compiled.get(dialect.name)
        if found is None:
            found = self._compiled[dialect.name] = _Compiled(self.select, dialect)
        return found


class Reader:
    """Runs one read statement on the driver: `one` for a row or None, `all` for the rows."""

    def __init__(self, *, pool: asyncpg.Pool | None = None, connection: aiosqlite.Connection | None = None) -> None:
        self._pool = pool
        self._connection = connection
        self._dialect: Dialect = _PG if pool is not None else _SQLITE

    async def one(self, statement: Statement, **params: Any) -> Sequence[Any] | None:
        """The first row of `statement` (with `params` for its bind parameters), or None."""
        compiled = statement.compiled(self._dialect)
        args = compiled.args(params)
        if self._pool is not None:
            row = await _retrying(self._pool.fetchrow, compiled.sql, args)
        else:
            assert self._connection is not None
            async with self._connection.execute(compiled.sql, args) as cursor:
                row = await cursor.fetchone()
        return None if row is None else compiled.row(row)

    async def all(self, statement: Statement, **params: Any) -> list[Sequence[Any]]:
        """Every row of `statement`."""
        compiled = statement.compiled(self._dialect)
        args = compiled.args(params)
        if self._pool is not None:
            rows = await _retrying(self._pool.fetch, compiled.sql, args)
        else:
            assert self._connection is not None
            async with self._connection.execute(compiled.sql, args) as cursor:
                rows = await cursor.fetchall()
        return [compiled.row(row) for row in rows]


@asynccontextmanager
async def read_path(app: FastAPI) -> AsyncIterator[None]:
    """Extension: open the catalog's `Reader` (app.state.catalog_reader) at start, close it at shutdown."""
    database: Database = app.state.database
    if database.is_sqlite:
        connection = await aiosqlite.connect(database.url.database or "", timeout=30)
        try:
            await connection.execute("PRAGMA busy_timeout=30000")
            await connection.execute("PRAGMA query_only=ON")
            app.state.catalog_reader = Reader(connection=connection)
            yield
        finally:
            app.state.catalog_reader = None
            await connection.close()
        return
    dsn = database.url.set(drivername="postgresql").render_as_string(hide_password=False)
    pool = asyncpg.create_pool(
        dsn, min_size=1, max_size=POOL_SIZE, server_settings={"timezone": "UTC"}, max_inactive_connection_lifetime=300
    )
    await pool
    app.state.catalog_reader = Reader(pool=pool)
    try:
        yield
    finally:
        app.state.catalog_reader = None
        await pool.close()


async def _retrying(fetch: Callable[..., Any], sql: str, args: list[Any]) -> Any:
    """A connection lost or refused (a database restarting) is retried on a fresh one, then 503."""
    for attempt in range(1, ATTEMPTS + 1):
        try:
            return await fetch(sql, *args)
        except Exception as exc:
            if not (isinstance(exc, OSError) or database_unavailable(exc)):
                raise
            if attempt == ATTEMPTS:
                raise ServiceUnavailable("The catalog database is unreachable") from exc
    return None  # pragma: no cover - the loop returns or raises
