"""Each component's OpenAPI document says what it answers: a bad request is a 400 with the one error body.

FastAPI documents a 422 with its own validation body on every operation that takes input; the chassis answers
those requests 400 with the error body (errors.py). The document is corrected once, when first built: every
operation declares 400 with `ErrorBody` (those that take no input can still be refused before any rule, e.g. a NUL
in the query), and the 422 is gone.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import FastAPI

ERROR_BODY = "ErrorBody"
ERROR_BODY_SCHEMA: dict[str, Any] = {
    "title": ERROR_BODY,
    "description": "The one error body of every component (the original's three fields, plus path and traceId).",
    "type": "object",
    "required": ["timestamp", "httpStatus", "msg", "path", "traceId"],
    "properties": {
        "timestamp": {
            "type": "string",
            "description": "dd-MM-yyyy__HH:mm:ss:SSSSSS",
            "examples": ["29-11-2026__18:12:46:031626"],
        },
        "httpStatus": {"type": "string", "description": "The status' name", "examples": ["BAD_REQUEST"]},
        "msg": {"type": "string", "description": "What was wrong, the field named"},
        "path": {"type": "string"},
        "traceId": {"anyOf": [{"type": "string"}, {"type": "null"}], "description": "W3C trace id of the request"},
    },
}
BAD_REQUEST = {
    "description": "Bad request: malformed or invalid input (the message names the field)",
    "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{ERROR_BODY}"}}},
}
_METHODS = {"get", "put", "post", "delete", "patch", "head", "options"}


def document_errors(app: FastAPI, complete: Callable[[dict[str, Any]], None] | None = None) -> None:
    """Build `app`'s OpenAPI document with 400 and the error body instead of FastAPI's 422 (then `complete` it)."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            document = build()
            if complete is not None:
                complete(document)
            corrected(document)
        return app.openapi_schema  # type: ignore[return-value]

    app.openapi = openapi  # type: ignore[method-assign]


def corrected(document: dict[str, Any]) -> dict[str, Any]:
    """`document` with every operation's 422 replaced by the 400 the components answer (changed in place)."""
    for item in document.get("paths", {}).values():
        for method, operation in item.items():
            if method in _METHODS:
                responses = operation.setdefault("responses", {})
                responses.pop("422", None)
                responses.setdefault("400", BAD_REQUEST)
    schemas = document.setdefault("components", {}).setdefault("schemas", {})
    for unused in ("HTTPValidationError", "ValidationError"):
        schemas.pop(unused, None)
    schemas[ERROR_BODY] = ERROR_BODY_SCHEMA
    return document
