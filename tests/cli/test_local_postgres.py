"""`ecommerce up --postgres`: each service gets its own database and role, created once."""

from __future__ import annotations

import uuid

import asyncpg
from shop_testing import POSTGRES_ADMIN_DSN, require

from ecommerce.chassis import Database
from ecommerce.chassis.migrations import upgrade
from ecommerce.local.postgres import database_urls
from ecommerce.services.products import SPEC as PRODUCTS


async def test_databases_and_roles_are_created_once_and_usable() -> None:
    try:
        admin = await asyncpg.connect(POSTGRES_ADMIN_DSN, timeout=3)
    except OSError:
        admin = None
    require(admin is not None, "PostgreSQL is not reachable")
    assert admin is not None
    prefix = f"t{uuid.uuid4().hex[:8]}_"
    try:
        urls = await database_urls(POSTGRES_ADMIN_DSN, ["product-service", "user-service"], prefix)
        assert urls == await database_urls(POSTGRES_ADMIN_DSN, ["product-service", "user-service"], prefix)
        assert f"/{prefix}productdb" in urls["product-service"]
        owner = await admin.fetchval(
            "SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = $1", f"{prefix}productdb"
        )
        assert owner == f"{prefix}productdb_owner"
        database = Database(urls["product-service"], application="product-service")
        try:
            await upgrade(database, PRODUCTS.migrations)  # type: ignore[arg-type]
            assert await database.ping()
        finally:
            await database.dispose()
    finally:
        for name in ("productdb", "userdb"):
            await admin.execute(f'DROP DATABASE IF EXISTS "{prefix}{name}" WITH (FORCE)')
            await admin.execute(f'DROP ROLE IF EXISTS "{prefix}{name}_owner"')
        await admin.close()
