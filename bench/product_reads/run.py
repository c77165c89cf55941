"""Product reads direct to product-service and through api-gateway: by id and a catalog page.

product-service (as deployed, on a fresh PostgreSQL database holding 1,000 products) and the PostgreSQL backends
serving its connections are pinned to core 0; api-gateway (as deployed: chassis, route policy, in-memory rate
limit set too high to trigger) and the load are pinned to core 1. So, as in a cluster where the gateway has pods
of its own, the service and its database are the bottleneck both ways and the ratio shows whether the gateway
keeps up with them. Per round, for each of the four targets in turn: closed-loop
throughput (wrk, 1 thread, 32 connections) and open-loop latency at a fixed rate (bench/loadgen.py; 30 % of the
slower way's closed-loop rate per read from the warm-up, so every target is under capacity). Medians of the rounds.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from bench.common import (
    component,
    free_port,
    gateway_routes,
    machine,
    median_of,
    open_loop,
    pg_database,
    pin_backends,
    seed_catalog,
    write_result,
    wrk,
)

ROUNDS = int(os.environ.get("BENCH_ROUNDS", "5"))
SECONDS = 6
PRODUCTS = 1000
READS = {
    "product by id": "/product-service/api/products/1",
    "catalog page": "/product-service/api/products?page=3&size=20",
}


def main() -> None:
    with pg_database("product_reads") as url, tempfile.TemporaryDirectory(prefix="bench-reads-") as tmp:
        service_port, gateway_port = free_port(), free_port()
        service = f"http://127.0.0.1:{service_port}"
        gateway_env = {
            "GATEWAY_ROUTES_FILE": str(gateway_routes(Path(tmp), {"product-service": service})),
            "ECOMMERCE_DATA_DIR": str(Path(tmp) / "data"),
        }
        targets = {}
        for read, path in READS.items():
            targets[(read, "direct")] = f"{service}{path}"
            targets[(read, "gateway")] = f"http://127.0.0.1:{gateway_port}{path}"
        with component("product-service", service_port, env={"PRODUCT_SERVICE_DATABASE_URL": url}, cpu=0):
            seed_catalog(url, PRODUCTS)
            with component("api-gateway", gateway_port, env=gateway_env, cpu=1):
                warm = {key: wrk(target, seconds=3, cpu=1) for key, target in targets.items()}
                pinned = pin_backends(url, 0)  # the pools are full after the warm-up
                rates = {  # per read: 30 % of the slower way's closed-loop rate, under capacity despite neighbours
                    read: max(20, round(min(r["rps"] for (k, _), r in warm.items() if k == read) * 0.3, -1))
                    for read in READS
                }
                closed: dict[tuple[str, str], list[dict[str, float]]] = {key: [] for key in targets}
                opened: dict[tuple[str, str], list[dict[str, float]]] = {key: [] for key in targets}
                for _ in range(ROUNDS):
                    pinned = max(pinned, pin_backends(url, 0))  # and any connection opened since
                    for key, target in targets.items():
                        closed[key].append(wrk(target, seconds=SECONDS, cpu=1))
                        opened[key].append(open_loop(target, rate=rates[key[0]], seconds=SECONDS, cpu=1))
    write(
        {k: median_of(v) for k, v in closed.items()},
        {k: median_of(v) for k, v in opened.items()},
        rates,
        {k: [round(r["rps"]) for r in v] for k, v in closed.items()},
        pinned,
    )


def write(
    closed: dict[tuple[str, str], dict[str, float]],
    opened: dict[tuple[str, str], dict[str, float]],
    rates: dict[str, float],
    rounds: dict[tuple[str, str], list[int]],
    pinned: int,
) -> None:
    lines = [
        "# Product reads: direct and through the gateway",
        "",
        f"Machine: {machine()}.",
        "",
        "`python -m bench product_reads`: product-service as deployed on a fresh PostgreSQL database with "
        f"{PRODUCTS:,} products,",
        f"pinned to core 0 with the PostgreSQL backends serving it ({pinned}); api-gateway as deployed (chassis, route",
        "policy, in-memory rate limit) and the load pinned to core 1, so the service and its database are the",
        "bottleneck both ways, as when the gateway has pods of its own.",
        f"Closed loop: wrk 1 thread, 32 connections, {SECONDS} s. Open loop: bench/loadgen.py for {SECONDS} s at a",
        "fixed rate per read",
        "(30 % of the slower way's closed-loop rate in the warm-up: "
        + ", ".join(f"{read} {rate:.0f}/s" for read, rate in rates.items())
        + "), latency measured from each request's",
        f"due time (no coordinated omission). Medians of {ROUNDS} rounds.",
        "",
        "| read | path | requests/s (closed) | p50 ms | p99 ms | open loop: achieved/s | p50 ms | p99 ms | errors |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for (read, via), c in closed.items():
        o = opened[(read, via)]
        lines.append(
            f"| {read} | {via} | {c['rps']:.0f} | {c.get('p50_ms', 0):.2f} | {c.get('p99_ms', 0):.2f} | "
            f"{o['rps']:.0f} | {o['p50_ms']:.2f} | {o['p99_ms']:.2f} | {c['errors'] + o['errors']:.0f} |"
        )
    lines += ["", "| read | gateway / direct throughput | added p50 ms (open loop) | added p99 ms (open loop) |"]
    lines += ["|---|---:|---:|---:|"]
    for read in READS:
        d, g = closed[(read, "direct")], closed[(read, "gateway")]
        od, og = opened[(read, "direct")], opened[(read, "gateway")]
        lines.append(
            f"| {read} | **{g['rps'] / d['rps']:.0%}** | {og['p50_ms'] - od['p50_ms']:.2f} | "
            f"{og['p99_ms'] - od['p99_ms']:.2f} |"
        )
    lines += [
        "",
        "Closed-loop rounds (requests/s): " + "; ".join(f"{r} {v}: {x}" for (r, v), x in rounds.items()) + ".",
    ]
    lines += ["", "Goal: the gateway keeps at least 95 % of direct throughput on a product read.", ""]
    write_result("product_reads", lines)
