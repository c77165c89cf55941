"""product-service's catalog reads at this revision against a baseline revision, side by side, PostgreSQL and SQLite.

The baseline (READ_PATHS_BASELINE, a git revision; default 6135d63, the last one before every catalog read moved
onto one path) runs from its `src/` (`git archive`, put ahead of the installed package), this revision from the
tree. Both product-services run as deployed (`ecommerce run product-service`), pinned to core 0, each on its own
database (PostgreSQL: one fresh database for both; SQLite: a file each); wrk (1 thread, 32 connections) on core 1.
Per round every read is measured on one, then the other, so both see the same machine; medians of the rounds.
"""

from __future__ import annotations

import os
import statistics
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path

from bench.common import (
    SERVICE_ENV,
    baseline_src,
    free_port,
    machine,
    pg_database,
    python,
    server,
    write_result,
    wrk,
)

BASELINE = os.environ.get("READ_PATHS_BASELINE", "6135d63")
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "5"))
SECONDS = 4
READS = {
    "product by id": "/products/1",
    "catalog page (20)": "/products?page=0&size=20",
    "categories": "/categories",
    "category by id": "/categories/1",
}


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="bench-read-paths-") as workdir:
        baseline = baseline_src(Path(workdir), BASELINE)
        if baseline is None:
            raise SystemExit(f"READ_PATHS_BASELINE {BASELINE} is not a revision of this repository")
        results = {
            "PostgreSQL": _measure(baseline, None, Path(workdir)),
            "SQLite": _measure(baseline, "sqlite", Path(workdir)),
        }
    write(results, os.getloadavg()[0])


def _measure(baseline_src: Path, kind: str | None, workdir: Path) -> dict[str, dict[str, list[float]]]:
    with ExitStack() as stack:
        if kind == "sqlite":
            urls = {v: f"sqlite+aiosqlite:///{workdir / f'{v}.db'}" for v in ("baseline", "this")}
        else:
            url = stack.enter_context(pg_database("read_paths"))
            urls = {"baseline": url, "this": url}
        bases = {"baseline": _start(stack, urls["baseline"], baseline_src)}
        time.sleep(1)  # the first one migrated and seeded the shared database
        bases["this"] = _start(stack, urls["this"], None)
        for base in bases.values():
            for path in READS.values():
                wrk(base + path, seconds=2, cpu=1)
        found: dict[str, dict[str, list[float]]] = {read: {"baseline": [], "this": []} for read in READS}
        for _ in range(ROUNDS):
            for read, path in READS.items():
                for variant, base in bases.items():
                    found[read][variant].append(wrk(base + path, seconds=SECONDS, cpu=1)["rps"])
    return found


def _start(stack: ExitStack, url: str, src: Path | None) -> str:
    port = free_port()
    env = {**SERVICE_ENV, "PRODUCT_SERVICE_DATABASE_URL": url}
    if src is not None:
        env["PYTHONPATH"] = str(src)
    command = [python(), "-m", "ecommerce", "run", "product-service", "--port", str(port)]
    ready = f"http://127.0.0.1:{port}/product-service/actuator/health/readiness"
    stack.enter_context(server(command, ready, env=env, cpu=0))
    return f"http://127.0.0.1:{port}/product-service/api"


def write(results: dict[str, dict[str, dict[str, list[float]]]], load: float) -> None:
    lines = [
        "# Catalog reads: this revision against a baseline",
        "",
        f"Machine: {machine()}. Load average at the end: {load:.1f} on {os.cpu_count()} cores.",
        "",
        f"`python -m bench read_paths`: product-service at {BASELINE} (READ_PATHS_BASELINE) and at this revision,",
        f"side by side (see bench/read_paths/run.py). wrk 1 thread, 32 connections, {SECONDS} s per read and variant,",
        f"the variants alternating; medians of {ROUNDS} rounds, requests/s.",
        "",
        "| database | read | baseline | this revision | this / baseline |",
        "|---|---|---:|---:|---:|",
    ]
    rounds = []
    for database, reads in results.items():
        for read, runs in reads.items():
            before, after = statistics.median(runs["baseline"]), statistics.median(runs["this"])
            lines.append(f"| {database} | {read} | {before:.0f} | {after:.0f} | {after / before:.0%} |")
            rounds.append(
                f"- {database}, {read}: baseline {[round(r) for r in runs['baseline']]}, "
                f"this {[round(r) for r in runs['this']]}"
            )
    lines += ["", "Rounds (requests/s):", "", *rounds]
    write_result("read_paths", lines)
