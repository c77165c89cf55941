"""The checkout journey through the gateway and the storefront, on PostgreSQL: this revision and earlier ones.

`ecommerce up` runs all ten components on fresh PostgreSQL databases (stock topped up so no product runs out).
A purchase (bench/checkout/journey.py): sign in as a demo shopper, read the product, check out one unit, pay
(payment IN_PROGRESS, then COMPLETED), read the order back as PAID: six requests, all through api-gateway.

For this revision and each of CHECKOUT_BASELINES (git revisions, space-separated; default 93a6685, empty to skip:
their `src/` from `git archive`, put ahead of the installed package), one after the other on the same machine:
1. accounting (bench/checkout/accounting.py): a few purchases at a low rate on databases that log every
   statement: calls, statements, transactions, bytes and CPU per purchase;
2. the sweep, on fresh databases without the statement log: journeys start open-loop at a fixed rate for a
   step; the rate climbs until a step breaks the bound (p99 over P99_BOUND_MS or any error); the figure is
   the highest rate that held (median over BENCH_ROUNDS sweeps), and CPU per purchase over the sweeps and per
   step (the shop's CPU over a step divided by the purchases it completed), so revisions compare at the
   highest rate both held; before it, the shop's background CPU while no purchase runs (IDLE_SECONDS);
3. the load generator's realistic mix (`ecommerce loadgen`, browsing dominates) for MIX_SECONDS: CPU per
   purchase completed under it (payments that reached COMPLETED, counted in payment-service's database).
"""

from __future__ import annotations

import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

import asyncpg

from bench.checkout import accounting
from bench.checkout.journey import drive, summary
from bench.common import ROOT, baseline_src, cpu_seconds, machine, python
from bench.shop import fresh_databases, shop, top_up_stock

BASELINES = os.environ.get("CHECKOUT_BASELINES", "93a6685").split()
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "1"))
STEP_SECONDS = 10
RATES = [4, 8, 12, 16, 20, 24, 28, 32, 36, 40, 48, 56, 64]
P99_BOUND_MS = 500.0
COOL_DOWN_SECONDS = 20
WARM_UP_RATE, WARM_UP_SECONDS = 4, 8  # every pooled connection opened, code paths and caches warm
ACCOUNT_RATE, ACCOUNT_SECONDS = 3, 10
MIX_USERS, MIX_RATE, MIX_SECONDS = 20, 30.0, 40
IDLE_SECONDS = 20  # background CPU (relays, pollers, heartbeats) measured with no purchase running
THIS = "this revision"
# Every purchase comes from this one address, so the per-client limits at the edge (the gateway's route limit and
# the storefront's, 100 requests/s each) would cap the sweep at about 20 purchases/s whatever the shop can do: the
# sweep measures the shop's capacity, so they are lifted (revisions without them ignore the variables).
UNLIMITED = {
    "GATEWAY_RATE_LIMITS_ENABLED": "false",
    "STOREFRONT_RATE_LIMIT_PER_SECOND": "1000000",
    "STOREFRONT_RATE_LIMIT_BURST": "1000000",
}


def main() -> None:
    results: dict[str, dict[str, Any]] = {}
    with tempfile.TemporaryDirectory(prefix="bench-checkout-") as tmp:
        targets: list[tuple[str, Path | None]] = []
        for revision in BASELINES:
            tree = baseline_src(Path(tmp), revision)
            if tree is not None:
                targets.append((revision, tree))
        targets.append((THIS, None))
        for label, src in targets:
            print(f"== checkout: {label}", file=sys.stderr)
            results[label] = measure(src)
    from bench.checkout.report import write

    write(results, machine=machine(), load=_uptime())


def measure(src: Path | None) -> dict[str, Any]:
    """Accounting, sweep and mix of one revision (`src`: its source tree; None: the installed package)."""
    with fresh_databases() as databases:
        asyncio.run(accounting.log_all_statements(databases, on=True))
        with shop(databases, src=src, extra_env=UNLIMITED) as running:
            top_up_stock(databases["PRODUCT_SERVICE_DATABASE_URL"])
            asyncio.run(drive(WARM_UP_RATE, WARM_UP_SECONDS))  # warm-up: connections, caches, JWKS fetched
            auth = accounting.operator_auth(running.data_dir)
            pids = running.pids()
            before = accounting.take(pids, databases, auth)
            outcome = asyncio.run(drive(ACCOUNT_RATE, ACCOUNT_SECONDS))
            after = accounting.take(pids, databases, auth)
            account = accounting.difference(before, after, len(outcome.latencies), databases)
            account["errors"] = len(outcome.errors)
    with fresh_databases() as databases, shop(databases, src=src, extra_env=UNLIMITED) as running:
        top_up_stock(databases["PRODUCT_SERVICE_DATABASE_URL"])
        asyncio.run(drive(WARM_UP_RATE, WARM_UP_SECONDS))
        time.sleep(COOL_DOWN_SECONDS / 4)
        pids = running.pids()
        idle = _idle(pids)
        sweeps, errors, cpu_ms = _sweeps(pids)
        mix = _mix(pids, databases["PAYMENT_SERVICE_DATABASE_URL"])
    return {"account": account, "sweeps": sweeps, "errors": errors, "cpu_ms": cpu_ms, "mix": mix, "idle": idle}


def _idle(pids: dict[str, int]) -> dict[str, float]:
    """CPU ms per second each process spends with no purchase running."""
    before = {name: cpu_seconds(pid) for name, pid in pids.items()}
    time.sleep(IDLE_SECONDS)
    return {name: (cpu_seconds(pid) - before[name]) * 1000 / IDLE_SECONDS for name, pid in pids.items()}


def _sweeps(pids: dict[str, int]) -> tuple[list[list[tuple[float, dict[str, float]]]], list[str], dict[str, float]]:
    sweeps: list[list[tuple[float, dict[str, float]]]] = []
    errors: list[str] = []
    cpu_before = {name: cpu_seconds(pid) for name, pid in pids.items()}
    for _ in range(ROUNDS):
        sweep: list[tuple[float, dict[str, float]]] = []
        for rate in RATES:
            for _attempt in range(2):  # a step that breaks the bound runs once more: one stall does not end a sweep
                step_before = sum(cpu_seconds(pid) for pid in pids.values())
                outcome = asyncio.run(drive(rate, STEP_SECONDS))
                result = summary(outcome)
                step_cpu = sum(cpu_seconds(pid) for pid in pids.values()) - step_before
                result["cpu_ms"] = step_cpu * 1000 / max(result["completed"], 1)
                sweep.append((rate, result))
                errors.extend(outcome.errors)
                print(f"  {rate}/s: {result}", file=sys.stderr)
                if not _broke(result):
                    break
                time.sleep(COOL_DOWN_SECONDS)  # let queues drain and open circuits close before the next step
            if _broke(result):
                break
        sweeps.append(sweep)
    purchases = sum(r["completed"] for sweep in sweeps for _, r in sweep)
    cpu = {name: (cpu_seconds(pid) - cpu_before[name]) * 1000 / max(purchases, 1) for name, pid in pids.items()}
    return sweeps, errors, cpu


def _broke(result: dict[str, float]) -> bool:
    return bool(result["errors"]) or result["p99_ms"] > P99_BOUND_MS


def _mix(pids: dict[str, int], payments_url: str) -> dict[str, float]:
    """`ecommerce loadgen` (the current tree's) against the running shop: CPU per purchase completed under it."""
    with tempfile.TemporaryDirectory(prefix="bench-mix-") as tmp:
        stats = Path(tmp) / "stats.json"
        completed_before = _completed_payments(payments_url)
        cpu_before = {name: cpu_seconds(pid) for name, pid in pids.items()}
        started = time.monotonic()
        command = [python(), "-m", "ecommerce", "loadgen", "--users", str(MIX_USERS), "--rate", str(MIX_RATE)]
        command += ["--duration", str(MIX_SECONDS), "--min-requests", "0", "--stats-json", str(stats)]
        env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
        subprocess.run(command, cwd=ROOT, env=env, capture_output=True, check=False, timeout=MIX_SECONDS + 120)
        elapsed = time.monotonic() - started
        cpu = sum(cpu_seconds(pid) - cpu_before[name] for name, pid in pids.items())
        completed = _completed_payments(payments_url) - completed_before
        requests, failures = _locust_totals(stats)
    return {
        "seconds": elapsed,
        "purchases": float(completed),
        "requests": float(requests),
        "failures": float(failures),
        "cpu_ms_per_purchase": cpu * 1000 / max(completed, 1),
        "cpu_ms_per_request": cpu * 1000 / max(requests, 1),
    }


def _completed_payments(url: str) -> int:
    async def count() -> int:
        conn = await asyncpg.connect(url.replace("postgresql+asyncpg://", "postgresql://", 1))
        try:
            return int(await conn.fetchval("SELECT count(*) FROM payments WHERE payment_status = 'COMPLETED'"))
        finally:
            await conn.close()

    return asyncio.run(count())


def _locust_totals(stats: Path) -> tuple[int, int]:
    path = stats if stats.exists() else stats.with_suffix(".json")
    if not path.exists():
        return 0, 0
    rows = json.loads(path.read_text())
    return sum(int(r.get("num_requests", 0)) for r in rows), sum(int(r.get("num_failures", 0)) for r in rows)


def _uptime() -> str:
    return subprocess.run(["uptime"], capture_output=True, text=True, check=False).stdout.strip()


def held(sweep: list[tuple[float, dict[str, float]]]) -> tuple[float, dict[str, float]] | None:
    """The last step of a sweep that kept the bound (p99 and no error), if any."""
    good = [(rate, r) for rate, r in sweep if not r["errors"] and r["p99_ms"] <= P99_BOUND_MS]
    return good[-1] if good else None


def best_rate(sweeps: list[list[tuple[float, dict[str, float]]]]) -> float:
    """Median over sweeps of the completed purchases per second of the last step that held."""
    rates = [(h[1]["per_second"] if (h := held(sweep)) else 0.0) for sweep in sweeps]
    return statistics.median(rates) if rates else 0.0


def cpu_at(sweeps: list[list[tuple[float, dict[str, float]]]], rate: float) -> float | None:
    """Median over sweeps of the shop's CPU ms per purchase in the step at `rate` that held, if one did."""
    found = [r["cpu_ms"] for sweep in sweeps for step, r in sweep if step == rate and not _broke(r) and "cpu_ms" in r]
    return statistics.median(found) if found else None


def common_rate(results: list[dict[str, Any]]) -> float | None:
    """The highest step rate that every revision held (each compared there, at the same offered load)."""
    rates = None
    for r in results:
        held_rates = {step for sweep in r["sweeps"] for step, s in sweep if not _broke(s)}
        rates = held_rates if rates is None else rates & held_rates
    return max(rates) if rates else None


def common_errors(errors: list[str]) -> list[tuple[str, int]]:
    return Counter(error[:150] for error in errors).most_common(5)
