"""One transaction per request, committed before the response: a failed commit is never reported as success."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Callable
from pathlib import Path
from typing import Any

from fastapi import APIRouter
from sqlalchemy import func, select, text

from ecommerce.chassis import Database, DbSession
from ecommerce.chassis.settings import sqlite_url
from ecommerce.services.products import SPEC
from ecommerce.services.products.models import Product

probe = APIRouter(prefix="/probe")


@probe.post("/duplicate-sku", status_code=201)
async def add_duplicate_without_flush(session: DbSession) -> dict[str, str]:
    # The unique violation only surfaces at commit time, after the handler has returned.
    session.add(Product(category_id=1, product_title="dup", sku="dfqejklejrkn", price_unit=0, quantity=1))
    return {"status": "created"}


@probe.post("/two-rows-then-fail", status_code=201)
async def add_then_fail(session: DbSession) -> None:
    session.add(Product(category_id=1, product_title="half", sku="half-written", price_unit=0, quantity=1))
    await session.flush()
    raise RuntimeError("boom after a write")


async def test_commit_failure_is_not_a_success(database_url: str, make_client: Callable[..., Any]) -> None:
    spec = dataclasses.replace(SPEC, routers=(*SPEC.routers, probe))
    async with make_client(spec, database_url=database_url, seed_demo_data=True) as client:
        response = await client.post("/product-service/probe/duplicate-sku")
        assert response.status_code == 409
        assert response.json()["httpStatus"] == "CONFLICT"


async def test_an_error_rolls_back_the_whole_request(database_url: str, make_client: Callable[..., Any]) -> None:
    spec = dataclasses.replace(SPEC, routers=(*SPEC.routers, probe))
    async with make_client(spec, database_url=database_url, seed_demo_data=True) as client:
        response = await client.post("/product-service/probe/two-rows-then-fail")
        assert response.status_code == 500
        assert response.json()["msg"] == "Internal server error"
        assert "boom" not in response.text  # never a stack trace or an internal message
        async with client.app.state.database.sessionmaker() as session:  # type: ignore[attr-defined]
            count = await session.scalar(select(func.count()).where(Product.sku == "half-written"))
        assert count == 0


async def test_a_write_transaction_that_read_first_waits_for_another_writer_on_sqlite(tmp_path: Path) -> None:
    """SQLite: a transaction reads, another commits a write, then the first writes. With a plain BEGIN the first
    failed at once ("database is locked": its snapshot cannot move forward), a 503 for a product created while an
    event was being applied; a write transaction now takes the write lock first and the other waits its turn."""
    database = Database(sqlite_url(tmp_path, "probe"), application="probe")
    try:
        async with database.engine.begin() as connection:
            await connection.execute(text("CREATE TABLE t (id INTEGER PRIMARY KEY, n INTEGER)"))

        async def another_writer() -> None:
            async with database.sessionmaker() as other, other.begin():
                await other.execute(text("INSERT INTO t (n) VALUES (2)"))

        async with database.sessionmaker() as session, session.begin():
            await session.execute(text("SELECT count(*) FROM t"))
            writer = asyncio.create_task(another_writer())
            await asyncio.sleep(0.3)  # the other's commit would land here with a plain BEGIN
            await session.execute(text("INSERT INTO t (n) VALUES (1)"))
        await writer
        async with database.read_sessionmaker() as reader:
            assert (await reader.execute(text("SELECT n FROM t ORDER BY id"))).scalars().all() == [1, 2]
    finally:
        await database.engine.dispose()
