"""The catalog's read path on a PostgreSQL that restarts: a lost or refused connection is tried again on a fresh
one, then answered 503 (the restart test met a 500 here twice: "the database system is shutting down", and a
connection cut mid-statement answering "cannot switch to state 12")."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import asyncpg
import pytest
from sqlalchemy import select

from ecommerce.chassis import ServiceUnavailable
from ecommerce.services.products.models import Product
from ecommerce.services.products.reads import ATTEMPTS, Reader, Statement

BY_ID = Statement(select(Product.product_id, Product.product_title).where(Product.product_id == 1))
RESTARTING = [
    asyncpg.CannotConnectNowError("the database system is shutting down"),
    asyncpg.CannotConnectNowError("the database system is starting up"),
    asyncpg.AdminShutdownError("terminating connection due to administrator command"),
    asyncpg.CrashShutdownError("terminating connection because of crash of another server process"),
    asyncpg.ConnectionDoesNotExistError("connection was closed in the middle of operation"),
    ConnectionRefusedError(111, "Connection refused"),
    asyncpg.InternalClientError("cannot switch to state 12; another operation (2) is in progress"),
]


class FlakyPool:
    """Stands in for asyncpg's pool: the first `failures` calls raise `error`, the next answer one row."""

    def __init__(self, error: Exception, failures: int) -> None:
        self.error = error
        self.failures = failures
        self.calls = 0

    async def fetchrow(self, sql: str, *args: Any) -> Sequence[Any]:
        self.calls += 1
        if self.calls <= self.failures:
            raise self.error
        return (1, "Widget")

    async def fetch(self, sql: str, *args: Any) -> list[Sequence[Any]]:
        return [await self.fetchrow(sql, *args)]


@pytest.mark.parametrize("error", RESTARTING, ids=lambda e: type(e).__name__)
async def test_a_connection_lost_to_a_restart_is_tried_again(error: Exception) -> None:
    pool = FlakyPool(error, failures=ATTEMPTS - 1)
    reader = Reader(pool=pool)  # type: ignore[arg-type]
    assert await reader.one(BY_ID) == (1, "Widget")
    assert await reader.all(BY_ID) == [(1, "Widget")]


@pytest.mark.parametrize("error", RESTARTING, ids=lambda e: type(e).__name__)
async def test_a_database_still_down_is_503(error: Exception) -> None:
    pool = FlakyPool(error, failures=ATTEMPTS)
    with pytest.raises(ServiceUnavailable):
        await Reader(pool=pool).one(BY_ID)  # type: ignore[arg-type]
    assert pool.calls == ATTEMPTS


async def test_a_query_error_is_not_retried() -> None:
    pool = FlakyPool(asyncpg.UndefinedTableError('relation "products" does not exist'), failures=1)
    with pytest.raises(asyncpg.UndefinedTableError):
        await Reader(pool=pool).one(BY_ID)  # type: ignore[arg-type]
    assert pool.calls == 1
