"""Catalog listing latency with 1k, 100k and 1M products: offset pages against keyset (`after`) pages.

One product-service (as deployed) on a fresh PostgreSQL database, pinned to core 0; wrk on core 1. For each
catalog size the same database is refilled (generate_series, then ANALYZE) and, for a page of 20 at the start,
the middle and the end of the catalog, both ways of asking for it are timed: `?page=N&size=20` (OFFSET) and
`?after=ID&size=20` (keyset). Latency: wrk with 1 connection for a few seconds (p50, p99); medians of rounds.
"""

from __future__ import annotations

import os

from bench.common import component, free_port, machine, median_of, pg_database, seed_catalog, write_result, wrk

ROUNDS = int(os.environ.get("BENCH_ROUNDS", "3"))
SECONDS = 3
SIZES = [1_000, 100_000, 1_000_000]
PAGE = 20


def urls(base: str, products: int) -> dict[tuple[str, str], str]:
    pages = {"first page": 0, "middle page": products // PAGE // 2, "last page": products // PAGE - 1}
    found = {}
    for where, page in pages.items():
        found[(where, "offset")] = f"{base}?page={page}&size={PAGE}"
        found[(where, "keyset")] = f"{base}?after={page * PAGE}&size={PAGE}"
    return found


def main() -> None:
    results: dict[int, dict[tuple[str, str], dict[str, float]]] = {}
    with pg_database("scaling") as url:
        port = free_port()
        base = f"http://127.0.0.1:{port}/product-service/api/products"
        with component("product-service", port, env={"PRODUCT_SERVICE_DATABASE_URL": url}, cpu=0):
            for products in SIZES:
                seed_catalog(url, products)
                targets = urls(base, products)
                runs: dict[tuple[str, str], list[dict[str, float]]] = {key: [] for key in targets}
                for target in targets.values():
                    wrk(target, seconds=1, connections=1, cpu=1)  # warm: plans cached, pages in memory
                for _ in range(ROUNDS):
                    for key, target in targets.items():
                        runs[key].append(wrk(target, seconds=SECONDS, connections=1, cpu=1))
                results[products] = {key: median_of(values) for key, values in runs.items()}
    write(results)


def write(results: dict[int, dict[tuple[str, str], dict[str, float]]]) -> None:
    header = " | ".join(f"{n:,} p50 / p99 ms" for n in SIZES)
    lines = [
        "# Catalog listing latency with 1k, 100k and 1M products",
        "",
        f"Machine: {machine()}.",
        "",
        "`python -m bench scaling`: product-service as deployed on a fresh PostgreSQL database, pinned to core 0;",
        f"wrk with 1 connection for {SECONDS} s per figure on core 1; medians of {ROUNDS} rounds. A page is "
        f"{PAGE} products with their category.",
        "`offset`: `GET /product-service/api/products?page=N&size=20`; `keyset`: `?after=<last productId>&size=20`.",
        "",
        f"| page | paging | {header} |",
        "|---|---|" + "---:|" * len(SIZES),
    ]
    for key in results[SIZES[0]]:
        cells = " | ".join(f"{results[n][key]['p50_ms']:.2f} / {results[n][key]['p99_ms']:.2f}" for n in SIZES)
        lines.append(f"| {key[0]} | {key[1]} | {cells} |")
    lines += ["", "p50 at 1M products relative to 1k products (1.0 = flat):", ""]
    for key in results[SIZES[0]]:
        ratio = results[SIZES[-1]][key]["p50_ms"] / results[SIZES[0]][key]["p50_ms"]
        lines.append(f"- {key[0]}, {key[1]}: {ratio:.1f}x")
    lines.append("")
    write_result("scaling", lines)
