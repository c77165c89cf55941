"""Footprint of the shop: start time of `ecommerce up` and resident memory of every component, idle and loaded.

Both ways in one run, each on its own fresh databases: `ecommerce up --no-fork` (each component its own
interpreter) and `ecommerce up` (every component forked from one pre-imported fork server).
Start: `ecommerce up` (installed in .venv) with all ten components on fresh PostgreSQL databases, timed from
the spawn until every component's readiness endpoint answers 200 (polled every 50 ms), STARTS times: the first
start also migrates and seeds the empty databases, the later ones find them ready. Memory: RSS and PSS (the
process's share of pages it shares with others, so the PSS column adds up to what the shop really uses) from
/proc/<pid>/smaps_rollup, idle after the last start and at its peak while purchases (bench/checkout) and catalog
reads run for LOAD_SECONDS.
"""

from __future__ import annotations

import asyncio
import os
import statistics
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from bench.checkout.journey import drive, summary
from bench.common import children, machine, memory_kib, write_result
from bench.shop import Shop, fresh_databases, shop, top_up_stock
from ecommerce.chassis.http import DEFAULT_PORTS
from ecommerce.local.procfs import pid_listening_on

STARTS = int(os.environ.get("BENCH_ROUNDS", "3"))
LOAD_SECONDS = 20
LOAD_RATE = 4  # purchases per second, each six requests through the gateway
TARGET_MB = 600
TARGET_START_S = 10
# Side by side in one run: `ecommerce up --no-fork` (each component its own interpreter, as before) and the default.
MODES = {
    "own interpreters (--no-fork)": "0",
    "forked (default)": "1",
}


@dataclass
class Measured:
    """One way of starting the shop: its start times, and memory idle and at peak under purchases."""

    starts: list[tuple[float, float | None]] = field(default_factory=list)
    idle: dict[str, dict[str, int]] = field(default_factory=dict)
    peak: dict[str, dict[str, int]] = field(default_factory=dict)
    load: dict[str, float] = field(default_factory=dict)


def main() -> None:
    results: dict[str, Measured] = {}
    for mode, fork in MODES.items():
        measured = results[mode] = Measured()
        with fresh_databases() as databases:  # each way starts once on empty databases, as on a first `make up`
            for attempt in range(STARTS):
                with shop(databases, extra_env={"ECOMMERCE_UP_FORK": fork}) as running:
                    measured.starts.append((running.healthy_after, running.reported))
                    if attempt == STARTS - 1:
                        time.sleep(5)
                        measured.idle = memory(running)
                        top_up_stock(databases["PRODUCT_SERVICE_DATABASE_URL"])
                        measured.peak, measured.load = under_load(running, measured.idle)
    write(results)


def processes(running: Shop) -> dict[str, int]:
    """The supervisor, its fork server if any, and each component by the port it listens on (a forked
    component's command line is its fork server's)."""
    found = {"supervisor (ecommerce up)": running.process.pid}
    for pid in children(running.process.pid)[1:]:
        try:
            argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if b"ecommerce.local.zygote" in argv:
            found["fork server"] = pid
    for name, port in DEFAULT_PORTS.items():
        if (pid := pid_listening_on(port)) is not None:
            found[name] = pid
    return found


def memory(running: Shop) -> dict[str, dict[str, int]]:
    return {name: memory_kib(pid) for name, pid in processes(running).items()}


def under_load(running: Shop, idle: dict[str, dict[str, int]]) -> tuple[dict[str, dict[str, int]], dict[str, float]]:
    """Peak RSS and PSS of every process, sampled every 0.5 s while purchases run."""
    peak: dict[str, dict[str, int]] = {name: dict(values) for name, values in idle.items()}
    done = threading.Event()

    def sample() -> None:
        while not done.is_set():
            for name, values in memory(running).items():
                slot = peak.setdefault(name, {"rss": 0, "pss": 0})
                for key, value in values.items():
                    slot[key] = max(slot[key], value)
            time.sleep(0.5)

    sampler = threading.Thread(target=sample)
    sampler.start()
    try:
        load = summary(asyncio.run(drive(LOAD_RATE, LOAD_SECONDS)))
    finally:
        done.set()
        sampler.join()
    return peak, load


def write(results: dict[str, Measured]) -> None:
    def mb(kib: int) -> str:
        return f"{kib / 1024:.0f}"

    modes = list(results)
    totals = {
        mode: {
            state: {key: sum(v[key] for v in values.values()) for key in ("rss", "pss")}
            for state, values in (("idle", r.idle), ("load", r.peak))
        }
        for mode, r in results.items()
    }
    medians = {mode: statistics.median(s[0] for s in r.starts) for mode, r in results.items()}
    lines = [
        "# Footprint: start time and memory",
        "",
        f"Machine: {machine()}.",
        "",
        "`python -m bench footprint`: `ecommerce up` (installed in .venv; all ten components, one process each) on",
        "fresh PostgreSQL databases, both ways in one run: `--no-fork` (each component its own `python -m ecommerce",
        "run` interpreter, how `ecommerce up` started them before) and the default (every component forked from one",
        "fork server that imported them all once). Start time: from spawning `ecommerce up` until every component's",
        "readiness endpoint answers 200; each way's first start also migrates and seeds its empty databases.",
        "",
        "| start | " + " | ".join(f"{mode}: all ready (s) | supervisor's figure (s)" for mode in modes) + " |",
        "|---:|" + "---:|---:|" * len(modes),
    ]
    for index in range(max(len(r.starts) for r in results.values())):
        cells = []
        for mode in modes:
            after, reported = results[mode].starts[index]
            cells.append(f"{after:.1f} | {reported or 0:.1f}")
        lines.append(f"| {index + 1}{' (fresh databases)' if index == 0 else ''} | " + " | ".join(cells) + " |")
    lines += [
        "| **median** | " + " | ".join(f"**{medians[mode]:.1f}** |" for mode in modes) + " |",
        "",
        f"Target: every component healthy within {TARGET_START_S} s. Median start: "
        + ", ".join(f"{mode} **{medians[mode]:.1f} s**" for mode in modes)
        + ".",
        "",
        f"Memory (MB), idle 5 s after each way's last start, and the peak while {LOAD_RATE} purchases/s ran for "
        f"{LOAD_SECONDS} s ("
        + "; ".join(
            f"{mode}: {r.load['completed']:.0f} completed, {r.load['errors']:.0f} errors, p99 {r.load['p99_ms']:.0f} ms"
            for mode, r in results.items()
        )
        + "). PSS splits shared pages between the processes that share them, so its total is the shop's real use;"
        " RSS counts a shared page once in every process that maps it.",
        "",
        "| process | " + " | ".join(f"{mode}: PSS idle | PSS under load | RSS under load" for mode in modes) + " |",
        "|---|" + "---:|---:|---:|" * len(modes),
    ]
    names = list(dict.fromkeys(name for r in results.values() for name in r.idle))
    for name in names:
        cells = []
        for mode in modes:
            r = results[mode]
            if name in r.idle:
                cells.append(f"{mb(r.idle[name]['pss'])} | {mb(r.peak[name]['pss'])} | {mb(r.peak[name]['rss'])}")
            else:
                cells.append("- | - | -")
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    lines.append(
        "| **whole shop** | "
        + " | ".join(
            f"**{mb(totals[m]['idle']['pss'])}** | **{mb(totals[m]['load']['pss'])}** | {mb(totals[m]['load']['rss'])}"
            for m in modes
        )
        + " |"
    )
    lines += [
        "",
        f"Target: the whole shop under {TARGET_MB} MB resident. Peak under load, PSS: "
        + ", ".join(f"{mode} **{totals[mode]['load']['pss'] / 1024:.0f} MB**" for mode in modes)
        + ".",
        "",
        "## Why, and what changed",
        "",
        "Each component used to be its own Python interpreter that imports FastAPI, pydantic, SQLAlchemy (+ the",
        "PostgreSQL dialect), Alembic, aiohttp, httpx, OpenTelemetry, structlog and prometheus_client before serving:",
        "`import ecommerce.chassis` alone takes about 98 MB RSS and 1-3 s of CPU. Ten such imports were most of the",
        "shop's memory and, on two cores, most of its start time, even started in four stages (registry; config",
        "server; the six business services side by side; gateway and storefront).",
        "",
        "`ecommerce up` now starts a fork server first (`ecommerce.local.zygote`, a small synchronous process: no",
        "event loop, no thread), which imports every component and what they load at start once, `gc.freeze()`s the",
        "heap so the collector never writes to (and so never copies) those pages, and forks each component on request",
        "into its own session with its output on a pipe the supervisor reads. The stages, health waits, prefixed logs,",
        "exit reports and Ctrl-C shutdown are unchanged; `--no-fork` (ECOMMERCE_UP_FORK=0) keeps the old way.",
        "",
        "A timeline of one forked start showed the rest of the wait: the registry and the config server, started",
        "before the config server answers, each retried it for 3.5 s (four attempts with backoff) before going on",
        "with their defaults. The supervisor no longer gives them CONFIG_SERVER_URL when it points at the local",
        "config server; both ways above benefit.",
        "",
    ]
    write_result("footprint", lines)
