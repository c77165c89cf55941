"""The whole shop for the benchmarks: `ecommerce up` on fresh PostgreSQL databases, its processes, their memory."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from bench.common import ROOT, memory_kib, pg_database, python
from ecommerce import components
from ecommerce.chassis.http import DEFAULT_PORTS

GATEWAY = f"http://127.0.0.1:{DEFAULT_PORTS['api-gateway']}"
SHOPPERS = [
    ("selimhorri", "selimhorri-demo"),
    ("amineladjimi", "amineladjimi-demo"),
    ("omarderouiche", "omarderouiche-demo"),
]


@dataclass
class Shop:
    """A running `ecommerce up` and what the benchmarks read from it."""

    process: subprocess.Popen[bytes]
    log: Path
    started: float
    healthy_after: float = 0.0
    reported: float | None = None  # the supervisor's own "The shop is up (N s)"
    database_urls: dict[str, str] = field(default_factory=dict)
    data_dir: Path | None = None  # where `ecommerce up` keeps the shop's identity secrets

    def pids(self) -> dict[str, int]:
        """Component name -> the pid serving it (forked or not), plus the supervisor itself."""
        from ecommerce import components
        from ecommerce.local.procfs import pid_listening_on

        found = {"supervisor (ecommerce up)": self.process.pid}
        for name in components.names():
            pid = pid_listening_on(components.load_spec(name).port)
            if pid is not None:
                found[name] = pid
        return found

    def memory(self) -> dict[str, dict[str, int]]:
        return {name: memory_kib(pid) for name, pid in self.pids().items()}


def readiness_urls() -> dict[str, str]:
    urls = {}
    for name in components.names():
        spec = components.load_spec(name)
        urls[name] = f"http://127.0.0.1:{spec.port}{spec.actuator_base}/health/readiness"
    return urls


def ports_free(wait: float = float(os.environ.get("BENCH_PORTS_WAIT_SECONDS", "600"))) -> None:
    """Return once no component's port is taken (waiting up to `wait` s: a test elsewhere may hold one briefly)."""
    deadline = time.monotonic() + wait
    while True:
        busy = []
        for name, port in DEFAULT_PORTS.items():
            with socket.socket() as sock:
                if sock.connect_ex(("127.0.0.1", port)) == 0:
                    busy.append(f"{name} ({port})")
        if not busy:
            return
        if time.monotonic() > deadline:
            raise SystemExit(f"ports in use, stop what runs there first: {', '.join(busy)}")
        time.sleep(2)


@contextmanager
def fresh_databases() -> Iterator[dict[str, str]]:
    """A fresh PostgreSQL database for every component that has one: {ENV_NAME: url}."""
    with ExitStack() as stack:
        env = {}
        for name in components.names():
            if components.load_spec(name).migrations is not None:
                short = name.removesuffix("-service").replace("-", "_")
                env[f"{name.upper().replace('-', '_')}_DATABASE_URL"] = stack.enter_context(pg_database(short))
        yield env


@contextmanager
def shop(
    database_env: dict[str, str],
    *,
    extra_env: dict[str, str] | None = None,
    timeout: float = 120,
    src: Path | None = None,
) -> Iterator[Shop]:
    """`ecommerce up` (all ten components) until every readiness endpoint answers 200; stopped with SIGINT after.

    `src`: another revision's source tree (`git archive`), put ahead of the installed package.
    """
    ports_free()
    with tempfile.TemporaryDirectory(prefix="bench-shop-") as tmp:
        log = Path(tmp) / "up.log"
        env = {
            **os.environ,
            **database_env,
            **(extra_env or {}),
            "PYTHONUNBUFFERED": "1",
            "ECOMMERCE_LOG_LEVEL": "WARNING",
        }
        for name in ("CONFIG_SERVER_URL", "DISCOVERY_URL", "OTEL_EXPORTER_OTLP_ENDPOINT"):
            env.pop(name, None)
        if src is not None:
            env["PYTHONPATH"] = str(src)
        with log.open("wb") as out:
            started = time.monotonic()
            process = subprocess.Popen(
                [python(), "-m", "ecommerce", "up", "--data-dir", str(Path(tmp) / "data")],
                cwd=ROOT,
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        running = Shop(process, log, started, database_urls=dict(database_env), data_dir=Path(tmp) / "data")
        try:
            try:
                running.healthy_after = asyncio.run(_all_ready(process, started, timeout))
            except RuntimeError:
                print(log.read_text(errors="replace")[-3000:], file=sys.stderr)  # why it did not come up
                raise
            deadline = time.monotonic() + 10
            while running.reported is None and time.monotonic() < deadline:
                match = re.search(rb"The shop is up \(([\d.]+) s\)", log.read_bytes())
                if match:
                    running.reported = float(match.group(1))
                time.sleep(0.1)
            yield running
        finally:
            process.send_signal(signal.SIGINT)
            try:
                process.wait(60)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


async def _all_ready(process: subprocess.Popen[bytes], started: float, timeout: float) -> float:
    """Seconds from `started` until every component's readiness answered 200."""
    pending = readiness_urls()
    async with httpx.AsyncClient(timeout=1) as client:
        while pending:
            if process.poll() is not None:
                raise RuntimeError("ecommerce up exited before the shop was healthy")
            if time.monotonic() - started > timeout:
                raise RuntimeError(f"not healthy after {timeout} s: {', '.join(pending)}")
            answers = await asyncio.gather(*(client.get(url) for url in pending.values()), return_exceptions=True)
            for name, answer in zip(list(pending), answers, strict=True):
                if isinstance(answer, httpx.Response) and answer.status_code == 200:
                    del pending[name]
            if pending:
                await asyncio.sleep(0.05)
    return time.monotonic() - started


def top_up_stock(product_db_url: str, quantity: int = 10_000_000) -> None:
    """Enough stock that a benchmark never runs a product out."""
    import asyncpg

    async def run() -> None:
        conn = await asyncpg.connect(product_db_url.replace("postgresql+asyncpg://", "postgresql://", 1))
        try:
            await conn.execute("UPDATE products SET quantity = $1", quantity)
        finally:
            await conn.close()

    asyncio.run(run())
