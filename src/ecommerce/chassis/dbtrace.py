"""A client span per SQL statement, only inside a recording (sampled) trace.

SQLAlchemy's cursor events run in the request's context (the async bridge carries contextvars into its
greenlet), so the span becomes a child of the request's server span, or of the peer call being served. Outside
a sampled request each hook costs one context lookup and nothing else.
"""

from __future__ import annotations

import weakref
from typing import Any

from opentelemetry import trace
from opentelemetry.trace import SpanKind, Status, StatusCode
from sqlalchemy import event
from sqlalchemy.engine import Engine

MAX_STATEMENT_CHARS = 1000
_SPAN_KEY = "_ecommerce_db_span"
_SYSTEMS = {"postgresql": "postgresql", "sqlite": "sqlite"}

_tracer = trace.get_tracer("ecommerce.db")
_instrumented: weakref.WeakSet[Engine] = weakref.WeakSet()


def instrument(engine: Engine) -> None:
    """Hook statement spans into a (sync) engine; for an AsyncEngine pass `engine.sync_engine`."""
    if engine in _instrumented:
        return
    _instrumented.add(engine)
    url = engine.url
    base: dict[str, Any] = {"db.system": _SYSTEMS.get(engine.dialect.name, engine.dialect.name)}
    if url.database:
        base["db.namespace"] = url.database if engine.dialect.name != "sqlite" else url.database.rsplit("/", 1)[-1]
    if url.host:
        base["server.address"] = url.host
    if url.port:
        base["server.port"] = url.port

    def before(_conn: Any, _cursor: Any, statement: str, _params: Any, context: Any, executemany: bool) -> None:
        if context is None or not trace.get_current_span().is_recording():
            return
        operation = statement.lstrip().split(None, 1)[0].upper() if statement.strip() else "SQL"
        name = f"{operation} {base['db.namespace']}" if "db.namespace" in base else operation
        attributes = {
            **base,
            "db.operation.name": operation,
            "db.statement": statement[:MAX_STATEMENT_CHARS],
        }
        if executemany:
            attributes["db.operation.batch"] = True
        setattr(context, _SPAN_KEY, _tracer.start_span(name, kind=SpanKind.CLIENT, attributes=attributes))

    def after(_conn: Any, cursor: Any, _statement: str, _params: Any, context: Any, _executemany: bool) -> None:
        span = getattr(context, _SPAN_KEY, None)
        if span is None:
            return
        setattr(context, _SPAN_KEY, None)
        rowcount = getattr(cursor, "rowcount", -1)
        if isinstance(rowcount, int) and rowcount >= 0:
            span.set_attribute("db.response.returned_rows", rowcount)
        span.end()

    def failed(exception_context: Any) -> None:
        context = exception_context.execution_context
        span = getattr(context, _SPAN_KEY, None) if context is not None else None
        if span is None:
            return
        setattr(context, _SPAN_KEY, None)
        error = exception_context.original_exception
        span.set_attribute("error.type", type(error).__name__)
        span.set_status(Status(StatusCode.ERROR, str(error)[:200]))
        span.end()

    event.listen(engine, "before_cursor_execute", before)
    event.listen(engine, "after_cursor_execute", after)
    event.listen(engine, "handle_error", failed)
