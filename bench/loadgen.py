"""An open-loop HTTP load generator: requests leave on the clock, whatever the server is doing.

`python -m bench.loadgen --rate 500 --seconds 10 URL [URL ...]` prints one JSON object. Request i is due at
t0 + i / rate; its latency is measured from that due time, not from when a connection became free, so a stalled
server shows up in the percentiles instead of silently slowing the load down (no coordinated omission).
URLs are used in turn (e.g. different product ids).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time

import aiohttp


async def run(urls: list[str], rate: float, seconds: float, connections: int, timeout: float) -> dict[str, float]:
    total = int(rate * seconds)
    latencies: list[float] = []
    errors = 0
    late = 0
    connector = aiohttp.TCPConnector(limit=connections, force_close=False, ttl_dns_cache=None)
    async with aiohttp.ClientSession(
        connector=connector, timeout=aiohttp.ClientTimeout(total=timeout), auto_decompress=False
    ) as session:
        # Warm the pool so the first requests do not pay for connecting.
        await asyncio.gather(*(_one(session, urls[0]) for _ in range(min(connections, 8))), return_exceptions=True)

        async def request(url: str, due: float) -> None:
            nonlocal errors
            ok = await _one(session, url)
            if ok:
                latencies.append(time.perf_counter() - due)
            else:
                errors += 1

        tasks = set()
        start = time.perf_counter() + 0.05
        for i in range(total):
            due = start + i / rate
            delay = due - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            elif delay < -0.01:
                late += 1  # the generator itself fell behind; reported so the figure can be trusted or not
            task = asyncio.create_task(request(urls[i % len(urls)], due))
            tasks.add(task)
            task.add_done_callback(tasks.discard)
        if tasks:
            await asyncio.wait(tasks)
        elapsed = time.perf_counter() - start
    latencies.sort()
    result: dict[str, float] = {
        "sent": float(total),
        "ok": float(len(latencies)),
        "errors": float(errors),
        "late_sends": float(late),
        "rps": len(latencies) / elapsed,
    }
    for name, q in (("p50", 0.50), ("p90", 0.90), ("p99", 0.99), ("p999", 0.999)):
        result[f"{name}_ms"] = latencies[min(len(latencies) - 1, int(q * len(latencies)))] * 1000 if latencies else 0.0
    result["max_ms"] = latencies[-1] * 1000 if latencies else 0.0
    return result


async def _one(session: aiohttp.ClientSession, url: str) -> bool:
    try:
        async with session.get(url) as response:
            await response.read()
            return response.status < 400
    except (aiohttp.ClientError, TimeoutError):
        return False


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rate", type=float, required=True, help="requests per second")
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--timeout", type=float, default=10)
    parser.add_argument("urls", nargs="+")
    args = parser.parse_args()
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    result = asyncio.run(run(args.urls, args.rate, args.seconds, args.connections, args.timeout))
    json.dump(result, sys.stdout)


if __name__ == "__main__":
    main()
