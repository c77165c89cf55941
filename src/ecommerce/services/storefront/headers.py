"""Security headers on every answer of the storefront, and redirects that never name a host.

Plain ASGI, put in front of the app's middleware stack at start-up (the chassis builds that stack): it edits
`http.response.start` only. The pages load their script, styles and pictures from /app itself and have no inline
script or style, so the policy allows 'self' only; no page may be framed. Starlette's trailing-slash redirect
builds an absolute URL from the client's Host header: every Location is cut to its path (and query) instead.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; font-src 'self'; "
    "connect-src 'self'; object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'"
)
HSTS = "max-age=31536000; includeSubDomains"


class SecurityHeaders:
    """Add the security headers to every response; make every redirect relative."""

    def __init__(self, app: ASGIApp, *, hsts: bool) -> None:
        self.app = app
        self.headers = [
            ("Content-Security-Policy", CONTENT_SECURITY_POLICY),
            ("X-Frame-Options", "DENY"),
            ("X-Content-Type-Options", "nosniff"),
            ("Referrer-Policy", "strict-origin-when-cross-origin"),
            *([("Strict-Transport-Security", HSTS)] if hsts else []),
        ]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in self.headers:
                    headers.setdefault(name, value)
                location = headers.get("location")
                if location is not None:
                    headers["location"] = relative(location)
            await send(message)

        await self.app(scope, receive, send_with_headers)


def relative(location: str) -> str:
    """The path and query of a redirect target, so the answer never depends on (or names) a host."""
    parts = urlsplit(location)
    if not parts.scheme and not parts.netloc and location.startswith("/") and not location.startswith("//"):
        return location
    path = "/" + parts.path.lstrip("/")
    return path + (f"?{parts.query}" if parts.query else "")
