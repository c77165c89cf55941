"""What the chassis costs: one endpoint bare, then with metrics + JSON access log + tracing at 10 %.

Both servers run one uvicorn worker pinned to core 0; wrk runs pinned to core 1. Variants alternate within each
round and the medians of the rounds are recorded in bench/results/chassis.md.
"""

from __future__ import annotations

from pathlib import Path

from bench.common import RESULTS, free_port, machine, median_of, python, server, wrk

ROUNDS = 3
SECONDS = 8

VARIANTS = {
    "bare FastAPI": ("bench.chassis.apps:bare", {}),
    "chassis, metrics only": ("bench.chassis.apps:chassis", {"BENCH_ACCESS_LOG": "0"}),
    "chassis, metrics + access log": ("bench.chassis.apps:chassis", {}),
    "chassis, metrics + access log + tracing 10 %": ("bench.chassis.apps:chassis", {"BENCH_OTLP": "sink"}),
}


def main() -> None:
    sink_port = free_port()
    with server([python(), str(Path(__file__).with_name("sink.py")), str(sink_port)], f"http://127.0.0.1:{sink_port}/"):
        runs: dict[str, list[dict[str, float]]] = {name: [] for name in VARIANTS}
        for _ in range(ROUNDS):
            for name, (factory, env) in VARIANTS.items():
                env = {k: (f"http://127.0.0.1:{sink_port}" if v == "sink" else v) for k, v in env.items()}
                port = free_port()
                command = [
                    python(),
                    "-m",
                    "uvicorn",
                    "--factory",
                    factory,
                    "--port",
                    str(port),
                    "--no-access-log",
                    "--log-level",
                    "warning",
                    "--loop",
                    "uvloop",
                    "--http",
                    "httptools",
                ]
                url = f"http://127.0.0.1:{port}/bench/ping"
                with server(command, url, env=env, cpu=0):
                    wrk(url, seconds=2, cpu=1)  # warm-up
                    runs[name].append(wrk(url, seconds=SECONDS, cpu=1))
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
        "",
        "| variant | requests/s | of bare | p50 ms | p99 ms |",
        "|---|---:|---:|---:|---:|",
    ]
    for name, result in medians.items():
        lines.append(
            f"| {name} | {result['rps']:.0f} | {result['rps'] / base:.0%} | {result.get('p50_ms', 0):.2f} | "
            f"{result.get('p99_ms', 0):.2f} |"
        )
    full = medians["chassis, metrics + access log + tracing 10 %"]["rps"] / base
    lines += ["", f"Cost of the full chassis: {1 - full:.0%} of a bare endpoint's throughput (goal: at most 15 %).", ""]
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "chassis.md").write_text("\n".join(lines))
    print("\n".join(lines))
