"""Every component's migrations go up, down and up again, on SQLite and on PostgreSQL."""

from __future__ import annotations

import pytest
from sqlalchemy import inspect

from ecommerce import components
from ecommerce.chassis import Database
from ecommerce.chassis.migrations import downgrade, is_up_to_date, upgrade

WITH_DATABASE = [name for name in components.names() if components.load_spec(name).migrations is not None]


async def _tables(database: Database) -> set[str]:
    async with database.engine.connect() as conn:
        return set(await conn.run_sync(lambda sync: inspect(sync).get_table_names()))


@pytest.mark.parametrize("name", WITH_DATABASE)
async def test_up_down_up(name: str, database_url: str) -> None:
    spec = components.load_spec(name)
    assert spec.migrations is not None
    database = Database(database_url, application=name)
    try:
        await downgrade(database, spec.migrations, "base")  # the module's database may hold an earlier run
        await upgrade(database, spec.migrations)
        assert await is_up_to_date(database, spec.migrations)
        created = await _tables(database) - {"alembic_version", "migration_lock"}
        assert created, f"{name} created no tables"
        await downgrade(database, spec.migrations, "base")
        assert not await is_up_to_date(database, spec.migrations)
        assert (await _tables(database)) & created == set()
        await upgrade(database, spec.migrations)
        assert await _tables(database) >= created
    finally:
        await downgrade(database, spec.migrations, "base")
        await database.dispose()
