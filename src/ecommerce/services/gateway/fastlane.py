"""Proxied requests go straight to the gateway, ahead of the chassis middleware stack.

The chassis stack (Starlette's error middleware, the chassis' per-request layer with its body limit and fault
switch, exception middleware, router) took a large share of the gateway's time per proxied request (the profile in
bench/results/gateway.md), for work the gateway either does itself (errors, body limits) or can do more cheaply
knowing the route already. This layer matches the route first and,
for a gateway route, does the chassis' per-request telemetry itself with the chassis' own pieces: the request id
(kept when sane, else minted, echoed on the response), W3C trace context (a server span only when sampled), the
`http_server_requests_seconds` histogram with the route template as `uri`, and the JSON access-log line.
Everything else (the actuator, the docs, unknown paths) and every request while the fault switch is on goes
through the chassis app unchanged. The native way in (native.py) uses `start` and `finish` too, so a request's
telemetry is the same whichever way it came.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from typing import Any, cast

from fastapi import FastAPI
from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.trace import NonRecordingSpan, SpanContext, SpanKind, TraceFlags
from starlette.types import ASGIApp, Receive, Scope, Send

from ecommerce.chassis import (
    HTTP_SERVER_REQUESTS,
    TelemetryMiddleware,
    TraceState,
    is_safe_request_id,
    log_access,
    parse_traceparent,
    request_id_var,
    trace_var,
)
from ecommerce.services.gateway.proxy import Gateway, Incoming
from ecommerce.services.gateway.route import Route

_OUTCOMES = {1: "INFORMATIONAL", 2: "SUCCESS", 3: "REDIRECTION", 4: "CLIENT_ERROR", 5: "SERVER_ERROR"}
_LOW_64 = (1 << 64) - 1


def telemetry_options(app: FastAPI) -> dict[str, Any]:
    """The options the chassis gave its telemetry middleware (tracer, sampling ratio, access log)."""
    for middleware in app.user_middleware:
        if middleware.cls is cast(Any, TelemetryMiddleware):
            return dict(middleware.kwargs)
    return {}


class FastLane:
    """An ASGI app: gateway routes served here, everything else by `chassis` (the app's middleware stack)."""

    def __init__(self, app: FastAPI, gateway: Gateway, chassis: ASGIApp) -> None:
        options = telemetry_options(app)
        self.application: str = options.get("application", gateway.application)
        self.tracer: trace.Tracer | None = options.get("tracer")
        self.sampling_ratio: float = options.get("sampling_ratio", 0.1)
        self.access_log: bool = options.get("access_log", True)
        self.gateway = gateway
        self.chassis = chassis
        self.faults = getattr(app.state, "faults", None)
        self._observers: dict[tuple[str, str, int], Callable[[float], None]] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and (self.faults is None or not self.faults.active):
            route = self.gateway.match(scope["path"])
            if route is not None:
                await self._serve(scope, receive, send, route)
                return
        await self.chassis(scope, receive, send)

    async def _serve(self, scope: Scope, receive: Receive, send: Send, route: Route) -> None:
        incoming = Incoming.of(scope, self.gateway.forwarding_trusted(scope.get("client")))
        method: str = scope["method"]
        telemetry = self.start(incoming, method, spans=True)
        assert telemetry is not None
        rid_token = request_id_var.set(telemetry.request_id)
        trace_token = trace_var.set(telemetry.state)
        status = 500
        try:
            status = await self.gateway.handle(
                scope, receive, send, route, incoming, telemetry.raw_id, telemetry.traceparent, telemetry.state
            )
        finally:
            self.finish(telemetry, method, route, scope["path"], status)
            trace_var.reset(trace_token)
            request_id_var.reset(rid_token)

    def start(self, incoming: Incoming, method: str, *, spans: bool) -> RequestTelemetry | None:
        """Request id and trace state of a request; None when it is sampled for a span and `spans` is false."""
        started = time.perf_counter()
        raw_id = incoming.request_id
        if raw_id is None or not is_safe_request_id(raw_id):
            raw_id = b"%016x" % random.getrandbits(64)  # a label, not a secret: no getrandom call per request
        parent = parse_traceparent(incoming.traceparent) if incoming.traceparent is not None else None
        sampled = parent.sampled if parent is not None else random.random() < self.sampling_ratio
        span = span_token = None
        if sampled and self.tracer is not None:
            if not spans:
                return None
            context = None
            if parent is not None:
                remote = SpanContext(parent.trace_id, parent.span_id, True, TraceFlags(TraceFlags.SAMPLED))
                context = trace.set_span_in_context(NonRecordingSpan(remote))
            span = self.tracer.start_span(method, context=context, kind=SpanKind.SERVER)
            span_context = span.get_span_context()
            state = TraceState(span_context.trace_id, span_context.span_id, True)
            span_token = otel_context.attach(trace.set_span_in_context(span))
        elif parent is not None:
            state = TraceState(parent.trace_id, parent.span_id, False)
        else:  # not sampled: a trace id for logs, errors and the upstream, but no span at all
            trace_id = random.getrandbits(128) or 1
            state = TraceState(trace_id, (trace_id & _LOW_64) or 1, False)
        return RequestTelemetry(started, raw_id, state, span, span_token)

    def finish(self, telemetry: RequestTelemetry, method: str, route: Route, path: str, status: int) -> None:
        """Record the request: the histogram, the access-log line, and the span when there is one."""
        elapsed = time.perf_counter() - telemetry.started
        key = (method, route.path, status)
        observe = self._observers.get(key)
        if observe is None:
            outcome = _OUTCOMES.get(status // 100, "UNKNOWN")
            child = HTTP_SERVER_REQUESTS.labels(self.application, method, route.path, str(status), outcome)
            observe = self._observers[key] = child.observe
        observe(elapsed)
        if self.access_log and "/actuator/" not in path:
            log_access(self.application, method, path, status, elapsed, telemetry.request_id, telemetry.state)
        span = telemetry.span
        if span is not None:
            span.set_attributes({"http.request.method": method, "http.route": route.path})
            span.set_attribute("http.response.status_code", status)
            span.update_name(f"{method} {route.path}")
            if status >= 500:
                span.set_status(trace.Status(trace.StatusCode.ERROR))
            span.end()
            otel_context.detach(telemetry.span_token)


class RequestTelemetry:
    """One request's timer, request id and trace state (and its span when sampled)."""

    __slots__ = ("started", "raw_id", "request_id", "state", "traceparent", "span", "span_token")

    def __init__(self, started: float, raw_id: bytes, state: TraceState, span: Any, span_token: Any) -> None:
        self.started = started
        self.raw_id = raw_id
        self.request_id = raw_id.decode("latin-1")
        self.state = state
        self.traceparent = state.traceparent().encode("latin-1")
        self.span = span
        self.span_token = span_token
