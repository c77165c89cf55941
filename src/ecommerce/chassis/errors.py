"""One error body for every service.

Shape: the original's `{"timestamp", "httpStatus", "msg"}` plus `path` and `traceId`.
Domain code raises a `ServiceError` subclass; the handlers here render it.
"""

from __future__ import annotations

from collections.abc import MutableMapping
from datetime import UTC, datetime
from http import HTTPStatus
from typing import Any

import asyncpg
import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DBAPIError, IntegrityError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from starlette.exceptions import HTTPException as StarletteHTTPException

from ecommerce.chassis.context import current_trace_id
from ecommerce.chassis.wire import format_datetime

log = structlog.get_logger("ecommerce.errors")


class ServiceError(Exception):
    """Base of every domain error; `status` picks the HTTP status."""

    status: int = HTTPStatus.INTERNAL_SERVER_ERROR

    def __init__(self, msg: str, *, status: int | None = None, headers: dict[str, str] | None = None) -> None:
        super().__init__(msg)
        self.msg = msg
        if status is not None:
            self.status = status
        self.headers = headers


class BadRequest(ServiceError):
    status = HTTPStatus.BAD_REQUEST


class Unauthorized(ServiceError):
    status = HTTPStatus.UNAUTHORIZED


class Forbidden(ServiceError):
    status = HTTPStatus.FORBIDDEN


class NotFound(ServiceError):
    status = HTTPStatus.NOT_FOUND


class Conflict(ServiceError):
    status = HTTPStatus.CONFLICT


class ServiceUnavailable(ServiceError):
    status = HTTPStatus.SERVICE_UNAVAILABLE


def error_body(status: int, msg: str, path: str, trace_id: str | None) -> dict[str, Any]:
    """Build the one error body."""
    return {
        "timestamp": format_datetime(datetime.now(UTC)),
        "httpStatus": HTTPStatus(status).name,
        "msg": msg,
        "path": path,
        "traceId": trace_id,
    }


def error_response(
    request_or_scope: Request | MutableMapping[str, Any], status: int, msg: str, headers: dict[str, str] | None = None
) -> JSONResponse:
    """Render the error body for a request (or a raw ASGI scope)."""
    scope = request_or_scope.scope if isinstance(request_or_scope, Request) else request_or_scope
    body = error_body(status, msg, scope.get("path", ""), current_trace_id())
    return JSONResponse(body, status_code=status, headers=headers)


def describe_validation_error(exc: RequestValidationError) -> str:
    """One readable line naming the first offending field."""
    errors = exc.errors()
    if not errors:
        return "Invalid request"
    first = errors[0]
    if first.get("type") == "json_invalid":
        return "Malformed JSON body"
    location = [str(part) for part in first.get("loc", ()) if part not in ("body", "path", "query", "header")]
    field = ".".join(location) or "body"
    return f"Invalid value for '{field}': {first.get('msg', 'invalid')}"


def database_unavailable(exc: BaseException) -> bool:
    """True when `exc` says the database cannot be reached right now (down, restarting, connection cut, pool
    exhausted), as opposed to a bug in a statement: the caller may retry, so it is a 503, not a 500.

    `exc` is SQLAlchemy's, or the driver's own (product-service's catalog reads use asyncpg directly; a connection
    cut by a restart in the middle of a statement can answer the next one "cannot switch to state ...; another
    operation is in progress", asyncpg's InternalClientError)."""
    lost = ConnectionError | PoolTimeout | OperationalError | InterfaceError
    if isinstance(exc, lost | asyncpg.InterfaceError | asyncpg.InternalClientError):
        return True
    sqlstate = getattr(exc, "sqlstate", None)
    if isinstance(exc, DBAPIError):
        if exc.connection_invalidated:
            return True
        cause = exc.orig.__cause__ if exc.orig is not None else None
        sqlstate = getattr(cause, "sqlstate", None) or getattr(exc.orig, "sqlstate", None)
    # 08: connection exception; 57: operator intervention (shutting down, terminated, cannot connect now)
    return isinstance(sqlstate, str) and sqlstate[:2] in ("08", "57")


def install_error_handlers(app: FastAPI) -> None:
    """Route every failure to the one error body."""

    async def on_service_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, ServiceError)
        return error_response(request, exc.status, exc.msg, exc.headers)

    async def on_validation_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        return error_response(request, HTTPStatus.BAD_REQUEST, describe_validation_error(exc))

    async def on_http_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, StarletteHTTPException)
        status = exc.status_code
        msg = exc.detail if isinstance(exc.detail, str) else HTTPStatus(status).phrase
        if status == HTTPStatus.NOT_FOUND and exc.detail == "Not Found":
            msg = f"No resource at {request.url.path}"
        return error_response(request, status, msg, getattr(exc, "headers", None))

    async def on_integrity_error(request: Request, exc: Exception) -> JSONResponse:
        log.warning("integrity_error", error=str(getattr(exc, "orig", exc))[:300])
        return error_response(request, HTTPStatus.CONFLICT, "The request conflicts with existing data")

    async def on_database_error(request: Request, exc: Exception) -> JSONResponse:
        if not database_unavailable(exc):
            return await on_unexpected(request, exc)
        log.warning("database_unavailable", path=request.url.path, error=f"{type(exc).__name__}: {exc}"[:300])
        msg = "The database is unavailable; try again shortly"
        return error_response(request, HTTPStatus.SERVICE_UNAVAILABLE, msg, {"Retry-After": "1"})

    async def on_unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled_error", path=request.url.path)
        return error_response(request, HTTPStatus.INTERNAL_SERVER_ERROR, "Internal server error")

    app.add_exception_handler(ServiceError, on_service_error)
    app.add_exception_handler(RequestValidationError, on_validation_error)
    app.add_exception_handler(StarletteHTTPException, on_http_error)
    app.add_exception_handler(IntegrityError, on_integrity_error)
    for database_error in (DBAPIError, ConnectionError, PoolTimeout):
        app.add_exception_handler(database_error, on_database_error)
    app.add_exception_handler(Exception, on_unexpected)
