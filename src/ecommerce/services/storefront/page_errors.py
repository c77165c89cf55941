"""Pages answer their errors as a page: a JSON error body meant for API clients becomes the shop's error page.

A person who mistypes a page's address (`/app/?page=abc`, `/app/nowhere`) or sends a search longer than the box
allows gets the chassis' answer, the error body as JSON, from FastAPI's validation or routing before any page code
runs. This plain ASGI middleware, in front of the app, turns such an answer into error.html with the same status
(and Retry-After) for every path that is not an API, a static file or an actuator. Page code's own errors are
pages already (web.html_errors).
"""

from __future__ import annotations

import orjson
from starlette.datastructures import Headers
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ecommerce.services.storefront.web import BASE, page_principal, render

NOT_PAGES = tuple(
    f"{BASE}{part}" for part in ("/api", "/actuator", "/static/", "/images/", "/.well-known/", "/docs", "/openapi.json")
)


def is_page(path: str) -> bool:
    """Whether `path` is one of the shop's pages (or would be: an unknown path under /app is a missing page)."""
    return (path == BASE or path.startswith(BASE + "/")) and not path.startswith(NOT_PAGES)


class PageErrors:
    """Render a page's JSON error answer as the HTML error page."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not is_page(scope["path"]):
            await self.app(scope, receive, send)
            return
        held: Message | None = None
        body = bytearray()

        async def send_or_hold(message: Message) -> None:
            nonlocal held
            if message["type"] == "http.response.start":
                content_type = Headers(raw=message.get("headers", [])).get("content-type", "")
                if message["status"] >= 400 and content_type.startswith("application/json"):
                    held = message
                    return
            elif held is not None and message["type"] == "http.response.body":
                body.extend(message.get("body", b""))
                if not message.get("more_body", False):
                    await self._page(scope, receive, send, held, bytes(body))
                return
            await send(message)

        await self.app(scope, receive, send_or_hold)

    async def _page(self, scope: Scope, receive: Receive, send: Send, start: Message, raw: bytes) -> None:
        status = int(start["status"])
        try:
            message = orjson.loads(raw).get("msg") or ""
        except (orjson.JSONDecodeError, AttributeError):
            message = ""
        request = Request(scope, receive)
        await page_principal(request)  # the header shows who is signed in, as on every page
        response = render(request, "error.html", status=status, message=message, status_code=status)
        retry_after = Headers(raw=start.get("headers", [])).get("retry-after")
        if retry_after is not None:
            response.headers["Retry-After"] = retry_after
        await response(scope, receive, send)
