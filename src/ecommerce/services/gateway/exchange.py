"""The one exchange state machine: a request sent to an upstream and its answer relayed, whichever way it came in.

Both ways into the gateway drive this class: the ASGI path (`proxy.py`, behind the fast lane) and the native path
(`native.py`, from the parser callbacks of the chassis' uvicorn adapter). Each hands it a `Reply`, the client's side
of the exchange, which only knows how to put an answer on its wire (ASGI messages, or HTTP/1.1 bytes); every rule
about the upstream side lives here once: balancing and the trial call after a refusal, the stale keep-alive
connection sent again, retries of replayable requests within the route's budget (after a refused or broken
connection, a timeout, or a 502/503/504), the per-route read timeout, the breaker and the upstream metrics, the
response headers dropped or rewritten, streaming with flow control both ways, the gateway's own error answers in the
one error body, and cutting the answer short when the upstream fails after its head was relayed.

It is driven by callbacks (the upstream connection's `upstream_changed`, the reply's timer and flow control)
rather than by a coroutine: the native path serves a request with no task, no future and no ASGI message, which is
where its lead over the ASGI path comes from (bench/results/gateway.md). A task is made only to open a new upstream
connection or to stream a request body.
"""

from __future__ import annotations

import asyncio
import time
from typing import Protocol

import orjson
import structlog

from ecommerce.chassis import TraceState, error_body, request_id_var, trace_var
from ecommerce.services.gateway.client import ConnectFailed, Connection, UpstreamClient, UpstreamError
from ecommerce.services.gateway.edge import BodyStream, BodyTooLarge, ClientGone
from ecommerce.services.gateway.route import Route
from ecommerce.services.gateway.upstreams import Upstreams

log = structlog.get_logger("ecommerce.gateway")

RETRY_STATUSES = frozenset({502, 503, 504})
# Response headers not relayed as they came: hop-by-hop ones, and those the gateway sets itself.
RESPONSE_DROP = frozenset(
    {b"connection", b"keep-alive", b"transfer-encoding", b"upgrade", b"trailer", b"date", b"server",
     b"x-request-id", b"access-control-allow-origin", b"access-control-allow-credentials"}
)  # fmt: skip
NO_BODY_STATUSES = frozenset({204, 304})
Headers = list[tuple[bytes, bytes]]


class Gateway(Protocol):
    """What an exchange uses of the gateway (proxy.Gateway)."""

    application: str
    upstreams: Upstreams
    client: UpstreamClient | None


class Reply(Protocol):
    """The client's side of an exchange: how one way into the gateway puts an answer on its wire."""

    def start(self, status: int, headers: Headers, length_given: bool, body: bytes, more: bool, no_body: bool) -> None:
        """The head (with the body so far; `more` when more follows); `length_given` when a Content-Length is in
        `headers`; `no_body` for an answer that has none whatever its headers say (HEAD, 204, 304)."""

    def more(self, chunk: bytes, last: bool) -> None:
        """More of the body; `last` when it is complete."""

    def paused(self) -> bool:
        """True while the client is not taking what is written: reading from the upstream waits."""

    def watch(self, exchange: Exchange, delay: float) -> None:
        """Call `exchange.check_deadline()` in `delay` seconds, unless a call is due already."""

    def abort(self) -> None:
        """The answer cannot be completed: cut the client's connection."""

    def done(self, exchange: Exchange, status: int) -> None:
        """The exchange is over (answered with `status`, or 499 when the client left)."""


class Exchange:
    """One request on its way to an upstream and back: attempts, retries, timeouts, the answer relayed."""

    __slots__ = ("gateway", "route", "reply", "method", "path", "start", "headers", "body", "length", "cors",
                 "request_id", "trace", "idempotent", "conn", "upstream", "tried", "retries", "sent_at", "deadline",
                 "head_sent", "status", "finished", "connecting", "pumping", "renewed")  # fmt: skip

    def __init__(
        self,
        gateway: Gateway,
        route: Route,
        reply: Reply,
        method: str,
        path: str,
        *,
        request_id: bytes | None,
        trace: TraceState | None,
        cors: Headers | None = None,
    ) -> None:
        self.gateway = gateway
        self.route = route
        self.reply = reply
        self.method = method
        self.path = path
        self.request_id = request_id  # echoed on every answer; None when the chassis' middleware does it
        self.trace = trace  # for the error body's traceId; None: the context's (chassis/telemetry.py)
        self.cors = cors
        self.start = self.headers = b""
        self.body: bytes | BodyStream | None = None
        self.length: int | None = None
        self.idempotent = True
        self.conn: Connection | None = None
        self.upstream = ""
        self.tried: set[str] = set()
        self.retries = 0
        self.sent_at = 0.0
        self.deadline: float | None = None  # when the upstream must have sent more (loop time), while waiting
        self.head_sent = False
        self.status = 0
        self.finished = False
        self.connecting: asyncio.Future[None] | None = None  # a new connection being opened
        self.pumping: asyncio.Future[None] | None = None  # a streamed request body being sent
        self.renewed = False  # a reused connection found dead was replaced once already

    # --- sending ----------------------------------------------------------------------------------------

    def forward(
        self,
        start: bytes,
        headers: bytes,
        body: bytes | BodyStream | None = None,
        length: int | None = None,
        idempotent: bool = True,
    ) -> None:
        """Send the request (`start` is its request line, `headers` complete header lines) to the route's
        upstreams until one answers or the rules give up."""
        self.start = start
        self.headers = headers
        self.body = body
        self.length = length
        self.idempotent = idempotent
        self.route.budget.deposit()
        self.attempt()

    def attempt(self) -> None:
        """Send to the next instance: over an idle connection at once, else once a new one is open."""
        gateway = self.gateway
        route = self.route
        upstreams = gateway.upstreams
        upstream = upstreams.choose(route.service, route.urls, self.tried)
        if upstream is None and self.tried:
            upstream = upstreams.choose_again(route.service, route.urls, self.tried)
        client = gateway.client
        if upstream is None or client is None:
            self.error(503, f"No instance of {route.service} is available")
            return
        self.upstream = upstream
        self.tried.add(upstream)
        conn = client.pool(upstream).idle_connection()
        if conn is not None:
            self._send(conn)
        else:
            self.connecting = asyncio.ensure_future(self._connect(upstream))

    async def _connect(self, upstream: str) -> None:
        client = self.gateway.client
        assert client is not None
        try:
            conn = await client.pool(upstream).connection(self.route.connect_timeout)
        except ConnectFailed as exc:
            self.connecting = None
            if not self.finished:
                self._unreachable(exc)
            return
        except Exception as exc:  # a task's failure would go unseen and the client wait forever: answer it
            self.connecting = None
            log.exception("upstream_connect_failed", upstream=upstream)
            self.error(502, f"{self.route.service} failed: {type(exc).__name__}")
            return
        self.connecting = None
        if self.finished:
            conn.close()
            return
        self._send(conn)

    def _send(self, conn: Connection) -> None:
        self.conn = conn
        conn.head_only = self.method == "HEAD"
        conn.listener = self
        self.sent_at = time.perf_counter()
        body = self.body
        if isinstance(body, BodyStream):
            conn.write_request(self.start, self.headers, stream=True, length=self.length)
        else:
            conn.write_request(self.start, self.headers, body)
        if self.conn is not conn:
            return  # the connection was closed already: `upstream_changed` has been told
        if isinstance(body, BodyStream):
            self.pumping = asyncio.ensure_future(self._pump(conn, body))
        else:
            self._arm()  # for a streamed body, once it is sent

    async def _pump(self, conn: Connection, body: BodyStream) -> None:
        """Stream the client's body to the upstream, with the upstream's flow control; what the upstream answered
        meanwhile is relayed once the body is sent (as a client that writes its whole request first would see it:
        the client, too, is still sending, and the upstream connection is reusable only after the whole request)."""
        try:
            await conn.stream(body.__aiter__(), chunked=self.length is None)
        except (BodyTooLarge, ClientGone) as exc:
            self.pumping = None
            if conn is not self.conn or self.finished:
                return
            self.conn = None
            conn.close()
            self.gateway.upstreams.breaker(self.upstream).record(True)  # the client's body was at fault
            if isinstance(exc, ClientGone):
                self._finish(499)
            else:
                self.error(413, f"Request body over {body.limit} bytes")
            return
        except UpstreamError:
            pass  # the connection broke or was closed: what it answered before, if anything, is relayed below
        self.pumping = None
        if conn is self.conn and not self.finished:
            if conn.head_done or conn.broken is not None:
                self.upstream_changed(conn)
            else:
                self._arm()

    def _arm(self) -> None:
        timeout = self.route.read_timeout
        self.deadline = asyncio.get_running_loop().time() + timeout
        self.reply.watch(self, timeout)

    def check_deadline(self) -> float | None:
        """The reply's timer fired: the seconds left to wait (to be called again then), else None (timed out, or
        nothing to wait for)."""
        deadline = self.deadline
        if deadline is None or self.finished:
            return None
        left = deadline - asyncio.get_running_loop().time()
        if left > 0:
            return left
        self._timed_out()
        return None

    # --- the upstream's side ----------------------------------------------------------------------------

    def upstream_changed(self, conn: Connection) -> None:
        """The upstream connection's news: its head, more of its body, its end, or its failure."""
        if conn is not self.conn or self.finished:
            return
        if conn.broken is not None:
            self._broken(conn)
            return
        if not conn.head_done or self.pumping is not None:
            return  # nothing to relay yet, or not before the request's body is sent
        if not self.head_sent:
            status = self.status = conn.status
            gateway = self.gateway
            route = self.route
            gateway.upstreams.breaker(self.upstream).record(status < 500)
            route.count(gateway.application, self.upstream, _outcome(status), time.perf_counter() - self.sent_at)
            if status in RETRY_STATUSES and self._may_retry(sent=True):
                self._release(conn)
                self.attempt()
                return
            self._relay_head(conn)
        else:
            chunk = conn.take()
            if chunk or conn.done:
                self.reply.more(chunk, conn.done)
            if not conn.done and self.reply.paused() and conn.transport is not None:
                conn.reading_paused = True  # resumed by `take` once the client has drained
                conn.transport.pause_reading()
        if conn.done:
            self._release(conn)
            self._finish(self.status)
        else:
            self._arm()

    def _relay_head(self, conn: Connection) -> None:
        self.head_sent = True
        headers: Headers = []
        length_given = False
        for name, value in conn.headers:
            lowered = name.lower()
            if lowered in RESPONSE_DROP:
                continue
            if lowered == b"content-length":
                length_given = True
            elif lowered == b"location":
                value = self.gateway.upstreams.relative_location(value)
            headers.append((name, value))
        if self.cors is not None:
            headers += self.cors
        if self.request_id is not None:
            headers.append((b"x-request-id", self.request_id))
        status = conn.status
        no_body = self.method == "HEAD" or status in NO_BODY_STATUSES
        body = b"" if no_body else conn.take()
        self.reply.start(status, headers, length_given, body, not (conn.done or no_body), no_body)

    def _broken(self, conn: Connection) -> None:
        self.deadline = None
        self.conn = None
        if self.head_sent:  # the head is gone already: all that is left is to cut the answer short
            self.gateway.upstreams.breaker(self.upstream).record(False)
            log.warning("upstream_body_failed", upstream=self.upstream, error=conn.broken)
            self._abort()
            return
        if conn.stale and not self.renewed and self._replayable():
            # A reused keep-alive connection the upstream had closed: send again once, on a fresh one.
            self.renewed = True
            self.connecting = asyncio.ensure_future(self._connect(self.upstream))
            return
        self.gateway.upstreams.breaker(self.upstream).record(False)
        self.route.count(self.gateway.application, self.upstream, "ERROR", None)
        self._failed(502, f"{self.route.service} failed: UpstreamBroken", conn.broken or "", sent=True)

    def _unreachable(self, exc: ConnectFailed) -> None:
        upstreams = self.gateway.upstreams
        upstreams.breaker(self.upstream).record(False)
        upstreams.report_failure(self.upstream)
        self.route.count(self.gateway.application, self.upstream, "UNREACHABLE", None)
        self._failed(502, f"{self.route.service} is unreachable", str(exc), sent=False)

    def _timed_out(self) -> None:
        self.deadline = None
        conn, self.conn = self.conn, None
        if conn is None:
            return
        conn.close()
        self.gateway.upstreams.breaker(self.upstream).record(False)
        if self.head_sent:
            log.warning("upstream_body_failed", upstream=self.upstream, error="TimeoutError")
            self._abort()
            return
        self.route.count(self.gateway.application, self.upstream, "TIMEOUT", None)
        self._failed(504, f"{self.route.service} did not answer in time", "TimeoutError", sent=True)

    def _failed(self, status: int, msg: str, why: str, *, sent: bool) -> None:
        """An attempt failed before any answer: another attempt when the rules allow it, else the error."""
        if self._may_retry(sent=sent):
            log.info("upstream_retry", route=self.route.id, upstream=self.upstream, error=why[:200])
            self.attempt()
            return
        log.warning("upstream_failed", route=self.route.id, upstream=self.upstream, error=why[:200])
        self.error(status, msg)

    def _may_retry(self, *, sent: bool) -> bool:
        if self.head_sent or not self._replayable() or not (self.idempotent or not sent):
            return False
        if not self.route.may_retry(self.gateway.application, self.retries):
            return False
        self.retries += 1
        return True

    def _replayable(self) -> bool:
        return not isinstance(self.body, BodyStream)

    def _release(self, conn: Connection) -> None:
        self.deadline = None
        self.conn = None
        conn.pool.release(conn)

    # --- the client's side ------------------------------------------------------------------------------

    def client_gone(self) -> None:
        """The client closed its connection: stop, without blaming the upstream."""
        if self.finished:
            return
        self.deadline = None
        conn, self.conn = self.conn, None
        if conn is not None:
            conn.close()
            self.gateway.upstreams.breaker(self.upstream).record(True)
        self._finish(499)

    def client_writable(self) -> None:
        """The client takes data again: resume reading from the upstream."""
        conn = self.conn
        if conn is not None and conn.reading_paused and conn.transport is not None:
            conn.reading_paused = False
            conn.transport.resume_reading()

    def error(self, status: int, msg: str, extra: Headers | None = None) -> None:
        """Answer the gateway's own error, in the one error body (CORS headers kept so browsers can read it)."""
        trace = self.trace or trace_var.get()
        trace_id = f"{trace.trace_id:032x}" if trace is not None else request_id_var.get()
        body = orjson.dumps(error_body(status, msg, self.path, trace_id))
        headers: Headers = [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(body))]
        self.answer(status, headers + extra if extra else headers, body)

    def answer(self, status: int, headers: Headers, body: bytes = b"") -> None:
        """Answer with the gateway's own answer (an error, a CORS preflight): `headers` must give its length."""
        if self.finished:
            return
        if self.cors is not None:
            headers += self.cors
        if self.request_id is not None:
            headers.append((b"x-request-id", self.request_id))
        self.head_sent = True
        no_body = self.method == "HEAD"
        self.reply.start(status, headers, True, b"" if no_body else body, False, no_body)
        self._finish(status)

    def _abort(self) -> None:
        self.reply.abort()
        self._finish(self.status or 502)

    def _finish(self, status: int) -> None:
        if self.finished:
            return
        self.finished = True
        self.deadline = None
        for task in (self.connecting, self.pumping):  # nothing left for them to do
            if task is not None and task is not asyncio.current_task():
                task.cancel()
        self.reply.done(self, status)


def _outcome(status: int) -> str:
    return "SUCCESS" if status < 400 else "CLIENT_ERROR" if status < 500 else "SERVER_ERROR"
