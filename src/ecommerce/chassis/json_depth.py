"""Deeply nested JSON is refused as a 400 before anything walks it.

No body of the shop nests more than a few levels, but several things walk a body recursively: validators, the
serializers of a peer call (orjson stops at 255 levels and raises), the error renderer. A 400-deep body reached one
of them and came back as a 500. The per-request layer (telemetry.py) wraps `receive` with `guard` for requests that
carry a JSON body, so whoever reads it (FastAPI's body parameters, a handler reading it itself) gets the 400 instead
of the body; requests without one pay nothing. Counting brackets is enough for almost every body, and only a body
with more brackets than the limit is parsed and measured."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import orjson
from starlette.exceptions import HTTPException
from starlette.types import Message, Receive

MAX_JSON_DEPTH = 64
_MSG = f"The JSON body is nested too deeply (at most {MAX_JSON_DEPTH} levels)"


def guard(receive: Receive) -> Receive:
    """`receive`, failing with 400 on the body's last chunk when the whole body nests deeper than MAX_JSON_DEPTH."""
    chunks: list[bytes] = []
    brackets = 0

    async def checked_receive() -> Message:
        nonlocal brackets
        message = await receive()
        if message["type"] != "http.request":
            return message
        body = message.get("body", b"")
        chunks.append(body)
        brackets += body.count(b"[") + body.count(b"{")
        if not message.get("more_body", False) and brackets > MAX_JSON_DEPTH and _too_deep(b"".join(chunks)):
            raise HTTPException(400, _MSG)
        return message

    return checked_receive


def _too_deep(body: bytes) -> bool:
    try:
        document = orjson.loads(body)
    except orjson.JSONDecodeError:
        return False  # malformed (or deeper than orjson's own limit): the body parser answers 400 for it
    return json_depth(document) > MAX_JSON_DEPTH


def json_depth(document: Any) -> int:
    """How many arrays and objects deep `document` nests (iteratively: the point is not to recurse)."""
    deepest = 0
    stack: list[tuple[Any, int]] = [(document, 1)]
    while stack:
        value, depth = stack.pop()
        if isinstance(value, dict):
            children: Iterable[Any] = value.values()
        elif isinstance(value, list):
            children = value
        else:
            continue
        deepest = max(deepest, depth)
        if deepest > MAX_JSON_DEPTH:
            return deepest
        stack.extend((child, depth + 1) for child in children)
    return deepest
