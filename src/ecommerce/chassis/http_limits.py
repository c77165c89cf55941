"""HTTP limits every component serves with, and the one adapter to uvicorn's httptools protocol that enforces them.

A request head may be at most 64 KiB (431 beyond) with at most 100 header fields (431 beyond), and must arrive
within 10 s of the connection opening or of its first byte (then the connection is closed); an idle keep-alive
connection is closed after 5 s. Without them one client could make a component buffer a 32 MB header and pass it
on, hold hundreds of connections open by sending a head a byte at a time, or send ten thousand headers.

uvicorn offers a limit on the head only for its h11 protocol (`h11_max_incomplete_event_size`, passed on too) and a
keep-alive timeout that starts after the first answer; its httptools protocol, which every component uses for
speed, has neither a head limit nor a head timeout. So `LimitedHttpToolsProtocol` adds them in uvicorn's parser
callbacks, with no work per request beyond a clock read and two comparisons:

- bytes are counted per chunk received while a head is incomplete; past the limit the answer is 431 before more is
  read, so an unfinished head costs at most the limit plus one read (the chunk a head begins in counts whole);
- a complete head is measured exactly only when the chunks it came in could exceed the limit;
- one timer per connection, armed when a head starts and none is pending, closes a connection whose head is late.

Everything here that knows uvicorn's internals (the parser callbacks, `send_400_response`, `headers`, `url`,
`cycle`) is in this class; tests/chassis/test_http_limits.py holds its contract. `server_options` is what
`ecommerce run` gives uvicorn, so every component (the gateway's own protocol subclasses this one) serves the same.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any, ClassVar

import httptools
import orjson
from uvicorn.protocols.http.httptools_impl import STATUS_LINE, HttpToolsProtocol

from ecommerce.chassis.errors import error_body


@dataclass(frozen=True)
class HttpLimits:
    """How much of a request head a component reads, and for how long it waits for it."""

    max_head_bytes: int = 64 * 1024
    max_headers: int = 100
    head_timeout: float = 10.0  # seconds from the connection (or the head's first byte) to the end of the head
    keep_alive_timeout: int = 5  # seconds an idle keep-alive connection stays open


LIMITS = HttpLimits()
PROTOCOL = "ecommerce.chassis.http_limits:LimitedHttpToolsProtocol"
_PATH_IN_ERRORS = 256  # characters of the path an error body repeats


def server_options(http_protocol: str | None = None) -> dict[str, Any]:
    """uvicorn's options for a component: its protocol (this module's unless the spec names a subclass), the
    limits uvicorn applies itself, and no belief in X-Forwarded-* (chassis/forwarded.py decides whom to believe)."""
    return {
        "http": http_protocol or PROTOCOL,
        "timeout_keep_alive": LIMITS.keep_alive_timeout,
        "h11_max_incomplete_event_size": LIMITS.max_head_bytes,
        "proxy_headers": False,
    }


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
