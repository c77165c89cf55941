"""The native way into the gateway: plain public reads served from the HTTP parser's callbacks, below ASGI.

Per proxied request the ASGI path builds a scope, a request cycle, a task, ASGI messages and several coroutine frames,
and checks every response header with regular expressions; no server library offers a proxy path below ASGI. So the
chassis' native-lane protocol (chassis/uvicorn_adapter.py, the one module that knows uvicorn's internals) hands each
request head to `NativeServer` first. It serves the commonest request, a public GET or HEAD without a body, a token or
an Origin on a gateway route, by driving the one `Exchange` (exchange.py) with a `NativeReply` that writes HTTP/1.1
bytes straight to the client's transport: no task, no future, no ASGI message, the answer in one write when the
upstream's came in one read (bench/results/gateway.md). Everything else (a token, a body, an Origin, a percent-encoded
path, an upgrade, a request pipelined behind one in flight, the fault switch on, a request sampled for a span, Redis
rate limits) is refused here and takes the ASGI path: the fast lane, then `Gateway.handle`. The edge rules are the same
objects on both paths: the route table, `public_read`'s path and policy checks, the rate limit's key and answer, the
exchange, and the fast lane's telemetry.
"""

from __future__ import annotations

import asyncio
from http import HTTPStatus
from typing import Protocol

from ecommerce.services.gateway.exchange import Exchange, Headers
from ecommerce.services.gateway.fastlane import FastLane, RequestTelemetry
from ecommerce.services.gateway.proxy import Incoming
from ecommerce.services.gateway.ratelimit import MemoryRateLimiter
from ecommerce.services.gateway.route import Route

STATUS_LINES = {status.value: b"HTTP/1.1 %d %s\r\n" % (status.value, status.phrase.encode()) for status in HTTPStatus}


class Connection(Protocol):
    """What the server protocol (the chassis' `NativeLaneProtocol`) offers the native path for one client connection."""

    transport: asyncio.Transport

    def writing_paused(self) -> bool:
        """True while the client's socket buffer is full."""

    def keep_alive(self) -> bool:
        """True while the connection stays open after the current answer."""

    def begin(self, keep_alive: bool) -> None:
        """A request is being served natively: requests behind it wait."""

    def close(self) -> None:
        """Close the connection once what is written has gone."""

    def request_done(self) -> None:
        """The native answer is complete: on to the next request."""


class NativeServer:
    """One client connection's native exchanges (one at a time), and the `Reply` they write to."""

    __slots__ = ("lane", "connection", "loop", "exchange", "timer", "chunked", "telemetry")

    def __init__(self, lane: FastLane, connection: Connection) -> None:
        self.lane = lane
        self.connection = connection
        self.loop = asyncio.get_running_loop()
        self.exchange: Exchange | None = None
        self.timer: asyncio.TimerHandle | None = None  # one read-timeout timer per connection, not per request
        self.chunked = False
        self.telemetry: RequestTelemetry | None = None

    def serve(
        self,
        method: bytes,
        url: bytes,
        headers: list[tuple[bytes, bytes]],
        client: tuple[str, int] | None,
        scheme: str | None,
        keep_alive: bool,
    ) -> bool:
        """Serve a request whose head is complete, if it is one the native path takes; False otherwise."""
        lane = self.lane
        if lane.faults is not None and lane.faults.active:
            return False
        gateway = lane.gateway
        target = gateway.public_read(method, url)
        if target is None:
            return False
        incoming = Incoming(headers, client, scheme, gateway.forwarding_trusted(client))
        if incoming.authorization or incoming.origin or incoming.content_length or incoming.chunked:
            return False
        route, path, start = target
        rate = route.rate if gateway.rate_limits else None
        limiter = gateway.limiter
        if rate is not None and not isinstance(limiter, MemoryRateLimiter):
            return False  # a store across the network: a wait the native path does not make
        method_name = "GET" if method == b"GET" else "HEAD"
        telemetry = lane.start(incoming, method_name, spans=False)
        if telemetry is None:  # sampled for a span: the fast lane makes it
            return False
        self.connection.begin(keep_alive)
        self.telemetry = telemetry
        exchange = self.exchange = Exchange(
            gateway, route, self, method_name, path, request_id=telemetry.raw_id, trace=telemetry.state
        )
        if rate is not None:
            assert isinstance(limiter, MemoryRateLimiter)
            wait = limiter.take(gateway.rate_key(route, None, headers, client), rate, route.burst)
            if wait > 0:
                gateway.too_many(exchange, wait)
                return True
        incoming.forward += (b"x-request-id: ", telemetry.raw_id, b"\r\ntraceparent: ", telemetry.traceparent, b"\r\n")
        exchange.forward(start, b"".join(incoming.forward))
        return True

    # --- events of the client's connection ----------------------------------------------------------------

    def connection_lost(self) -> None:
        """The client's connection is gone."""
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None
        if self.exchange is not None:
            self.exchange.client_gone()

    def writable(self) -> None:
        """The client's socket takes data again."""
        if self.exchange is not None:
            self.exchange.client_writable()

    # --- the exchange's Reply, as HTTP/1.1 bytes ------------------------------------------------------------

    def start(self, status: int, headers: Headers, length_given: bool, body: bytes, more: bool, no_body: bool) -> None:
        line = STATUS_LINES.get(status) or b"HTTP/1.1 %d \r\n" % status
        parts = [line]
        for name, value in headers:
            parts += (name, b": ", value, b"\r\n")
        if not self.connection.keep_alive():
            parts.append(b"connection: close\r\n")
        self.chunked = False
        if not more:
            if not length_given and not no_body:
                parts.append(b"content-length: %d\r\n" % len(body))
            parts += (b"\r\n", body)
        else:
            if not length_given:
                self.chunked = True
                parts.append(b"transfer-encoding: chunked\r\n")
            parts.append(b"\r\n")
            if body:
                parts.append(b"%x\r\n%s\r\n" % (len(body), body) if self.chunked else body)
        self._write(b"".join(parts))

    def more(self, chunk: bytes, last: bool) -> None:
        out = b""
        if chunk:
            out = b"%x\r\n%s\r\n" % (len(chunk), chunk) if self.chunked else chunk
        if last and self.chunked:
            out += b"0\r\n\r\n"
        if out:
            self._write(out)

    def _write(self, data: bytes) -> None:
        transport = self.connection.transport
        if not transport.is_closing():
            transport.write(data)

    def paused(self) -> bool:
        return self.connection.writing_paused()

    def watch(self, exchange: Exchange, delay: float) -> None:
        if self.timer is None:
            self.timer = self.loop.call_later(delay, self._check_read)

    def _check_read(self) -> None:
        self.timer = None
        exchange = self.exchange
        if exchange is None:
            return
        left = exchange.check_deadline()
        if left is not None:
            self.timer = self.loop.call_later(left, self._check_read)

    def abort(self) -> None:
        self.connection.close()

    def done(self, exchange: Exchange, status: int) -> None:
        if self.exchange is exchange:
            self.exchange = None
        telemetry = self.telemetry
        assert telemetry is not None
        self.telemetry = None
        route: Route = exchange.route
        self.lane.finish(telemetry, exchange.method, route, exchange.path, status)
        self.connection.request_done()
