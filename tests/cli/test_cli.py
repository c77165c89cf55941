"""The `ecommerce` command: help everywhere, migrate/seed, and `up` bringing components up and down."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import threading
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from ecommerce.cli import app
from ecommerce.services.products.demo_catalog import PRODUCTS

runner = CliRunner()


@pytest.mark.parametrize("args", [[], ["run"], ["migrate"], ["seed"], ["up"]])
def test_help_everywhere(args: list[str]) -> None:
    result = runner.invoke(app, [*args, "--help"])
    assert result.exit_code == 0, result.output
    assert "Usage" in result.output


def test_unknown_component_is_refused() -> None:
    result = runner.invoke(app, ["migrate", "no-such-service"])
    assert result.exit_code == 2


def test_migrate_then_seed_into_the_data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ECOMMERCE_DATA_DIR", str(tmp_path))
    assert runner.invoke(app, ["migrate", "product-service"]).exit_code == 0
    database = tmp_path / "product-service.db"
    with sqlite3.connect(database) as conn:
        assert conn.execute("SELECT count(*) FROM products").fetchone() == (0,)
    assert runner.invoke(app, ["seed", "product-service"]).exit_code == 0
    assert runner.invoke(app, ["seed", "product-service"]).exit_code == 0  # idempotent
    with sqlite3.connect(database) as conn:
        assert conn.execute("SELECT count(*) FROM products").fetchone() == (len(PRODUCTS),)


@pytest.mark.slow
@pytest.mark.parametrize("fork", ["1", "0"], ids=["forked", "own-interpreter"])
def test_up_serves_then_stops_cleanly_on_ctrl_c(tmp_path: Path, fork: str) -> None:
    env = {
        **os.environ,
        "ECOMMERCE_DATA_DIR": str(tmp_path / "data"),
        "PYTHONUNBUFFERED": "1",
        "ECOMMERCE_UP_FORK": fork,
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "ecommerce", "up", "--only", "product-service"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        cwd=tmp_path,
    )
    lines: list[bytes] = []
    announced = threading.Event()

    def read() -> None:  # the component may answer before the supervisor's own check says the shop is up
        assert process.stdout is not None
        for line in process.stdout:
            lines.append(line)
            if b"The shop is up" in line:
                announced.set()

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        assert announced.wait(60), b"".join(lines).decode()
        answer = httpx.get("http://127.0.0.1:8500/product-service/api/products/1", timeout=5)
        assert answer.status_code == 200
        assert answer.json()["productTitle"] == "asus"
        process.send_signal(signal.SIGINT)
        process.wait(timeout=30)
        reader.join(timeout=10)
    finally:
        if process.poll() is None:
            process.kill()
    text = b"".join(lines).decode()
    assert process.returncode == 0, text
    assert "product-service" in text
    assert (tmp_path / "data" / "product-service.db").exists()
    # The identity secrets were generated once, before the components, and the table says where they are.
    secrets = tmp_path / "data" / "secrets" / "identity.json"
    assert secrets.stat().st_mode & 0o077 == 0
    assert f"Operator credentials: user operator, OPERATOR_PASSWORD in {secrets}" in text
