"""The ASGI side of an exchange: its answer as ASGI messages, for `Gateway.handle` (proxy.py)."""

from __future__ import annotations

import asyncio
from collections import deque
from typing import TYPE_CHECKING

from starlette.types import Message, Send

from ecommerce.services.gateway.client import HIGH_WATER, UpstreamBroken
from ecommerce.services.gateway.exchange import Headers

if TYPE_CHECKING:
    from ecommerce.services.gateway.exchange import Exchange


class AsgiReply:
    """The answer of an exchange as ASGI messages: queued by the exchange's callbacks, sent by the request's task.

    The exchange runs on callbacks and ASGI's `send` is a coroutine, so messages wait in a queue the request's task
    empties; past `HIGH_WATER` bytes queued (the client is slow), reading from the upstream pauses until it drains.
    """

    __slots__ = ("send", "messages", "queued", "waiter", "status", "broken", "timer")

    def __init__(self, send: Send) -> None:
        self.send = send
        self.messages: deque[Message] = deque()
        self.queued = 0
        self.waiter: asyncio.Future[None] | None = None
        self.status: int | None = None
        self.broken = False
        self.timer: asyncio.TimerHandle | None = None

    def start(self, status: int, headers: Headers, length_given: bool, body: bytes, more: bool, no_body: bool) -> None:
        self.messages.append({"type": "http.response.start", "status": status, "headers": headers})
        self.more(body, not more)

    def more(self, chunk: bytes, last: bool) -> None:
        self.messages.append({"type": "http.response.body", "body": chunk, "more_body": not last})
        self.queued += len(chunk)
        self._wake()

    def paused(self) -> bool:
        return self.queued > HIGH_WATER

    def watch(self, exchange: Exchange, delay: float) -> None:
        if self.timer is None:
            self.timer = asyncio.get_running_loop().call_later(delay, self._check, exchange)

    def _check(self, exchange: Exchange) -> None:
        self.timer = None
        left = exchange.check_deadline()
        if left is not None:
            self.timer = asyncio.get_running_loop().call_later(left, self._check, exchange)

    def abort(self) -> None:
        self.broken = True
        self._wake()

    def done(self, exchange: Exchange, status: int) -> None:
        self.status = status
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None
        self._wake()

    def _wake(self) -> None:
        waiter = self.waiter
        if waiter is not None:
            self.waiter = None
            if not waiter.done():
                waiter.set_result(None)

    async def run(self, exchange: Exchange) -> int:
        """Send what the exchange answers until it is over; returns the status."""
        messages = self.messages
        try:
            while True:
                while messages:
                    message = messages.popleft()
                    await self.send(message)
                    if message["type"] == "http.response.body":
                        self.queued -= len(message["body"])
                        if self.queued <= HIGH_WATER:
                            exchange.client_writable()
                if self.broken:  # the head is gone already: all that is left is to cut the connection short
                    raise UpstreamBroken("the upstream failed after its answer began")
                if self.status is not None:
                    return self.status
                self.waiter = asyncio.get_running_loop().create_future()
                await self.waiter
        except BaseException:
            exchange.client_gone()  # a no-op once it is over; else (cancelled, the client gone) it stops upstream
            raise
