"""Alembic, run programmatically: each service keeps its own history in its `migrations/` folder.

A service's `migrations/env.py` is two lines: import its metadata and call `run_env(metadata)`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from alembic import command, context
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import MetaData, Table, text
from sqlalchemy.engine import Connection

from ecommerce.chassis.database import Database


def run_env(target_metadata: MetaData) -> None:
    """Body of every service's env.py: migrate on the connection handed over by `upgrade`/`downgrade`."""
    connection: Connection | None = context.config.attributes.get("connection")
    if connection is None:
        context.configure(url=context.config.get_main_option("sqlalchemy.url"), target_metadata=target_metadata)
        with context.begin_transaction():
            context.run_migrations()
        return
    context.configure(connection=connection, target_metadata=target_metadata, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()


def _config(script_location: Path, connection: Connection | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(script_location))
    config.attributes["connection"] = connection
    return config


async def upgrade(database: Database, script_location: Path, revision: str = "head") -> None:
    """Apply migrations up to `revision`, serialised across processes that share the database.

    On SQLite the foreign keys are off while the migrations run, and checked before they commit: a table is
    rebuilt (batch mode: create the new one, copy, drop the old, rename) and dropping a table that others refer to
    would otherwise fire their ON DELETE actions (cascades emptying the children, RESTRICT refusing the drop).
    SQLite ignores the pragma inside a transaction, so it is set on the connection before it begins (SQLite's own
    procedure for changing a table's definition)."""
    async with database.engine.connect() as conn:
        if database.is_sqlite:
            await conn.run_sync(_sqlite_foreign_keys, False)
        try:
            async with conn.begin():
                await _lock(conn, database)
                await conn.run_sync(lambda sync: command.upgrade(_config(script_location, sync), revision))
                if database.is_sqlite:
                    broken = (await conn.exec_driver_sql("PRAGMA foreign_key_check")).all()
                    if broken:
                        raise RuntimeError(f"migrations left rows whose references are gone: {broken[:5]}")
        finally:
            if database.is_sqlite:
                await conn.run_sync(_sqlite_foreign_keys, True)


def _sqlite_foreign_keys(sync: Connection, enabled: bool) -> None:
    """Switch SQLite's foreign keys on the connection's DBAPI connection, outside any transaction."""
    cursor = sync.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
    try:
        cursor.execute(f"PRAGMA foreign_keys={'ON' if enabled else 'OFF'}")
    finally:
        cursor.close()


async def downgrade(database: Database, script_location: Path, revision: str = "base") -> None:
    """Undo migrations down to `revision`."""
    async with database.engine.begin() as conn:
        await _lock(conn, database)
        await conn.run_sync(lambda sync: command.downgrade(_config(script_location, sync), revision))


async def is_up_to_date(database: Database, script_location: Path) -> bool:
    """True when the database is at the newest revision of the service's history."""
    heads = set(ScriptDirectory.from_config(_config(script_location)).get_heads())
    async with database.engine.connect() as conn:
        current = await conn.run_sync(lambda sync: set(MigrationContext.configure(sync).get_current_heads()))
    return current == heads


async def _lock(conn: Any, database: Database) -> None:
    # Two instances of one service may start together against one database; only one migrates at a time.
    if database.is_sqlite:
        await conn.exec_driver_sql("CREATE TABLE IF NOT EXISTS migration_lock (id INTEGER)")
        await conn.exec_driver_sql("DELETE FROM migration_lock")  # a write takes SQLite's write lock
    else:
        await conn.execute(text("SELECT pg_advisory_xact_lock(hashtext(:name))"), {"name": database.application})


def never_reuse_ids(op: Any, *tables: str) -> None:
    """In a migration: make SQLite number these tables' rows with AUTOINCREMENT, so a deleted row's id never
    comes back (plain INTEGER PRIMARY KEY hands out max+1 again). PostgreSQL's sequences never go back already.

    SQLite only knows AUTOINCREMENT from CREATE TABLE, so the table is rebuilt (rows, ids and constraints kept);
    `upgrade` runs with the foreign keys off, so tables others refer to may be rebuilt too (their children keep
    their rows and references), and checks every reference before it commits.
    """
    if op.get_bind().dialect.name != "sqlite":
        return
    for table in tables:
        with op.batch_alter_table(table, recreate="always", table_kwargs={"sqlite_autoincrement": True}):
            pass


def create_event_tables(op: Any, *tables: Table) -> None:
    """In a migration: create the outbox and inbox tables (chassis.outbox gives their shape)."""
    for table in tables:
        table.create(op.get_bind())
