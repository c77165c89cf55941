"""Request parameters every service parses the same way."""

from __future__ import annotations

from starlette.types import Scope

from ecommerce.chassis.errors import BadRequest
from ecommerce.chassis.strict import UNSTORABLE_MSG

MAX_ID = 2_147_483_647  # ids are 32-bit integers in every table
MAX_IDS = 1000
URL_REFUSAL = f"The request URL {UNSTORABLE_MSG}"


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


def unstorable_url(scope: Scope) -> bool:
    """NUL in the query string or the path, which no column can store: the per-request layer answers 400 for it
    before any handler reads the URL.

    Only NUL matters in a URL: bytes that are not UTF-8 (encoded surrogates included) are decoded as U+FFFD.
    """
    query: bytes = scope.get("query_string", b"")
    return b"%00" in query or b"\x00" in query or "\x00" in scope["path"]
