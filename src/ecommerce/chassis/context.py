"""The request being served: its request id and its trace context, in context variables.

The ground floor of the chassis: it imports nothing from the project, so that everything that reads the request's
identity (error bodies, log lines, calls to peers, the per-request layer that sets it) can depend on it without
depending on each other.

W3C `traceparent` is read and written here by hand rather than through OpenTelemetry's
`TraceContextTextMapPropagator`, which builds a carrier dict, a span context, a non-recording span and an
OpenTelemetry context around every header: four times the time to read one and six times to write one
(bench/results/chassis.md, "traceparent"), on every call between services. tests/chassis/test_context.py checks
that both read and write the same headers the same way.
"""

from __future__ import annotations

import re
from contextvars import ContextVar
from dataclasses import dataclass

from opentelemetry import trace

_TRACEPARENT = re.compile(rb"[ \t]*([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})(?:(-.*)|[ \t]*)")
_TRACEPARENT_MAX = 512


@dataclass(slots=True)  # not frozen: a frozen dataclass is slower to build, and one is built per request
class TraceState:
    """The trace this request belongs to; `span_id` is ours when sampled, else the caller's. Never changed."""

    trace_id: int
    span_id: int
    sampled: bool

    def traceparent(self) -> str:
        return f"00-{self.trace_id:032x}-{self.span_id:016x}-{'01' if self.sampled else '00'}"


request_id_var: ContextVar[str | None] = ContextVar("request_id", default=None)
trace_var: ContextVar[TraceState | None] = ContextVar("trace", default=None)


def current_trace() -> TraceState | None:
    """The trace of the work in progress: the innermost live span when sampled (a peer call's client span, say),
    else the request's unsampled trace."""
    state = trace_var.get()
    if state is not None and not state.sampled:
        return state
    span_context = trace.get_current_span().get_span_context()
    if span_context.is_valid:
        return TraceState(span_context.trace_id, span_context.span_id, span_context.trace_flags.sampled)
    return state


def current_trace_id() -> str | None:
    """The trace id of the request being served, as 32 hex digits, else its request id."""
    state = current_trace()
    if state is not None:
        return f"{state.trace_id:032x}"
    return request_id_var.get()


def outgoing_headers() -> dict[str, str]:
    """Headers that carry the request id and trace context to a peer."""
    headers: dict[str, str] = {}
    request_id = request_id_var.get()
    if request_id:
        headers["X-Request-Id"] = request_id
    state = current_trace()
    if state is not None:
        headers["traceparent"] = state.traceparent()
    return headers


def parse_traceparent(value: bytes) -> TraceState | None:
    """The caller's trace from a `traceparent` header, or None when it is malformed (as the W3C rules say)."""
    match = _TRACEPARENT.fullmatch(value) if len(value) <= _TRACEPARENT_MAX else None
    if match is None:
        return None
    version, trace_hex, span_hex, flags, rest = match.groups()
    if version == b"ff" or (version == b"00" and rest is not None):
        return None
    trace_id, span_id = int(trace_hex, 16), int(span_hex, 16)
    if trace_id == 0 or span_id == 0:
        return None
    return TraceState(trace_id, span_id, bool(int(flags, 16) & 1))


def is_safe_request_id(value: bytes) -> bool:
    """An incoming X-Request-Id worth keeping: short, letters, digits and dashes only (it lands in logs)."""
    return 0 < len(value) <= 64 and value.replace(b"-", b"").isalnum()
