"""The HTTP limits every component serves with: head size and field count (431), the time a head may take, and a
server that keeps answering while hundreds of slow clients hold connections."""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import socket
import time
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import orjson
import pytest
import uvicorn
from shop_testing import start_service
from starlette.types import Receive, Scope, Send
from uvicorn.config import Config
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
from uvicorn.server import ServerState

from ecommerce import components
from ecommerce.chassis.http_limits import LIMITS, NATIVE_LANE_PROTOCOL, server_options
from ecommerce.chassis.uvicorn_adapter import LimitedHttpToolsProtocol


class App:
    """Answers `ok` and counts the requests that reached it."""

    def __init__(self) -> None:
        self.calls = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        assert scope["type"] == "http"
        self.calls += 1
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"2")]})
        await send({"type": "http.response.body", "body": b"ok"})


def _protocol(**limits: Any) -> type[LimitedHttpToolsProtocol]:
    """The chassis protocol, with some limits changed (shorter timeouts keep the tests fast)."""
    changed = replace(LIMITS, **limits)
    return type("Protocol", (LimitedHttpToolsProtocol,), {"limits": changed})


@contextlib.asynccontextmanager
async def serve(app: Any, protocol: Any = None) -> AsyncIterator[int]:
    """`app` on uvicorn with the options every component gets (`server_options`); yields the port."""
    options = server_options()
    if protocol is not None:
        options["http"] = protocol
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    config = uvicorn.Config(app, log_config=None, access_log=False, lifespan="off", **options)
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve(sockets=[sock]))
    while not server.started:
        await asyncio.sleep(0.01)
    try:
        yield sock.getsockname()[1]
    finally:
        server.should_exit = True
        await task
        sock.close()


async def _exchange(port: int, data: bytes) -> bytes:
    """Send `data`, return everything the server answers until it closes (or 5 s pass)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(data)
        with contextlib.suppress(ConnectionError):
            await writer.drain()
        return await asyncio.wait_for(reader.read(1 << 20), 5)
    finally:
        writer.close()


def _head(*fields: str, path: str = "/") -> bytes:
    return "".join([f"GET {path} HTTP/1.1\r\nhost: shop\r\n", *(f"{field}\r\n" for field in fields), "\r\n"]).encode()


def _body_of(answer: bytes) -> dict[str, Any]:
    return orjson.loads(answer.split(b"\r\n\r\n", 1)[1])  # type: ignore[no-any-return]


def test_the_limits() -> None:
    assert (LIMITS.max_head_bytes, LIMITS.max_headers, LIMITS.head_timeout) == (64 * 1024, 100, 10.0)
    assert server_options()["timeout_keep_alive"] == LIMITS.keep_alive_timeout == 5
    assert server_options()["h11_max_incomplete_event_size"] == LIMITS.max_head_bytes


async def test_a_head_over_64_kib_is_431_and_reaches_nothing() -> None:
    app = App()
    async with serve(app) as port:
        answer = await _exchange(port, _head("x-big: " + "a" * (64 * 1024), path="/big?q=1"))
        fits = await _exchange(port, _head("x-big: " + "a" * (60 * 1024), "connection: close"))
    assert answer.startswith(b"HTTP/1.1 431 ")
    assert b"connection: close" in answer
    body = _body_of(answer)
    assert body["httpStatus"] == "REQUEST_HEADER_FIELDS_TOO_LARGE"
    assert body["path"] == "/big"
    assert fits.startswith(b"HTTP/1.1 200 ")
    assert app.calls == 1


async def test_an_unfinished_head_is_refused_once_past_the_limit() -> None:
    """A client sending a 64 MB head is cut off after about the limit: the server never buffers the rest."""
    async with serve(App()) as port:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"GET / HTTP/1.1\r\nhost: shop\r\nx-big: ")
        sent = 0
        with contextlib.suppress(ConnectionError):
            while sent < 64 * 1024 * 1024 and not reader.at_eof():
                writer.write(b"a" * 16384)
                await writer.drain()
                sent += 16384
                await asyncio.sleep(0)  # let the answer in
                if reader._buffer:  # type: ignore[attr-defined]
                    break
        answer = await asyncio.wait_for(reader.read(1 << 16), 5)
        writer.close()
    assert answer.startswith(b"HTTP/1.1 431 ")
    assert sent < 2 * 1024 * 1024  # refused long before the 64 MB were sent


async def test_more_than_100_header_fields_is_431() -> None:
    app = App()
    async with serve(app) as port:
        at_limit = await _exchange(port, _head(*(f"x-{i}: v" for i in range(98)), "connection: close"))  # +host: 100
        over = await _exchange(port, _head(*(f"x-{i}: v" for i in range(100))))
        many = await _exchange(port, _head(*(f"x-{i}: v" for i in range(10_000))))
    assert at_limit.startswith(b"HTTP/1.1 200 ")
    for answer in (over, many):
        assert answer.startswith(b"HTTP/1.1 431 ")
        assert "header fields" in _body_of(answer)["msg"]
    assert app.calls == 1


async def test_a_head_must_arrive_in_time() -> None:
    protocol = _protocol(head_timeout=0.5)
    async with serve(App(), protocol) as port:
        # nothing at all; half a head, a byte now and then; blank lines on an idle keep-alive connection
        silent = await asyncio.open_connection("127.0.0.1", port)
        trickle = await asyncio.open_connection("127.0.0.1", port)
        kept = await asyncio.open_connection("127.0.0.1", port)
        kept[1].write(_head())
        assert (await asyncio.wait_for(kept[0].readuntil(b"ok"), 2)).startswith(b"HTTP/1.1 200 ")
        started = time.monotonic()
        trickle[1].write(b"GET / HTTP/1.1\r\nhost: shop\r\n")
        for _ in range(3):
            kept[1].write(b"\r\n")
            trickle[1].write(b"x")
            await asyncio.sleep(0.2)
        for reader, writer in (silent, trickle, kept):
            assert await asyncio.wait_for(reader.read(), 3) == b""  # closed by the server
            writer.close()
        assert time.monotonic() - started < 2.5


async def test_a_normal_request_is_answered_while_300_slowloris_sockets_are_held() -> None:
    """Bounded: 300 sockets to 127.0.0.1, each sending a head a few bytes at a time until the server closes it."""
    protocol = _protocol(head_timeout=2.0)
    async with serve(App(), protocol) as port:
        slow = [await asyncio.open_connection("127.0.0.1", port) for _ in range(300)]
        for _, writer in slow:
            writer.write(b"GET / HTTP/1.1\r\nhost: shop\r\n")
        latencies = []
        for _ in range(10):
            for _, writer in slow:
                if not writer.is_closing():
                    writer.write(b"x-a: b\r\n")
            started = time.perf_counter()
            answer = await _exchange(port, _head("connection: close"))
            latencies.append(time.perf_counter() - started)
            assert answer.startswith(b"HTTP/1.1 200 ")
            await asyncio.sleep(0.05)
        closed = await asyncio.wait_for(asyncio.gather(*(reader.read() for reader, _ in slow)), 5)
        for _, writer in slow:
            writer.close()
    assert all(data == b"" for data in closed)  # every slow socket was closed by the server
    assert max(latencies) < 1.0  # generous; the figure is recorded in bench/results/http-limits.md
    print(f"normal request while 300 slowloris sockets are held: max {max(latencies) * 1000:.1f} ms")


def test_every_component_serves_with_the_limits() -> None:
    for name in components.names():
        spec = components.load_spec(name)
        module, _, attribute = server_options(spec.http_protocol)["http"].partition(":")
        protocol = getattr(importlib.import_module(module), attribute)
        assert issubclass(protocol, LimitedHttpToolsProtocol), name


def test_ecommerce_run_gives_uvicorn_the_options(monkeypatch: pytest.MonkeyPatch) -> None:
    from types import SimpleNamespace

    from ecommerce.chassis import serve
    from ecommerce.cli import service

    given: dict[str, Any] = {}
    app = SimpleNamespace(state=SimpleNamespace(settings=SimpleNamespace(shutdown_drain_seconds=7.0)))
    monkeypatch.setattr(service, "create_app", lambda spec: app)
    # `ecommerce run` serves through the chassis' `serve` (uvicorn's server with the drain on SIGTERM).
    assert service.serve is serve
    monkeypatch.setattr(service, "serve", lambda app, **options: given.update(options))
    service.run("product-service", host="127.0.0.1", port=None)
    assert given["http"] == server_options()["http"]
    assert given["timeout_keep_alive"] == LIMITS.keep_alive_timeout
    assert given["drain_seconds"] == 7.0
    service.run("api-gateway", host="127.0.0.1", port=None)
    assert given["http"] == NATIVE_LANE_PROTOCOL


class _Client:
    """Answers the client address uvicorn gives the app."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        body = orjson.dumps({"client": scope["client"][0], "scheme": scope["scheme"]})
        headers = [(b"content-length", str(len(body)).encode())]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": body})


async def test_uvicorn_does_not_believe_forwarded_headers() -> None:
    """Only the component decides whom to believe (chassis/forwarded.py): uvicorn, by default, takes the client
    address and scheme from X-Forwarded-* sent from loopback, which let a local caller pose as any address."""
    async with serve(_Client()) as port:
        answer = await _exchange(port, _head("x-forwarded-for: 203.0.113.9", "x-forwarded-proto: https"))
    assert _body_of(answer) == {"client": "127.0.0.1", "scheme": "http"}


class _Transport(asyncio.Transport):
    """Records what the protocol writes."""

    def __init__(self) -> None:
        super().__init__()
        self.written = b""
        self.closed = False

    def write(self, data: bytes | bytearray | memoryview) -> None:
        self.written += bytes(data)

    def close(self) -> None:
        self.closed = True

    def is_closing(self) -> bool:
        return self.closed

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return {"peername": ("127.0.0.1", 1), "sockname": ("127.0.0.1", 2)}.get(name, default)

    def pause_reading(self) -> None:
        pass

    def resume_reading(self) -> None:
        pass


async def test_uvicorn_contract() -> None:
    """What the adapter relies on in uvicorn's httptools protocol: the parser callbacks it overrides, parser errors
    (a refusal raised from a callback is one) answered through `send_400_response`, and `headers`, `url`, `cycle`."""
    for name in ("data_received", "on_message_begin", "on_headers_complete", "send_400_response", "connection_made"):
        assert callable(getattr(HttpToolsProtocol, name)), name
    config = Config(App(), log_config=None, **server_options())
    protocol = LimitedHttpToolsProtocol(config=config, server_state=ServerState(), app_state={})
    transport = _Transport()
    protocol.connection_made(transport)
    protocol.data_received(_head(*(f"x-{i}: v" for i in range(101)), path="/many"))
    assert transport.written.startswith(b"HTTP/1.1 431 ")
    assert transport.closed
    assert protocol.headers and protocol.url == b"/many"
    protocol.connection_lost(None)
    assert protocol.head_timer is None


@pytest.mark.slow
async def test_real_components_keep_the_limits(tmp_path: Path) -> None:
    """`ecommerce run` as the shop runs it (8080, 8500 and 8900 in the issue): oversized heads refused, and with
    300 slowloris sockets held against them a normal request still answered; the sockets closed at the deadline."""
    names = ("api-gateway", "product-service", "proxy-client")
    services = await asyncio.gather(
        *(asyncio.to_thread(start_service, name, data_dir=tmp_path / name) for name in names)
    )
    try:
        health = {"api-gateway": "/actuator/health", "product-service": "/product-service/actuator/health"}
        health["proxy-client"] = "/app/actuator/health"
        for service in services:
            big = await _exchange(service.port, _head("x-big: " + "a" * (64 * 1024), path=health[service.name]))
            many = await _exchange(service.port, _head(*(f"x-{i}: v" for i in range(101)), path=health[service.name]))
            assert big.startswith(b"HTTP/1.1 431 ") and many.startswith(b"HTTP/1.1 431 "), service.name
        slow = [await asyncio.open_connection("127.0.0.1", services[i % 3].port) for i in range(300)]
        held_from = time.monotonic()
        for _, writer in slow:
            writer.write(b"GET / HTTP/1.1\r\nhost: shop\r\n")
        latencies: dict[str, list[float]] = {name: [] for name in names}
        for round_ in range(6):
            for _, writer in slow:
                writer.write(b"x-a: b\r\n")
            for service in services:
                started = time.perf_counter()
                answer = await _exchange(service.port, _head("connection: close", path=health[service.name]))
                latencies[service.name].append(time.perf_counter() - started)
                assert answer.startswith(b"HTTP/1.1 200 "), (service.name, round_, answer[:80])
            await asyncio.sleep(1)
        closed = await asyncio.wait_for(asyncio.gather(*(reader.read() for reader, _ in slow)), 15)
        held = time.monotonic() - held_from
        for _, writer in slow:
            writer.close()
    finally:
        for service in services:
            service.stop()
    assert all(data == b"" for data in closed)
    assert held < LIMITS.head_timeout + 3
    for name, figures in latencies.items():
        assert max(figures) < 1.0, (name, figures)  # generous; bench/results/http-limits.md has the figures
        print(
            f"{name}: max {max(figures) * 1000:.1f} ms, median {sorted(figures)[len(figures) // 2] * 1000:.1f} ms",
            end="; ",
        )
    print(f"slow sockets closed after {held:.1f} s")
