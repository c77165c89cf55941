"""product-service's product-by-id against a raw asyncpg + Starlette endpoint running the same query.

Both read the same PostgreSQL database (created fresh, migrated and seeded by product-service). Each server is one
process pinned to core 0; the load (wrk, bench/loadgen.py) runs pinned to core 1; PostgreSQL is not pinned.
Per round, alternating: closed-loop throughput (wrk, 1 thread, 32 connections) and open-loop latency at a fixed
rate (half the raw endpoint's closed-loop rate measured in the warm-up, so both are under capacity).
"""

from __future__ import annotations

import os

from bench.common import (
    component,
    free_port,
    machine,
    median_of,
    open_loop,
    pg_database,
    uvicorn,
    write_result,
    wrk,
)

ROUNDS = int(os.environ.get("BENCH_ROUNDS", "3"))
SECONDS = 8


def main() -> None:
    with pg_database("product_raw") as url:
        service_port, raw_port = free_port(), free_port()
        targets = {
            "product-service (as deployed)": f"http://127.0.0.1:{service_port}/product-service/api/products/1",
            "raw asyncpg + Starlette": f"http://127.0.0.1:{raw_port}/raw/products/1",
        }
        with (
            component("product-service", service_port, env={"PRODUCT_SERVICE_DATABASE_URL": url}, cpu=0),
            uvicorn(
                "bench.product_raw.raw_app:build",
                raw_port,
                env={"BENCH_DATABASE_URL": url},
                cpu=0,
                ready="/raw/products/1",
            ),
        ):
            warm = {name: wrk(target, seconds=3, cpu=1) for name, target in targets.items()}
            rate = max(100, round(min(r["rps"] for r in warm.values()) * 0.5, -1))
            closed: dict[str, list[dict[str, float]]] = {name: [] for name in targets}
            opened: dict[str, list[dict[str, float]]] = {name: [] for name in targets}
            for _ in range(ROUNDS):
                for name, target in targets.items():
                    closed[name].append(wrk(target, seconds=SECONDS, cpu=1))
                    opened[name].append(open_loop(target, rate=rate, seconds=SECONDS, cpu=1))
    write(
        {n: median_of(r) for n, r in closed.items()},
        {n: median_of(r) for n, r in opened.items()},
        rate,
        [round(r["rps"]) for r in closed["product-service (as deployed)"]],
        [round(r["rps"]) for r in closed["raw asyncpg + Starlette"]],
    )


def write(
    closed: dict[str, dict[str, float]],
    opened: dict[str, dict[str, float]],
    rate: float,
    svc: list[int],
    raw: list[int],
) -> None:
    service, baseline = closed["product-service (as deployed)"], closed["raw asyncpg + Starlette"]
    share = service["rps"] / baseline["rps"]
    lines = [
        "# product-service by id against raw asyncpg + Starlette",
        "",
        f"Machine: {machine()}.",
        "",
        "`python -m bench product_raw`: GET a product with its category by id, from the same fresh PostgreSQL",
        "database. product-service runs as deployed (`ecommerce run product-service`: metrics, JSON access log,",
        "one uvicorn worker); the yardstick is bench/product_raw/raw_app.py (asyncpg pool, one `fetchrow`, orjson).",
        f"Servers pinned to core 0, load pinned to core 1. Closed loop: wrk 1 thread, 32 connections, {SECONDS} s.",
        f"Open loop: {rate:.0f} requests/s for {SECONDS} s, latency from each request's due time. "
        f"Medians of {len(svc)} alternating rounds.",
        "",
        "| target | requests/s (closed) | p50 ms | p99 ms | open-loop rate | p50 ms | p99 ms | errors |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for name in closed:
        c, o = closed[name], opened[name]
        lines.append(
            f"| {name} | {c['rps']:.0f} | {c.get('p50_ms', 0):.2f} | {c.get('p99_ms', 0):.2f} | {o['rps']:.0f} | "
            f"{o['p50_ms']:.2f} | {o['p99_ms']:.2f} | {c['errors'] + o['errors']:.0f} |"
        )
    lines += [
        "",
        f"Rounds (requests/s): product-service {svc}, raw {raw}.",
        "",
        f"product-service reaches **{share:.0%} of the raw endpoint's throughput** (goal: at least 50 %).",
        "",
    ]
    write_result("product_raw", lines)
