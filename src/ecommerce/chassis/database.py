"""Async SQLAlchemy: one engine per service, one transaction per request.

SQLite (aiosqlite) is the embedded default; PostgreSQL (asyncpg) is used when the URL says so.
"""

from __future__ import annotations

import weakref
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Annotated, Any

from fastapi import Depends, Request
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import REGISTRY, Collector
from sqlalchemy import DateTime, MetaData, Table, event, func, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.pool import AsyncAdaptedQueuePool

from ecommerce.chassis.dbtrace import instrument

# Stable constraint names, so migrations can name what they drop on both SQLite and PostgreSQL.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


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
                pool_pre_ping=True,
                pool_recycle=1800,
                connect_args={"server_settings": {"timezone": "UTC"}},
            )
        instrument(self.engine.sync_engine)  # a span per statement inside sampled requests
        self.sessionmaker = async_sessionmaker(self.engine, expire_on_commit=False)
        _POOLS.add(self)

    async def ping(self) -> bool:
        """True when a trivial query succeeds."""
        try:
            async with self.engine.connect() as conn:
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


def _configure_sqlite(engine: AsyncEngine) -> None:
    """Foreign keys on, WAL for concurrent readers, a busy timeout, and transactions we begin ourselves.

    pysqlite's own implicit BEGIN handling is off (isolation_level=None) and SQLAlchemy emits BEGIN, the
    recipe from SQLAlchemy's SQLite dialect documentation, so SAVEPOINT and transaction scope behave.
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
        conn.exec_driver_sql("BEGIN")


async def get_session(request: Request) -> AsyncIterator[AsyncSession]:
    """One session and transaction per request, committed before the response is sent.

    Used with `scope="function"` (see `DbSession`) so the commit happens before FastAPI sends the response: a
    failed commit becomes an error response instead of a success that was never stored.
    """
    database: Database = request.app.state.database
    async with database.sessionmaker() as session:
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
