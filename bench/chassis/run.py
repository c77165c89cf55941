"""What the chassis costs: one endpoint bare, then with metrics + JSON access log + tracing at 10 %.

Both servers run one uvicorn worker pinned to core 0; wrk runs pinned to core 1. Variants alternate within each
round and the medians of the rounds are recorded in bench/results/chassis.md; then each variant's instructions per
request over the wire under callgrind (bench/chassis/instructions.py), the figure other load cannot move.
"""

from __future__ import annotations

import os
from pathlib import Path

from bench.chassis import instructions
from bench.common import cpu_seconds, free_port, machine, median_of, python, server, write_result, wrk

ROUNDS = int(os.environ.get("BENCH_ROUNDS", "5"))
SECONDS = 5

VARIANTS = {
    "bare FastAPI": ("bench.chassis.apps:bare", {}),
    "chassis, metrics only": ("bench.chassis.apps:chassis", {"BENCH_ACCESS_LOG": "0"}),
    "chassis, metrics + access log": ("bench.chassis.apps:chassis", {}),
    "chassis, metrics + access log + tracing 10 %": ("bench.chassis.apps:chassis", {"BENCH_OTLP": "sink"}),
}


def main() -> None:
    sink_port = free_port()
    with server([python(), str(Path(__file__).with_name("sink.py")), str(sink_port)], f"http://127.0.0.1:{sink_port}/"):
        sink = f"http://127.0.0.1:{sink_port}"
        variants = {
            name: (factory, {k: sink if v == "sink" else v for k, v in env.items()})
            for name, (factory, env) in VARIANTS.items()
        }
        runs: dict[str, list[dict[str, float]]] = {name: [] for name in VARIANTS}
        for _ in range(ROUNDS):
            for name, (factory, env) in variants.items():
                port = free_port()
                command = [part.replace("{port}", str(port)) for part in _server(factory)]
                url = f"http://127.0.0.1:{port}/bench/ping"
                with server(command, url, env=env, cpu=0) as process:
                    wrk(url, seconds=2, cpu=1)  # warm-up
                    before = cpu_seconds(process.pid)
                    result = wrk(url, seconds=SECONDS, cpu=1)
                    result["cpu_us"] = (cpu_seconds(process.pid) - before) / max(result["requests"], 1) * 1e6
                    runs[name].append(result)
        counted = {}
        for name, (factory, env) in variants.items():
            counted[name] = instructions.per_request(_server(factory), {**os.environ, **env, "PYTHONHASHSEED": "0"})
    medians = {name: median_of(results) for name, results in runs.items()}
    base = medians["bare FastAPI"]["rps"]
    lines = [
        "# Chassis cost",
        "",
        f"Machine: {machine()}.",
        "",
        "`make bench` (`python -m bench chassis`): a trivial JSON endpoint, one uvicorn worker pinned to one core,",
        f"wrk (1 thread, 32 connections, {SECONDS} s) on the other core; medians of {ROUNDS} alternating rounds.",
        "Tracing exports real OTLP/HTTP batches to a local sink; sampling 10 %.",
        "CPU per request: the server process's user + system CPU time over the measured run divided by the requests",
        "wrk completed; unlike requests/s it is barely moved by other work on the (shared) machine.",
        "",
        "| variant | requests/s | of bare | CPU µs per request | bare's CPU / this | p50 ms | p99 ms |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    base_cpu = medians["bare FastAPI"]["cpu_us"]
    for name, result in medians.items():
        lines.append(
            f"| {name} | {result['rps']:.0f} | {result['rps'] / base:.0%} | {result['cpu_us']:.0f} | "
            f"{base_cpu / result['cpu_us']:.0%} | {result.get('p50_ms', 0):.2f} | {result.get('p99_ms', 0):.2f} |"
        )
    full_name = "chassis, metrics + access log + tracing 10 %"
    full = medians[full_name]
    base_count = counted["bare FastAPI"]
    lines += [
        "",
        f"Instructions per request over the wire under callgrind ({instructions.__name__}: {instructions.SMALL} and "
        f"{instructions.LARGE} requests, {instructions.CONNECTIONS} keep-alive connections, the difference):",
        "",
        "| variant | instructions per request | added to bare | bare's / this |",
        "|---|---:|---:|---:|",
    ]
    for name, count in counted.items():
        added = (count - base_count) / 1000
        lines.append(f"| {name} | {count / 1000:.1f}k | {added:+.1f}k | {base_count / count:.0%} |")
    lines += [
        "",
        f"Cost of the full chassis: **{1 - full['rps'] / base:.0%}** of a bare endpoint's throughput, "
        f"**{1 - base_cpu / full['cpu_us']:.0%}** by CPU per request, **{1 - base_count / counted[full_name]:.0%}** by "
        "instructions per request (goal: at most 15 %).",
        "",
    ]
    write_result("chassis", lines)


def _server(factory: str) -> list[str]:
    """One uvicorn worker serving the app `factory` returns, on `{port}`."""
    return [
        python(),
        "-m",
        "uvicorn",
        "--factory",
        factory,
        "--port",
        "{port}",
        "--no-access-log",
        "--log-level",
        "warning",
        "--loop",
        "uvloop",
        "--http",
        "httptools",
    ]
