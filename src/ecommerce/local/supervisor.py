"""The process supervisor behind `ecommerce up`: start in order, wait for health, stream logs, stop cleanly.

By default every component is a fork of one fork server (ecommerce.local.zygote) that imported them all once,
started before anything else; with `fork=False` each is its own `python -m ecommerce run` interpreter.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp
from rich.console import Console
from rich.table import Table

from ecommerce import components
from ecommerce.chassis import identity
from ecommerce.chassis.app import ServiceSpec
from ecommerce.chassis.http import DEFAULT_PORTS
from ecommerce.local.forking import ForkedProcess, Zygote, ZygoteError
from ecommerce.local.monitoring import LocalMonitoring, MonitoringError
from ecommerce.local.postgres import database_urls

COLOURS = [
    "cyan",
    "green",
    "yellow",
    "magenta",
    "blue",
    "bright_cyan",
    "bright_green",
    "bright_yellow",
    "bright_magenta",
]
HEALTH_TIMEOUT_SECONDS = 90.0
STOP_TIMEOUT_SECONDS = 15.0
INSTANCE_PORT_STEP = 10  # the second product-service listens on 8510, the third on 8520

err = Console(stderr=True)


def parse_instances(values: list[str]) -> dict[str, int]:
    """`["product-service=2"]` -> `{"product-service": 2}`."""
    counts: dict[str, int] = {}
    for value in values:
        name, _, count = value.partition("=")
        if name not in components.COMPONENTS or not count.isdigit() or not 1 <= int(count) <= 9:
            raise SystemExit(f"--instances expects NAME=N with a known component and 1 <= N <= 9, got '{value}'")
        counts[name] = int(count)
    return counts


@dataclass
class Instance:
    """One running process of one component."""

    spec: ServiceSpec
    index: int
    colour: str
    process: asyncio.subprocess.Process | ForkedProcess | None = None
    pumps: list[asyncio.Task[None]] = field(default_factory=list)

    @property
    def port(self) -> int:
        return self.spec.port + INSTANCE_PORT_STEP * self.index

    @property
    def label(self) -> str:
        return self.spec.name if self.index == 0 else f"{self.spec.name}#{self.index + 1}"

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


class Supervisor:
    """Starts components as child processes and keeps them in line."""

    def __init__(
        self,
        *,
        names: list[str],
        instances: dict[str, int],
        data_dir: Path,
        postgres_admin_url: str | None = None,
        monitoring: LocalMonitoring | None = None,
        fork: bool = True,
    ) -> None:
        self.data_dir = data_dir.resolve()
        self.monitoring = monitoring  # Prometheus and Alertmanager, started once the shop is healthy
        self.postgres_admin_url = postgres_admin_url
        self.instances: list[Instance] = []
        for position, name in enumerate(names):
            spec = components.load_spec(name)
            for index in range(instances.get(name, 1)):
                self.instances.append(Instance(spec, index, COLOURS[position % len(COLOURS)]))
        self.stopping = asyncio.Event()
        self.tty = sys.stdout.isatty()
        self.zygote = Zygote() if fork and self.instances else None
        self._config_server_ours = False  # we point the components at the local config server

    async def run(self) -> int:
        """Bring everything up, wait for a stop signal or a crash, then bring everything down."""
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, self.stopping.set)
        self.data_dir.mkdir(parents=True, exist_ok=True)
        started = time.monotonic()
        try:
            env = self._base_environment()
            if self.zygote is not None:  # first, so it imports while the databases are prepared
                await self.zygote.start(env)
            env = await self._with_databases(env)
            if self.zygote is not None:
                with err.status("importing the components once, to fork them"):
                    await self.zygote.ready()
                if self.stopping.is_set():
                    err.print("Stopped before the shop was up.")
                    return 0
            async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=2)) as http:
                for stage in start_stages(self.instances):
                    for instance in stage:
                        await self._start(instance, env)
                    with err.status(f"waiting for {', '.join(i.label for i in stage)}"):
                        healthy = await asyncio.gather(*(self._wait_healthy(i, http) for i in stage))
                    for instance, ok in zip(stage, healthy, strict=True):
                        if ok:
                            continue
                        if self.stopping.is_set():
                            err.print("Stopped before the shop was up.")
                            return 0
                        err.print(f"[red]{instance.label} did not become healthy; stopping the shop.[/]")
                        return 1
            if self.monitoring is not None:
                try:
                    await self.monitoring.start()
                except MonitoringError as exc:
                    err.print(f"{exc}; stopping the shop.", style="red", markup=False)
                    return 1
            self._print_table(time.monotonic() - started)
            all_exited = asyncio.create_task(self._watch_exits())
            stop = asyncio.create_task(self.stopping.wait())
            done, _ = await asyncio.wait({all_exited, stop}, return_when=asyncio.FIRST_COMPLETED)
            for task in (all_exited, stop):
                task.cancel()
            if all_exited in done and not self.stopping.is_set():
                if self.zygote is not None and self.zygote.lost.is_set():
                    err.print("[red]The fork server exited and took the components with it.[/]")
                err.print("[red]Every component has exited.[/]")
                return 1
            return 0
        except ZygoteError as exc:
            err.print(f"{exc}; stopping the shop.", style="red", markup=False)
            return 1
        finally:
            await self._stop_all()

    def _base_environment(self) -> dict[str, str]:
        env = dict(os.environ)
        env["ECOMMERCE_DATA_DIR"] = str(self.data_dir)
        env.setdefault("PYTHONUNBUFFERED", "1")
        # The environment's identity secrets, generated once under the data folder before any component starts
        # (they would race to create them), and given to each explicitly so that any profile finds them.
        for name, value in identity.dev_secrets(self.data_dir).items():
            env.setdefault(name, value)
        started = {instance.spec.name for instance in self.instances}
        # Wire the components to each other the way Kubernetes does, unless the caller already chose.
        if "service-discovery" in started:
            env.setdefault("DISCOVERY_URL", f"http://127.0.0.1:{DEFAULT_PORTS['service-discovery']}/eureka/")
        if "cloud-config-server" in started and not {"CONFIG_SERVER_URL", "SPRING_CLOUD_CONFIG_URI"} & set(env):
            env["CONFIG_SERVER_URL"] = f"http://127.0.0.1:{DEFAULT_PORTS['cloud-config-server']}"
            self._config_server_ours = True
        if "proxy-client" in started:
            jwks = f"http://127.0.0.1:{DEFAULT_PORTS['proxy-client']}/app/.well-known/jwks.json"
            env.setdefault("JWT_JWKS_URL", jwks)
        return env

    async def _with_databases(self, env: dict[str, str]) -> dict[str, str]:
        env = dict(env)
        if self.postgres_admin_url:
            with_db = sorted({i.spec.name for i in self.instances if i.spec.migrations is not None})
            for name, url in (await database_urls(self.postgres_admin_url, with_db)).items():
                env[f"{name.upper().replace('-', '_')}_DATABASE_URL"] = url
        return env

    async def _start(self, instance: Instance, env: dict[str, str]) -> None:
        if self._config_server_ours and _stage(instance) <= _STAGES["cloud-config-server"]:
            # Started before it answers (the config server itself too): they would retry it for 3.5 s, then go on
            # with their defaults; they go on with their defaults at once.
            env = {key: value for key, value in env.items() if key != "CONFIG_SERVER_URL"}
        if self.zygote is not None:
            process = await self.zygote.spawn(instance.spec.name, instance.port, env)
            instance.process = process
            instance.pumps.append(asyncio.create_task(self._pump(instance, process.stdout)))
            return
        command = [sys.executable, "-m", "ecommerce", "run", instance.spec.name, "--port", str(instance.port)]
        instance.process = await asyncio.create_subprocess_exec(
            *command,
            env=env,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
            start_new_session=True,  # Ctrl-C reaches us only; we stop the children in order
        )
        assert instance.process.stdout is not None
        instance.pumps.append(asyncio.create_task(self._pump(instance, instance.process.stdout)))

    async def _pump(self, instance: Instance, stream: asyncio.StreamReader) -> None:
        prefix = f"{instance.label:<20}| "
        if self.tty:
            prefix = f"\x1b[1;{_ansi(instance.colour)}m{prefix}\x1b[0m"
        while line := await stream.readline():
            sys.stdout.write(prefix + line.decode(errors="replace"))
            sys.stdout.flush()

    async def _wait_healthy(self, instance: Instance, http: aiohttp.ClientSession) -> bool:
        url = f"{instance.base_url}{instance.spec.actuator_base}/health/readiness"
        deadline = time.monotonic() + HEALTH_TIMEOUT_SECONDS
        while time.monotonic() < deadline and not self.stopping.is_set():
            assert instance.process is not None
            if instance.process.returncode is not None:
                return False
            with contextlib.suppress(aiohttp.ClientError, TimeoutError):
                async with http.get(url) as response:
                    if response.status == 200:
                        err.print(f"[green]✓[/] {instance.label} healthy")
                        return True
            await asyncio.sleep(0.1)
        return False

    async def _watch_exits(self) -> None:
        """Report each component that exits on its own; the others keep serving (as with one crashed pod)."""

        async def watch(instance: Instance) -> None:
            assert instance.process is not None
            code = await instance.process.wait()
            if not self.stopping.is_set():
                err.print(f"[red]{instance.label} exited with code {code}; the rest of the shop keeps running.[/]")

        await asyncio.gather(*(watch(i) for i in self.instances if i.process is not None))

    async def _stop_all(self) -> None:
        if self.monitoring is not None:
            await self.monitoring.stop()
        for instance in reversed(self.instances):
            process = instance.process
            if process is None or process.returncode is not None:
                continue
            with contextlib.suppress(ProcessLookupError):
                process.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(process.wait(), STOP_TIMEOUT_SECONDS)
            except TimeoutError:
                with contextlib.suppress(ProcessLookupError):
                    process.kill()
                await process.wait()
        if self.zygote is not None:
            await self.zygote.close()
        for instance in self.instances:
            for pump in instance.pumps:
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await asyncio.wait_for(pump, 2)

    def _print_table(self, elapsed: float) -> None:
        table = Table(title=f"The shop is up ({elapsed:.1f} s)")
        for column in ("component", "url", "health"):
            table.add_column(column)
        for instance in self.instances:
            base = f"{instance.base_url}{instance.spec.context_path}/"
            table.add_row(instance.label, base, f"{instance.base_url}{instance.spec.actuator_base}/health")
        for row in self.monitoring.table_rows() if self.monitoring is not None else ():
            table.add_row(*row)
        err.print(table)
        secrets = self.data_dir / identity.DEV_SECRETS_FILE
        # Below the table, whole: a table cell would cut the path to the terminal's width.
        err.print(f"Operator credentials: user operator, OPERATOR_PASSWORD in {secrets}", markup=False, soft_wrap=True)
        err.print("Press Ctrl-C to stop everything.")


# Start order, a stage at a time: the registry (everyone registers at start and only retries after a lease
# renewal interval), the config server (services read their settings at start), the business services side by
# side (they only need those two), then the edge (the gateway fetches the registry once they have registered).
# One after another, ten Python processes each spent seconds importing while the others waited.
_STAGES = {"service-discovery": 0, "cloud-config-server": 1, "api-gateway": 3, "proxy-client": 3}
_BUSINESS_STAGE = 2


def start_stages(instances: list[Instance]) -> list[list[Instance]]:
    """The instances grouped into stages started together, in order; within a stage in the given order.

    A component's second and later instances start in a stage of their own once the first is healthy: the first
    migrates and seeds the database they share (forked, they would all start within the same millisecond and
    race for the SQLite file's lock).
    """
    stages: dict[tuple[int, int], list[Instance]] = {}
    for instance in instances:
        stages.setdefault((_stage(instance), min(instance.index, 1)), []).append(instance)
    return [stages[key] for key in sorted(stages)]


def _stage(instance: Instance) -> int:
    return _STAGES.get(instance.spec.name, _BUSINESS_STAGE)


def _ansi(colour: str) -> int:
    base = {"cyan": 36, "green": 32, "yellow": 33, "magenta": 35, "blue": 34}
    name = colour.removeprefix("bright_")
    return base.get(name, 37) + (60 if colour.startswith("bright_") else 0)
