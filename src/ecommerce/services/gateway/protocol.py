"""The gateway's one adapter to uvicorn's internals: its httptools protocol, with a native way in ahead of ASGI.

uvicorn has no public hook below ASGI, so serving a request from the parser's callbacks (native.py says why) means
subclassing its `HttpToolsProtocol` and overriding private members. Everything in the gateway that knows those
members is here, and only here: which callbacks are overridden, which attributes are read, what a request cycle
must look like to uvicorn while a request is served natively. `UVICORN_CONTRACT` lists them, and
tests/services/gateway/test_uvicorn_adapter.py checks each against the installed uvicorn, so an upgrade that
renames, re-signs or drops one fails there, loudly, before it misbehaves here; pyproject.toml pins uvicorn to the
range that test passed on.

What this class adds: each complete request head is offered to `NativeServer.serve` first; a request it does not
take gets uvicorn's ordinary ASGI cycle (its scope built only then, not for every request). Requests pipelined
behind a native one are queued by uvicorn as usual and started when the native answer is complete. The keep-alive
timeout is one timer per idle period instead of one armed and cancelled per request. It subclasses the chassis'
protocol (chassis/http_limits.py), so the HTTP limits (head size, field count, the head's deadline) hold on both
paths. Select it with uvicorn's `http=` option (`PROTOCOL` is its import string).
"""

from __future__ import annotations

import asyncio
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from ecommerce.chassis import LimitedHttpToolsProtocol
from ecommerce.services.gateway.fastlane import FastLane
from ecommerce.services.gateway.native import NativeServer

PROTOCOL = "ecommerce.services.gateway.protocol:GatewayProtocol"

# What this module relies on in uvicorn's HttpToolsProtocol: methods it overrides or calls (with the signature it
# was written against), attributes it reads or sets, and the attributes of a request cycle uvicorn looks at.
UVICORN_CONTRACT: dict[str, Any] = {
    "methods": {
        "connection_made": "(self, transport: 'asyncio.Transport') -> 'None'",
        "connection_lost": "(self, exc: 'Exception | None') -> 'None'",
        "resume_writing": "(self) -> 'None'",
        "on_message_begin": "(self) -> 'None'",
        "on_headers_complete": "(self) -> 'None'",
        "on_message_complete": "(self) -> 'None'",
        "on_response_complete": "(self) -> 'None'",
        "_unset_keepalive_if_required": "(self) -> 'None'",
        "_start_asgi_task": "(self, cycle: 'RequestResponseCycle', app: 'ASGI3Application') -> 'None'",
        "timeout_keep_alive_handler": "(self) -> 'None'",
    },
    "attributes": (
        "config", "loop", "transport", "flow", "parser", "url", "headers", "expect_100_continue", "scope", "cycle",
        "pipeline", "server", "client", "scheme", "root_path", "asgi_version", "app_state", "server_state",
        "timeout_keep_alive", "timeout_keep_alive_task",
    ),
    "scope": ("type", "asgi", "http_version", "server", "client", "scheme", "root_path", "headers", "state"),
    "cycle": ("response_complete", "disconnected", "keep_alive", "more_body", "body", "message_event"),
    "flow": ("read_paused", "write_paused", "resume_reading"),
}  # fmt: skip


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
        self.native: NativeServer | None = None
        self.idle_since: float | None = None  # when the last answer was complete; None while a request is in
        self.native_cycle = _Cycle()

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        lane = getattr(self.config.app, "middleware_stack", None)
        self.native = NativeServer(lane, self) if isinstance(lane, FastLane) else None

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

    # --- what native.py's `Connection` asks of it ----------------------------------------------------------

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
