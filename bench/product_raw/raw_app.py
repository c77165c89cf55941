"""The yardstick: the product-by-id query on raw asyncpg behind a bare Starlette route, no chassis at all.

Same SQL, same data, same JSON body as product-service's GET /product-service/api/products/{productId}.
Run with `uvicorn --factory bench.product_raw.raw_app:build`; BENCH_DATABASE_URL names the database.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from decimal import ROUND_HALF_UP, Decimal

import asyncpg
import orjson
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

QUERY = """
SELECT p.product_id, p.product_title, p.image_url, p.sku, p.price_unit, p.quantity,
       c.category_id, c.category_title, c.image_url AS category_image_url
FROM products p JOIN categories c ON c.category_id = p.category_id
WHERE p.product_id = $1
"""
CENTS = Decimal("0.01")


async def product(request: Request) -> Response:
    product_id = int(request.path_params["product_id"])
    async with request.app.state.pool.acquire() as conn:
        row = await conn.fetchrow(QUERY, product_id)
    if row is None:
        return Response(b'{"msg":"not found"}', status_code=404, media_type="application/json")
    body = {
        "productId": row["product_id"],
        "productTitle": row["product_title"],
        "imageUrl": row["image_url"],
        "sku": row["sku"],
        "priceUnit": float(row["price_unit"].quantize(CENTS, rounding=ROUND_HALF_UP)),
        "quantity": row["quantity"],
        "category": {
            "categoryId": row["category_id"],
            "categoryTitle": row["category_title"],
            "imageUrl": row["category_image_url"],
        },
    }
    return Response(orjson.dumps(body), media_type="application/json")


def build() -> Starlette:
    url = os.environ["BENCH_DATABASE_URL"].replace("postgresql+asyncpg://", "postgresql://", 1)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        app.state.pool = await asyncpg.create_pool(url, min_size=2, max_size=10)
        yield
        await app.state.pool.close()

    return Starlette(routes=[Route("/raw/products/{product_id:int}", product)], lifespan=lifespan)
