"""Pipelined requests are answered in order, each with its own body, on the native path and the ASGI path."""

from __future__ import annotations

import asyncio

import orjson
from conftest import GatewayFactory, Upstream, default_config


async def _read_answer(reader: asyncio.StreamReader) -> tuple[bytes, bytes]:
    """One answer with a Content-Length: (head, body)."""
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
    length = int(head.lower().split(b"content-length: ")[1].split(b"\r\n")[0])
    return head, await asyncio.wait_for(reader.readexactly(length), 5)


async def _pipelined(client: object, requests: list[bytes]) -> list[tuple[bytes, bytes]]:
    base = client.base_url  # type: ignore[attr-defined]
    reader, writer = await asyncio.open_connection(str(base.host), base.port)
    try:
        writer.write(b"".join(requests))  # one write: every request is in before the first answer
        return [await _read_answer(reader) for _ in requests]
    finally:
        writer.close()


def _get(path: str, *extra: str) -> bytes:
    return "".join([f"GET {path} HTTP/1.1\r\nhost: shop\r\n", *(f"{h}\r\n" for h in extra), "\r\n"]).encode()


async def test_two_pipelined_public_reads_are_answered_in_order_with_bodies(
    gateway: GatewayFactory, upstreams: tuple[Upstream, Upstream]
) -> None:
    async with gateway(default_config({"*": [upstreams[0].url]})) as client:
        answers = await _pipelined(
            client, [_get("/product-service/api/products/1"), _get("/product-service/api/products/2")]
        )
    for (head, body), expected in zip(
        answers, ("/product-service/api/products/1", "/product-service/api/products/2"), strict=True
    ):
        assert head.startswith(b"HTTP/1.1 200"), head
        assert orjson.loads(body)["path"] == expected


async def test_pipelined_native_asgi_and_native_requests_keep_their_order(
    gateway: GatewayFactory, upstreams: tuple[Upstream, Upstream]
) -> None:
    requests = [
        _get("/product-service/api/products/1?delay=0.1"),  # slow, natively served on the gateway's protocol
        _get("/product-service/api/products/2", "Origin: http://shop.example.org"),  # the ASGI path, queued
        _get("/product-service/api/products/3"),
    ]
    async with gateway(default_config({"*": [upstreams[0].url]})) as client:
        answers = await _pipelined(client, requests)
    paths = [orjson.loads(body)["path"] for _, body in answers]
    assert paths == [f"/product-service/api/products/{n}" for n in (1, 2, 3)]
    assert all(head.startswith(b"HTTP/1.1 200") for head, _ in answers)
