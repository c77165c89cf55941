"""`ecommerce up` for real, its output a file (not a terminal) at COLUMNS=80: the URL table is whole, the logs are in
per-component files and not on the terminal, a component killed with SIGKILL comes back by itself and
`ecommerce status` counts the restart, and Ctrl-C stops everything without restarting anything.

Like the other `ecommerce up` tests it uses the components' fixed ports; pytest runs them one after another."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from ecommerce.local import healing
from ecommerce.local.procfs import pid_listening_on
from ecommerce.local.supervisor import Supervisor

pytestmark = pytest.mark.slow

PRODUCTS = "http://127.0.0.1:8500/product-service/api/products/1"
FAVOURITES_HEALTH = "http://127.0.0.1:8800/favourite-service/actuator/health/readiness"


def _wait(check: Callable[[], Any], timeout: float, what: str, log: Path) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            result = check()
        except (httpx.HTTPError, OSError):
            result = None
        if result:
            return result
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}:\n{log.read_text(errors='replace')[-3000:]}")


def _ecommerce(*args: str, env: dict[str, str]) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "ecommerce", *args], env=env, capture_output=True, text=True, timeout=60
    )
    return done.stdout + done.stderr


@pytest.mark.parametrize("fork", ["1", "0"], ids=["forked", "own-interpreter"])
def test_up_is_calm_heals_a_killed_component_and_stops_on_ctrl_c(tmp_path: Path, fork: str) -> None:
    data = tmp_path / "data"
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "COLUMNS": "80", "ECOMMERCE_UP_FORK": fork}
    env.pop("ECOMMERCE_DATA_DIR", None)
    output = tmp_path / "up.log"
    with output.open("wb") as sink:
        process = subprocess.Popen(
            [sys.executable, "-m", "ecommerce", "up", "--only", "product-service", "--only", "favourite-service"]
            + ["--data-dir", str(data)],
            env=env,
            stdout=sink,
            stderr=subprocess.STDOUT,
            cwd=tmp_path,
        )
    try:
        _wait(lambda: b"Press Ctrl-C" in output.read_bytes(), 90, "the shop to come up", output)
        shown = output.read_text()
        # The table, whole at 80 columns when not a terminal.
        for url in (
            "http://127.0.0.1:8500/product-service/",
            "http://127.0.0.1:8800/favourite-service/actuator/health",
        ):
            assert url in shown, shown
        assert "…" not in shown, shown
        assert "favourite-service healthy" in shown, "the states are shown as they change"
        # The components' info lines went to their files, not to the terminal.
        assert '"level":"info"' not in shown and "Application startup complete" not in shown, shown
        for name in ("product-service", "favourite-service"):
            assert "Application startup complete" in (data / "logs" / f"{name}.log").read_text()
        assert httpx.get(PRODUCTS, timeout=5).status_code == 200
        listed = _ecommerce("logs", "product-service", "--data-dir", str(data), env=env)
        assert "INFO Application startup complete." in listed, listed

        victim = pid_listening_on(8800)
        assert victim is not None
        os.kill(victim, signal.SIGKILL)
        _wait(lambda: b"favourite-service is back (restart 1)" in output.read_bytes(), 60, "the restart", output)
        assert b"favourite-service exited with code -9; restarting it in 1 s" in output.read_bytes()
        restarted = pid_listening_on(8800)
        assert restarted is not None and restarted != victim
        assert httpx.get(FAVOURITES_HEALTH, timeout=5).status_code == 200

        status = _ecommerce("status", "--data-dir", str(data), env=env)
        local = status.partition("Registry ")[0]  # the supervisor's table comes before the registry's
        assert "ecommerce up (pid" in local, status
        rows = {line.split("│")[1].strip(): line for line in local.splitlines() if line.count("│") > 5}
        favourite = [cell.strip() for cell in rows["favourite-service"].split("│")]
        product = [cell.strip() for cell in rows["product-service"].split("│")]
        # component, state, pid, restarts, uptime, url
        assert favourite[1:5] == ["favourite-service", "healthy", str(restarted), "1"], status
        assert product[1:5] == ["product-service", "healthy", str(pid_listening_on(8500)), "0"], status
        assert favourite[5].endswith(" s"), status

        stopped_at = len(output.read_bytes())
        process.send_signal(signal.SIGINT)
        process.wait(30)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    after_stop = output.read_bytes()[stopped_at:].decode(errors="replace")
    assert process.returncode == 0, output.read_text()[-3000:]
    assert "restarting" not in after_stop and "exited with code" not in after_stop, after_stop
    assert pid_listening_on(8500) is None and pid_listening_on(8800) is None, "everything stopped"
    assert not (data / "supervisor.json").exists(), "the state file goes with the supervisor"


async def test_up_gives_up_after_quick_crashes_in_a_row_and_says_so(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(healing, "FIRST_DELAY", 0.05)
    monkeypatch.setattr(healing, "GIVE_UP_AFTER", 2)
    supervisor = Supervisor(names=["favourite-service"], instances={}, data_dir=tmp_path / "data")
    (instance,) = supervisor.instances
    loop = asyncio.get_running_loop()
    running = asyncio.create_task(supervisor.run())
    try:
        killed = None
        for crash in range(3):
            deadline = time.monotonic() + 60
            # A new process, healthy: the supervisor may not have seen the last one die yet when its wait returns.
            while instance.state != "healthy" or instance.process is None or instance.process is killed:
                assert time.monotonic() < deadline and not running.done(), f"no healthy start before crash {crash}"
                await asyncio.sleep(0.05)
            killed = instance.process
            os.kill(killed.pid, signal.SIGKILL)
            await killed.wait()
        code = await asyncio.wait_for(running, 30)
    finally:
        supervisor.stopping.set()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(running, 30)
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(signum)
    said = capsys.readouterr().err
    assert code == 1, said
    assert instance.state == "failed" and instance.backoff.restarts == 2
    assert "favourite-service exited with code -9, 3 quick crashes in a row: giving up on it" in said, said
    assert pid_listening_on(8800) is None
