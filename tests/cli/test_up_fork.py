"""`ecommerce up --verbose` forking the components from its fork server: both serve, one killed leaves the other
serving (and comes back), Ctrl-C stops everything with exit 0 and leaves no process behind."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from ecommerce.local.procfs import pid_listening_on

pytestmark = pytest.mark.slow

PRODUCTS = "http://127.0.0.1:8500/product-service/api/products/1"
FAVOURITES_HEALTH = "http://127.0.0.1:8800/favourite-service/actuator/health"


def _wait(check, timeout: float, what: str):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            result = check()
        except (httpx.HTTPError, OSError):
            result = None
        if result:
            return result
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def _parent(pid: int) -> int:
    return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])


def _descendants(pid: int) -> set[int]:
    found = set()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                chain, parent = int(entry.name), _parent(int(entry.name))
            except (OSError, ValueError):
                continue
            while parent > 1:
                if parent == pid:
                    found.add(chain)
                    break
                try:
                    parent = _parent(parent)
                except (OSError, ValueError):
                    break
    return found


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def test_forked_components_serve_survive_a_killed_sibling_and_stop_on_ctrl_c(tmp_path: Path) -> None:
    log_path = tmp_path / "up.log"
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    env.pop("ECOMMERCE_UP_FORK", None)  # the default is to fork
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "ecommerce", "up", "--only", "product-service", "--only", "favourite-service"]
            + ["--data-dir", str(tmp_path / "data"), "--verbose"],  # every line on stdout, as prefixed below
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=tmp_path,
        )
    try:
        _wait(lambda: b"The shop is up" in log_path.read_bytes(), 60, "the shop to come up")
        assert httpx.get(PRODUCTS, timeout=2).json()["productTitle"] == "asus"
        assert httpx.get(FAVOURITES_HEALTH, timeout=2).status_code == 200

        products, favourites = pid_listening_on(8500), pid_listening_on(8800)
        assert products and favourites and products != favourites
        family = _descendants(process.pid)
        (zygote,) = {pid for pid in family if _parent(pid) == process.pid}
        assert _parent(products) == _parent(favourites) == zygote, "both are forks of the one fork server"
        for pid in (zygote, products, favourites):
            assert os.getsid(pid) == pid, "each runs in its own session: Ctrl-C reaches the supervisor only"

        os.kill(favourites, signal.SIGKILL)
        _wait(lambda: b"favourite-service exited with code -9" in log_path.read_bytes(), 10, "the exit report")
        for _ in range(5):
            assert httpx.get(PRODUCTS, timeout=2).status_code == 200
        assert process.poll() is None

        process.send_signal(signal.SIGINT)
        process.wait(30)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    text = log_path.read_text(errors="replace")
    assert process.returncode == 0, text[-3000:]
    assert "product-service" in text and "| " in text, "the children's lines come prefixed with their names"
    left = [pid for pid in (zygote, products, favourites) if _alive(pid)]
    assert left == [], f"processes left behind: {left}"
    with pytest.raises(httpx.HTTPError):
        httpx.get(PRODUCTS, timeout=2)
