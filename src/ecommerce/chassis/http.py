"""Calls between services: resolve the peer, pool connections, time out, retry idempotent calls, break circuits.

Every peer call in every service goes through `PeerClient`, so the rules are written once:
- a peer resolves through the registry when one is configured (`app.state.registry.choose`), else to a URL
  from settings (`ECOMMERCE_PEERS`), else to its well-known port on 127.0.0.1 (or its DNS name in a cluster);
- retries with exponential backoff only for idempotent calls, on another instance when there is one;
- a circuit breaker per peer with the original's Resilience4j settings;
- X-Request-Id and W3C trace context passed on; each call counted by peer and outcome;
- every call proves which component makes it: `X-Service-Token`, minted for the peer's name (identity.py) and
  reused for minutes, so it costs a dictionary look-up. A user's own token is never added here: a component
  passes it on only where it acts for that user (the storefront does).

Why the retry loop and the breaker are written here rather than taken from stamina/tenacity or purgatory/aiobreaker
(measured in bench/results/libraries.md, `python -m bench libraries`): the retry libraries build their retrying
state for every call, also for the one that succeeds at once, which is nearly every peer call, and cost 15-21 % of a
whole peer GET in CPU, where the loop costs nothing measurable. The breaker libraries cost about 1 us more per call,
but they open after N failures in a row with one trial call; the original's Resilience4j settings, which
`CircuitBreaker` keeps, open on a failure rate over the last calls and half-open with several trial calls (and the
gateway needs `trial()`), so a peer failing every other call never opens their circuit but opens this one.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections import deque
from collections.abc import Mapping
from enum import IntEnum
from typing import Annotated, Any, NamedTuple, Protocol

import aiohttp
import orjson
import structlog
from fastapi import Depends, Request
from opentelemetry import context as otel_context
from opentelemetry import trace
from prometheus_client import Gauge, Histogram

from ecommerce import components
from ecommerce.chassis.context import outgoing_headers
from ecommerce.chassis.identity import SERVICE_TOKEN_HEADER, ServiceTokens
from ecommerce.chassis.settings import ServiceSettings
from ecommerce.chassis.telemetry import BUCKETS

log = structlog.get_logger("ecommerce.http")

# Well-known ports of the shop's components (topology, not business knowledge), from the one table.
DEFAULT_PORTS = components.ports()
IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})

CLIENT_REQUESTS = Histogram(
    "http_client_requests_seconds",
    "Calls to peer services",
    ["application", "peer", "method", "outcome"],
    buckets=BUCKETS,
)
CIRCUIT_STATE = Gauge("circuit_breaker_state", "0 closed, 1 open, 2 half-open", ["application", "peer"])


class PeerAnswer(NamedTuple):
    """A peer's answer: status, parsed body (JSON, text or None) and headers (names case-insensitive)."""

    status: int
    body: Any
    headers: Mapping[str, str]


class PeerError(Exception):
    """A peer answered with an error status (`status`, and its error body in `body` when it sent one)."""

    def __init__(self, peer: str, status: int, body: Any = None, msg: str | None = None) -> None:
        super().__init__(msg or f"{peer} answered {status}")
        self.peer = peer
        self.status = status
        self.body = body


class PeerUnavailable(PeerError):
    """The peer is down, too slow, failing with 5xx, or its circuit is open."""

    def __init__(self, peer: str, msg: str, body: Any = None) -> None:
        super().__init__(peer, 503, body, msg)


class Registry(Protocol):
    """What the client needs from the service registry."""

    def choose(self, name: str, exclude: frozenset[str] = frozenset()) -> str | None: ...


class CircuitState(IntEnum):
    CLOSED = 0
    OPEN = 1
    HALF_OPEN = 2


class CircuitBreaker:
    """Count-based sliding window breaker (Resilience4j semantics, the original's settings by default)."""

    def __init__(
        self,
        *,
        window: int = 10,
        minimum_calls: int = 5,
        failure_rate: float = 0.5,
        open_seconds: float = 5.0,
        half_open_calls: int = 3,
        on_change: Any = None,
    ) -> None:
        self.window: deque[bool] = deque(maxlen=window)
        self.minimum_calls = minimum_calls
        self.failure_rate = failure_rate
        self.open_seconds = open_seconds
        self.half_open_calls = half_open_calls
        self.state = CircuitState.CLOSED
        self._opened_at = 0.0
        self._trial_permits = 0
        self._trial_results: list[bool] = []
        self._on_change = on_change

    def allow(self) -> bool:
        """May a call go through now?"""
        if self.state == CircuitState.OPEN:
            if time.monotonic() - self._opened_at < self.open_seconds:
                return False
            self._transition(CircuitState.HALF_OPEN)
            self._trial_permits = self.half_open_calls
            self._trial_results = []
        if self.state == CircuitState.HALF_OPEN:
            if self._trial_permits <= 0:
                return False
            self._trial_permits -= 1
        return True

    def trial(self) -> None:
        """Let one trial call through now, half-opening an open circuit before its time: for a retry whose other
        choice is an instance that just refused the connection (the gateway's `Upstreams.choose_again`)."""
        if self.state == CircuitState.OPEN:
            self._transition(CircuitState.HALF_OPEN)
            self._trial_permits = self.half_open_calls
            self._trial_results = []
        if self.state == CircuitState.HALF_OPEN and self._trial_permits > 0:
            self._trial_permits -= 1

    def record(self, success: bool) -> None:
        """Count the outcome of a call that `allow` let through."""
        if self.state == CircuitState.HALF_OPEN:
            self._trial_results.append(success)
            if not success:
                self._open()
            elif len(self._trial_results) >= self.half_open_calls:
                self.window.clear()
                self._transition(CircuitState.CLOSED)
            return
        self.window.append(success)
        if len(self.window) >= self.minimum_calls:
            failures = self.window.count(False)
            if failures / len(self.window) >= self.failure_rate:
                self._open()

    def _open(self) -> None:
        self._opened_at = time.monotonic()
        self.window.clear()
        self._transition(CircuitState.OPEN)

    def _transition(self, state: CircuitState) -> None:
        if state != self.state:
            self.state = state
            if self._on_change is not None:
                self._on_change(state)


class PeerClient:
    """A pooled HTTP client for calling the shop's other services."""

    def __init__(
        self,
        *,
        application: str,
        settings: ServiceSettings,
        registry: Any = None,
        tokens: ServiceTokens | None = None,
    ) -> None:
        self.application = application
        self.settings = settings
        self.tokens = tokens  # this component's service tokens (None: calls carry no proof, and peers refuse them)
        self.registry_source = registry  # object with a `.registry` attribute, or a Registry, resolved per call
        self._session: aiohttp.ClientSession | None = None
        self._breakers: dict[str, CircuitBreaker] = {}
        self._tracer = trace.get_tracer("ecommerce.http")

    async def start(self) -> None:
        """Open the connection pool."""
        connector = aiohttp.TCPConnector(limit=200, limit_per_host=50, ttl_dns_cache=30, keepalive_timeout=30)
        self._session = aiohttp.ClientSession(
            connector=connector,
            timeout=aiohttp.ClientTimeout(total=self.settings.peer_timeout_seconds),
            json_serialize=lambda obj: orjson.dumps(obj).decode(),
        )

    async def close(self) -> None:
        """Close the connection pool."""
        if self._session is not None:
            await self._session.close()
            self._session = None

    def breaker(self, peer: str) -> CircuitBreaker:
        """The circuit breaker guarding `peer`."""
        breaker = self._breakers.get(peer)
        if breaker is None:
            gauge = CIRCUIT_STATE.labels(self.application, peer)
            gauge.set(0)
            breaker = self._breakers[peer] = CircuitBreaker(on_change=lambda state: gauge.set(int(state)))
        return breaker

    def base_url(self, peer: str, exclude: frozenset[str] = frozenset()) -> str:
        """Where to reach `peer`: the registry, then settings, then its well-known address."""
        registry = self._registry()
        if registry is not None:
            chosen = registry.choose(peer, exclude)
            if chosen:
                return chosen.rstrip("/")
        configured = self.settings.peers.get(peer)
        if configured:
            return configured.rstrip("/")
        port = DEFAULT_PORTS.get(peer)
        if port is None:
            raise PeerUnavailable(peer, f"No address known for {peer}")
        host = peer if self.settings.peers_by_dns else "127.0.0.1"
        return f"http://{host}:{port}"

    def _registry(self) -> Registry | None:
        source = self.registry_source
        if source is None:
            return None
        registry = getattr(source, "registry", source)
        return registry if hasattr(registry, "choose") else None

    async def request(
        self,
        method: str,
        peer: str,
        path: str,
        *,
        params: dict[str, Any] | None = None,
        json: Any = None,
        headers: dict[str, str] | None = None,
        idempotent: bool | None = None,
        timeout: float | None = None,
        background: bool = False,
    ) -> tuple[int, Any]:
        """Call `peer` and return (status, parsed JSON or None); raise PeerUnavailable when it cannot answer."""
        answer = await self.exchange(
            method,
            peer,
            path,
            params=params,
            json=json,
            headers=headers,
            idempotent=idempotent,
            timeout=timeout,
            background=background,
        )
        return answer.status, answer.body

    async def exchange(
        self,
        method: str,
        peer: str,
        path: str,
        *,
        params: dict[str, Any] | None = None,
        json: Any = None,
        headers: dict[str, str] | None = None,
        idempotent: bool | None = None,
        timeout: float | None = None,
        background: bool = False,
    ) -> PeerAnswer:
        """`request`, with the answer's headers too (for a caller that relays one, e.g. Idempotent-Replayed).

        A `background` call (a poller's) neither counts in the peer's circuit nor is stopped by it: a peer that is
        not up yet when the component starts must not open the circuit that users' requests then meet.
        """
        if self._session is None:
            raise RuntimeError("PeerClient.start() was not awaited")
        method = method.upper()
        retryable = method in IDEMPOTENT_METHODS if idempotent is None else idempotent
        attempts = 1 + (self.settings.peer_retries if retryable else 0)
        breaker = self.breaker(peer)
        tried: set[str] = set()
        last_error = "no attempt made"
        for attempt in range(attempts):
            if attempt:
                await asyncio.sleep(min(0.05 * 2**attempt, 1.0) * (0.5 + random.random()))
            if not background and not breaker.allow():
                raise PeerUnavailable(peer, f"{peer} is unavailable (circuit open)")
            base = self.base_url(peer, frozenset(tried))
            tried.add(base)
            started = time.perf_counter()
            try:
                answer = await self._send(method, f"{base}{path}", params, json, headers, timeout, peer)
            except (aiohttp.ClientError, TimeoutError, OSError) as exc:
                self._observe(peer, method, "UNAVAILABLE", started)
                if not background:
                    breaker.record(False)
                last_error = f"{peer} unreachable: {type(exc).__name__}"
                continue
            self._observe(peer, method, _outcome(answer.status), started)
            if not background:
                breaker.record(answer.status < 500)
            if answer.status < 500:
                return answer
            last_error = f"{peer} failed with {answer.status}"
            if attempt + 1 == attempts:
                raise PeerUnavailable(peer, last_error, answer.body)
        log.warning("peer_unavailable", peer=peer, error=last_error, attempts=attempts)
        raise PeerUnavailable(peer, last_error)

    def _observe(self, peer: str, method: str, outcome: str, started: float) -> None:
        CLIENT_REQUESTS.labels(self.application, peer, method, outcome).observe(time.perf_counter() - started)

    async def _send(
        self,
        method: str,
        url: str,
        params: dict[str, Any] | None,
        json: Any,
        headers: dict[str, str] | None,
        timeout: float | None,
        peer: str,
    ) -> PeerAnswer:
        assert self._session is not None
        span = None
        if trace.get_current_span().is_recording():
            span = self._tracer.start_span(f"{method} {peer}", kind=trace.SpanKind.CLIENT)
        context_token = otel_context.attach(trace.set_span_in_context(span)) if span is not None else None
        try:
            sent_headers = {**outgoing_headers(), **(headers or {})}
            if self.tokens is not None:
                sent_headers[SERVICE_TOKEN_HEADER] = self.tokens.token_for(peer)
            options: dict[str, Any] = {"params": params, "headers": sent_headers}
            if timeout is not None:  # aiohttp reads an explicit None as "no timeout at all"
                options["timeout"] = aiohttp.ClientTimeout(total=timeout)
            if json is not None:
                options["data"] = orjson.dumps(json)
                sent_headers["Content-Type"] = "application/json"
            async with self._session.request(method, url, **options) as response:
                raw = await response.read()
                if span is not None:
                    span.set_attribute("http.response.status_code", response.status)
                    span.set_attribute("url.full", url)
                body = _parse(raw, response.content_type)
                return PeerAnswer(response.status, body, response.headers.copy())
        finally:
            if span is not None:
                assert context_token is not None
                otel_context.detach(context_token)
                span.end()

    async def get_json(
        self, peer: str, path: str, *, params: dict[str, Any] | None = None, background: bool = False
    ) -> Any:
        """GET and return the JSON body; PeerError for a 4xx answer."""
        status, body = await self.request("GET", peer, path, params=params, background=background)
        if status >= 400:
            raise PeerError(peer, status, body)
        return body

    async def post_json(self, peer: str, path: str, *, json: Any, idempotent: bool = False, **kwargs: Any) -> Any:
        """POST JSON and return the JSON body; PeerError for a 4xx answer."""
        status, body = await self.request("POST", peer, path, json=json, idempotent=idempotent, **kwargs)
        if status >= 400:
            raise PeerError(peer, status, body)
        return body


async def current_peers(request: Request) -> PeerClient:
    """Dependency: the component's `PeerClient`, opened by its lifespan; routes take it as `PeerCalls`."""
    peers: PeerClient = request.app.state.peers
    return peers


PeerCalls = Annotated[PeerClient, Depends(current_peers)]


def _outcome(status: int) -> str:
    return "SUCCESS" if status < 400 else "CLIENT_ERROR" if status < 500 else "SERVER_ERROR"


def _parse(raw: bytes, content_type: str) -> Any:
    if not raw:
        return None
    if "json" in content_type:
        try:
            return orjson.loads(raw)
        except orjson.JSONDecodeError:
            return None
    return raw.decode(errors="replace")
