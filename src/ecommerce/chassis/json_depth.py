"""Deeply nested JSON is refused as a 400 before anything walks it.

No body of the shop nests more than a few levels, but several things walk a body recursively: validators, the
serializers of a peer call (orjson stops at 255 levels and raises), the error renderer. A 400-deep body reached one
of them and came back as a 500. Every component's app checks bodies here first (an app-wide dependency, so it also
covers handlers that read the body themselves): counting brackets is enough for almost every body, and only a
body with more brackets than the limit is parsed and measured.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import orjson
from fastapi import Request

from ecommerce.chassis.errors import BadRequest

MAX_JSON_DEPTH = 64
_MSG = f"The JSON body is nested too deeply (at most {MAX_JSON_DEPTH} levels)"


async def reject_deep_json(request: Request) -> None:
    """App-wide dependency: a JSON body nested deeper than MAX_JSON_DEPTH is a 400 with the one error body."""
    headers = request.headers
    if headers.get("content-length", "0") == "0" and "transfer-encoding" not in headers:
        return  # no body: nothing to read (the catalog's reads pay two header look-ups)
    if "json" not in headers.get("content-type", "json"):
        return
    body = await request.body()  # Starlette keeps it: the handler reads the same bytes
    if body.count(b"[") + body.count(b"{") <= MAX_JSON_DEPTH:
        return
    try:
        document = orjson.loads(body)
    except orjson.JSONDecodeError:
        return  # malformed (or deeper than orjson's own limit): the body parser answers 400 for it
    if json_depth(document) > MAX_JSON_DEPTH:
        raise BadRequest(_MSG)


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
