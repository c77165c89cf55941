"""proxy-client's management endpoints (issue 13, item 3): health is public, the rest answers operators (and
Prometheus its scrape) only, at the storefront's own root /app/actuator."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
import pytest_asyncio

from ecommerce.services.storefront import SPEC


@pytest_asyncio.fixture
async def client(make_client: Callable[..., Any], tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    async with make_client(SPEC, data_dir=tmp_path) as client:
        client.headers.pop("Authorization", None)  # anonymous
        yield client


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/app/actuator/info"),
        ("GET", "/app/actuator/prometheus"),
        ("POST", "/app/actuator/refresh"),
        ("GET", "/app/actuator/faults"),
        ("POST", "/app/actuator/faults"),
    ],
)
async def test_management_endpoints_refuse_anonymous_callers(client: httpx.AsyncClient, method: str, path: str) -> None:
    answer = await client.request(method, path, json={} if method == "POST" else None)
    assert answer.status_code in (401, 404), (answer.status_code, answer.text[:200])
    assert answer.status_code == 401 or "faults" in path
    wrong = await client.request(method, path, headers={"Authorization": "Basic b3BlcmF0b3I6d3Jvbmc="})
    assert wrong.status_code in (401, 404)


async def test_health_stays_public(client: httpx.AsyncClient) -> None:
    assert (await client.get("/app/actuator/health")).status_code == 200
    assert (await client.get("/app/actuator/health/liveness")).status_code == 200
