"""W3C `traceparent` read and written by hand (chassis/context.py) against OpenTelemetry's propagator, per header.

`python -m bench.chassis.traceparent` prints microseconds per call (best of 5 repeats); the figures are copied into
bench/results/chassis.md with the machine's load at the time.
"""

from __future__ import annotations

import timeit

from opentelemetry import trace
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from ecommerce.chassis.context import TraceState, parse_traceparent

HEADER = b"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
PROPAGATOR = TraceContextTextMapPropagator()
STATE = TraceState(0x4BF92F3577B34DA6A3CE929D0E0E4736, 0x00F067AA0BA902B7, True)


def read_by_hand() -> TraceState | None:
    return parse_traceparent(HEADER)


def read_by_propagator() -> TraceState | None:
    span_context = trace.get_current_span(PROPAGATOR.extract({"traceparent": HEADER.decode("latin-1")}))
    context = span_context.get_span_context()
    return TraceState(context.trace_id, context.span_id, context.trace_flags.sampled) if context.is_valid else None


def write_by_hand() -> dict[str, str]:
    return {"traceparent": STATE.traceparent()}


def write_by_propagator() -> dict[str, str]:
    carrier: dict[str, str] = {}
    remote = trace.SpanContext(STATE.trace_id, STATE.span_id, True, trace.TraceFlags(trace.TraceFlags.SAMPLED))
    PROPAGATOR.inject(carrier, trace.set_span_in_context(trace.NonRecordingSpan(remote)))
    return carrier


def main() -> None:
    number = 100_000
    for function in (read_by_hand, read_by_propagator, write_by_hand, write_by_propagator):
        best = min(timeit.repeat(function, number=number, repeat=5)) / number
        print(f"{function.__name__}: {best * 1e6:.2f} µs")


if __name__ == "__main__":
    main()
