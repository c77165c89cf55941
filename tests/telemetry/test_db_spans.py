"""Database query spans: one client span per statement inside a recording trace, nothing otherwise."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
import pytest_asyncio
from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import NonRecordingSpan, SpanContext, SpanKind, StatusCode, TraceFlags
from shop_testing import postgres_database
from sqlalchemy import text

from ecommerce.chassis import dbtrace
from ecommerce.chassis.database import Database


@pytest.fixture
def exporter(monkeypatch: pytest.MonkeyPatch) -> Iterator[InMemorySpanExporter]:
    """A private tracer provider (the global one is left alone) whose spans land in memory."""
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    monkeypatch.setattr(dbtrace, "_tracer", provider.get_tracer("ecommerce.db"))
    exporter.provider = provider  # type: ignore[attr-defined]
    yield exporter
    provider.shutdown()


@pytest_asyncio.fixture
async def sqlite_db(tmp_path: Path) -> AsyncIterator[Database]:
    database = Database(f"sqlite+aiosqlite:///{tmp_path / 'spans.db'}", application="test-service")
    yield database
    await database.dispose()


def _db_spans(exporter: InMemorySpanExporter) -> list[ReadableSpan]:
    return [span for span in exporter.get_finished_spans() if span.kind == SpanKind.CLIENT]


async def test_a_statement_in_a_sampled_request_is_a_child_client_span(
    exporter: InMemorySpanExporter, sqlite_db: Database
) -> None:
    tracer = exporter.provider.get_tracer("test")  # type: ignore[attr-defined]
    with tracer.start_as_current_span("GET /api/things", kind=SpanKind.SERVER) as server:
        async with sqlite_db.engine.connect() as conn:
            await conn.execute(text("SELECT 42 AS answer"))
    spans = [s for s in _db_spans(exporter) if s.attributes and s.attributes.get("db.operation.name") == "SELECT"]
    assert len(spans) == 1
    (span,) = spans
    assert span.attributes is not None
    assert span.attributes["db.system"] == "sqlite"
    assert span.attributes["db.statement"] == "SELECT 42 AS answer"
    assert span.attributes["db.namespace"] == "spans.db"
    assert span.name == "SELECT spans.db"
    assert span.parent is not None
    assert span.parent.span_id == server.get_span_context().span_id
    assert span.context.trace_id == server.get_span_context().trace_id
    assert span.end_time is not None and span.start_time is not None and span.end_time >= span.start_time


async def test_no_span_without_a_recording_trace(exporter: InMemorySpanExporter, sqlite_db: Database) -> None:
    async with sqlite_db.engine.connect() as conn:
        await conn.execute(text("SELECT 1"))
    unsampled = NonRecordingSpan(SpanContext(0xABC, 0xDEF, True, TraceFlags(0)))
    with trace.use_span(unsampled):
        async with sqlite_db.engine.connect() as conn:
            await conn.execute(text("SELECT 2"))
    assert _db_spans(exporter) == []


async def test_long_statements_are_truncated_and_failures_marked(
    exporter: InMemorySpanExporter, sqlite_db: Database
) -> None:
    tracer = exporter.provider.get_tracer("test")  # type: ignore[attr-defined]
    long_select = "SELECT " + ", ".join(f"{i} AS c{i}" for i in range(400))
    with tracer.start_as_current_span("request"):
        async with sqlite_db.engine.connect() as conn:
            await conn.execute(text(long_select))
            with pytest.raises(Exception, match="no_such_table"):
                await conn.execute(text("SELECT * FROM no_such_table"))
    by_statement = {str(s.attributes["db.statement"]): s for s in _db_spans(exporter) if s.attributes}
    assert long_select[: dbtrace.MAX_STATEMENT_CHARS] in by_statement
    assert len(long_select) > dbtrace.MAX_STATEMENT_CHARS
    failed = by_statement["SELECT * FROM no_such_table"]
    assert failed.status.status_code == StatusCode.ERROR
    assert failed.attributes is not None and failed.attributes["error.type"] == "OperationalError"


@pytest.mark.postgres
async def test_postgresql_statements_name_the_database_and_server(exporter: InMemorySpanExporter) -> None:
    tracer = exporter.provider.get_tracer("test")  # type: ignore[attr-defined]
    async with postgres_database() as url:
        database = Database(url, application="test-service")
        try:
            with tracer.start_as_current_span("request"):
                async with database.engine.connect() as conn:
                    await conn.execute(text("SELECT 1"))
        finally:
            await database.dispose()
    spans = [s for s in _db_spans(exporter) if s.attributes and s.attributes["db.statement"] == "SELECT 1"]
    assert spans, [s.attributes for s in _db_spans(exporter)]
    attributes = spans[-1].attributes
    assert attributes is not None
    assert attributes["db.system"] == "postgresql"
    assert attributes["db.namespace"] == url.rsplit("/", 1)[1]
    assert attributes["server.address"] == "127.0.0.1"
