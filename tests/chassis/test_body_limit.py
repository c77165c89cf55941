"""The body limit in the chassis' one per-request layer: 413 by header and while streaming, with the error body."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest
from fastapi import APIRouter, Request

from ecommerce.chassis import ServiceSpec
from ecommerce.chassis.body_limit import BodyLimit

router = APIRouter()
seen: list[Any] = []


@router.post("/echo")
async def echo(request: Request) -> dict[str, int]:
    seen.append(request.receive)
    return {"bytes": len(await request.body())}


@router.get("/echo")
async def look(request: Request) -> dict[str, int]:
    seen.append(request.receive)
    return {"bytes": 0}


SPEC = ServiceSpec(name="limit-test", port=0, context_path="/limit-test", routers=(router,))
ECHO = "/limit-test/echo"


@pytest.fixture
async def client(make_client: Callable[..., Any]) -> AsyncIterator[httpx.AsyncClient]:
    seen.clear()
    async with make_client(SPEC, max_body_bytes=100) as client:
        yield client


def assert_413(response: httpx.Response) -> None:
    assert response.status_code == 413
    body = response.json()
    assert body["httpStatus"] == "REQUEST_ENTITY_TOO_LARGE"
    assert body["msg"] == "Request body over 100 bytes"
    assert body["path"] == ECHO
    assert re.fullmatch(r"[0-9a-f]{32}", body["traceId"])
    assert response.headers["x-request-id"]


async def test_a_body_within_the_limit_passes(client: httpx.AsyncClient) -> None:
    response = await client.post(ECHO, content=b"x" * 100)
    assert response.json() == {"bytes": 100}


async def test_an_announced_body_over_the_limit_is_refused_unread(client: httpx.AsyncClient) -> None:
    assert_413(await client.post(ECHO, content=b"x" * 101))
    assert seen == []  # refused by its Content-Length before the endpoint ran


async def test_a_streamed_body_over_the_limit_is_refused_while_it_streams(client: httpx.AsyncClient) -> None:
    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(5):
            yield b"x" * 30

    response = await client.post(ECHO, content=chunks())  # chunked: no Content-Length
    assert_413(response)


async def test_requests_without_a_body_keep_the_servers_receive(client: httpx.AsyncClient) -> None:
    response = await client.get(ECHO, headers={"X-Request-Id": "abc-123"})
    assert response.headers["x-request-id"] == "abc-123"
    assert getattr(seen[-1], "__qualname__", "") != "BodyLimit.guard.<locals>.limited_receive"
    await client.post(ECHO, content=b"x")
    assert seen[-1].__qualname__ == "BodyLimit.guard.<locals>.limited_receive"


@pytest.mark.parametrize(("value", "over"), [(b"100", False), (b"101", True), (b"0", False), (b"1e9", False)])
def test_the_content_length_check(value: bytes, over: bool) -> None:
    assert BodyLimit(100).exceeded_by(value) is over
