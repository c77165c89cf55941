"""The gateway's upstream HTTP/1.1 client: a keep-alive pool per upstream on asyncio Protocols and httptools.

Why written here rather than taken from a library: the gateway forwards bytes it already holds (the request line,
the client's headers, the body) and hands back bytes (status, raw headers, body chunks). A general client spends
most of its time building what a proxy throws away: URL objects, case-insensitive header maps, cookie jars,
per-request timer contexts, trace hooks, response objects. Profiled on aiohttp's client (and httpx), the client
was most of the gateway's Python time; bench/results/gateway.md has the figures, with the aiohttp revision
measured side by side. This module does only what a reverse proxy needs:

- one pool of idle connections per upstream origin, used last-in first-out, closed after `IDLE_SECONDS` (below
  uvicorn's 5 s keep-alive, so a connection the upstream is about to close is not reused);
- the request written in one `write` (head and a small body together), bodies of known length or chunked,
  streamed with write flow control;
- the response parsed by httptools (the parser uvicorn itself uses): status and raw headers, Content-Length or
  chunked bodies (de-chunked), delivered whole when they arrived with the headers, else chunk by chunk with read
  flow control (`pause_reading` past `HIGH_WATER` bytes);
- failures told apart: `ConnectFailed` (never sent: safe to send elsewhere), a broken connection, and a `stale`
  one (a reused connection that died before any byte of an answer: the upstream had closed it).

A connection tells a `Listener` of every change (the gateway's exchange, exchange.py, which owns the timeouts and
retries); `UpstreamClient.send` and `Connection.body` are the same connection awaited instead, for callers that
await one answer (tests/services/gateway/test_client.py holds the client to its behaviour through them).
`PeerClient` (the chassis) keeps aiohttp for calls between services, where JSON, retries and spans matter more
than microseconds.
"""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import AsyncIterator
from typing import Protocol, cast
from urllib.parse import urlsplit

import httptools

IDLE_SECONDS = 4.0
MAX_IDLE = 256  # idle connections kept per upstream
HIGH_WATER = 256 * 1024  # response bytes buffered before reading from the upstream pauses


class UpstreamError(Exception):
    """The exchange with an upstream failed."""


class ConnectFailed(UpstreamError):
    """No connection could be made: the request was never sent."""


class UpstreamBroken(UpstreamError):
    """The connection broke or the answer was not HTTP; `stale` when a reused connection died before answering."""

    def __init__(self, msg: str, *, stale: bool = False) -> None:
        super().__init__(msg)
        self.stale = stale


def _expire(waiter: asyncio.Future[None]) -> None:
    if not waiter.done():
        waiter.set_exception(TimeoutError())


class Listener(Protocol):
    """Callback-style use of a connection: told when the head, body bytes or the end arrive, or it broke."""

    def upstream_changed(self, conn: Connection) -> None: ...


class Connection(asyncio.Protocol):
    """One upstream connection; carries one exchange at a time."""

    __slots__ = ("pool", "loop", "transport", "parser", "waiter", "status", "headers", "chunks", "buffered",
                 "head_done", "done", "keep_alive", "broken", "reading_paused", "writing_paused", "drain_waiter",
                 "received", "used", "idle_since", "head_only", "listener", "feeding", "changed")  # fmt: skip

    def __init__(self, pool: Pool) -> None:
        self.pool = pool
        self.loop = pool.loop
        self.transport: asyncio.Transport | None = None
        self.waiter: asyncio.Future[None] | None = None
        self.broken: str | None = None
        self.writing_paused = False
        self.drain_waiter: asyncio.Future[None] | None = None
        self.used = 0
        self.idle_since = 0.0
        self.listener: Listener | None = None  # told of every change instead of a waiter, when set
        self.feeding = False  # inside the parser: changes are gathered and told once it returns
        self.changed = False
        self.parser = httptools.HttpResponseParser(self)  # llhttp reads one response after another on its own
        self._reset()

    def _reset(self) -> None:
        self.status = 0
        self.headers: list[tuple[bytes, bytes]] = []
        self.chunks: list[bytes] = []
        self.buffered = 0
        self.head_done = False
        self.done = False
        self.keep_alive = True
        self.reading_paused = False
        self.received = False
        self.head_only = False

    # --- asyncio.Protocol -------------------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's transports are not asyncio classes

    def data_received(self, data: bytes) -> None:
        self.received = True
        self._feed(data)

    def eof_received(self) -> bool:
        if not self.done and self.head_done:
            self._feed(b"")  # a body delimited by the end of the connection
        return False

    def _feed(self, data: bytes) -> None:
        """Parse what arrived, then wake the reader once: a whole small answer is one change, so one write."""
        self.feeding = True
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError as exc:
            if data:
                self._fail(f"malformed response: {exc}")
        finally:
            self.feeding = False
        if self.changed:
            self.changed = False
            self._wake()

    def connection_lost(self, exc: Exception | None) -> None:
        self.pool.forget(self)
        if not self.done:
            self._fail("connection closed" if exc is None else f"connection lost: {exc}")
        if self.drain_waiter is not None and not self.drain_waiter.done():
            self.drain_waiter.set_result(None)

    def pause_writing(self) -> None:
        self.writing_paused = True

    def resume_writing(self) -> None:
        self.writing_paused = False
        if self.drain_waiter is not None and not self.drain_waiter.done():
            self.drain_waiter.set_result(None)

    # --- httptools callbacks ----------------------------------------------------------------------------

    def on_header(self, name: bytes, value: bytes) -> None:
        self.headers.append((name, value))

    def on_headers_complete(self) -> None:
        parser = self.parser
        self.status = parser.get_status_code()
        if self.status < 200:  # an interim answer (100 Continue): the real one follows
            self.headers = []
            return
        self.keep_alive = parser.should_keep_alive()
        self.head_done = True
        if self.head_only:  # the answer to HEAD has no body whatever its Content-Length says
            self.done = True
            self.keep_alive = False  # the parser cannot be told to skip the body: no reuse
        self._wake()

    def on_body(self, body: bytes) -> None:
        if self.head_only or self.status < 200:
            return
        self.chunks.append(body)
        self.buffered += len(body)
        if self.buffered > HIGH_WATER and not self.reading_paused and self.transport is not None:
            self.reading_paused = True
            self.transport.pause_reading()
        self._wake()

    def on_message_complete(self) -> None:
        if self.status < 200:
            return
        self.done = True
        self._wake()

    # --- the exchange -----------------------------------------------------------------------------------

    def _wake(self) -> None:
        if self.feeding:
            self.changed = True
            return
        if self.listener is not None:
            self.listener.upstream_changed(self)
            return
        waiter = self.waiter
        if waiter is not None:
            self.waiter = None
            if not waiter.done():
                waiter.set_result(None)

    def _fail(self, reason: str) -> None:
        if self.broken is None:
            self.broken = reason
        self.keep_alive = False
        if self.transport is not None:
            self.transport.close()
        self._wake()

    async def _wait(self, timeout: float) -> None:
        waiter = self.waiter = self.loop.create_future()
        timer = self.loop.call_later(timeout, _expire, waiter)
        try:
            await waiter
        finally:
            timer.cancel()
            self.waiter = None

    @property
    def stale(self) -> bool:
        """True when a reused keep-alive connection died before any byte of an answer: the upstream had closed
        it, so the request can go again on a fresh connection."""
        return self.used > 1 and not self.received

    def write_request(
        self,
        start: bytes,
        headers: bytes,
        body: bytes | None = None,
        *,
        stream: bool = False,
        length: int | None = None,
    ) -> None:
        """Write `start` (`GET /x HTTP/1.1\\r\\n`), Host, `headers` (complete lines) and the body's framing in one
        write, with `body` when it is bytes; with `stream`, a body of `length` bytes (chunked when None) follows.
        On a connection already closing the write fails as a broken connection."""
        transport = self.transport
        if transport is None or transport.is_closing():
            self._fail("connection closed")
            return
        host = self.pool.host_header
        if stream:
            framing = b"content-length: %d\r\n" % length if length is not None else b"transfer-encoding: chunked\r\n"
            transport.write(b"%shost: %s\r\n%s%s\r\n" % (start, host, headers, framing))
        elif body is None:
            transport.write(b"%shost: %s\r\n%s\r\n" % (start, host, headers))
        else:
            transport.write(b"%shost: %s\r\n%scontent-length: %d\r\n\r\n%s" % (start, host, headers, len(body), body))

    async def stream(self, body: AsyncIterator[bytes], *, chunked: bool) -> None:
        """Send a request body after a `write_request(stream=True)`, as it comes, with the upstream's flow control."""
        transport = self.transport
        assert transport is not None
        async for chunk in body:
            if self.broken is not None or transport.is_closing():
                raise UpstreamBroken(self.broken or "connection closed")
            transport.write(b"%x\r\n%s\r\n" % (len(chunk), chunk) if chunked else chunk)
            await self.drain()
        if self.broken is not None:
            raise UpstreamBroken(self.broken)
        if chunked:
            transport.write(b"0\r\n\r\n")

    async def drain(self) -> None:
        if self.writing_paused and self.broken is None:
            waiter = self.drain_waiter = self.loop.create_future()
            await waiter
        if self.broken is not None:
            raise UpstreamBroken(self.broken)

    async def read_head(self, timeout: float) -> None:
        """Wait for the status line and headers (and whatever of the body came with them)."""
        try:
            while not self.head_done:
                if self.broken is not None:
                    raise UpstreamBroken(self.broken, stale=self.stale)
                await self._wait(timeout)
        except TimeoutError:
            self.close()
            raise

    def take(self) -> bytes:
        """The body bytes received so far."""
        chunks = self.chunks
        if not chunks:
            return b""
        self.chunks = []
        self.buffered = 0
        if self.reading_paused and self.transport is not None:
            self.reading_paused = False
            self.transport.resume_reading()
        return chunks[0] if len(chunks) == 1 else b"".join(chunks)

    async def body(self, timeout: float) -> AsyncIterator[bytes]:
        """The rest of the body, chunk by chunk, as it arrives."""
        while True:
            if self.chunks:
                yield self.take()
                continue
            if self.done:
                return
            if self.broken is not None:
                raise UpstreamBroken(self.broken)
            try:
                await self._wait(timeout)
            except TimeoutError:
                self.close()
                raise

    def close(self) -> None:
        self.keep_alive = False
        self.done = True
        if self.transport is not None:
            self.transport.close()


class Pool:
    """Idle keep-alive connections to one upstream origin (`http://host:port`)."""

    __slots__ = ("loop", "host", "port", "host_header", "idle", "open")

    def __init__(self, origin: str) -> None:
        parts = urlsplit(origin)
        if parts.scheme != "http" or not parts.hostname:
            raise ValueError(f"unsupported upstream {origin!r}: plain http://host[:port] only")
        self.loop = asyncio.get_running_loop()
        self.host = parts.hostname
        self.port = parts.port or 80
        self.host_header = parts.netloc.encode("latin-1")
        self.idle: list[Connection] = []
        self.open: set[Connection] = set()

    def idle_connection(self) -> Connection | None:
        """A live idle connection, if there is one."""
        idle = self.idle
        if idle:
            now = time.monotonic()
            while idle:
                conn = idle.pop()
                transport = conn.transport
                if now - conn.idle_since < IDLE_SECONDS and transport is not None and not transport.is_closing():
                    conn._reset()
                    conn.used += 1
                    return conn
                conn.close()
        return None

    async def connection(self, connect_timeout: float) -> Connection:
        """A live idle connection, else a new one."""
        conn = self.idle_connection()
        if conn is not None:
            return conn
        try:
            async with asyncio.timeout(connect_timeout):
                _, new = await self.loop.create_connection(lambda: Connection(self), self.host, self.port)
        except (OSError, TimeoutError) as exc:
            raise ConnectFailed(f"{type(exc).__name__}: {exc}") from exc
        transport = new.transport
        assert transport is not None
        sock = transport.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.open.add(new)
        new.used = 1
        return new

    def release(self, conn: Connection) -> None:
        """Take back a connection whose exchange is over: kept when reusable, else closed."""
        conn.listener = None
        if conn.done and conn.keep_alive and conn.broken is None and not conn.chunks and len(self.idle) < MAX_IDLE:
            transport = conn.transport
            if transport is not None and not transport.is_closing():
                conn.idle_since = time.monotonic()
                conn.chunks = []
                self.idle.append(conn)
                return
        conn.close()

    def forget(self, conn: Connection) -> None:
        self.open.discard(conn)
        if conn in self.idle:
            self.idle.remove(conn)

    def close(self) -> None:
        for conn in list(self.open):
            conn.close()
        self.idle.clear()


class UpstreamClient:
    """Pools by origin, and the one call the proxy makes: send a request, get the response head."""

    def __init__(self) -> None:
        self._pools: dict[str, Pool] = {}

    def pool(self, origin: str) -> Pool:
        pool = self._pools.get(origin)
        if pool is None:
            pool = self._pools[origin] = Pool(origin)
        return pool

    async def send(
        self,
        origin: str,
        start: bytes,
        headers: bytes,
        body: bytes | AsyncIterator[bytes] | None,
        *,
        length: int | None,
        head_only: bool,
        connect_timeout: float,
        read_timeout: float,
    ) -> Connection:
        """Send `start` (`GET /x HTTP/1.1\\r\\n`), Host, `headers` (complete lines) and the body; wait for the head.

        A reused connection that turns out dead before answering is replaced by a fresh one once, when the body
        can be sent again (bytes or none).
        """
        pool = self.pool(origin)
        for attempt in (0, 1):
            conn = await pool.connection(connect_timeout)
            conn.head_only = head_only
            try:
                await _write(conn, start, headers, body, length)
                await conn.read_head(read_timeout)
            except UpstreamBroken as exc:
                conn.close()
                if attempt == 0 and (exc.stale or conn.stale) and _replayable(body):
                    continue
                raise
            except BaseException:
                conn.close()
                raise
            return conn
        raise AssertionError("unreachable")  # pragma: no cover

    def release(self, conn: Connection) -> None:
        conn.pool.release(conn)

    async def close(self) -> None:
        for pool in self._pools.values():
            pool.close()
        self._pools.clear()


def _replayable(body: object) -> bool:
    return body is None or isinstance(body, bytes)


async def _write(
    conn: Connection,
    start: bytes,
    headers: bytes,
    body: bytes | AsyncIterator[bytes] | None,
    length: int | None,
) -> None:
    if body is None or isinstance(body, bytes):
        conn.write_request(start, headers, body)
    else:
        conn.write_request(start, headers, stream=True, length=length)
    if conn.broken is not None:
        raise UpstreamBroken(conn.broken, stale=True)
    if not (body is None or isinstance(body, bytes)):
        await conn.stream(body, chunked=length is None)
