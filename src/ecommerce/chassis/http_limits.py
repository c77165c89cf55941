"""HTTP limits every component serves with, and the options `ecommerce run` gives uvicorn.

A request head may be at most 64 KiB (431 beyond) with at most 100 header fields (431 beyond), and must arrive
within 10 s of the connection opening or of its first byte (then the connection is closed); an idle keep-alive
connection is closed after 5 s. Without them one client could make a component buffer a 32 MB header and pass it
on, hold hundreds of connections open by sending a head a byte at a time, or send ten thousand headers.

uvicorn offers a limit on the head only for its h11 protocol (`h11_max_incomplete_event_size`, passed on too) and a
keep-alive timeout that starts after the first answer; its httptools protocol, which every component uses for
speed, has neither a head limit nor a head timeout. The chassis' protocol in uvicorn_adapter.py adds them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class HttpLimits:
    """How much of a request head a component reads, and for how long it waits for it."""

    max_head_bytes: int = 64 * 1024
    max_headers: int = 100
    head_timeout: float = 10.0  # seconds from the connection (or the head's first byte) to the end of the head
    keep_alive_timeout: int = 5  # seconds an idle keep-alive connection stays open


LIMITS = HttpLimits()
PROTOCOL = "ecommerce.chassis.uvicorn_adapter:LimitedHttpToolsProtocol"
NATIVE_LANE_PROTOCOL = "ecommerce.chassis.uvicorn_adapter:NativeLaneProtocol"


def server_options(http_protocol: str | None = None) -> dict[str, Any]:
    """uvicorn's options for a component: its protocol (the chassis' unless the spec names another), the
    limits uvicorn applies itself, and no belief in X-Forwarded-* (chassis/forwarded.py decides whom to believe)."""
    return {
        "http": http_protocol or PROTOCOL,
        "timeout_keep_alive": LIMITS.keep_alive_timeout,
        "h11_max_incomplete_event_size": LIMITS.max_head_bytes,
        "proxy_headers": False,
    }
