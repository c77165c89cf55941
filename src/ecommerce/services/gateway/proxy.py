"""The ASGI way into the gateway, and the request-side edge rules both ways in share.

`Gateway` holds the route table and the rules a request meets before it is sent on: the path check, the CORS
preflight, the policy and the token, the rate limit, the body limit; each written once and used by the ASGI entry
here (`Gateway.handle`, behind the fast lane) and by the native entry (`native.py`). Both hand the request to the
one `Exchange` (exchange.py), which sends it upstream and relays the answer; `AsgiReply` (asgi.py) puts that
answer on the ASGI wire. Plain ASGI on purpose (no request objects, no per-request dependency resolution): one pass
over the request headers also builds the upstream's header block, and bodies are buffered only when small and
streamed otherwise.
"""

from __future__ import annotations

from typing import Any

import httptools
from starlette.types import Receive, Scope, Send

from ecommerce.chassis import (
    IDEMPOTENT_METHODS,
    LOOPBACK,
    KeysUnavailable,
    Principal,
    TokenError,
    TokenVerifier,
    TraceState,
    TrustedProxies,
    bearer_token,
    outgoing_headers,
)
from ecommerce.services.gateway.asgi import AsgiReply
from ecommerce.services.gateway.client import UpstreamClient
from ecommerce.services.gateway.config import Access, GatewayConfig
from ecommerce.services.gateway.edge import BodyStream, BodyTooLarge, ClientGone, read_body, safe_path
from ecommerce.services.gateway.exchange import Exchange, Headers
from ecommerce.services.gateway.metrics import RATE_LIMITED
from ecommerce.services.gateway.policy import Policy
from ecommerce.services.gateway.ratelimit import RateLimiter, retry_after_header
from ecommerce.services.gateway.route import Route
from ecommerce.services.gateway.upstreams import Upstreams

BUFFER_BYTES = 64 * 1024  # request bodies up to this size are read whole (and can be retried)
# Request headers not passed on as they came: hop-by-hop ones, and those the gateway sets itself.
HOP_BY_HOP = frozenset(
    {b"connection", b"keep-alive", b"proxy-authenticate", b"proxy-authorization", b"te", b"trailer", b"trailers",
     b"transfer-encoding", b"upgrade", b"host", b"content-length", b"x-request-id", b"traceparent", b"tracestate",
     b"x-forwarded-for", b"x-forwarded-proto", b"x-forwarded-host", b"forwarded", b"expect"}
)  # fmt: skip
_DENIED = Access.INTERNAL
_READS = frozenset({b"GET", b"HEAD"})
_MAX_PUBLIC_READS = 4096
_CHALLENGE = [(b"www-authenticate", b'Bearer realm="ecommerce"')]


class Incoming:
    """What one pass over the request headers finds, and the header block for the upstream."""

    __slots__ = ("forward", "authorization", "content_length", "origin", "chunked", "acr_method", "acr_headers",
                 "request_id", "traceparent")  # fmt: skip

    def __init__(
        self,
        headers: list[tuple[bytes, bytes]],
        client: tuple[str, int] | None,
        scheme: str | None,
        trust_forwarded_for: bool,
    ) -> None:
        self.authorization = self.content_length = self.origin = self.acr_method = self.acr_headers = None
        self.request_id = self.traceparent = None
        self.chunked = False
        parts: list[bytes] = []
        host = forwarded_for = forwarded_proto = forwarded_host = None
        for name, value in headers:
            if name in HOP_BY_HOP:
                if name == b"content-length":
                    self.content_length = value
                elif name == b"host":
                    host = value
                elif name == b"x-request-id":
                    self.request_id = value
                elif name == b"traceparent":
                    self.traceparent = value
                elif name == b"transfer-encoding":
                    self.chunked = True
                elif trust_forwarded_for:
                    if name == b"x-forwarded-for":
                        forwarded_for = value
                    elif name == b"x-forwarded-proto":
                        forwarded_proto = value
                    elif name == b"x-forwarded-host":
                        forwarded_host = value
                continue
            if name == b"authorization":
                self.authorization = value
            elif name == b"origin":
                self.origin = value
            elif name == b"access-control-request-method":
                self.acr_method = value
            elif name == b"access-control-request-headers":
                self.acr_headers = value
            parts += (name, b": ", value, b"\r\n")
        address = client[0].encode("latin-1") if client else b"unknown"
        parts += (b"x-forwarded-for: ", forwarded_for + b", " + address if forwarded_for else address, b"\r\n")
        parts += (b"x-forwarded-proto: ", forwarded_proto or (scheme or "http").encode("latin-1"), b"\r\n")
        if forwarded_host or host:
            parts += (b"x-forwarded-host: ", forwarded_host or host or b"", b"\r\n")
        self.forward = parts

    @classmethod
    def of(cls, scope: Scope, trust_forwarded_for: bool) -> Incoming:
        return cls(scope["headers"], scope.get("client"), scope.get("scheme"), trust_forwarded_for)


class Gateway:
    """The routing table, the edge rules and the upstream client, shared by every request."""

    def __init__(
        self,
        *,
        application: str,
        config: GatewayConfig,
        upstreams: Upstreams,
        verifier: TokenVerifier,
        limiter: RateLimiter | None,
        trust_forwarded_for: bool = False,
        trusted_proxies: TrustedProxies | None = None,
        max_body_bytes: int | None = None,
    ) -> None:
        self.application = application
        self.upstreams = upstreams
        self.verifier = verifier
        self.limiter = limiter
        self.trust_forwarded_for = trust_forwarded_for
        self.trusted_proxies = trusted_proxies or TrustedProxies(LOOPBACK)
        self.max_body_bytes = max_body_bytes  # the service-wide cap, on top of each route's
        self.client: UpstreamClient | None = None
        self.configure(config)

    def configure(self, config: GatewayConfig) -> None:
        """Install a (new) route table; in-flight requests finish on the old one."""
        self.config = config
        self.routes = {route.prefix: Route(route, config) for route in config.routes}
        # What `public_read` found for each (method, URL): the route, the path and the upstream's request line, or
        # None when the request is not a public read. Bounded; renewed with the table.
        self.public_reads: dict[tuple[bytes, bytes], tuple[Route, str, bytes] | None] = {}
        self.policy = Policy(config)
        cors = config.cors
        self.cors_origins = frozenset(cors.allowed_origins)
        self.cors_any_origin = "*" in self.cors_origins
        self.cors_base = [(b"vary", b"Origin")]
        if cors.allow_credentials:
            self.cors_base.append((b"access-control-allow-credentials", b"true"))
        self.cors_expose = ", ".join(cors.exposed_headers).encode()
        self.cors_preflight = [
            (b"access-control-allow-methods", ", ".join(cors.allowed_methods).encode()),
            (b"access-control-max-age", str(cors.max_age).encode()),
        ]
        self.cors_any_header = "*" in cors.allowed_headers
        self.cors_headers = ", ".join(cors.allowed_headers).encode()
        self.rate_limits = self.limiter is not None

    async def start(self) -> None:
        """Open the upstream connection pools."""
        self.client = UpstreamClient()

    async def close(self) -> None:
        """Close the pools and the rate-limit store."""
        if self.client is not None:
            await self.client.close()
            self.client = None
        if self.limiter is not None:
            await self.limiter.close()

    def match(self, path: str) -> Route | None:
        """The route owning `path`, by its first segment."""
        end = path.find("/", 1)
        return self.routes.get(path[1:end] if end > 0 else path[1:])

    async def handle(
        self,
        scope: Scope,
        receive: Receive,
        send: Send,
        route: Route,
        incoming: Incoming | None = None,
        request_id: bytes | None = None,
        traceparent: bytes | None = None,
        trace: TraceState | None = None,
    ) -> int:
        """Serve one request on `route` the ASGI way; returns the status answered.

        `request_id`, `traceparent` and `trace` are the values to pass upstream (and the request id to echo) when
        the caller handles telemetry itself; without them the chassis middleware around this call does.
        """
        scope["route"] = route
        method: str = scope["method"]
        if incoming is None:
            incoming = Incoming.of(scope, self.forwarding_trusted(scope.get("client")))
        cors = self._cors(incoming.origin) if incoming.origin is not None else None
        reply = AsgiReply(send)
        exchange = Exchange(self, route, reply, method, scope["path"], request_id=request_id, trace=trace, cors=cors)
        await self._admit(exchange, scope, receive, incoming, traceparent)
        return await reply.run(exchange)

    async def _admit(
        self, exchange: Exchange, scope: Scope, receive: Receive, incoming: Incoming, traceparent: bytes | None
    ) -> None:
        """The edge rules, in order: the first that refuses answers; a request that passes them all is sent on."""
        route = exchange.route
        method = exchange.method
        path = exchange.path
        if not safe_path(path, scope.get("raw_path")):
            exchange.error(400, "Malformed request path")
            return
        if exchange.cors is not None and method == "OPTIONS" and incoming.acr_method is not None:
            self._preflight(exchange, incoming.acr_headers)
            return
        access = self.policy.access(route.prefix, method, path)
        if access is _DENIED:
            exchange.error(404, f"No resource at {path}")
            return
        principal: Principal | None = None
        if access is not Access.PUBLIC:
            verdict = await self._authorize(incoming.authorization, access)
            if not isinstance(verdict, Principal):
                exchange.error(*verdict)
                return
            principal = verdict
        if self.rate_limits and route.rate is not None:
            assert self.limiter is not None
            key = self.rate_key(route, principal, scope["headers"], scope.get("client"))
            wait = await self.limiter.acquire(key, route.rate, route.burst)
            if wait > 0:
                self.too_many(exchange, wait)
                return
        limit = self.body_limit(route)
        content_length = incoming.content_length
        length = int(content_length) if content_length is not None and content_length.isdigit() else None
        if length is not None and length > limit:
            exchange.error(413, f"Request body over {limit} bytes")
            return
        body: bytes | BodyStream | None = None
        if incoming.chunked or (length is not None and length > BUFFER_BYTES):
            body = BodyStream(receive, limit)
        elif length:
            try:
                body = await read_body(receive, limit)
            except ClientGone:
                exchange.client_gone()
                return
            except BodyTooLarge:
                exchange.error(413, f"Request body over {limit} bytes")
                return
        if exchange.request_id is None:
            context = "".join(f"{name.lower()}: {value}\r\n" for name, value in outgoing_headers().items()).encode()
        else:
            context = b"x-request-id: %s\r\n" % exchange.request_id
            if traceparent is not None:
                context += b"traceparent: %s\r\n" % traceparent
        incoming.forward.append(context)
        query = scope.get("query_string")
        target = scope.get("raw_path") or path.encode()
        start = b"%s %s%s%s HTTP/1.1\r\n" % (method.encode(), target, b"?" if query else b"", query or b"")
        headers = b"".join(incoming.forward)
        exchange.forward(start, headers, body, length, method in IDEMPOTENT_METHODS)

    async def _authorize(self, authorization: bytes | None, access: Access) -> Principal | tuple[int, str, Headers]:
        token = bearer_token(authorization.decode("latin-1")) if authorization is not None else None
        if token is None:
            return 401, "Sign-in required", _CHALLENGE
        try:
            principal = await self.verifier.verify(token)
        except KeysUnavailable:
            return 503, "Tokens cannot be checked right now", []
        except TokenError as exc:
            return 401, str(exc), _CHALLENGE
        if access is Access.ADMIN and not principal.is_admin:
            return 403, "Not allowed for this user", []
        return principal

    def public_read(self, method: bytes, url: bytes) -> tuple[Route, str, bytes] | None:
        """The route, path and upstream request line of a public GET or HEAD of `url` with nothing in its path to
        check again; None for any other request. Decided once per (method, URL) and kept (bounded, renewed with
        the route table): the native way in asks for every request."""
        key = (method, url)
        reads = self.public_reads
        if key in reads:
            return reads[key]
        if len(reads) >= _MAX_PUBLIC_READS:
            reads.clear()
        found = reads[key] = self._public_read(method, url)
        return found

    def _public_read(self, method: bytes, url: bytes) -> tuple[Route, str, bytes] | None:
        if method not in _READS:
            return None
        parsed = httptools.parse_url(url)
        raw_path: bytes = parsed.path
        if b"%" in raw_path:
            return None
        path = raw_path.decode("ascii")
        route = self.match(path)
        if (
            route is None
            or not safe_path(path, raw_path)
            or self.policy.access(route.prefix, method.decode(), path) is not Access.PUBLIC
        ):
            return None
        query = parsed.query
        return route, path, b"%s %s%s%s HTTP/1.1\r\n" % (method, raw_path, b"?" if query else b"", query or b"")

    def rate_key(
        self, route: Route, principal: Principal | None, headers: list[tuple[bytes, bytes]], client: Any
    ) -> str:
        """Whose bucket a request takes a token from: the user's when signed in, else the client address's."""
        if principal is not None:
            return f"{route.id}|{principal.username}"
        return f"{route.id}|{self.client_address(headers, str(client[0]) if client else 'unknown')}"

    def too_many(self, exchange: Exchange, wait: float) -> None:
        """Answer 429 with the seconds to wait."""
        RATE_LIMITED.labels(self.application, exchange.route.id).inc()
        exchange.error(429, "Too many requests", [(b"retry-after", retry_after_header(wait).encode())])

    def body_limit(self, route: Route) -> int:
        """The largest request body the route takes (the service-wide cap applies on top)."""
        limit = route.max_body_bytes
        if self.max_body_bytes is not None and self.max_body_bytes < limit:
            limit = self.max_body_bytes
        return limit

    def client_address(self, headers: list[tuple[bytes, bytes]], peer: str) -> str:
        """Who a rate limit counts: the peer, or, when forwarded addresses are trusted, the right-most X-Forwarded-For
        address not added by a trusted proxy (chassis/forwarded.py)."""
        if self.trust_forwarded_for:
            return self.trusted_proxies.client_address(headers, peer)
        return peer

    def forwarding_trusted(self, client: tuple[str, int] | None) -> bool:
        """True when the X-Forwarded-* headers of a request from `client` are passed on as a proxy of ours wrote
        them (else the gateway writes its own)."""
        return self.trust_forwarded_for and client is not None and self.trusted_proxies.trusts(client[0])

    def _cors(self, origin: bytes) -> Headers | None:
        text = origin.decode("latin-1")
        if not (self.cors_any_origin or text in self.cors_origins):
            return None
        headers = [(b"access-control-allow-origin", origin), *self.cors_base]
        if self.cors_expose:
            headers.append((b"access-control-expose-headers", self.cors_expose))
        return headers

    def _preflight(self, exchange: Exchange, acr_headers: bytes | None) -> None:
        allowed = acr_headers if self.cors_any_header and acr_headers else self.cors_headers
        headers = [*self.cors_preflight, (b"access-control-allow-headers", allowed), (b"content-length", b"0")]
        exchange.answer(200, headers)
