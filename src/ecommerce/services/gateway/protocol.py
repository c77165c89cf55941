"""uvicorn's httptools protocol, serving the plain proxied requests itself, below ASGI.

Measured per proxied request on one core (CPU time, bench/results/gateway.md): nginx proxies a request for about
20 us, uvicorn answers a constant body through ASGI for about 30 us, and the gateway on the ASGI path (fast lane,
pooled client) costs about 90-100 us; 40 % of nginx needs about 45 us (this path: about 43). Per request the ASGI
path builds a scope, a request cycle, an event, a task and several coroutine frames, checks every response header
with regular expressions and writes the head and the body separately. No server library offers a proxy path
below ASGI, so this protocol adds one for the commonest request, a public GET or HEAD without a body or Origin on
a gateway route: it is forwarded from the parser's callbacks over a pooled upstream connection (opened when none
is idle) and answered in one write when the upstream's answer arrives, with callbacks only (no task, no future,
no ASGI messages). Everything else (requests with a token, a body or an Origin, percent-encoded paths, pipelined
requests, any request while a breaker is open or half-open or the fault switch is on, sampled requests when
tracing is on, Redis rate limits) takes uvicorn's ordinary path into the app: the fast lane, then the chassis.

The rules are the same on both paths: routes, policy, the in-memory rate limit (429 with Retry-After),
balancing, retries of idempotent requests within the budget (also after a refused connection or a 502/503/504),
per-route read timeouts (504), 502 when the upstream breaks, streaming of large or chunked answers with flow
control both ways, the upstream metrics, `http_server_requests_seconds`, the access log, the request id and the
trace context. Every gateway test runs on both protocols. Select it with uvicorn's `http=` option (`PROTOCOL`
below is its import string). It subclasses the chassis' protocol (chassis/http_limits.py), so the HTTP limits
(head size, field count, the head's deadline) hold on both paths; requests pipelined behind a native one keep
their own cycle and are answered in order.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import httptools
import orjson
from uvicorn.protocols.http.httptools_impl import STATUS_LINE, HttpToolsProtocol

from ecommerce.chassis import LimitedHttpToolsProtocol, error_body
from ecommerce.services.gateway.client import ConnectFailed, Connection, Pool
from ecommerce.services.gateway.config import Access
from ecommerce.services.gateway.edge import safe_path
from ecommerce.services.gateway.fastlane import FastLane, RequestTelemetry
from ecommerce.services.gateway.metrics import RATE_LIMITED
from ecommerce.services.gateway.proxy import (
    NO_BODY_STATUSES,
    RESPONSE_DROP,
    RETRY_STATUSES,
    Gateway,
    Incoming,
    Route,
    _outcome,
    log,
)
from ecommerce.services.gateway.ratelimit import MemoryRateLimiter, retry_after_header

PROTOCOL = "ecommerce.services.gateway.protocol:GatewayProtocol"
_FAST_METHODS = frozenset({b"GET", b"HEAD"})
_MAX_PUBLIC_READS = 4096


class _Event:
    """Stands in for the request cycle's event: nothing waits on a natively served request."""

    __slots__ = ()

    def set(self) -> None:
        pass


class _Cycle:
    """The parts of uvicorn's request cycle its protocol looks at while a request is served natively (one per
    connection, reused by each natively served request)."""

    __slots__ = ("response_complete", "disconnected", "keep_alive", "more_body", "body", "message_event")

    def __init__(self) -> None:
        self.response_complete = True
        self.disconnected = False
        self.keep_alive = True
        self.more_body = False
        self.body = b""
        self.message_event = _Event()


class GatewayProtocol(LimitedHttpToolsProtocol):
    """One client connection: native exchanges for plain proxied requests, uvicorn's ASGI cycle for the rest."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.lane: FastLane | None = None
        self.exchange: Exchange | None = None
        self.idle_since: float | None = None  # when the last answer was complete; None while a request is in
        self.read_timer: asyncio.TimerHandle | None = None
        self.native_cycle = _Cycle()

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        lane = getattr(self.config.app, "middleware_stack", None)
        self.lane = lane if isinstance(lane, FastLane) else None

    def connection_lost(self, exc: Exception | None) -> None:
        for timer in (self.timeout_keep_alive_task, self.read_timer):
            if timer is not None:
                timer.cancel()
        self.timeout_keep_alive_task = self.read_timer = None
        super().connection_lost(exc)
        if self.exchange is not None:
            self.exchange.client_gone()

    def resume_writing(self) -> None:
        super().resume_writing()
        if self.exchange is not None:
            self.exchange.client_writable()

    # --- uvicorn's per-request callbacks, trimmed -----------------------------------------------------------

    def on_message_begin(self) -> None:
        # uvicorn builds the ASGI scope here; it is only built for the requests that go to the app.
        self.start_head()
        self.url = b""
        self.expect_100_continue = False
        self.headers = []

    def on_headers_complete(self) -> None:
        self.end_head()  # the chassis' HTTP limits, on both paths
        if self._serve_natively():
            return
        self.scope = {  # what uvicorn's on_message_begin builds
            "type": "http",
            "asgi": {"version": self.asgi_version, "spec_version": "2.3"},
            "http_version": "1.1",
            "server": self.server,
            "client": self.client,
            "scheme": self.scheme,  # type: ignore[typeddict-item]
            "root_path": self.root_path,
            "headers": self.headers,
            "state": self.app_state.copy(),
        }
        HttpToolsProtocol.on_headers_complete(self)  # uvicorn's own (the limits are checked above)

    def on_message_complete(self) -> None:
        # A native request has no body for anyone to wait on; a request queued behind it (pipelined) has its own
        # ASGI cycle, which must learn that its body is complete.
        if self.cycle is not self.native_cycle:
            super().on_message_complete()

    # The keep-alive timeout: uvicorn arms a timer after every answer and cancels it on the next request's first
    # bytes. Here one timer per idle period checks when the connection last finished an answer.

    def _unset_keepalive_if_required(self) -> None:
        self.idle_since = None

    def on_response_complete(self) -> None:
        self.server_state.total_requests += 1
        if self.transport.is_closing():
            return
        if self.flow.read_paused:
            self.flow.resume_reading()
        if self.pipeline:
            cycle, app = self.pipeline.pop()
            self._start_asgi_task(cycle, app)
            return
        self.idle_since = self.loop.time()
        if self.timeout_keep_alive_task is None:
            self.timeout_keep_alive_task = self.loop.call_later(self.timeout_keep_alive, self._check_keep_alive)

    def _check_keep_alive(self) -> None:
        self.timeout_keep_alive_task = None
        if self.idle_since is None:
            return  # busy: armed again once the answer is complete
        idle = self.loop.time() - self.idle_since
        if idle >= self.timeout_keep_alive:
            self.timeout_keep_alive_handler()
        else:
            self.timeout_keep_alive_task = self.loop.call_later(self.timeout_keep_alive - idle, self._check_keep_alive)

    # --- the native path ------------------------------------------------------------------------------------

    def _serve_natively(self) -> bool:
        lane = self.lane
        if lane is None or (self.cycle is not None and not self.cycle.response_complete):
            return False  # not started yet, or pipelined behind a request in flight: the ordinary path queues it
        if lane.faults is not None and lane.faults.active:
            return False
        parser = self.parser
        method = parser.get_method()
        gateway = lane.gateway
        key = (method, self.url)
        reads = gateway.public_reads
        if key in reads:
            target = reads[key]
        else:
            if len(reads) >= _MAX_PUBLIC_READS:
                reads.clear()
            target = reads[key] = _public_read(gateway, method, self.url)
        if target is None or parser.get_http_version() != "1.1" or parser.should_upgrade():
            return False
        incoming = Incoming(self.headers, self.client, self.scheme, gateway.forwarding_trusted(self.client))
        if incoming.authorization or incoming.origin or incoming.content_length or incoming.chunked:
            return False
        route, path, start = target
        if gateway.rate_limits and route.rate is not None and not isinstance(gateway.limiter, MemoryRateLimiter):
            return False
        if gateway.upstreams.unsettled or gateway.client is None:
            return False  # with a breaker open or half-open, `choose` has side effects: the ordinary path
        method_name = "GET" if method == b"GET" else "HEAD"
        telemetry = lane.start(incoming, method_name, spans=False)
        if telemetry is None:  # sampled for a span: the fast lane makes it
            return False
        incoming.forward += (b"x-request-id: ", telemetry.raw_id, b"\r\ntraceparent: ", telemetry.traceparent, b"\r\n")
        cycle = self.native_cycle
        cycle.response_complete = False
        cycle.keep_alive = parser.should_keep_alive()
        self.cycle = cycle  # type: ignore[assignment]
        exchange = self.exchange = Exchange(
            self, lane, route, method_name, path, start, b"".join(incoming.forward), telemetry
        )
        if gateway.rate_limits and route.rate is not None:
            assert isinstance(gateway.limiter, MemoryRateLimiter)
            address = gateway.client_address(self.headers, self.client[0] if self.client else "unknown")
            wait = gateway.limiter.take(f"{route.id}|{address}", route.rate, route.burst)
            if wait > 0:
                RATE_LIMITED.labels(gateway.application, route.id).inc()
                exchange.error(429, "Too many requests", b"retry-after: %s\r\n" % retry_after_header(wait).encode())
                return True
        route.budget.deposit()
        exchange.attempt()
        return True

    # The read timeout: one timer per connection while exchanges wait on upstreams, not one per request; it looks at
    # the current exchange's deadline when it fires and is armed again for whatever time is left.

    def watch(self, delay: float) -> None:
        if self.read_timer is None:
            self.read_timer = self.loop.call_later(delay, self._check_read)

    def _check_read(self) -> None:
        self.read_timer = None
        exchange = self.exchange
        if exchange is None or exchange.deadline is None:
            return
        left = exchange.deadline - self.loop.time()
        if left > 0:
            self.read_timer = self.loop.call_later(left, self._check_read)
        else:
            exchange.timed_out()

    def exchange_done(self, exchange: Exchange) -> None:
        """The answer is written (or the client left): back to reading the next request.

        `self.cycle` may already be the cycle of a request pipelined behind this one (queued for the ASGI path):
        only the native cycle is finished here; `on_response_complete` then starts the queued request.
        """
        if self.exchange is exchange:
            self.exchange = None
        cycle = self.native_cycle
        cycle.response_complete = True
        if self.transport.is_closing():
            return
        if not cycle.keep_alive:
            self.transport.close()
            return
        self.on_response_complete()


def _public_read(gateway: Gateway, method: bytes, url: bytes) -> tuple[Route, str, bytes] | None:
    """The route, path and upstream request line of a public GET or HEAD of `url`; None for any other request."""
    if method not in _FAST_METHODS:
        return None
    parsed = httptools.parse_url(url)
    raw_path: bytes = parsed.path
    if b"%" in raw_path:
        return None
    path = raw_path.decode("ascii")
    route = gateway.match(path)
    if (
        route is None
        or not safe_path(path, raw_path)
        or gateway.policy.access(route.prefix, method.decode(), path) is not Access.PUBLIC
    ):
        return None
    query = parsed.query
    return route, path, b"%s %s%s%s HTTP/1.1\r\n" % (method, raw_path, b"?" if query else b"", query or b"")


class Exchange:
    """One natively served request: sent to an upstream, retried when allowed, answered in as few writes as it can."""

    __slots__ = ("protocol", "lane", "route", "method", "path", "start", "headers", "telemetry", "conn", "upstream",
                 "tried", "retries", "sent_at", "deadline", "head_sent", "chunked", "status", "finished",
                 "connecting")  # fmt: skip

    def __init__(
        self,
        protocol: GatewayProtocol,
        lane: FastLane,
        route: Route,
        method: str,
        path: str,
        start: bytes,
        headers: bytes,
        telemetry: RequestTelemetry,
    ) -> None:
        self.protocol = protocol
        self.lane = lane
        self.route = route
        self.method = method
        self.path = path
        self.start = start
        self.headers = headers
        self.telemetry = telemetry
        self.conn: Connection | None = None
        self.upstream = ""
        self.tried: set[str] = set()
        self.retries = 0
        self.sent_at = 0.0
        self.deadline: float | None = None  # when the upstream must have sent more (loop time), while waiting
        self.head_sent = False
        self.chunked = False
        self.status = 0
        self.finished = False
        self.connecting: asyncio.Future[None] | None = None  # a new connection being opened for a retry

    # --- sending ----------------------------------------------------------------------------------------

    def send(self, upstream: str, conn: Connection) -> None:
        self.upstream = upstream
        self.tried.add(upstream)
        self.conn = conn
        conn.head_only = self.method == "HEAD"
        conn.listener = self
        transport = conn.transport
        assert transport is not None
        self.sent_at = time.perf_counter()
        self._arm()
        pool: Pool = conn.pool
        transport.write(b"%shost: %s\r\n%s\r\n" % (self.start, pool.host_header, self.headers))

    def _arm(self) -> None:
        timeout = self.route.read_timeout
        self.deadline = self.protocol.loop.time() + timeout
        self.protocol.watch(timeout)

    def _disarm(self) -> None:
        self.deadline = None

    def _next_attempt(self, status: int, msg: str) -> None:
        """Try another attempt when the rules allow it, else answer the gateway's own error."""
        gateway = self.lane.gateway
        route = self.route
        if self.head_sent or not gateway._may_retry(route, self.retries):
            log.warning("upstream_failed", route=route.id, upstream=self.upstream, error=msg)
            self.error(status, msg)
            return
        self.retries += 1
        log.info("upstream_retry", route=route.id, upstream=self.upstream, error=msg)
        self.attempt()

    def attempt(self) -> None:
        """Send to the next instance: over an idle connection at once, else once a new one is open."""
        gateway = self.lane.gateway
        route = self.route
        upstreams = gateway.upstreams
        upstream = upstreams.choose(route.service, route.urls, self.tried)
        if upstream is None and self.tried:
            upstream = upstreams.choose_again(route.service, route.urls, self.tried)
        client = gateway.client
        if upstream is None or client is None:
            self.error(503, f"No instance of {route.service} is available")
            return
        conn = client.pool(upstream).idle_connection()
        if conn is not None:
            self.send(upstream, conn)
            return
        self.upstream = upstream
        self.tried.add(upstream)
        self.connecting = asyncio.ensure_future(self._connect(upstream))

    async def _connect(self, upstream: str) -> None:
        gateway = self.lane.gateway
        client = gateway.client
        assert client is not None
        try:
            conn = await client.pool(upstream).connection(self.route.connect_timeout)
        except ConnectFailed as exc:
            self.connecting = None
            if self.finished:
                return
            gateway.upstreams.breaker(upstream).record(False)
            gateway.upstreams.report_failure(upstream)
            self.route.count(gateway.application, upstream, "UNREACHABLE", None)
            self._next_attempt(502, f"{self.route.service} is unreachable ({exc})")
            return
        self.connecting = None
        if self.finished:
            conn.close()
            return
        self.send(upstream, conn)

    # --- the upstream's side ----------------------------------------------------------------------------

    def upstream_changed(self, conn: Connection) -> None:
        if conn is not self.conn or self.finished:
            return
        route = self.route
        gateway = self.lane.gateway
        if conn.broken is not None:
            self._disarm()
            self.conn = None
            gateway.upstreams.breaker(self.upstream).record(False)
            if self.head_sent:  # the head is gone already: all that is left is to cut the answer short
                self._abort()
                return
            route.count(gateway.application, self.upstream, "ERROR", None)
            self._next_attempt(502, f"{route.service} failed: UpstreamBroken")
            return
        if not conn.head_done:
            return
        if not self.head_sent:
            status = self.status = conn.status
            gateway.upstreams.breaker(self.upstream).record(status < 500)
            route.count(gateway.application, self.upstream, _outcome(status), time.perf_counter() - self.sent_at)
            if status in RETRY_STATUSES and gateway._may_retry(route, self.retries):
                self.retries += 1
                self._disarm()
                self.conn = None
                conn.pool.release(conn)
                self.attempt()
                return
            self._write_head(conn)
        else:
            self._write_body(conn)
        if conn.done:
            self._disarm()
            self.conn = None
            conn.pool.release(conn)
            self._finish(self.status)
        else:
            self._arm()

    def _write_head(self, conn: Connection) -> None:
        self.head_sent = True
        status = conn.status
        parts = [STATUS_LINE[status]]
        length = None
        for name, value in conn.headers:
            lowered = name.lower()
            if lowered in RESPONSE_DROP:
                continue
            if lowered == b"content-length":
                length = value
            elif lowered == b"location":
                value = self.lane.gateway.upstreams.relative_location(value)
            parts += (name, b": ", value, b"\r\n")
        parts += (b"x-request-id: ", self.telemetry.raw_id, b"\r\n")
        if not self.protocol.native_cycle.keep_alive:
            parts.append(b"connection: close\r\n")
        no_body = self.method == "HEAD" or status in NO_BODY_STATUSES
        if conn.done or no_body:
            body = b"" if no_body else conn.take()
            if length is None and not no_body:
                parts += (b"content-length: %d\r\n" % len(body),)
            parts += (b"\r\n", body)
        else:
            if length is None:
                self.chunked = True
                parts.append(b"transfer-encoding: chunked\r\n")
            parts.append(b"\r\n")
            chunk = conn.take()
            if chunk:
                parts.append(b"%x\r\n%s\r\n" % (len(chunk), chunk) if self.chunked else chunk)
        self._client_write(b"".join(parts))

    def _write_body(self, conn: Connection) -> None:
        chunk = conn.take()
        out = b""
        if chunk:
            out = b"%x\r\n%s\r\n" % (len(chunk), chunk) if self.chunked else chunk
        if conn.done and self.chunked:
            out += b"0\r\n\r\n"
        if out:
            self._client_write(out)
        if not conn.done and self.protocol.flow.write_paused and conn.transport is not None:
            conn.reading_paused = True  # resumed by `take` once the client has drained
            conn.transport.pause_reading()

    def timed_out(self) -> None:
        self.deadline = None
        conn, self.conn = self.conn, None
        if conn is None or self.finished:
            return
        conn.close()
        gateway = self.lane.gateway
        gateway.upstreams.breaker(self.upstream).record(False)
        if self.head_sent:
            self._abort()
            return
        self.route.count(gateway.application, self.upstream, "TIMEOUT", None)
        self._next_attempt(504, f"{self.route.service} did not answer in time")

    # --- the client's side ------------------------------------------------------------------------------

    def client_gone(self) -> None:
        if self.finished:
            return
        self._disarm()
        conn, self.conn = self.conn, None
        if conn is not None:
            conn.close()
            self.lane.gateway.upstreams.breaker(self.upstream).record(True)  # not the upstream's fault
        self._finish(499)

    def client_writable(self) -> None:
        conn = self.conn
        if conn is not None and conn.reading_paused and conn.transport is not None:
            conn.reading_paused = False
            conn.transport.resume_reading()

    def _client_write(self, data: bytes) -> None:
        transport = self.protocol.transport
        if not transport.is_closing():
            transport.write(data)

    def error(self, status: int, msg: str, extra: bytes = b"") -> None:
        """Answer the gateway's own error, in the one error body."""
        body = orjson.dumps(error_body(status, msg, self.path, f"{self.telemetry.state.trace_id:032x}"))
        parts = [
            STATUS_LINE[status],
            b"content-type: application/json\r\ncontent-length: %d\r\nx-request-id: %s\r\n%s"
            % (len(body), self.telemetry.raw_id, extra),
        ]
        if not self.protocol.native_cycle.keep_alive:
            parts.append(b"connection: close\r\n")
        parts += (b"\r\n", b"" if self.method == "HEAD" else body)
        self._client_write(b"".join(parts))
        self._finish(status)

    def _abort(self) -> None:
        self.protocol.native_cycle.keep_alive = False
        self.protocol.transport.close()
        self._finish(self.status or 502)

    def _finish(self, status: int) -> None:
        if self.finished:
            return
        self.finished = True
        self.lane.finish(self.telemetry, self.method, self.route, self.path, status)
        self.protocol.exchange_done(self)
