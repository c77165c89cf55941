"""The JSON depth guard reads the body as it streams and refuses it on its last chunk, whoever reads it."""

from __future__ import annotations

import pytest
from starlette.exceptions import HTTPException
from starlette.types import Message

from ecommerce.chassis.json_depth import MAX_JSON_DEPTH, guard


def _chunks(body: bytes, size: int) -> list[Message]:
    parts = [body[i : i + size] for i in range(0, len(body), size)] or [b""]
    return [{"type": "http.request", "body": part, "more_body": i < len(parts) - 1} for i, part in enumerate(parts)]


async def _read(body: bytes, size: int = 7) -> bytes:
    messages = iter(_chunks(body, size))

    async def receive() -> Message:
        return next(messages)

    checked, read = guard(receive), b""
    while True:
        message = await checked()
        read += message["body"]
        if not message["more_body"]:
            return read


async def test_a_body_nested_too_deeply_is_refused_on_its_last_chunk() -> None:
    deep = b"[" * (MAX_JSON_DEPTH + 1) + b"]" * (MAX_JSON_DEPTH + 1)
    with pytest.raises(HTTPException) as refused:
        await _read(deep)
    assert refused.value.status_code == 400
    assert "nested too deeply" in refused.value.detail


@pytest.mark.parametrize(
    "body",
    [
        b"[" * MAX_JSON_DEPTH + b"]" * MAX_JSON_DEPTH,  # as deep as allowed
        b"[" + b"[]," * 200 + b"[]]",  # many brackets side by side are not depth
        b"[" * 300,  # malformed: the body parser answers for it
        b"",
    ],
)
async def test_other_bodies_pass_whole(body: bytes) -> None:
    assert await _read(body) == body
