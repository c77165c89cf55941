"""Request-side helpers of the proxy: bodies read or streamed within a size limit, path checks."""

from __future__ import annotations

from collections.abc import AsyncIterator

from starlette.types import Receive


class BodyTooLarge(Exception):
    pass


class ClientGone(Exception):
    pass


async def read_body(receive: Receive, limit: int) -> bytes:
    chunks = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise ClientGone
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise BodyTooLarge
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


class BodyStream:
    """The request body as an async iterator for the upstream client, remembering why it stopped early."""

    __slots__ = ("receive", "limit", "too_large", "gone")

    def __init__(self, receive: Receive, limit: int) -> None:
        self.receive = receive
        self.limit = limit
        self.too_large = False
        self.gone = False

    async def __aiter__(self) -> AsyncIterator[bytes]:
        size = 0
        while True:
            message = await self.receive()
            if message["type"] == "http.disconnect":
                self.gone = True
                raise ClientGone
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.limit:
                self.too_large = True
                raise BodyTooLarge
            if chunk:
                yield chunk
            if not message.get("more_body", False):
                return


def safe_path(path: str, raw_path: bytes | None) -> bool:
    """Refuse dot segments, empty segments, backslashes and encoded slashes that could dodge the policy."""
    if "/." in path or "//" in path or "\\" in path or "\x00" in path:
        return not ("/./" in path or "/../" in path or path.endswith(("/.", "/..")) or "//" in path
                    or "\\" in path or "\x00" in path)  # fmt: skip
    if raw_path is not None and b"%" in raw_path:
        lowered = raw_path.lower()
        return b"%2f" not in lowered and b"%5c" not in lowered and b"%2e" not in lowered
    return True
