"""Token buckets per key in this process: the one limiter of the gateway's edge and of the storefront.

Why here and not the `limits` library: `limits` (5.8.0) offers fixed, moving and sliding windows but no token bucket,
and the gateway's limit (rate and burst per route, also kept in Redis by the gateway's Lua script) is a token bucket;
two algorithms for one rule would answer differently at the edge and behind it. It would also cost more: a check here
is under 1 us of CPU, `limits`' in-memory windows 7-11 us (bench/results/libraries.md, `python -m bench libraries`).
Moving the gateway's bucket here changes nothing on its benchmarked hot path (the same synchronous `take`, the same
class the fast lane checks for) and lets every component limit the same way. The chassis knows no domain: callers
choose the keys, rates and bursts. Memory is bounded: past `max_keys`, buckets idle long enough to be full again are
forgotten (which changes nothing), and if active clients alone still fill it, the oldest half goes.
"""

from __future__ import annotations

import math
import time


class MemoryRateLimiter:
    """Buckets in a dict: `key -> [tokens, last refill]`, swept of full, idle buckets when it grows."""

    def __init__(self, max_keys: int = 100_000) -> None:
        self.max_keys = max_keys
        self._buckets: dict[str, list[float]] = {}

    async def acquire(self, key: str, rate: float, burst: int) -> float:
        """0 when the request may pass, else the seconds to wait before a token is available."""
        return self.take(key, rate, burst)

    def take(self, key: str, rate: float, burst: int) -> float:
        """`acquire` without the coroutine: the in-memory bucket never waits on anything."""
        now = time.monotonic()
        bucket = self._buckets.get(key)
        if bucket is None:
            if len(self._buckets) >= self.max_keys:
                self._sweep(now, rate, burst)
            bucket = self._buckets[key] = [float(burst), now]
        tokens = min(float(burst), bucket[0] + (now - bucket[1]) * rate)
        bucket[1] = now
        if tokens >= 1.0:
            bucket[0] = tokens - 1.0
            return 0.0
        bucket[0] = tokens
        return (1.0 - tokens) / rate

    def _sweep(self, now: float, rate: float, burst: int) -> None:
        idle = burst / rate  # a bucket idle this long is full again: forgetting it changes nothing
        stale = [key for key, (_, last) in self._buckets.items() if now - last > idle]
        for key in stale:
            del self._buckets[key]
        if len(self._buckets) >= self.max_keys:  # still full of active clients: drop the oldest half
            for key in list(self._buckets)[: self.max_keys // 2]:
                del self._buckets[key]

    async def close(self) -> None:
        self._buckets.clear()


def retry_after_header(wait: float) -> str:
    """Whole seconds, at least 1, for the Retry-After header."""
    return str(max(1, math.ceil(wait)))
