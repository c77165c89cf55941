"""The hand-read `traceparent` agrees with OpenTelemetry's W3C propagator on every header, well-formed or not."""

from __future__ import annotations

import string

from hypothesis import example, given
from hypothesis import strategies as st
from opentelemetry import trace
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from ecommerce.chassis.context import TraceState, parse_traceparent

PROPAGATOR = TraceContextTextMapPropagator()
HEX = "0123456789abcdef"


def _by_propagator(header: str) -> TraceState | None:
    span_context = trace.get_current_span(PROPAGATOR.extract({"traceparent": header})).get_span_context()
    if not span_context.is_valid:
        return None
    return TraceState(span_context.trace_id, span_context.span_id, span_context.trace_flags.sampled)


def _field(size: int) -> st.SearchStrategy[str]:
    return st.one_of(st.text(HEX, min_size=size, max_size=size), st.text(HEX + "AF-x", max_size=size + 1))


headers = st.one_of(
    st.builds(
        lambda space, version, trace_id, span_id, flags, rest, tail: (
            f"{space}{version}-{trace_id}-{span_id}-{flags}{rest}{tail}"
        ),
        st.sampled_from(["", " ", "\t"]),
        st.one_of(st.sampled_from(["00", "01", "ff", "cc"]), _field(2)),
        st.one_of(st.just("0" * 32), _field(32)),
        st.one_of(st.just("0" * 16), _field(16)),
        st.one_of(st.sampled_from(["00", "01", "03", "ff"]), _field(2)),
        st.sampled_from(["", "-", "-what-the-future-holds"]),
        st.sampled_from(["", " ", "\t "]),
    ),
    st.text(string.printable.replace("\n", "").replace("\r", "").replace("\x0b", "").replace("\x0c", "")),
)


@given(headers)
@example("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
@example("01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-later")
@example("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-later")
@example("00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01")
@example("00-4bf92f3577b34da6a3ce929d0e0e47_6-00f067aa0ba902b7-01")
@example("00-" + "a" * 600)
def test_traceparent_is_read_as_the_propagator_reads_it(header: str) -> None:
    assert parse_traceparent(header.encode("latin-1")) == _by_propagator(header)


def test_traceparent_is_written_as_the_propagator_writes_it() -> None:
    for sampled in (True, False):
        state = TraceState(0x4BF92F3577B34DA6A3CE929D0E0E4736, 0x00F067AA0BA902B7, sampled)
        carrier: dict[str, str] = {}
        flags = trace.TraceFlags(trace.TraceFlags.SAMPLED if sampled else trace.TraceFlags.DEFAULT)
        span = trace.NonRecordingSpan(trace.SpanContext(state.trace_id, state.span_id, True, flags))
        PROPAGATOR.inject(carrier, trace.set_span_in_context(span))
        assert carrier["traceparent"] == state.traceparent()
