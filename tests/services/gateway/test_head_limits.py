"""The chassis' HTTP limits hold at the edge, on both protocols: nothing over them is read whole or passed on."""

from __future__ import annotations

import asyncio

import orjson
from conftest import GatewayFactory, Upstream, default_config


async def _exchange(client: object, data: bytes) -> bytes:
    base = client.base_url  # type: ignore[attr-defined]
    reader, writer = await asyncio.open_connection(str(base.host), base.port)
    try:
        writer.write(data)
        return await asyncio.wait_for(reader.read(1 << 20), 5)
    finally:
        writer.close()


def _get(*fields: str) -> bytes:
    lines = "".join(f"{field}\r\n" for field in fields)
    return f"GET /product-service/api/products/1 HTTP/1.1\r\nhost: shop\r\n{lines}\r\n".encode()


async def test_oversized_heads_and_too_many_fields_are_431_and_never_proxied(
    gateway: GatewayFactory, upstreams: tuple[Upstream, Upstream]
) -> None:
    async with gateway(default_config({"*": [upstreams[0].url]})) as client:
        big = await _exchange(client, _get("x-big: " + "a" * (64 * 1024)))
        many = await _exchange(client, _get(*(f"x-{i}: v" for i in range(150))))
        fine = await _exchange(client, _get("x-big: " + "a" * 1024, "connection: close"))
    for answer in (big, many):
        assert answer.startswith(b"HTTP/1.1 431 "), answer[:100]
        assert orjson.loads(answer.split(b"\r\n\r\n", 1)[1])["httpStatus"] == "REQUEST_HEADER_FIELDS_TOO_LARGE"
    assert fine.startswith(b"HTTP/1.1 200 ")
    assert sum(upstreams[0].hits.values()) == 1  # only the request within the limits reached the upstream
