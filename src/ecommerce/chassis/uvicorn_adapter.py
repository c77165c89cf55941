"""The chassis' one adapter to uvicorn's internals: its httptools protocol with the HTTP limits, and a native lane.

uvicorn has no public hook below ASGI. Two things need one: the HTTP limits every component serves with
(http_limits.py says which and why), checked in the parser's callbacks, and the gateway's native way in, which
serves plain proxied reads from the parser's callbacks without an ASGI cycle (gateway/native.py says why). Both
subclass uvicorn's `HttpToolsProtocol` and override some of its members, private ones included. Everything in
src/ that knows those members is here, and only here: `UVICORN_CONTRACT` lists the methods overridden or called
(with the signatures they were written against), the attributes read or set, and what a request cycle must look
like to uvicorn while a request is served natively. tests/chassis/test_uvicorn_adapter.py checks each against the
installed uvicorn, so an upgrade that renames, re-signs or drops one fails there, loudly, before it misbehaves
here; pyproject.toml pins uvicorn to the range that test passed on.

`LimitedHttpToolsProtocol` is every component's protocol. It adds the limits in uvicorn's parser callbacks with no
work per request beyond a clock read and two comparisons:

- bytes are counted per chunk received while a head is incomplete; past the limit the answer is 431 before more is
  read, so an unfinished head costs at most the limit plus one read (the chunk a head begins in counts whole);
- a complete head is measured exactly only when the chunks it came in could exceed the limit;
- one timer per connection, armed when a head starts and none is pending, closes a connection whose head is late.

`NativeLaneProtocol` (the gateway's, `http_limits.NATIVE_LANE_PROTOCOL`) offers each complete request head to the
app's native lane first: an object the app puts in `app.state.native_lane`, called with the connection (this
protocol, whose `writing_paused`, `keep_alive`, `begin`, `close` and `request_done` it may use) and answering
`serve`, `writable` and `connection_lost`. A request the lane does not take gets uvicorn's ordinary ASGI cycle (its
scope built only then, not for every request). Requests pipelined behind a native one are queued by uvicorn as
usual and started when the native answer is complete. The keep-alive timeout is one timer per idle period instead
of one armed and cancelled per request. The limits hold on both paths.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any, ClassVar, Protocol

import httptools
import orjson
from uvicorn.protocols.http.httptools_impl import STATUS_LINE, HttpToolsProtocol

from ecommerce.chassis.errors import error_body
from ecommerce.chassis.http_limits import LIMITS, HttpLimits

NATIVE_LANE = "native_lane"  # the app.state attribute a native lane's opener is kept in
_PATH_IN_ERRORS = 256  # characters of the path an error body repeats

# What this module relies on in uvicorn's HttpToolsProtocol: methods it overrides or calls (with the signature it
# was written against), attributes it reads or sets, the request scope uvicorn builds, and the attributes of a
# request cycle uvicorn looks at.
UVICORN_CONTRACT: dict[str, Any] = {
    "methods": {
        "connection_made": "(self, transport: 'asyncio.Transport') -> 'None'",
        "connection_lost": "(self, exc: 'Exception | None') -> 'None'",
        "data_received": "(self, data: 'bytes') -> 'None'",
        "resume_writing": "(self) -> 'None'",
        "send_400_response": "(self, msg: 'str') -> 'None'",
        "handle_websocket_upgrade": "(self) -> 'None'",
        "on_message_begin": "(self) -> 'None'",
        "on_headers_complete": "(self) -> 'None'",
        "on_message_complete": "(self) -> 'None'",
        "on_response_complete": "(self) -> 'None'",
        "_should_upgrade": "(self) -> 'bool'",
        "_unsupported_upgrade_warning": "(self) -> 'None'",
        "_unset_keepalive_if_required": "(self) -> 'None'",
        "_start_asgi_task": "(self, cycle: 'RequestResponseCycle', app: 'ASGI3Application') -> 'None'",
        "timeout_keep_alive_handler": "(self) -> 'None'",
    },
    "attributes": (
        "config", "loop", "logger", "transport", "flow", "parser", "url", "headers", "expect_100_continue", "scope",
        "cycle", "pipeline", "server", "client", "scheme", "root_path", "asgi_version", "app_state", "server_state",
        "timeout_keep_alive", "timeout_keep_alive_task",
    ),
    "scope": ("type", "asgi", "http_version", "server", "client", "scheme", "root_path", "headers", "state"),
    "cycle": ("response_complete", "disconnected", "keep_alive", "more_body", "body", "message_event"),
    "flow": ("read_paused", "write_paused", "resume_reading"),
    "status_lines": (400, 431),
}  # fmt: skip


class NativeLane(Protocol):
    """One connection's native way in, as `NativeLaneProtocol` drives it."""

    def serve(
        self,
        method: bytes,
        url: bytes,
        headers: list[tuple[bytes, bytes]],
        client: tuple[str, int] | None,
        scheme: str | None,
        keep_alive: bool,
    ) -> bool:
        """Serve the request whose head just completed, or say False to leave it to the ASGI cycle."""

    def writable(self) -> None:
        """The client's socket takes writes again."""

    def connection_lost(self) -> None:
        """The client is gone."""


NativeLaneOpener = Callable[["NativeLaneProtocol"], NativeLane]


class _HeadRefused(Exception):
    """Raised from a parser callback to stop parsing; httptools reports it as a parser error."""


class LimitedHttpToolsProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with the limits above: 431 for a head too large or with too many fields, the
    connection closed when a head is late."""

    limits: ClassVar[HttpLimits] = LIMITS

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.head_since: float | None = None  # loop time the incomplete head started; None when none is due
        self.head_bytes = 0  # bytes received in earlier chunks while the current head was incomplete
        self.chunk_bytes = 0  # size of the chunk being parsed
        self.head_timer: asyncio.TimerHandle | None = None
        self.refusal: str | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self.start_head()  # the first head is due from now: a connection that sends nothing is closed too

    def connection_lost(self, exc: Exception | None) -> None:
        if self.head_timer is not None:
            self.head_timer.cancel()
            self.head_timer = None
        self.head_since = None
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        # uvicorn's own, with the head's bytes counted after each chunk (inlined: it runs for every chunk)
        self._unset_keepalive_if_required()
        self.chunk_bytes = len(data)
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError:
            self.send_400_response("Invalid HTTP request received.")  # a refusal from `end_head` is one, too
            return
        except httptools.HttpParserUpgrade:
            if self._should_upgrade():
                self.handle_websocket_upgrade()
            else:
                self._unsupported_upgrade_warning()
            return
        if self.head_since is not None:
            self.head_bytes += self.chunk_bytes
            if self.head_bytes > self.limits.max_head_bytes and not self.transport.is_closing():
                self.refuse("Request header fields too large")
        elif self.cycle is not None and self.cycle.response_complete and not self.transport.is_closing():
            self.start_head()  # bytes that began no message (blank lines) while idle: a head is due all the same

    # --- the parser's callbacks -----------------------------------------------------------------------------

    def on_message_begin(self) -> None:
        self.start_head()
        super().on_message_begin()

    def on_headers_complete(self) -> None:
        self.head_since = None  # `end_head`, inlined for the common case (it runs for every request)
        if (
            len(self.headers) > self.limits.max_headers
            or self.head_bytes + self.chunk_bytes > self.limits.max_head_bytes
        ):
            self._measure_head()
        super().on_headers_complete()

    def start_head(self) -> None:
        """A head starts arriving: count its bytes and time it."""
        self.head_since = self.loop.time()
        self.head_bytes = 0
        if self.head_timer is None:
            self.head_timer = self.loop.call_later(self.limits.head_timeout, self._check_head)

    def end_head(self) -> None:
        """The head is complete: refuse it (stopping the parser) when it breaks a limit."""
        self.head_since = None
        limits = self.limits
        if len(self.headers) > limits.max_headers or self.head_bytes + self.chunk_bytes > limits.max_head_bytes:
            self._measure_head()

    def _measure_head(self) -> None:
        limits = self.limits
        if len(self.headers) > limits.max_headers:
            self.refusal = f"More than {limits.max_headers} header fields"
            raise _HeadRefused
        if self._head_size() > limits.max_head_bytes:
            self.refusal = "Request header fields too large"
            raise _HeadRefused

    def _head_size(self) -> int:
        # the request line's method and version, then each field as `name: value\r\n`, then the blank line
        return 16 + len(self.url) + sum(len(name) + len(value) + 4 for name, value in self.headers) + 2

    def _check_head(self) -> None:
        self.head_timer = None
        since = self.head_since
        if since is None or self.transport.is_closing():
            return
        left = since + self.limits.head_timeout - self.loop.time()
        if left > 0:
            self.head_timer = self.loop.call_later(left, self._check_head)
        else:
            self.logger.debug("Request head not received in time; closing the connection.")
            self.transport.close()

    # --- refusals ------------------------------------------------------------------------------------------

    def send_400_response(self, msg: str) -> None:
        # uvicorn answers every parser error here; a refusal raised by `end_head` is one of them.
        if self.refusal is None:
            super().send_400_response(msg)
        else:
            self.refuse(self.refusal)

    def refuse(self, msg: str) -> None:
        """Answer 431 in the one error body and close the connection."""
        self.head_since = None
        url: bytes = getattr(self, "url", b"")  # uvicorn sets it when a message begins
        path = url.split(b"?", 1)[0][:_PATH_IN_ERRORS].decode("latin-1")
        body = orjson.dumps(error_body(431, msg, path, None))
        content = [STATUS_LINE[431]]
        for name, value in self.server_state.default_headers:
            content += (name, b": ", value, b"\r\n")
        content += (
            b"content-type: application/json\r\ncontent-length: %d\r\nconnection: close\r\n\r\n" % len(body),
            body,
        )
        self.transport.write(b"".join(content))
        self.transport.close()


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


class NativeLaneProtocol(LimitedHttpToolsProtocol):
    """One client connection: each complete request head is offered to the app's native lane first (when the app
    has one), uvicorn's ASGI cycle serves the rest."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.native: NativeLane | None = None
        self.idle_since: float | None = None  # when the last answer was complete; None while a request is in
        self.native_cycle = _Cycle()

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        opener = getattr(getattr(self.config.app, "state", None), NATIVE_LANE, None)
        self.native = opener(self) if opener is not None else None

    def connection_lost(self, exc: Exception | None) -> None:
        if self.timeout_keep_alive_task is not None:
            self.timeout_keep_alive_task.cancel()
            self.timeout_keep_alive_task = None
        super().connection_lost(exc)
        if self.native is not None:
            self.native.connection_lost()

    def resume_writing(self) -> None:
        super().resume_writing()
        if self.native is not None:
            self.native.writable()

    # --- uvicorn's per-request callbacks, trimmed -----------------------------------------------------------

    def on_message_begin(self) -> None:
        # uvicorn builds the ASGI scope here; it is only built for the requests that go to the app.
        self.start_head()
        self.url = b""
        self.expect_100_continue = False
        self.headers = []

    def on_headers_complete(self) -> None:
        self.end_head()  # the chassis' HTTP limits, on both paths
        native = self.native
        if native is not None and (self.cycle is None or self.cycle.response_complete):  # else: pipelined, queued
            parser = self.parser
            if parser.get_http_version() == "1.1" and not parser.should_upgrade():
                keep_alive = parser.should_keep_alive()
                if native.serve(parser.get_method(), self.url, self.headers, self.client, self.scheme, keep_alive):
                    return
        self.scope = self.asgi_scope()
        HttpToolsProtocol.on_headers_complete(self)  # uvicorn's own (the limits are checked above)

    def asgi_scope(self) -> Any:
        """The scope uvicorn's own `on_message_begin` builds (the contract test compares the two)."""
        return {
            "type": "http",
            "asgi": {"version": self.asgi_version, "spec_version": "2.3"},
            "http_version": "1.1",
            "server": self.server,
            "client": self.client,
            "scheme": self.scheme,
            "root_path": self.root_path,
            "headers": self.headers,
            "state": self.app_state.copy(),
        }

    def on_message_complete(self) -> None:
        # A native request has no body for anyone to wait on; a request queued behind it (pipelined) has its own
        # ASGI cycle, which must learn that its body is complete.
        if self.cycle is not self.native_cycle:  # type: ignore[comparison-overlap]
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

    # --- what a native lane asks of its connection ----------------------------------------------------------

    def writing_paused(self) -> bool:
        """True while the client's socket buffer is full."""
        return bool(self.flow.write_paused)

    def keep_alive(self) -> bool:
        """True while the connection stays open after the current answer (a server shutting down says no)."""
        return self.native_cycle.keep_alive

    def begin(self, keep_alive: bool) -> None:
        """A request is served natively: uvicorn sees a cycle in flight, so requests behind it are queued."""
        cycle = self.native_cycle
        cycle.response_complete = False
        cycle.keep_alive = keep_alive
        self.cycle = cycle  # type: ignore[assignment]

    def close(self) -> None:
        """Close the connection (an answer cut short)."""
        self.native_cycle.keep_alive = False
        self.transport.close()

    def request_done(self) -> None:
        """The native answer is written (or the client left): back to reading the next request.

        `self.cycle` may already be the cycle of a request pipelined behind this one (queued for the ASGI path):
        only the native cycle is finished here; `on_response_complete` then starts the queued request.
        """
        cycle = self.native_cycle
        cycle.response_complete = True
        if self.transport.is_closing():
            return
        if not cycle.keep_alive:
            self.transport.close()
            return
        self.on_response_complete()
