"""The hot path: match a route, apply the edge rules, and stream the request to an upstream and back.

Plain ASGI on purpose (no request objects, no per-request dependency resolution): one pass over the request
headers, one pooled aiohttp session, bodies buffered only when small and streamed otherwise.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import aiohttp
import structlog
from multidict import CIMultiDict
from starlette.types import Receive, Scope, Send
from yarl import URL

from ecommerce.chassis.http import IDEMPOTENT_METHODS
from ecommerce.chassis.security import KeysUnavailable, Principal, TokenError, TokenVerifier, bearer_token
from ecommerce.chassis.telemetry import outgoing_headers
from ecommerce.services.gateway.config import Access, GatewayConfig, RouteConfig
from ecommerce.services.gateway.edge import BodyStream, BodyTooLarge, ClientGone, error, read_body, safe_path
from ecommerce.services.gateway.metrics import RATE_LIMITED, RETRIES, UPSTREAM_REQUESTS, UPSTREAM_SECONDS
from ecommerce.services.gateway.policy import Policy
from ecommerce.services.gateway.ratelimit import RateLimiter, retry_after_header
from ecommerce.services.gateway.upstreams import RetryBudget, Upstreams

log = structlog.get_logger("ecommerce.gateway")

BUFFER_BYTES = 64 * 1024  # request bodies up to this size are read whole (and can be retried)
RESPONSE_BUFFER_BYTES = 256 * 1024  # responses up to this size are sent in one message
RETRY_STATUSES = frozenset({502, 503, 504})
HOP_BY_HOP = frozenset(
    {"connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "te", "trailer", "trailers",
     "transfer-encoding", "upgrade", "host", "content-length", "x-request-id", "traceparent", "tracestate",
     "x-forwarded-for", "x-forwarded-proto", "x-forwarded-host", "forwarded"}
)  # fmt: skip
RESPONSE_DROP = frozenset(
    {b"connection", b"keep-alive", b"transfer-encoding", b"upgrade", b"trailer", b"date", b"server",
     b"x-request-id", b"access-control-allow-origin", b"access-control-allow-credentials"}
)  # fmt: skip
SKIP_AUTO_HEADERS = frozenset({"User-Agent", "Accept", "Accept-Encoding", "Content-Type"})
_DENIED = Access.INTERNAL


class Route:
    """A compiled route: its config plus what the hot path needs ready-made."""

    __slots__ = ("config", "id", "path", "prefix", "service", "urls", "retries", "max_body_bytes", "timeout",
                 "rate", "burst", "budget", "_metrics")  # fmt: skip

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
        self.timeout = aiohttp.ClientTimeout(
            total=None,
            sock_connect=config.connect_timeout or defaults.connect_timeout,
            sock_read=config.timeout or defaults.timeout,
        )
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
    ) -> None:
        self.application = application
        self.upstreams = upstreams
        self.verifier = verifier
        self.limiter = limiter
        self.trust_forwarded_for = trust_forwarded_for
        self.session: aiohttp.ClientSession | None = None
        self.configure(config)

    def configure(self, config: GatewayConfig) -> None:
        """Install a (new) route table; in-flight requests finish on the old one."""
        self.config = config
        self.routes = {route.prefix: Route(route, config) for route in config.routes}
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
        """Open the upstream connection pool."""
        connector = aiohttp.TCPConnector(
            limit=0,  # no global cap: per-route timeouts and upstream capacity bound the work
            limit_per_host=256,
            keepalive_timeout=4,  # below uvicorn's 5 s, so the pool never reuses a connection the peer closed
            ttl_dns_cache=30,
        )
        self.session = aiohttp.ClientSession(
            connector=connector,
            auto_decompress=False,
            cookie_jar=aiohttp.DummyCookieJar(),
            skip_auto_headers=SKIP_AUTO_HEADERS,
            read_bufsize=64 * 1024,
        )

    async def close(self) -> None:
        """Close the pool and the rate-limit store."""
        if self.session is not None:
            await self.session.close()
            self.session = None
        if self.limiter is not None:
            await self.limiter.close()

    def match(self, path: str) -> Route | None:
        """The route owning `path`, by its first segment."""
        end = path.find("/", 1)
        return self.routes.get(path[1:end] if end > 0 else path[1:])

    async def handle(self, scope: Scope, receive: Receive, send: Send, route: Route) -> None:
        """Serve one request on `route`."""
        scope["route"] = route
        method: str = scope["method"]
        path: str = scope["path"]
        origin = authorization = content_length = acr_method = acr_headers = None
        chunked = False
        for name, value in scope["headers"]:
            if name == b"authorization":
                authorization = value
            elif name == b"content-length":
                content_length = value
            elif name == b"origin":
                origin = value
            elif name == b"transfer-encoding":
                chunked = True
            elif name == b"access-control-request-method":
                acr_method = value
            elif name == b"access-control-request-headers":
                acr_headers = value
        cors = self._cors(origin) if origin is not None else None

        if not safe_path(path, scope.get("raw_path")):
            return await error(scope, receive, send, 400, "Malformed request path", cors)
        if cors is not None and method == "OPTIONS" and acr_method is not None:
            return await self._preflight(send, cors, acr_headers)

        access = self.policy.access(route.prefix, method, path)
        if access is _DENIED:
            return await error(scope, receive, send, 404, f"No resource at {path}", cors)
        principal = None
        if access is not Access.PUBLIC:
            principal = await self._authorize(scope, receive, send, authorization, access, cors)
            if principal is None:
                return

        if self.rate_limits and route.rate is not None:
            client = principal.username if principal is not None else self._client_address(scope)
            assert self.limiter is not None
            wait = await self.limiter.acquire(f"{route.id}|{client}", route.rate, route.burst)
            if wait > 0:
                RATE_LIMITED.labels(self.application, route.id).inc()
                retry_after = {"Retry-After": retry_after_header(wait)}
                return await error(scope, receive, send, 429, "Too many requests", cors, retry_after)

        length = int(content_length) if content_length is not None and content_length.isdigit() else None
        if length is not None and length > route.max_body_bytes:
            return await error(scope, receive, send, 413, f"Request body over {route.max_body_bytes} bytes", cors)
        body: bytes | BodyStream | None = None
        replayable = True
        if chunked or (length is not None and length > BUFFER_BYTES):
            body, replayable = BodyStream(receive, route.max_body_bytes), False
        elif length:
            try:
                body = await read_body(receive, route.max_body_bytes)
            except ClientGone:
                return
        try:
            await self._forward(scope, send, route, method, body, replayable, cors)
        except BodyTooLarge:
            await error(scope, receive, send, 413, f"Request body over {route.max_body_bytes} bytes", cors)

    async def _authorize(
        self, scope: Scope, receive: Receive, send: Send, authorization: bytes | None, access: Access, cors: Any
    ) -> Principal | None:
        token = bearer_token(authorization.decode("latin-1")) if authorization is not None else None
        if token is None:
            await error(scope, receive, send, 401, "Sign-in required", cors, _CHALLENGE)
            return None
        try:
            principal = await self.verifier.verify(token)
        except KeysUnavailable:
            await error(scope, receive, send, 503, "Tokens cannot be checked right now", cors)
            return None
        except TokenError as exc:
            await error(scope, receive, send, 401, str(exc), cors, _CHALLENGE)
            return None
        if access is Access.ADMIN and not principal.is_admin:
            await error(scope, receive, send, 403, "Not allowed for this user", cors)
            return None
        return principal

    def _client_address(self, scope: Scope) -> str:
        if self.trust_forwarded_for:
            for name, value in scope["headers"]:
                if name == b"x-forwarded-for":
                    first: bytes = value.split(b",", 1)[0]
                    return first.strip().decode("latin-1")
        client = scope.get("client")
        return str(client[0]) if client else "unknown"

    async def _forward(
        self,
        scope: Scope,
        send: Send,
        route: Route,
        method: str,
        body: bytes | BodyStream | None,
        replayable: bool,
        cors: list[tuple[bytes, bytes]] | None,
    ) -> None:
        assert self.session is not None
        headers = self._upstream_headers(scope)
        target = scope.get("raw_path") or scope["path"].encode()
        query = scope.get("query_string")
        target_text = target.decode("latin-1") + ("?" + query.decode("latin-1") if query else "")
        idempotent = method in IDEMPOTENT_METHODS
        route.budget.deposit()
        tried: set[str] = set()
        retries = 0
        while True:
            upstream = self.upstreams.choose(route.service, route.urls, tried)
            if upstream is None and tried:
                upstream = self.upstreams.choose(route.service, route.urls, set())  # only one instance: reuse it
            if upstream is None:
                return await error(scope, None, send, 503, f"No instance of {route.service} is available", cors)
            tried.add(upstream)
            breaker = self.upstreams.breaker(upstream)
            started = time.perf_counter()
            sent = True
            outcome: BaseException
            try:
                response = await self.session.request(
                    method,
                    URL(upstream + target_text, encoded=True),
                    headers=headers,
                    data=body,
                    allow_redirects=False,
                    timeout=route.timeout,
                )
            except (BodyTooLarge, ClientGone):
                breaker.record(True)
                raise
            except (aiohttp.ClientConnectorError, aiohttp.ConnectionTimeoutError) as exc:
                breaker.record(False)
                self.upstreams.report_failure(upstream)
                route.count(self.application, upstream, "UNREACHABLE", None)
                outcome, status, msg, sent = exc, 502, f"{route.service} is unreachable", False
            except TimeoutError as exc:
                breaker.record(False)
                route.count(self.application, upstream, "TIMEOUT", None)
                outcome, status, msg = exc, 504, f"{route.service} did not answer in time"
            except (aiohttp.ClientError, OSError) as exc:
                if isinstance(body, BodyStream) and (body.too_large or body.gone):
                    breaker.record(True)  # the client's body was at fault, not the upstream
                    if body.gone:
                        return
                    raise BodyTooLarge from exc
                breaker.record(False)
                route.count(self.application, upstream, "ERROR", None)
                outcome, status, msg = exc, 502, f"{route.service} failed: {type(exc).__name__}"
            except asyncio.CancelledError:
                breaker.record(True)  # the client left; the upstream is not to blame
                raise
            else:
                answered = response.status
                breaker.record(answered < 500)
                route.count(self.application, upstream, _outcome(answered), time.perf_counter() - started)
                if answered in RETRY_STATUSES and idempotent and replayable and self._may_retry(route, retries):
                    response.release()
                    retries += 1
                    continue
                return await self._respond(send, response, method, cors, upstream)
            if replayable and (idempotent or not sent) and self._may_retry(route, retries):
                retries += 1
                log.info("upstream_retry", route=route.id, upstream=upstream, error=type(outcome).__name__)
                continue
            log.warning("upstream_failed", route=route.id, upstream=upstream, error=repr(outcome)[:200])
            return await error(scope, None, send, status, msg, cors)

    def _may_retry(self, route: Route, retries: int) -> bool:
        if retries >= route.retries or not route.budget.withdraw():
            return False
        RETRIES.labels(self.application, route.id).inc()
        return True

    def _upstream_headers(self, scope: Scope) -> CIMultiDict[str]:
        headers: CIMultiDict[str] = CIMultiDict()
        forwarded_for = None
        forwarded_proto = forwarded_host = None
        host = None
        for raw_name, raw_value in scope["headers"]:
            name = raw_name.decode("latin-1")
            if name in HOP_BY_HOP:
                if name == "host":
                    host = raw_value.decode("latin-1")
                elif self.trust_forwarded_for:
                    if name == "x-forwarded-for":
                        forwarded_for = raw_value.decode("latin-1")
                    elif name == "x-forwarded-proto":
                        forwarded_proto = raw_value.decode("latin-1")
                    elif name == "x-forwarded-host":
                        forwarded_host = raw_value.decode("latin-1")
                continue
            headers.add(name, raw_value.decode("latin-1"))
        client = scope.get("client")
        address = client[0] if client else "unknown"
        headers["X-Forwarded-For"] = f"{forwarded_for}, {address}" if forwarded_for else address
        headers["X-Forwarded-Proto"] = forwarded_proto or scope.get("scheme", "http")
        if forwarded_host or host:
            headers["X-Forwarded-Host"] = forwarded_host or host or ""
        headers.update(outgoing_headers())
        return headers

    async def _respond(
        self,
        send: Send,
        response: aiohttp.ClientResponse,
        method: str,
        cors: list[tuple[bytes, bytes]] | None,
        upstream: str,
    ) -> None:
        headers = [(name, value) for name, value in response.raw_headers if name.lower() not in RESPONSE_DROP]
        if cors is not None:
            headers.extend(cors)
        status = response.status
        length = response.content_length
        try:
            if method == "HEAD" or status in (204, 304) or (length is not None and length <= RESPONSE_BUFFER_BYTES):
                payload = b"" if method == "HEAD" or status in (204, 304) else await response.read()
                await send({"type": "http.response.start", "status": status, "headers": headers})
                await send({"type": "http.response.body", "body": payload})
                return
            await send({"type": "http.response.start", "status": status, "headers": headers})
            async for chunk in response.content.iter_any():
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
            await send({"type": "http.response.body", "body": b""})
        except (aiohttp.ClientError, TimeoutError, OSError) as exc:
            # Headers are gone already: all that is left is to cut the connection short.
            log.warning("upstream_body_failed", upstream=upstream, error=repr(exc)[:200])
            response.close()
            raise
        finally:
            response.release()

    def _cors(self, origin: bytes) -> list[tuple[bytes, bytes]] | None:
        text = origin.decode("latin-1")
        if not (self.cors_any_origin or text in self.cors_origins):
            return None
        headers = [(b"access-control-allow-origin", origin), *self.cors_base]
        if self.cors_expose:
            headers.append((b"access-control-expose-headers", self.cors_expose))
        return headers

    async def _preflight(self, send: Send, cors: list[tuple[bytes, bytes]], acr_headers: bytes | None) -> None:
        allowed = acr_headers if self.cors_any_header and acr_headers else self.cors_headers
        headers = [*cors, *self.cors_preflight, (b"access-control-allow-headers", allowed), (b"content-length", b"0")]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": b""})


_CHALLENGE = {"WWW-Authenticate": 'Bearer realm="ecommerce"'}


def _outcome(status: int) -> str:
    return "SUCCESS" if status < 400 else "CLIENT_ERROR" if status < 500 else "SERVER_ERROR"
