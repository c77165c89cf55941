"""The request body limit: 413 with the one error body, by the Content-Length header or while the body streams."""

from __future__ import annotations

from dataclasses import dataclass

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope

from ecommerce.chassis.errors import error_response


@dataclass(frozen=True, slots=True)
class BodyLimit:
    """Refuse request bodies over `max_bytes`; the per-request layer calls it only for requests that carry one."""

    max_bytes: int

    def exceeded_by(self, content_length: bytes) -> bool:
        """True when a Content-Length header value announces more than the limit."""
        return content_length.isdigit() and int(content_length) > self.max_bytes

    def refusal(self, scope: Scope) -> ASGIApp:
        """The 413 response for a request whose header announces too much."""
        return error_response(scope, 413, self._message())

    def guard(self, receive: Receive) -> Receive:
        """`receive`, counting the body as it streams and failing with 413 once it passes the limit."""
        received = 0

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise HTTPException(413, self._message())
            return message

        return limited_receive

    def _message(self) -> str:
        return f"Request body over {self.max_bytes} bytes"
