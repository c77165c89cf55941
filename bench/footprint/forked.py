"""What forking the components from one pre-imported parent would save, against spawning each one.

`python -m bench.footprint.forked` starts the ten components standalone (SQLite, no registry or config server,
ports +20000) twice, side by side in one run: each as its own `python -m ecommerce run` process (what
`ecommerce up --no-fork` does), then each as a fork of one parent that imported every component first (gc.freeze()d so
the shared pages stay shared). It prints the seconds until all are ready and the PSS total of each way as JSON.
"""

from __future__ import annotations

import gc
import json
import os
import signal
import subprocess
import sys
import tempfile
import time

import httpx

from bench.common import children, memory_kib, python
from ecommerce import components

OFFSET = 20000


def ready_urls() -> dict[str, str]:
    return {
        name: f"http://127.0.0.1:{spec.port + OFFSET}{spec.actuator_base}/health/readiness"
        for name in components.names()
        if (spec := components.load_spec(name))
    }


def wait_ready(started: float) -> float:
    pending = ready_urls()
    while pending:
        for name, url in list(pending.items()):
            try:
                if httpx.get(url, timeout=1).status_code == 200:
                    del pending[name]
            except httpx.HTTPError:
                pass
        if time.monotonic() - started > 120:
            raise RuntimeError(f"not ready: {list(pending)}")
        time.sleep(0.05)
    return time.monotonic() - started


def stop(pids: list[int]) -> None:
    for pid in pids:
        os.kill(pid, signal.SIGTERM)
    for pid in pids:
        os.waitpid(pid, 0)


def spawned(env: dict[str, str]) -> dict[str, float]:
    """Each component its own interpreter, as `ecommerce up --no-fork` starts them."""
    commands = [
        [python(), "-m", "ecommerce", "run", name, "--port", str(components.load_spec(name).port + OFFSET)]
        for name in components.names()
    ]
    started = time.monotonic()
    processes = [subprocess.Popen(c, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) for c in commands]
    return _measure(started, [p.pid for p in processes], processes)


def forked(env: dict[str, str]) -> dict[str, float]:
    """One interpreter imports every component, then forks one child per component."""
    started = time.monotonic()
    parent = subprocess.Popen([python(), "-m", "bench.footprint.forked", "--fork"], env=env)
    ready = wait_ready(started)
    time.sleep(3)
    pids = children(parent.pid)
    pss = sum(memory_kib(pid)["pss"] for pid in pids)
    parent.terminate()
    parent.wait()
    return {"ready_s": ready, "pss_mb": pss / 1024, "processes": len(pids)}


def _measure(started: float, pids: list[int], processes: list[subprocess.Popen[bytes]]) -> dict[str, float]:
    ready = wait_ready(started)
    time.sleep(3)
    pss = sum(memory_kib(pid)["pss"] for pid in pids)
    for process in processes:
        process.terminate()
    for process in processes:
        process.wait()
    return {"ready_s": ready, "pss_mb": pss / 1024, "processes": len(pids)}


def fork_server() -> None:
    """The parent of `forked`: import everything, freeze, fork the components, stop them on SIGTERM."""
    import uvicorn

    from ecommerce.chassis import create_app
    from ecommerce.chassis.http_limits import server_options

    specs = [components.load_spec(name) for name in components.names()]
    gc.collect()
    gc.freeze()
    pids = []
    for spec in specs:
        pid = os.fork()
        if pid == 0:  # the component
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, 1)
            os.dup2(devnull, 2)
            os.environ["ECOMMERCE_PORT"] = str(spec.port + OFFSET)
            app = create_app(spec)
            uvicorn.run(app, host="127.0.0.1", port=spec.port + OFFSET, loop="uvloop",
                        **server_options(spec.http_protocol), access_log=False, log_config=None)  # fmt: skip
            os._exit(0)
        pids.append(pid)
    signal.signal(signal.SIGTERM, lambda *_: stop(pids) or os._exit(0))
    while True:
        signal.pause()


def main() -> None:
    if "--fork" in sys.argv:
        fork_server()
        return
    with tempfile.TemporaryDirectory(prefix="bench-forked-") as tmp:
        env = {**os.environ, "ECOMMERCE_LOG_LEVEL": "WARNING", "ECOMMERCE_DATA_DIR": tmp}
        for name in ("CONFIG_SERVER_URL", "DISCOVERY_URL", "OTEL_EXPORTER_OTLP_ENDPOINT"):
            env.pop(name, None)
        results = {"spawned": spawned(env), "forked": forked(env)}
    json.dump(results, sys.stdout)


if __name__ == "__main__":
    main()
