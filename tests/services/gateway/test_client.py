"""The upstream client on its own, against a raw socket server, on both event loops the gateway may run on."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import pytest
import uvloop

from ecommerce.services.gateway import client as client_module
from ecommerce.services.gateway.client import ConnectFailed, UpstreamBroken, UpstreamClient

LOOPS = {"asyncio": asyncio.new_event_loop, "uvloop": uvloop.new_event_loop}
GET = b"GET /x HTTP/1.1\r\n"


class RawServer:
    """Answers each request with the next canned answer; counts connections and keeps what it received."""

    def __init__(self, answers: list[bytes], *, close_after: bool = False, delay: float = 0.0) -> None:
        self.answers = answers
        self.close_after = close_after
        self.delay = delay
        self.connections = 0
        self.received: list[bytes] = []
        self.server: asyncio.Server | None = None
        self.origin = ""

    async def __aenter__(self) -> RawServer:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        port = self.server.sockets[0].getsockname()[1]
        self.origin = f"http://127.0.0.1:{port}"
        return self

    async def __aexit__(self, *_: object) -> None:
        assert self.server is not None
        self.server.close()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            while self.answers:
                head = await reader.readuntil(b"\r\n\r\n")
                body = b""
                for line in head.split(b"\r\n"):
                    if line.lower().startswith(b"content-length:"):
                        body = await reader.readexactly(int(line.split(b":")[1]))
                    elif line.lower() == b"transfer-encoding: chunked":
                        body = await reader.readuntil(b"0\r\n\r\n")
                self.received.append(head + body)
                if self.delay:
                    await asyncio.sleep(self.delay)
                answer = self.answers.pop(0)
                for piece in answer.split(b"|"):  # `|` marks a pause between writes
                    writer.write(piece)
                    await writer.drain()
                    await asyncio.sleep(0.02)
                if self.close_after:
                    break
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        writer.close()


def run(loop: str, test: Callable[[], Awaitable[None]]) -> None:
    with asyncio.Runner(loop_factory=LOOPS[loop]) as runner:
        runner.run(test())


OK = b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 5\r\n\r\nhello"


@pytest.mark.parametrize("loop", LOOPS)
def test_keep_alive_reuses_one_connection(loop: str) -> None:
    async def test() -> None:
        async with RawServer([OK, OK, OK]) as server:
            client = UpstreamClient()
            for _ in range(3):
                conn = await client.send(
                    server.origin, GET, b"x-a: 1\r\n", None,
                    length=None, head_only=False, connect_timeout=1, read_timeout=1,
                )  # fmt: skip
                assert (conn.status, conn.done, conn.take()) == (200, True, b"hello")
                assert (b"Content-Type", b"text/plain") in conn.headers
                client.release(conn)
            await client.close()
        assert server.connections == 1
        assert server.received[0].startswith(b"GET /x HTTP/1.1\r\nhost: 127.0.0.1:")
        assert b"x-a: 1\r\n" in server.received[0]

    run(loop, test)


@pytest.mark.parametrize("loop", LOOPS)
def test_chunked_body_streams_and_request_bodies_are_framed(loop: str) -> None:
    chunked = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nfirst\r\n|6\r\nsecond\r\n|0\r\n\r\n"

    async def body():  # type: ignore[no-untyped-def]
        yield b"abc"
        yield b"defg"

    async def test() -> None:
        async with RawServer([chunked, OK]) as server:
            client = UpstreamClient()
            conn = await client.send(
                server.origin, b"POST /x HTTP/1.1\r\n", b"", body(),
                length=None, head_only=False, connect_timeout=1, read_timeout=1,
            )  # fmt: skip
            pieces = [piece async for piece in conn.body(1)]
            assert b"".join(pieces) == b"firstsecond"
            assert len(pieces) >= 2  # delivered as they came, not buffered to the end
            client.release(conn)
            conn = await client.send(
                server.origin, b"PUT /x HTTP/1.1\r\n", b"", b"12345",
                length=5, head_only=False, connect_timeout=1, read_timeout=1,
            )  # fmt: skip
            assert conn.take() == b"hello"
            client.release(conn)
            await client.close()
        assert server.received[0].endswith(b"transfer-encoding: chunked\r\n\r\n3\r\nabc\r\n4\r\ndefg\r\n0\r\n\r\n")
        assert server.received[1].endswith(b"content-length: 5\r\n\r\n12345")
        assert server.connections == 1

    run(loop, test)


@pytest.mark.parametrize("loop", LOOPS)
def test_a_connection_the_upstream_closed_is_replaced(loop: str) -> None:
    async def test() -> None:
        async with RawServer([OK, OK], close_after=True) as server:
            client = UpstreamClient()
            for _ in range(2):
                conn = await client.send(
                    server.origin, GET, b"", None, length=None, head_only=False, connect_timeout=1, read_timeout=1
                )
                assert conn.take() == b"hello"
                client.release(conn)
                await asyncio.sleep(0.05)
            await client.close()
        assert server.connections == 2

    run(loop, test)


@pytest.mark.parametrize("loop", LOOPS)
def test_head_answers_end_at_the_headers(loop: str) -> None:
    head = b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n"

    async def test() -> None:
        async with RawServer([head]) as server:
            client = UpstreamClient()
            conn = await client.send(
                server.origin, b"HEAD /x HTTP/1.1\r\n", b"", None,
                length=None, head_only=True, connect_timeout=1, read_timeout=1,
            )  # fmt: skip
            assert (conn.status, conn.done, conn.take()) == (200, True, b"")
            client.release(conn)
            await client.close()

    run(loop, test)


@pytest.mark.parametrize("loop", LOOPS)
def test_timeouts_and_refused_connections(loop: str) -> None:
    async def test() -> None:
        async with RawServer([OK], delay=0.5) as server:
            client = UpstreamClient()
            with pytest.raises(TimeoutError):
                await client.send(
                    server.origin, GET, b"", None, length=None, head_only=False, connect_timeout=1, read_timeout=0.1
                )
            with pytest.raises(ConnectFailed):
                await client.send(
                    "http://127.0.0.1:9",
                    GET,
                    b"",
                    None,
                    length=None,
                    head_only=False,
                    connect_timeout=1,
                    read_timeout=1,
                )
            await client.close()

    run(loop, test)


@pytest.mark.parametrize("loop", LOOPS)
def test_garbage_is_a_broken_upstream(loop: str) -> None:
    async def test() -> None:
        async with RawServer([b"NOT HTTP AT ALL\r\n\r\n"]) as server:
            client = UpstreamClient()
            with pytest.raises(UpstreamBroken):
                await client.send(
                    server.origin, GET, b"", None, length=None, head_only=False, connect_timeout=1, read_timeout=1
                )
            await client.close()

    run(loop, test)


def test_idle_connections_expire(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(client_module, "IDLE_SECONDS", 0.05)

    async def test() -> None:
        async with RawServer([OK, OK]) as server:
            client = UpstreamClient()
            for _ in range(2):
                conn = await client.send(
                    server.origin, GET, b"", None, length=None, head_only=False, connect_timeout=1, read_timeout=1
                )
                client.release(conn)
                await asyncio.sleep(0.1)
            await client.close()
        assert server.connections == 2

    run("uvloop", test)
