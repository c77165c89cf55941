"""The four services a checkout touches, started as real processes on free ports and wired to each other."""

from __future__ import annotations

import contextlib
import json
import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
import shop_testing
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from ecommerce.chassis.settings import sqlite_url

ROOT = Path(__file__).resolve().parents[3]
SERVICES = ("product-service", "payment-service", "shipping-service", "order-service")
CONTEXT = {name: f"/{name}" for name in SERVICES}
POSTGRES_ADMIN_DSN = os.environ.get("TEST_POSTGRES_DSN", "postgresql://postgres@127.0.0.1:5432/postgres")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def missing(reason: str) -> None:
    """Skip, or fail in CI where nothing may be missing."""
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(reason)
    pytest.skip(reason)


@contextlib.asynccontextmanager
async def postgres_databases(names: tuple[str, ...]) -> AsyncIterator[dict[str, str]]:
    """A fresh PostgreSQL database per service, dropped afterwards; yields each service's SQLAlchemy URL."""
    try:
        admin = await asyncpg.connect(POSTGRES_ADMIN_DSN, timeout=3)
    except (OSError, asyncpg.PostgresError):
        missing(f"PostgreSQL is not reachable at {POSTGRES_ADMIN_DSN}")
    run = uuid.uuid4().hex[:8]
    databases = {name: f"checkout_{run}_{name.split('-')[0]}" for name in names}
    base = POSTGRES_ADMIN_DSN.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://", 1)
    try:
        for db in databases.values():
            await admin.execute(f'CREATE DATABASE "{db}"')
        yield {name: f"{base}/{db}" for name, db in databases.items()}
    finally:
        for db in databases.values():
            await admin.execute(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)')
        await admin.close()


class Shop:
    """Four real processes; `stop`/`start` one of them to play a peer that is down."""

    def __init__(self, data_dir: Path, database_urls: dict[str, str] | None, extra_env: dict[str, str]) -> None:
        self.data_dir = data_dir
        self.ports = {name: free_port() for name in SERVICES}
        self.urls = {name: f"http://127.0.0.1:{port}" for name, port in self.ports.items()}
        self.processes: dict[str, subprocess.Popen[bytes]] = {}
        self.env = {
            **os.environ,
            "ECOMMERCE_DATA_DIR": str(data_dir),
            "ECOMMERCE_PROFILE": "dev",
            "ECOMMERCE_ACCESS_LOG": "false",
            "ECOMMERCE_PEERS": json.dumps(self.urls),
            "PYTHONUNBUFFERED": "1",
            # the tests' identity secrets and user-token key: components prove themselves, the tests sign in
            **shop_testing.TEST_SECRETS,
            "JWT_JWKS_URL": shop_testing.jwks_url(),
            **extra_env,
        }
        for name, url in (database_urls or {}).items():
            self.env[f"{name.upper().replace('-', '_')}_DATABASE_URL"] = url

    def start(self, *names: str) -> None:
        for name in names or SERVICES:
            log = (self.data_dir / f"{name}.log").open("ab")
            self.processes[name] = subprocess.Popen(
                [sys.executable, "-m", "ecommerce", "run", name, "--port", str(self.ports[name])],
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=ROOT,
            )
        for name in names or SERVICES:
            self._wait_ready(name)

    def stop(self, *names: str) -> None:
        for name in names or tuple(reversed(SERVICES)):
            process = self.processes.pop(name, None)
            if process is None or process.poll() is not None:
                continue
            process.terminate()
            try:
                process.wait(15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()

    def url(self, name: str, path: str) -> str:
        return f"{self.urls[name]}{CONTEXT[name]}{path}"

    async def order_database(self, sql: str, **params: Any) -> None:
        """Run one statement on order-service's database (to plant what a crash leaves)."""
        url = self.env.get("ORDER_SERVICE_DATABASE_URL") or sqlite_url(self.data_dir, "order-service")
        engine = create_async_engine(url)
        try:
            async with engine.begin() as connection:
                await connection.execute(text(sql), params)
        finally:
            await engine.dispose()

    def logs(self, name: str) -> str:
        return (self.data_dir / f"{name}.log").read_text(errors="replace")[-3000:]

    def _wait_ready(self, name: str, timeout: float = 60.0) -> None:
        url = self.url(name, "/actuator/health/readiness")
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.processes[name].poll() is not None:
                raise RuntimeError(f"{name} exited:\n{self.logs(name)}")
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(url, timeout=1).status_code == 200:
                    return
            time.sleep(0.2)
        raise RuntimeError(f"{name} not ready after {timeout} s:\n{self.logs(name)}")
