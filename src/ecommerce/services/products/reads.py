"""The catalog's hottest read, product by id, straight on asyncpg when the database is PostgreSQL.

Profiled (bench/results/product_raw.md): through the chassis session a by-id read cost six round trips to
PostgreSQL (the pool's pre-ping is BEGIN, `;`, ROLLBACK; then BEGIN, the SELECT, COMMIT) plus the ORM's
execution path, and reached a fifth of a raw asyncpg endpoint. Here it is one prepared statement on a small
asyncpg pool of its own, opened at startup and closed at shutdown. SQLite keeps the SQLAlchemy path.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import asyncpg
from fastapi import FastAPI

from ecommerce.chassis import Database, ServiceUnavailable

POOL_SIZE = 4
ATTEMPTS = 3  # a restarted database can leave more than one pooled connection dead
# The same columns, in the same order, as service._PRODUCT_ROWS.
PRODUCT_BY_ID = (
    "SELECT products.product_id, products.product_title, products.image_url, products.sku, products.price_unit,"
    " products.quantity, categories.category_id, categories.category_title, categories.image_url,"
    " products.description"
    " FROM products JOIN categories ON categories.category_id = products.category_id"
    " WHERE products.product_id = $1"
)
_LOST = (asyncpg.InterfaceError, asyncpg.PostgresConnectionError, OSError)


@asynccontextmanager
async def read_pool(app: FastAPI) -> AsyncIterator[None]:
    """Extension: the asyncpg pool for hot reads, when the service's database is PostgreSQL."""
    database: Database | None = app.state.database
    app.state.read_pool = None
    if database is None or database.is_sqlite:
        yield
        return
    dsn = database.url.set(drivername="postgresql").render_as_string(hide_password=False)
    pool = asyncpg.create_pool(
        dsn, min_size=1, max_size=POOL_SIZE, server_settings={"timezone": "UTC"}, max_inactive_connection_lifetime=300
    )
    await pool
    app.state.read_pool = pool
    try:
        yield
    finally:
        app.state.read_pool = None
        await pool.close()


async def fetch_row(pool: asyncpg.Pool, sql: str, *args: Any) -> Any:
    """One row; a connection lost to a database restart is retried on a fresh one, then 503."""
    for attempt in range(1, ATTEMPTS + 1):
        try:
            return await pool.fetchrow(sql, *args)
        except _LOST as exc:
            if attempt == ATTEMPTS:
                raise ServiceUnavailable("The catalog database is unreachable") from exc
    return None  # pragma: no cover - the loop returns or raises
