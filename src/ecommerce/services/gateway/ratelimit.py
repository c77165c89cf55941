"""Token-bucket rate limits per client and route: in Redis (shared by every replica) or in this process (the
chassis' `MemoryRateLimiter`, the storefront's limiter too)."""

from __future__ import annotations

import time
from typing import Any, Protocol

import structlog

from ecommerce.chassis import MemoryRateLimiter, retry_after_header

__all__ = ["MemoryRateLimiter", "RateLimiter", "RedisRateLimiter", "retry_after_header"]

log = structlog.get_logger("ecommerce.gateway.ratelimit")


class RateLimiter(Protocol):
    async def acquire(self, key: str, rate: float, burst: int) -> float:
        """0 when the request may pass, else the seconds to wait before a token is available."""
        ...

    async def close(self) -> None: ...


# KEYS[1] bucket; ARGV rate, burst. Redis' own clock keeps replicas consistent. Returns {allowed, wait in ms}.
TOKEN_BUCKET_LUA = """
local rate = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local clock = redis.call('TIME')
local now = tonumber(clock[1]) + tonumber(clock[2]) / 1000000
local state = redis.call('HMGET', KEYS[1], 'tokens', 'ts')
local tokens = tonumber(state[1]) or burst
local ts = tonumber(state[2]) or now
tokens = math.min(burst, tokens + math.max(0, now - ts) * rate)
local allowed = 0
local wait = 0
if tokens >= 1 then
  tokens = tokens - 1
  allowed = 1
else
  wait = math.ceil((1 - tokens) / rate * 1000)
end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'ts', tostring(now))
redis.call('PEXPIRE', KEYS[1], math.ceil(burst / rate * 1000) + 1000)
return {allowed, wait}
"""


class RedisRateLimiter:
    """The same bucket in Redis, updated atomically by one Lua script; fails open when Redis is down."""

    def __init__(self, url: str, *, prefix: str = "gateway:ratelimit:", timeout: float = 0.25) -> None:
        import redis.asyncio as redis

        self.prefix = prefix
        self._client: Any = redis.from_url(url, socket_timeout=timeout, socket_connect_timeout=timeout)
        self._script = self._client.register_script(TOKEN_BUCKET_LUA)
        self._warned_at = 0.0

    async def acquire(self, key: str, rate: float, burst: int) -> float:
        from redis.exceptions import RedisError

        try:
            allowed, wait_ms = await self._script(keys=[self.prefix + key], args=[rate, burst])
        except (RedisError, OSError) as exc:
            now = time.monotonic()
            if now - self._warned_at > 10:  # one line per 10 s, not one per request
                self._warned_at = now
                log.warning("rate_limit_store_unavailable", error=f"{type(exc).__name__}: {exc}"[:200])
            return 0.0
        return 0.0 if int(allowed) else max(int(wait_ms), 1) / 1000

    async def ping(self) -> bool:
        return bool(await self._client.ping())

    async def close(self) -> None:
        await self._client.aclose()
