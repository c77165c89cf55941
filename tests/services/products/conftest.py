"""product-service on SQLite and on the real PostgreSQL, with the demo catalog: one client per test module."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest_asyncio

from ecommerce.services.products import SPEC


@pytest_asyncio.fixture(scope="module")
async def client(database_url: str, make_client: Callable[..., Any]) -> AsyncIterator[httpx.AsyncClient]:
    async with make_client(SPEC, database_url=database_url, seed_demo_data=True) as client:
        yield client
