"""Ids are never handed out twice: a deleted cart's, order's or category's id does not come back, after a restart
either, and the rows that referred to others keep them (SQLite and the real PostgreSQL)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from shop_testing import postgres_database
from stub_peer import stub_peer

from ecommerce.services.orders import SPEC as ORDERS
from ecommerce.services.products import SPEC as PRODUCTS


@pytest_asyncio.fixture(params=["sqlite", "postgres"])
async def own_database(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'ids.db'}"
        return
    async with postgres_database() as url:
        yield url


async def test_cart_and_order_ids_never_come_back(own_database: str, make_client: Callable[..., Any]) -> None:
    with stub_peer() as users:
        users.answers[("GET", "/user-service/api/users/1")] = (200, {"userId": 1})
        settings = {"database_url": own_database, "seed_demo_data": True, "peers": {"user-service": users.url}}
        async with make_client(ORDERS, **settings) as client:
            lines_before = (await client.get("/order-service/api/orders/1")).json()
            cart = (await client.post("/order-service/api/carts", json={"userId": 1})).json()["cartId"]
            order = (await client.post("/order-service/api/orders", json={"cart": {"cartId": cart}})).json()["orderId"]
            assert (await client.delete(f"/order-service/api/orders/{order}")).status_code == 200
            assert (await client.delete(f"/order-service/api/carts/{cart}")).status_code == 200
        async with make_client(ORDERS, **settings) as restarted:
            again = (await restarted.post("/order-service/api/carts", json={"userId": 1})).json()["cartId"]
            assert again > cart
            placed = await restarted.post("/order-service/api/orders", json={"cart": {"cartId": again}})
            assert placed.json()["orderId"] > order
            assert (await restarted.get("/order-service/api/orders/1")).json() == lines_before  # history kept


async def test_category_ids_never_come_back(own_database: str, make_client: Callable[..., Any]) -> None:
    settings = {"database_url": own_database, "seed_demo_data": True}
    async with make_client(PRODUCTS, **settings) as client:
        products_before = (await client.get("/product-service/api/products", params={"size": 1000})).json()
        made = await client.post("/product-service/api/categories", json={"categoryTitle": "Lamps"})
        assert made.status_code == 201, made.text
        category = made.json()["categoryId"]
        assert (await client.delete(f"/product-service/api/categories/{category}")).status_code == 200
    async with make_client(PRODUCTS, **settings) as restarted:
        again = await restarted.post("/product-service/api/categories", json={"categoryTitle": "Clocks"})
        assert again.json()["categoryId"] > category
        products_after = (await restarted.get("/product-service/api/products", params={"size": 1000})).json()
        assert products_after == products_before  # the rebuild kept every product and its category


async def test_the_rebuild_keeps_every_row_that_refers_to_the_rebuilt_tables(tmp_path: Path) -> None:
    """On SQLite an existing shop is upgraded in place: rebuilding carts and orders (referred to by orders, order
    lines and checkout keys, with RESTRICT and CASCADE) loses no row and leaves every reference whole."""
    from ecommerce.chassis import Database
    from ecommerce.chassis.migrations import upgrade

    database = Database(f"sqlite+aiosqlite:///{tmp_path / 'old.db'}", application="order-service")
    assert ORDERS.migrations is not None
    try:
        await upgrade(database, ORDERS.migrations, "0002_events")
        async with database.engine.begin() as conn:
            await conn.exec_driver_sql("INSERT INTO carts (cart_id, user_id) VALUES (1, 1), (2, 2)")
            await conn.exec_driver_sql(
                "INSERT INTO orders (order_id, cart_id, order_fee, order_status, stock_release_pending) "
                "VALUES (1, 1, 5, 'CREATED', 0), (2, 2, 7, 'PAID', 0)"
            )
            await conn.exec_driver_sql(
                "INSERT INTO order_lines (order_id, product_id, quantity, unit_price) VALUES (1, 1, 1, 5), (2, 1, 1, 7)"
            )
            await conn.exec_driver_sql(
                "INSERT INTO checkout_keys (idempotency_key, request_hash, order_id, completed) VALUES ('k', 'h', 2, 1)"
            )
        await upgrade(database, ORDERS.migrations)
        async with database.engine.connect() as conn:
            counts = [
                (await conn.exec_driver_sql(f"SELECT count(*) FROM {table}")).scalar_one()
                for table in ("carts", "orders", "order_lines", "checkout_keys")
            ]
            assert counts == [2, 2, 2, 1]
            for table in ("carts", "orders"):
                sql = (
                    await conn.exec_driver_sql(
                        f"SELECT sql FROM sqlite_master WHERE type = 'table' AND name = '{table}'"
                    )
                ).scalar_one()
                assert "AUTOINCREMENT" in sql.upper(), sql
            assert (await conn.exec_driver_sql("PRAGMA foreign_keys")).scalar_one() == 1
    finally:
        await database.dispose()
