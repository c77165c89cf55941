"""Async SQLAlchemy: one engine per service, one transaction per request.

SQLite (aiosqlite) is the embedded default; PostgreSQL (asyncpg) is used when the URL says so.

The statements a purchase runs are built once, at module level, with named parameters (`bindparam`), and executed
with their values: building a statement and computing its cache key on every call was about a third of
SQLAlchemy's share of a purchase's CPU (a SELECT by id 230 against 160 µs of client CPU on PostgreSQL), and a
prebuilt statement keeps its key. Writes that touch no loaded ORM object go to the Core tables, skipping the ORM's
per-statement synchronisation of the session (a status UPDATE ... RETURNING 500 against 180 µs).
"""

from __future__ import annotations

import time
import weakref
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Annotated, Any

from fastapi import Depends, Request
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import REGISTRY, Collector
from sqlalchemy import DateTime, MetaData, Table, event, func, select, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.pool import AsyncAdaptedQueuePool
from sqlalchemy.sql.dml import Insert

from ecommerce.chassis.dbtrace import instrument

# Stable constraint names, so migrations can name what they drop on both SQLite and PostgreSQL.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}
READ_METHODS = frozenset({"GET", "HEAD"})
# The execution option that marks SQLite read sessions (a plain BEGIN; see _configure_sqlite).
_READS = "ecommerce_reads_only"
# A pooled PostgreSQL connection idle this long is pinged before it is used again (see _ping_when_idle).
PING_AFTER_IDLE_SECONDS = 2.0


def new_metadata() -> MetaData:
    """A MetaData with the house naming convention; each service has its own."""
    return MetaData(naming_convention=NAMING_CONVENTION)


class Base(DeclarativeBase):
    """Declarative base; services subclass it with their own `metadata = new_metadata()`."""

    __abstract__ = True


class TimestampMixin:
    """`created_at` and `updated_at`, kept in UTC by the database and the ORM (never exposed on the wire)."""

    created_at: Mapped[datetime] = mapped_column(DateTime(), server_default=text("CURRENT_TIMESTAMP"), nullable=False)
    updated_at: Mapped[datetime | None] = mapped_column(DateTime(), onupdate=func.now(), nullable=True)


async def is_empty(session: AsyncSession, table: Table) -> bool:
    """True when `table` has no rows (seeding loads demo rows only into an empty database)."""
    return (await session.execute(select(func.count()).select_from(table))).scalar_one() == 0


async def sync_sequence(session: AsyncSession, table: Table, column: str) -> None:
    """After inserting explicit ids on PostgreSQL, move the id sequence past them (SQLite needs nothing)."""
    if session.get_bind().dialect.name != "postgresql":
        return
    sequence = f"pg_get_serial_sequence('{table.name}', '{column}')"
    await session.execute(text(f"SELECT setval({sequence}, COALESCE(MAX({column}), 1)) FROM {table.name}"))


class _CountingPool(AsyncAdaptedQueuePool):
    """The async queue pool, counting callers that wait for a connection (the `pending` gauge).

    SQLAlchemy exposes in-use and idle counts but not waiters; `_do_get` is where a checkout blocks.
    """

    waiting = 0

    def _do_get(self) -> Any:
        self.waiting += 1
        try:
            return super()._do_get()
        finally:
            self.waiting -= 1


class Database:
    """An engine and its session factory, plus what health and metrics need to know about it."""

    def __init__(
        self,
        url: str,
        *,
        application: str,
        pool_size: int = 10,
        max_overflow: int = 10,
        pool_timeout: float = 5.0,
    ) -> None:
        self.url = make_url(url)
        self.application = application
        self.is_sqlite = self.url.get_backend_name() == "sqlite"
        self.max_connections = pool_size + max_overflow
        if self.is_sqlite:
            self.engine: AsyncEngine = create_async_engine(
                url,
                poolclass=_CountingPool,
                pool_size=pool_size,
                max_overflow=max_overflow,
                pool_timeout=pool_timeout,
                connect_args={"timeout": 30},
            )
            _configure_sqlite(self.engine)
        else:
            self.engine = create_async_engine(
                url,
                poolclass=_CountingPool,
                pool_size=pool_size,
                max_overflow=max_overflow,
                pool_timeout=pool_timeout,
                pool_use_lifo=True,  # the busiest connections stay warm; the idle ones are those pinged
                pool_recycle=1800,
                connect_args={"server_settings": {"timezone": "UTC"}},
            )
            _ping_when_idle(self.engine)
        instrument(self.engine.sync_engine)  # a span per statement inside sampled requests
        self.sessionmaker = async_sessionmaker(self.engine, expire_on_commit=False)
        # Sessions of requests that only read (see get_session): on PostgreSQL each statement runs on its own,
        # without BEGIN and COMMIT round trips around it; SQLite keeps its transactions.
        if self.is_sqlite:
            self.reader = self.engine.execution_options(**{_READS: True})
        else:
            self.reader = self.engine.execution_options(isolation_level="AUTOCOMMIT")
        self.read_sessionmaker = async_sessionmaker(self.reader, expire_on_commit=False)
        _POOLS.add(self)

    async def ping(self) -> bool:
        """True when a trivial query succeeds."""
        try:
            async with self.reader.connect() as conn:
                await conn.execute(text("SELECT 1"))
            return True
        except Exception:
            return False

    def pool_stats(self) -> dict[str, int]:
        """Connections in use, idle, the maximum, and callers waiting (overflow beyond the pool)."""
        pool = self.engine.pool
        if not isinstance(pool, _CountingPool):
            return {"active": 0, "idle": 0, "max": self.max_connections, "pending": 0}
        return {
            "active": pool.checkedout(),
            "idle": pool.checkedin(),
            "max": self.max_connections,
            "pending": pool.waiting,
        }

    async def dispose(self) -> None:
        """Close every pooled connection."""
        await self.engine.dispose()
        _POOLS.discard(self)


def _ping_when_idle(engine: AsyncEngine) -> None:
    """Ping a pooled connection before use only when it sat idle for PING_AFTER_IDLE_SECONDS or more.

    SQLAlchemy's `pool_pre_ping` pings before every transaction: three round trips (BEGIN, `;`, ROLLBACK) ahead of
    each request's own, under load too (bench/results/checkout.md). A connection that served a moment ago is
    almost surely alive; one that waited may have outlived a database restart. A connection that dies while in
    use anyway (a restart under load) fails its statement as a disconnect, which makes SQLAlchemy drop the whole
    pool, so the requests after it connect afresh and the service recovers by itself: the same two outcomes as
    before (the request on the dead connection answered 503, the next ones served). The recipe is SQLAlchemy's
    "custom pessimistic ping" (a `checkout` event raising DisconnectionError: the pool retries with a new one).
    """

    @event.listens_for(engine.sync_engine, "checkin")
    def _on_checkin(_dbapi_connection: Any, record: Any) -> None:
        record.info["idle_since"] = time.monotonic()

    @event.listens_for(engine.sync_engine, "checkout")
    def _on_checkout(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        idle_since = record.info.get("idle_since")
        if idle_since is None or time.monotonic() - idle_since < PING_AFTER_IDLE_SECONDS:
            return
        try:
            alive = engine.dialect.do_ping(dbapi_connection)
        except Exception as exc:
            raise DisconnectionError(f"pooled connection failed its ping: {type(exc).__name__}") from exc
        if not alive:
            raise DisconnectionError("pooled connection failed its ping")


def _configure_sqlite(engine: AsyncEngine) -> None:
    """Foreign keys on, WAL for concurrent readers, a busy timeout, and transactions we begin ourselves.

    pysqlite's own implicit BEGIN handling is off (isolation_level=None) and SQLAlchemy emits BEGIN, the
    recipe from SQLAlchemy's SQLite dialect documentation, so SAVEPOINT and transaction scope behave.

    A transaction that may write begins IMMEDIATE (it takes the write lock first, waiting up to the busy timeout):
    a plain BEGIN that read before writing failed at once, "database is locked" without any wait, whenever another
    writer had committed in between (SQLite cannot move its snapshot forward; a product created while an event
    was being applied got a 503). Read sessions (`Database.reader`) keep the plain BEGIN, so reads never wait.
    """

    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(conn: Any) -> None:
        conn.exec_driver_sql("BEGIN" if conn.get_execution_options().get(_READS) else "BEGIN IMMEDIATE")


async def get_session(request: Request) -> AsyncIterator[AsyncSession]:
    """One session and transaction per request, committed before the response is sent.

    Used with `scope="function"` (see `DbSession`) so the commit happens before FastAPI sends the response: a
    failed commit becomes an error response instead of a success that was never stored. A GET or HEAD only reads,
    so on PostgreSQL its statements run without a transaction around them: a read of one row costs one round trip
    instead of three (BEGIN, the SELECT, COMMIT), and the shop's reads are one statement each or tolerate seeing
    a row committed between two of their statements.
    """
    database: Database = request.app.state.database
    factory = database.read_sessionmaker if request.method in READ_METHODS else database.sessionmaker
    async with factory() as session:
        try:
            yield session
            await session.commit()
        except BaseException:
            await session.rollback()
            raise


DbSession = Annotated[AsyncSession, Depends(get_session, scope="function")]


class _PoolCollector(Collector):
    """Exposes pool gauges for every live Database, named after Micrometer/Hikari's meaning."""

    def collect(self) -> Any:
        families = {
            key: GaugeMetricFamily(
                f"db_pool_connections_{key}", f"Database pool connections ({key})", labels=["application"]
            )
            for key in ("active", "idle", "max", "pending")
        }
        for database in list(_POOLS):
            for key, value in database.pool_stats().items():
                families[key].add_metric([database.application], value)
        yield from families.values()


_POOLS: weakref.WeakSet[Database] = weakref.WeakSet()
REGISTRY.register(_PoolCollector())


class InsertNew:
    """INSERT ... ON CONFLICT (`key`) DO NOTHING into `table`, built once for each dialect (each spells ON CONFLICT
    with its own insert()); `for_session` picks the one of the session's database."""

    def __init__(self, table: Table, key: str, *, returning: tuple[Any, ...] = (), **values: Any) -> None:
        self._by_dialect: dict[str, Insert] = {}
        for name, insert in (("postgresql", postgresql.insert), ("sqlite", sqlite.insert)):
            statement = insert(table).values(**values).on_conflict_do_nothing(index_elements=[key])
            self._by_dialect[name] = statement.returning(*returning) if returning else statement

    def for_session(self, session: AsyncSession) -> Insert:
        return self._by_dialect[session.get_bind().dialect.name]
