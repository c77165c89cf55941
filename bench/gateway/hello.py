"""The floor of any ASGI gateway: uvicorn answering a constant body with no work at all (`hello:app`)."""

from __future__ import annotations

from typing import Any

BODY = b'{"productId":1,"productTitle":"asus","priceUnit":0.0,"quantity":50}'
HEADERS = [(b"content-type", b"application/json"), (b"content-length", str(len(BODY)).encode())]


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """Plain ASGI: the same answer to every request."""
    if scope["type"] != "http":
        return
    await send({"type": "http.response.start", "status": 200, "headers": HEADERS})
    await send({"type": "http.response.body", "body": BODY})
