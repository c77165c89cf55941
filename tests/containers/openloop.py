"""A steady open-loop load in the background: request i leaves at t0 + i / rate whatever the server is doing, so a
stall shows up as late or failed requests instead of slowing the load down. Bounded in count and time, it stops by
itself; every failure is kept with what the client saw."""

from __future__ import annotations

import asyncio
import threading
import time
from dataclasses import dataclass, field

import httpx


@dataclass
class LoadResult:
    sent: int = 0
    ok: int = 0
    failures: list[str] = field(default_factory=list)
    latencies: list[float] = field(default_factory=list)

    def percentile(self, q: float) -> float:
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000 if ordered else 0.0


class OpenLoopLoad:
    """`with OpenLoopLoad(urls, rate=20, max_seconds=60) as load: ...` then `load.result`."""

    def __init__(
        self,
        urls: list[str],
        *,
        rate: float,
        max_seconds: float,
        timeout: float = 10,
        headers: dict[str, str] | None = None,
        endpoints: list[str] | None = None,
        paths: list[str] | None = None,
    ) -> None:
        """`urls` in turn; or, with `endpoints` (base URLs the test may change while the load runs, as a Service's
        endpoints change) and `paths`, each path on the endpoints in turn."""
        self.urls, self.rate, self.max_seconds, self.timeout = urls, rate, max_seconds, timeout
        self.headers = headers or {}
        self.endpoints, self.paths = endpoints, paths
        self.result = LoadResult()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=lambda: asyncio.run(self._run()), daemon=True)

    def __enter__(self) -> OpenLoopLoad:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join(self.timeout + 5)

    async def _one(self, client: httpx.AsyncClient, url: str, due: float) -> None:
        try:
            answer = await client.get(url)
        except httpx.HTTPError as error:
            self.result.failures.append(f"{url}: {type(error).__name__} {error}")
            return
        if answer.status_code != 200:
            self.result.failures.append(f"{url}: {answer.status_code} {answer.text[:200]}")
            return
        self.result.ok += 1
        self.result.latencies.append(time.perf_counter() - due)

    async def _run(self) -> None:
        total = int(self.rate * self.max_seconds)
        limits = httpx.Limits(max_connections=32, max_keepalive_connections=16)
        async with httpx.AsyncClient(timeout=self.timeout, limits=limits, headers=self.headers) as client:
            tasks: set[asyncio.Task[None]] = set()
            start = time.perf_counter()
            for i in range(total):
                if self._stop.is_set():
                    break
                due = start + i / self.rate
                delay = due - time.perf_counter()
                if delay > 0:
                    await asyncio.sleep(delay)
                if self.endpoints is not None and self.paths:
                    url = self.endpoints[i % len(self.endpoints)] + self.paths[i % len(self.paths)]
                else:
                    url = self.urls[i % len(self.urls)]
                task = asyncio.create_task(self._one(client, url, due))
                tasks.add(task)
                task.add_done_callback(tasks.discard)
                self.result.sent += 1
            if tasks:
                await asyncio.wait(tasks)
