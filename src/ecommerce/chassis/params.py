"""Request parameters every service parses the same way."""

from __future__ import annotations

from fastapi import Request

from ecommerce.chassis.errors import BadRequest
from ecommerce.chassis.strict import UNSTORABLE_MSG

MAX_ID = 2_147_483_647  # ids are 32-bit integers in every table
MAX_IDS = 1000


def parse_ids(raw: str | None, *, limit: int = MAX_IDS) -> list[int] | None:
    """The `ids=1,2,3` batch parameter: None when absent, 400 unless 1..limit positive 32-bit ids."""
    if raw is None:
        return None
    try:
        ids = [int(part) for part in raw.split(",") if part.strip()]
    except ValueError:
        raise BadRequest("Invalid value for 'ids': expected comma-separated integers") from None
    if not ids or len(ids) > limit or any(i < 1 or i > MAX_ID for i in ids):
        raise BadRequest(f"Invalid value for 'ids': between 1 and {limit} positive ids")
    return ids


async def reject_unstorable_url(request: Request) -> None:
    """App-wide dependency: a query string or path holding NUL is a 400 before any handler reads it.

    Only NUL matters in a URL: bytes that are not UTF-8 (encoded surrogates included) are decoded as U+FFFD.
    """
    raw = request.scope.get("query_string", b"")
    if b"%00" in raw or b"\x00" in raw or "\x00" in request.scope.get("path", ""):
        raise BadRequest(f"The request URL {UNSTORABLE_MSG}")
