"""The hot path: match a route, apply the edge rules, and stream the request to an upstream and back.

Plain ASGI on purpose (no request objects, no per-request dependency resolution): one pass over the request
headers that also builds the upstream's header block, the pooled upstream client of `client.py`, bodies buffered
only when small and streamed otherwise. `fastlane.py` runs it ahead of the chassis middleware stack, and
`protocol.py` serves the plainest requests (public reads) below ASGI with the same rules.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

import structlog
from starlette.types import Receive, Scope, Send

from ecommerce.chassis import (
    IDEMPOTENT_METHODS,
    LOOPBACK,
    KeysUnavailable,
    Principal,
    TokenError,
    TokenVerifier,
    TrustedProxies,
    bearer_token,
    outgoing_headers,
)
from ecommerce.services.gateway.client import ConnectFailed, Connection, UpstreamClient, UpstreamError
from ecommerce.services.gateway.config import Access, GatewayConfig, RouteConfig
from ecommerce.services.gateway.edge import BodyStream, BodyTooLarge, ClientGone, error, read_body, safe_path
from ecommerce.services.gateway.metrics import RATE_LIMITED, RETRIES, UPSTREAM_REQUESTS, UPSTREAM_SECONDS
from ecommerce.services.gateway.policy import Policy
from ecommerce.services.gateway.ratelimit import RateLimiter, retry_after_header
from ecommerce.services.gateway.upstreams import RetryBudget, Upstreams

log = structlog.get_logger("ecommerce.gateway")

BUFFER_BYTES = 64 * 1024  # request bodies up to this size are read whole (and can be retried)
RETRY_STATUSES = frozenset({502, 503, 504})
# Request headers not passed on as they came: hop-by-hop ones, and those the gateway sets itself.
HOP_BY_HOP = frozenset(
    {b"connection", b"keep-alive", b"proxy-authenticate", b"proxy-authorization", b"te", b"trailer", b"trailers",
     b"transfer-encoding", b"upgrade", b"host", b"content-length", b"x-request-id", b"traceparent", b"tracestate",
     b"x-forwarded-for", b"x-forwarded-proto", b"x-forwarded-host", b"forwarded", b"expect"}
)  # fmt: skip
RESPONSE_DROP = frozenset(
    {b"connection", b"keep-alive", b"transfer-encoding", b"upgrade", b"trailer", b"date", b"server",
     b"x-request-id", b"access-control-allow-origin", b"access-control-allow-credentials"}
)  # fmt: skip
NO_BODY_STATUSES = frozenset({204, 304})
_DENIED = Access.INTERNAL


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


class Route:
    """A compiled route: its config plus what the hot path needs ready-made."""

    __slots__ = ("config", "id", "path", "prefix", "service", "urls", "retries", "max_body_bytes", "read_timeout",
                 "connect_timeout", "rate", "burst", "budget", "_metrics")  # fmt: skip

    def __init__(self, config: RouteConfig, gateway_config: GatewayConfig) -> None:
        defaults = gateway_config.defaults
        self.config = config
        self.id = config.id
        self.path = config.path  # the metrics' `uri` label, like a route template
        self.prefix = config.prefix
        self.service = config.service
        self.urls = tuple(url.rstrip("/") for url in config.urls)
        self.retries = defaults.retries if config.retries is None else config.retries
        self.max_body_bytes = config.max_body_bytes or defaults.max_body_bytes
        self.connect_timeout = config.connect_timeout or defaults.connect_timeout
        self.read_timeout = config.timeout or defaults.timeout
        limit = defaults.rate_limit if config.rate_limit is None else config.rate_limit
        limit = None if limit is True or limit is False else limit
        self.rate = limit.rate if limit else None
        self.burst = limit.burst if limit else 0
        self.budget = RetryBudget(gateway_config.retry_budget.ratio, gateway_config.retry_budget.minimum)
        self._metrics: dict[tuple[str, str], Any] = {}

    def count(self, application: str, upstream: str, outcome: str, elapsed: float | None) -> None:
        """Count one upstream attempt (and its latency when it answered)."""
        key = (upstream, outcome)
        children = self._metrics.get(key)
        if children is None:
            children = self._metrics[key] = (
                UPSTREAM_REQUESTS.labels(application, self.id, upstream, outcome).inc,
                UPSTREAM_SECONDS.labels(application, self.id, upstream).observe,
            )
        children[0]()
        if elapsed is not None:
            children[1](elapsed)


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
        # What protocol.py found for each (method, URL) of a public read: the route, the path and the upstream's
        # request line, or None when the URL is not one it serves. Bounded; renewed with the table.
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
    ) -> int:
        """Serve one request on `route`; returns the status answered.

        `request_id` and `traceparent` are the values to pass upstream (and the request id to echo) when the
        caller handles telemetry itself; without them the chassis middleware around this call does.
        """
        scope["route"] = route
        method: str = scope["method"]
        path: str = scope["path"]
        if incoming is None:
            incoming = Incoming.of(scope, self.forwarding_trusted(scope.get("client")))
        own = None if request_id is None else {"X-Request-Id": request_id.decode("latin-1")}
        cors = self._cors(incoming.origin) if incoming.origin is not None else None

        if not safe_path(path, scope.get("raw_path")):
            return await error(scope, receive, send, 400, "Malformed request path", cors, own)
        if cors is not None and method == "OPTIONS" and incoming.acr_method is not None:
            return await self._preflight(send, cors, incoming.acr_headers, request_id)

        access = self.policy.access(route.prefix, method, path)
        if access is _DENIED:
            return await error(scope, receive, send, 404, f"No resource at {path}", cors, own)
        principal: Principal | None = None
        if access is not Access.PUBLIC:
            verdict = await self._authorize(incoming.authorization, access)
            if not isinstance(verdict, Principal):
                status, msg, challenge = verdict
                return await error(scope, receive, send, status, msg, cors, {**challenge, **own} if own else challenge)
            principal = verdict

        if self.rate_limits and route.rate is not None:
            client = principal.username if principal is not None else self._client_address(scope, incoming)
            assert self.limiter is not None
            wait = await self.limiter.acquire(f"{route.id}|{client}", route.rate, route.burst)
            if wait > 0:
                RATE_LIMITED.labels(self.application, route.id).inc()
                retry_after = {"Retry-After": retry_after_header(wait), **(own or {})}
                return await error(scope, receive, send, 429, "Too many requests", cors, retry_after)

        limit = route.max_body_bytes
        if self.max_body_bytes is not None and self.max_body_bytes < limit:
            limit = self.max_body_bytes
        content_length = incoming.content_length
        length = int(content_length) if content_length is not None and content_length.isdigit() else None
        if length is not None and length > limit:
            return await error(scope, receive, send, 413, f"Request body over {limit} bytes", cors, own)
        body: bytes | BodyStream | None = None
        if incoming.chunked or (length is not None and length > BUFFER_BYTES):
            body = BodyStream(receive, limit)
        elif length:
            try:
                body = await read_body(receive, limit)
            except ClientGone:
                return 499
        if request_id is None:
            context = "".join(f"{name.lower()}: {value}\r\n" for name, value in outgoing_headers().items()).encode()
        else:
            context = b"x-request-id: %s\r\n" % request_id
            if traceparent is not None:
                context += b"traceparent: %s\r\n" % traceparent
        incoming.forward.append(context)
        try:
            return await self._forward(
                scope, send, route, method, b"".join(incoming.forward), body, length, cors, request_id
            )
        except BodyTooLarge:
            return await error(scope, receive, send, 413, f"Request body over {limit} bytes", cors, own)

    async def _authorize(
        self, authorization: bytes | None, access: Access
    ) -> Principal | tuple[int, str, dict[str, str]]:
        token = bearer_token(authorization.decode("latin-1")) if authorization is not None else None
        if token is None:
            return 401, "Sign-in required", _CHALLENGE
        try:
            principal = await self.verifier.verify(token)
        except KeysUnavailable:
            return 503, "Tokens cannot be checked right now", {}
        except TokenError as exc:
            return 401, str(exc), _CHALLENGE
        if access is Access.ADMIN and not principal.is_admin:
            return 403, "Not allowed for this user", {}
        return principal

    def _client_address(self, scope: Scope, incoming: Incoming) -> str:
        client = scope.get("client")
        return self.client_address(scope["headers"], str(client[0]) if client else "unknown")

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

    async def _forward(
        self,
        scope: Scope,
        send: Send,
        route: Route,
        method: str,
        headers: bytes,
        body: bytes | BodyStream | None,
        length: int | None,
        cors: list[tuple[bytes, bytes]] | None,
        request_id: bytes | None,
    ) -> int:
        client = self.client
        assert client is not None
        query = scope.get("query_string")
        target = scope.get("raw_path") or scope["path"].encode()
        start = b"%s %s%s%s HTTP/1.1\r\n" % (method.encode(), target, b"?" if query else b"", query or b"")
        idempotent = method in IDEMPOTENT_METHODS
        replayable = not isinstance(body, BodyStream)
        own = None if request_id is None else {"X-Request-Id": request_id.decode("latin-1")}
        upstreams = self.upstreams
        route.budget.deposit()
        tried: set[str] = set()
        retries = 0
        while True:
            upstream = upstreams.choose(route.service, route.urls, tried)
            if upstream is None and tried:
                upstream = upstreams.choose_again(route.service, route.urls, tried)
            if upstream is None:
                msg = f"No instance of {route.service} is available"
                return await error(scope, None, send, 503, msg, cors, own)
            tried.add(upstream)
            breaker = upstreams.breaker(upstream)
            started = time.perf_counter()
            sent = True
            outcome: BaseException
            try:
                conn = await client.send(
                    upstream,
                    start,
                    headers,
                    body.__aiter__() if isinstance(body, BodyStream) else body,
                    length=length,
                    head_only=method == "HEAD",
                    connect_timeout=route.connect_timeout,
                    read_timeout=route.read_timeout,
                )
            except (BodyTooLarge, ClientGone):
                breaker.record(True)
                raise
            except ConnectFailed as exc:
                breaker.record(False)
                upstreams.report_failure(upstream)
                route.count(self.application, upstream, "UNREACHABLE", None)
                outcome, status, msg, sent = exc, 502, f"{route.service} is unreachable", False
            except TimeoutError as exc:
                breaker.record(False)
                route.count(self.application, upstream, "TIMEOUT", None)
                outcome, status, msg = exc, 504, f"{route.service} did not answer in time"
            except (UpstreamError, OSError) as exc:
                if isinstance(body, BodyStream) and (body.too_large or body.gone):
                    breaker.record(True)  # the client's body was at fault, not the upstream
                    if body.gone:
                        return 499
                    raise BodyTooLarge from exc
                breaker.record(False)
                route.count(self.application, upstream, "ERROR", None)
                outcome, status, msg = exc, 502, f"{route.service} failed: {type(exc).__name__}"
            except asyncio.CancelledError:
                breaker.record(True)  # the client left; the upstream is not to blame
                raise
            else:
                answered = conn.status
                breaker.record(answered < 500)
                route.count(self.application, upstream, _outcome(answered), time.perf_counter() - started)
                if answered in RETRY_STATUSES and idempotent and replayable and self._may_retry(route, retries):
                    client.release(conn)
                    retries += 1
                    continue
                return await self._respond(send, conn, method, cors, upstream, route, request_id)
            if replayable and (idempotent or not sent) and self._may_retry(route, retries):
                retries += 1
                log.info("upstream_retry", route=route.id, upstream=upstream, error=type(outcome).__name__)
                continue
            log.warning("upstream_failed", route=route.id, upstream=upstream, error=repr(outcome)[:200])
            return await error(scope, None, send, status, msg, cors, own)

    def _may_retry(self, route: Route, retries: int) -> bool:
        if retries >= route.retries or not route.budget.withdraw():
            return False
        RETRIES.labels(self.application, route.id).inc()
        return True

    async def _respond(
        self,
        send: Send,
        conn: Connection,
        method: str,
        cors: list[tuple[bytes, bytes]] | None,
        upstream: str,
        route: Route,
        request_id: bytes | None,
    ) -> int:
        headers: list[tuple[bytes, bytes]] = []
        for name, value in conn.headers:
            lowered = name.lower()
            if lowered in RESPONSE_DROP:
                continue
            headers.append((name, self.upstreams.relative_location(value) if lowered == b"location" else value))
        if cors is not None:
            headers += cors
        if request_id is not None:
            headers.append((b"x-request-id", request_id))
        status = conn.status
        client = self.client
        assert client is not None
        try:
            if conn.done or method == "HEAD" or status in NO_BODY_STATUSES:
                payload = b"" if method == "HEAD" or status in NO_BODY_STATUSES else conn.take()
                client.release(conn)
                await send({"type": "http.response.start", "status": status, "headers": headers})
                await send({"type": "http.response.body", "body": payload})
                return status
            await send({"type": "http.response.start", "status": status, "headers": headers})
            chunks: AsyncIterator[bytes] = conn.body(route.read_timeout)
            async for chunk in chunks:
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
            client.release(conn)
            await send({"type": "http.response.body", "body": b""})
            return status
        except (UpstreamError, TimeoutError, OSError) as exc:
            # Headers are gone already: all that is left is to cut the connection short.
            log.warning("upstream_body_failed", upstream=upstream, error=repr(exc)[:200])
            conn.close()
            raise
        except BaseException:
            conn.close()
            raise

    def _cors(self, origin: bytes) -> list[tuple[bytes, bytes]] | None:
        text = origin.decode("latin-1")
        if not (self.cors_any_origin or text in self.cors_origins):
            return None
        headers = [(b"access-control-allow-origin", origin), *self.cors_base]
        if self.cors_expose:
            headers.append((b"access-control-expose-headers", self.cors_expose))
        return headers

    async def _preflight(
        self, send: Send, cors: list[tuple[bytes, bytes]], acr_headers: bytes | None, request_id: bytes | None
    ) -> int:
        allowed = acr_headers if self.cors_any_header and acr_headers else self.cors_headers
        headers = [*cors, *self.cors_preflight, (b"access-control-allow-headers", allowed), (b"content-length", b"0")]
        if request_id is not None:
            headers.append((b"x-request-id", request_id))
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": b""})
        return 200


_CHALLENGE = {"WWW-Authenticate": 'Bearer realm="ecommerce"'}


def _outcome(status: int) -> str:
    return "SUCCESS" if status < 400 else "CLIENT_ERROR" if status < 500 else "SERVER_ERROR"
