"""Metrics, logs and traces carry what operators need: route templates, trace ids, Micrometer names."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from shop_testing import operator_headers, prometheus_headers

from ecommerce.chassis.context import parse_traceparent as _parse_traceparent
from ecommerce.services.products import SPEC


async def test_prometheus_exposes_route_templates_and_pools(make_client: Callable[..., Any], tmp_path: Any) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'db.sqlite'}"
    async with make_client(SPEC, database_url=url) as client:
        await client.get("/product-service/api/products/1")
        await client.get("/product-service/api/products/777777")
        text = (await client.get("/product-service/actuator/prometheus", headers=prometheus_headers())).text
    assert (
        'http_server_requests_seconds_count{application="product-service",method="GET",'
        'outcome="SUCCESS",status="200",uri="/product-service/api/products/{productId}"}'
    ) in text
    assert 'outcome="CLIENT_ERROR",status="404",uri="/product-service/api/products/{productId}"' in text
    assert "/api/products/777777" not in text  # raw paths never become labels
    assert 'db_pool_connections_max{application="product-service"}' in text
    assert "process_resident_memory_bytes" in text


async def test_health_info_and_root_health(make_client: Callable[..., Any], tmp_path: Any) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'db.sqlite'}"
    async with make_client(SPEC, database_url=url, git_commit="abc123") as client:
        health = (await client.get("/product-service/actuator/health")).json()
        assert health["status"] == "UP"
        assert health["components"]["db"]["details"] == {"database": "SQLite", "migrated": True}
        assert (await client.get("/actuator/health")).json()["status"] == "UP"
        assert (await client.get("/actuator/health/liveness")).json() == {"status": "UP"}
        assert (await client.get("/product-service/actuator/health/readiness")).status_code == 200
        info = (await client.get("/product-service/actuator/info", headers=operator_headers())).json()
        assert info == {
            "app": {"name": "product-service", "version": "1.0.0"},
            "git": {"commit": "abc123"},
            "profile": "dev",
        }


async def test_readiness_fails_when_the_database_is_gone(make_client: Callable[..., Any], tmp_path: Any) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'db.sqlite'}"
    async with make_client(SPEC, database_url=url) as client:
        database = client.app.state.database  # type: ignore[attr-defined]
        async with database.engine.begin() as conn:
            await conn.exec_driver_sql("DELETE FROM alembic_version")
        ready = await client.get("/product-service/actuator/health/readiness")
        assert ready.status_code == 503
        assert ready.json()["components"]["db"]["status"] == "DOWN"
        assert (await client.get("/product-service/actuator/health/liveness")).status_code == 200


async def test_access_log_lines_carry_request_and_trace_ids(
    make_client: Callable[..., Any], tmp_path: Any, capfd: pytest.CaptureFixture[str]
) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'db.sqlite'}"
    async with make_client(SPEC, database_url=url, access_log=True) as client:
        capfd.readouterr()
        await client.get(
            "/product-service/api/products/1",
            headers={"traceparent": "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00", "X-Request-Id": "r1"},
        )
    lines = [json.loads(line) for line in capfd.readouterr().out.splitlines() if '"event":"request"' in line]
    assert lines, "no access log line"
    line = lines[-1]
    assert line["service"] == "product-service"
    assert line["status"] == 200
    assert line["request_id"] == "r1"
    assert line["trace_id"] == "4bf92f3577b34da6a3ce929d0e0e4736"


@pytest.mark.parametrize(
    "value",
    [b"", b"garbage", b"00-zz-00f067aa0ba902b7-01", b"00-00000000000000000000000000000000-00f067aa0ba902b7-01"],
)
def test_bad_traceparent_is_ignored(value: bytes) -> None:
    assert _parse_traceparent(value) is None


def test_traceparent_is_parsed() -> None:
    state = _parse_traceparent(b"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
    assert state is not None and state.sampled
    assert state.traceparent() == "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"


async def test_pool_gauges_count_waiters(tmp_path: Any) -> None:
    import asyncio

    from sqlalchemy import text

    from ecommerce.chassis import Database

    database = Database(
        f"sqlite+aiosqlite:///{tmp_path / 'pool.db'}", application="pool-test", pool_size=1, max_overflow=0
    )
    try:
        holder = await database.engine.connect()
        await holder.execute(text("SELECT 1"))
        waiter = asyncio.create_task(database.ping())
        await asyncio.sleep(0.2)
        assert database.pool_stats() == {"active": 1, "idle": 0, "max": 1, "pending": 1}
        await holder.close()
        assert await waiter
        assert database.pool_stats()["pending"] == 0
    finally:
        await database.dispose()


def test_access_log_flushes_on_a_new_loop_after_the_old_one_ended(capfd: pytest.CaptureFixture[str]) -> None:
    import asyncio

    from ecommerce.chassis.telemetry import _BufferedLines

    lines = _BufferedLines(interval=0.01)

    async def write_then_leave() -> None:
        lines.write(b'{"n":1}')  # schedules a flush on this loop, which ends before it fires

    async def write_and_wait() -> None:
        lines.write(b'{"n":2}')
        await asyncio.sleep(0.1)

    asyncio.run(write_then_leave())
    capfd.readouterr()
    asyncio.run(write_and_wait())
    assert capfd.readouterr().out.splitlines() == ['{"n":1}', '{"n":2}']
