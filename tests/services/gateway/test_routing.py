"""Routing, balancing, headers and streaming through the gateway."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import httpx
import pytest
from conftest import OPERATOR, PROMETHEUS, GatewayFactory, Keys, Upstream, default_config
from prometheus_client import REGISTRY

from ecommerce.services.gateway.fastlane import FastLane
from ecommerce.services.gateway.native import NativeServer


async def test_routes_by_first_segment_with_path_and_query_unchanged(
    gateway: GatewayFactory, upstreams: tuple[Upstream, Upstream]
) -> None:
    one, two = upstreams
    config = default_config({"product-service": [one.url], "proxy-client": [two.url]})
    async with gateway(config) as client:
        response = await client.get("/product-service/api/products/1?x=1&y=%20b")
        assert response.status_code == 200
        echoed = response.json()
        assert echoed["instance"] == "one"
        assert echoed["path"] == "/product-service/api/products/1"
        assert echoed["query"] == "x=1&y=%20b"
        app = (await client.get("/app/index")).json()
        assert (app["instance"], app["path"]) == ("two", "/app/index")


async def test_unknown_prefix_is_the_gateways_own_404(gateway: GatewayFactory, upstreams: tuple[Upstream, ...]) -> None:
    async with gateway(default_config({"*": [upstreams[0].url]})) as client:
        response = await client.get("/nobody/api/x")
        assert response.status_code == 404
        assert response.json()["httpStatus"] == "NOT_FOUND"
        assert (await client.get("/actuator/health")).status_code == 200


async def test_routes_endpoint_lists_every_route(gateway: GatewayFactory, upstreams: tuple[Upstream, ...]) -> None:
    async with gateway(default_config({"order-service": [upstreams[0].url]})) as client:
        listed = (await client.get("/actuator/gateway/routes", headers=OPERATOR)).json()
    by_id = {route["route_id"]: route for route in listed}
    assert set(by_id) == {
        "order-service", "payment-service", "product-service", "shipping-service", "user-service",
        "favourite-service", "proxy-client",
    }  # fmt: skip
    assert by_id["proxy-client"]["predicate"].startswith("Paths: [/app/**]")
    assert by_id["order-service"]["uri"] == upstreams[0].url
    assert by_id["user-service"]["uri"] == "lb://USER-SERVICE"


async def test_balances_over_two_instances_and_skips_a_dead_one(
    gateway: GatewayFactory, upstreams: tuple[Upstream, Upstream]
) -> None:
    one, two = upstreams
    dead = "http://127.0.0.1:9"  # discard port: nothing listens
    async with gateway(default_config({"*": [one.url, two.url]})) as client:
        seen = [(await client.get("/product-service/api/products")).json()["instance"] for _ in range(10)]
        assert seen.count("one") == seen.count("two") == 5
    async with gateway(default_config({"*": [one.url, dead]})) as client:
        for _ in range(6):
            response = await client.get("/product-service/api/products")
            assert response.status_code == 200
            assert response.json()["instance"] == "one"


async def test_registry_is_asked_first(gateway: GatewayFactory, upstreams: tuple[Upstream, Upstream]) -> None:
    one, two = upstreams
    asked: list[tuple[str, frozenset[str]]] = []

    class FakeRegistry:
        def choose(self, name: str, exclude: frozenset[str] = frozenset()) -> str | None:
            asked.append((name, exclude))
            return two.url + "/"

    async with gateway(default_config()) as client:
        client.app.state.registry = FakeRegistry()  # type: ignore[attr-defined]
        response = await client.get("/product-service/api/products")
    assert response.json()["instance"] == "two"
    # (the chassis may ask for peers of its own, e.g. user-service for token revocations)
    assert [entry for entry in asked if entry[0] == "product-service"][0] == ("product-service", frozenset())


async def test_forwarding_headers(gateway: GatewayFactory, upstreams: tuple[Upstream, Upstream], keys: Keys) -> None:
    config = default_config({"*": [upstreams[0].url]})
    traceparent = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
    async with gateway(config) as client:
        response = await client.get(
            "/order-service/api/orders",
            headers={
                **keys.auth(admin=True),
                "X-Request-Id": "req-123",
                "traceparent": traceparent,
                "X-Forwarded-For": "6.6.6.6",
                "Connection": "keep-alive, X-Custom",
                "X-Custom": "kept",
            },
        )
    assert response.status_code == 200
    sent = response.json()["headers"]
    assert sent["x-request-id"] == "req-123"
    assert sent["traceparent"].split("-")[1] == "0af7651916cd43dd8448eb211c80319c"
    assert sent["x-forwarded-for"] == "127.0.0.1"  # a client's own X-Forwarded-For is not trusted by default
    assert sent["x-forwarded-proto"] == "http"
    assert sent["x-forwarded-host"].startswith("127.0.0.1:")
    assert sent["authorization"].startswith("Bearer ")
    assert "accept-encoding" in sent  # the client's, passed on; nothing added by the gateway's own client
    assert sent["user-agent"].startswith("python-httpx")
    assert response.headers["x-request-id"] == "req-123"
    assert response.headers.get_list("x-request-id") == ["req-123"]
    assert response.headers["x-upstream"] == "one"


async def test_cors_preflight_and_response_headers(
    gateway: GatewayFactory, upstreams: tuple[Upstream, Upstream]
) -> None:
    async with gateway(default_config({"*": [upstreams[0].url]})) as client:
        preflight = await client.options(
            "/order-service/api/orders",
            headers={
                "Origin": "http://localhost:4200",
                "Access-Control-Request-Method": "POST",
                "Access-Control-Request-Headers": "authorization, content-type",
            },
        )
        assert preflight.status_code == 200
        assert preflight.headers["access-control-allow-origin"] == "http://localhost:4200"
        assert preflight.headers["access-control-allow-credentials"] == "true"
        assert "POST" in preflight.headers["access-control-allow-methods"]
        assert preflight.headers["access-control-allow-headers"] == "authorization, content-type"
        assert upstreams[0].hits["/order-service/api/orders"] == 0  # answered at the edge
        simple = await client.get("/product-service/api/products", headers={"Origin": "http://localhost:4200"})
        assert simple.headers.get_list("access-control-allow-origin") == ["http://localhost:4200"]
        stranger = await client.get("/product-service/api/products", headers={"Origin": "http://evil.example"})
        assert "access-control-allow-origin" not in stranger.headers


async def test_streams_response_and_request_bodies(
    gateway: GatewayFactory, upstreams: tuple[Upstream, Upstream], keys: Keys
) -> None:
    config = default_config({"*": [upstreams[0].url]})
    async with gateway(config) as client:
        started = time.perf_counter()
        async with client.stream("GET", "/product-service/api/products?chunks=5&pause=0.2") as response:
            first_at = None
            lines = []
            async for line in response.aiter_lines():
                first_at = first_at or time.perf_counter() - started
                lines.append(line)
        total = time.perf_counter() - started
        assert lines == [f"chunk {i}" for i in range(5)]
        assert first_at is not None and first_at < total - 0.5  # the first chunk came long before the last

        async def body() -> httpx.AsyncByteStream:  # type: ignore[misc]
            for _ in range(16):
                yield b"x" * 65536

        upload = await client.post("/order-service/api/upload", content=body(), headers=keys.auth(admin=True))
        assert upload.status_code == 200
        assert upload.json()["bodyLength"] == 16 * 65536


async def test_an_answer_before_the_whole_streamed_body_is_relayed_once_it_is_sent(
    gateway: GatewayFactory, keys: Keys
) -> None:
    """An upstream may answer (413, say) before it has read a streamed body: the gateway still sends the whole
    body (the client is still sending it) and relays the answer then; the connection stays usable for the next
    request."""
    heads: list[bytes] = []
    connections = 0

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal connections
        connections += 1
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                heads.append(head)
                if head.startswith(b"POST"):  # at once, then it reads the (chunked) body
                    writer.write(b"HTTP/1.1 413 Payload Too Large\r\ncontent-length: 0\r\n\r\n")
                    await reader.readuntil(b"\r\n0\r\n\r\n")
                else:
                    writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok")
                await writer.drain()
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError):
            pass
        writer.close()

    server = await asyncio.start_server(serve, "127.0.0.1", 0, limit=16 * 1024 * 1024)
    url = f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}"

    async def body() -> httpx.AsyncByteStream:  # type: ignore[misc]
        for _ in range(8):
            yield b"x" * 65536
            await asyncio.sleep(0.05)

    try:
        async with gateway(default_config({"*": [url]})) as client:
            refused = await client.post("/order-service/api/upload", content=body(), headers=keys.auth(admin=True))
            assert refused.status_code == 413
            after = await client.get("/product-service/api/products")
            assert (after.status_code, after.text) == (200, "ok")
    finally:
        server.close()
    assert [head.split(b" ", 1)[0] for head in heads] == [b"POST", b"GET"]
    assert connections == 1


async def test_request_size_limit(gateway: GatewayFactory, upstreams: tuple[Upstream, Upstream], keys: Keys) -> None:
    config = default_config({"*": [upstreams[0].url]}, defaults={"max-body-bytes": 1000})
    async with gateway(config) as client:
        small = await client.post("/order-service/api/orders", content=b"x" * 1000, headers=keys.auth(admin=True))
        assert small.status_code == 200
        big = await client.post("/order-service/api/orders", content=b"x" * 1001, headers=keys.auth(admin=True))
        assert big.status_code == 413
        assert big.json()["httpStatus"] == "REQUEST_ENTITY_TOO_LARGE"
        assert upstreams[0].hits["/order-service/api/orders"] == 1  # refused by its Content-Length, never sent

        async def chunks() -> httpx.AsyncByteStream:  # type: ignore[misc]
            for _ in range(4):
                yield b"y" * 600

        streamed = await client.post("/order-service/api/orders", content=chunks(), headers=keys.auth(admin=True))
        assert streamed.status_code == 413  # refused while streaming, once past the limit


async def test_metrics_per_route_and_upstream(gateway: GatewayFactory, upstreams: tuple[Upstream, Upstream]) -> None:
    one = upstreams[0]
    labels = {"application": "api-gateway", "route": "product-service", "upstream": one.url, "outcome": "SUCCESS"}
    # The counters live as long as the process: an earlier test's upstream may have had the same port.
    before = REGISTRY.get_sample_value("gateway_upstream_requests_total", labels) or 0.0
    async with gateway(default_config({"*": [one.url]})) as client:
        for _ in range(3):
            await client.get("/product-service/api/products")
        text = (await client.get("/actuator/prometheus", headers=PROMETHEUS)).text
    assert REGISTRY.get_sample_value("gateway_upstream_requests_total", labels) == before + 3
    assert 'gateway_upstream_request_seconds_count{application="api-gateway",route="product-service"' in text
    assert 'uri="/product-service/**"' in text


async def test_plain_reads_take_the_native_path(
    gateway: GatewayFactory, upstreams: tuple[Upstream, Upstream], keys: Keys, monkeypatch: pytest.MonkeyPatch
) -> None:
    attempts: list[str] = []
    original = NativeServer.start

    def counted(server: NativeServer, *args: Any) -> None:  # the native reply's head: served natively
        assert server.exchange is not None
        attempts.append(server.exchange.path)
        original(server, *args)

    monkeypatch.setattr(NativeServer, "start", counted)
    async with gateway(default_config({"*": [upstreams[0].url]})) as client:
        native = client.app.state.gateway is not None and isinstance(  # type: ignore[attr-defined]
            client.app.middleware_stack,
            FastLane,  # type: ignore[attr-defined]
        )
        assert native
        for _ in range(3):
            assert (await client.get("/product-service/api/products/1")).status_code == 200
        assert (await client.get("/order-service/api/orders", headers=keys.auth(admin=True))).status_code == 200
        assert (await client.head("/product-service/api/products/1")).status_code == 200
    served = [path for path in attempts if path.startswith("/product-service")]
    expected = 4 if client.http_protocol == "native" else 0  # type: ignore[attr-defined]
    assert len(served) == expected
    assert "/order-service/api/orders" not in attempts  # a token: the ordinary path


async def test_idle_client_connections_close_after_the_keep_alive_timeout(
    gateway: GatewayFactory, upstreams: tuple[Upstream, Upstream]
) -> None:
    request = b"GET /product-service/api/products/1 HTTP/1.1\r\nhost: shop\r\n\r\n"
    async with gateway(default_config({"*": [upstreams[0].url]}), keep_alive=0.5) as client:
        host, port = str(client.base_url.host), client.base_url.port
        reader, writer = await asyncio.open_connection(host, port)
        for _ in range(4):  # busy for longer than the timeout, never idle that long: stays open
            writer.write(request)
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 2)
            assert head.startswith(b"HTTP/1.1 200")
            length = int(head.lower().split(b"content-length: ")[1].split(b"\r\n")[0])
            await reader.readexactly(length)
            await asyncio.sleep(0.3)
        started = time.monotonic()
        assert await asyncio.wait_for(reader.read(), 2) == b""  # idle past the timeout: closed by the gateway
        assert 0.1 <= time.monotonic() - started < 1.5
        writer.close()
