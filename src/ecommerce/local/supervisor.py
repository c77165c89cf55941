"""The process supervisor behind `ecommerce up`: start in order, wait for health, heal crashes, stop cleanly.

By default every component is a fork of one fork server (ecommerce.local.zygote) that imported them all once,
started before anything else; with `fork=False` each is its own `python -m ecommerce run` interpreter.
Each component's output goes to its own file (ecommerce.local.logfiles); the terminal shows states, the URL table,
warnings and errors (ecommerce.local.terminal), or everything interleaved with `verbose`. A component that exits on
its own is started again with a back-off (ecommerce.local.healing).
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
from typing import Any

import aiohttp
from rich.table import Table

from ecommerce import components
from ecommerce.chassis import DEFAULT_PORTS, DEV_SECRETS_FILE, ServiceSpec, dev_secrets
from ecommerce.local import healing
from ecommerce.local.forking import ForkedProcess, Zygote, ZygoteError
from ecommerce.local.healing import Backoff, InstanceState, SupervisorState
from ecommerce.local.logfiles import LogFile, logs_dir, parse
from ecommerce.local.monitoring import LocalMonitoring, MonitoringError
from ecommerce.local.postgres import database_urls
from ecommerce.local.terminal import Terminal

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
PUMP_CHUNK = 64 * 1024  # what the relay takes from a component's pipe at once, and the longest line it keeps


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
    """One running process of one component, and what the supervisor knows of its life."""

    spec: ServiceSpec
    index: int
    colour: str
    process: asyncio.subprocess.Process | ForkedProcess | None = None
    pumps: list[asyncio.Task[None]] = field(default_factory=list)
    log: LogFile | None = None
    state: str = "waiting"
    started: float = 0.0  # monotonic, for the back-off
    started_at: float | None = None  # wall clock, for the uptime `ecommerce status` shows
    last_exit: int | None = None
    backoff: Backoff = field(default_factory=Backoff)

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
        verbose: bool = False,
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
        self.verbose = verbose  # every line of every component on stdout, as before the log files
        self.tty = sys.stdout.isatty()
        self.terminal = Terminal(live=not verbose)
        self.zygote = Zygote() if fork and self.instances else None
        self._config_server_ours = False  # we point the components at the local config server
        self._env: dict[str, str] = {}

    async def run(self) -> int:
        """Bring everything up, keep it up until a stop signal, then bring everything down."""
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, self.stopping.set)
        self.data_dir.mkdir(parents=True, exist_ok=True)
        for instance in self.instances:
            instance.log = LogFile(logs_dir(self.data_dir) / f"{instance.label}.log")
        self.terminal.track([instance.label for instance in self.instances])
        self._publish()
        started = time.monotonic()
        try:
            with self.terminal.starting():
                failed = await self._start_shop()
            if failed is not None:
                return failed
            if self.monitoring is not None:
                try:
                    await self.monitoring.start()
                except MonitoringError as exc:
                    self.terminal.note(f"{exc}; stopping the shop.", style="red")
                    return 1
            self._print_table(time.monotonic() - started)
            return await self._keep_running()
        except ZygoteError as exc:
            self.terminal.note(f"{exc}; stopping the shop.", style="red")
            return 1
        finally:
            await self._stop_all()
            SupervisorState.remove(self.data_dir)
            for instance in self.instances:
                if instance.log is not None:
                    instance.log.close()

    async def _start_shop(self) -> int | None:
        """Start every stage and wait for its health; None once all are healthy, else the exit status."""
        env = self._base_environment()
        if self.zygote is not None:  # first, so it imports while the databases are prepared
            await self.zygote.start(env)
        if self.postgres_admin_url:
            self.terminal.activity("creating the databases")
        self._env = env = await self._with_databases(env)
        if self.zygote is not None:
            self.terminal.activity("importing the components once, to fork them")
            await self.zygote.ready()
        self.terminal.activity("")
        if self.stopping.is_set():
            self.terminal.note("Stopped before the shop was up.")
            return 0
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=2)) as http:
            for stage in start_stages(self.instances):
                for instance in stage:
                    await self._start(instance, env)
                healthy = await asyncio.gather(*(self._wait_healthy(i, http) for i in stage))
                for instance, ok in zip(stage, healthy, strict=True):
                    if ok:
                        continue
                    if self.stopping.is_set():
                        self.terminal.note("Stopped before the shop was up.")
                        return 0
                    self._set_state(instance, "failed")
                    self.terminal.note(
                        f"{instance.label} did not become healthy; stopping the shop "
                        f"(its log: {instance.log.path if instance.log else '-'}).",
                        style="red",
                    )
                    return 1
        return None

    async def _keep_running(self) -> int:
        """Restart what crashes until a stop is asked for (0) or nothing is left to run (1)."""
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=2)) as http:
            watchers = [asyncio.create_task(self._keep_alive(i, http)) for i in self.instances if i.process]
            waits: set[asyncio.Future[Any]] = {
                asyncio.create_task(self.stopping.wait()),
                asyncio.ensure_future(asyncio.gather(*watchers)),
            }
            if self.zygote is not None:
                waits.add(asyncio.create_task(self.zygote.lost.wait()))
            try:
                await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
            finally:
                for task in [*waits, *watchers]:  # before the stop: a stop must never look like a crash
                    task.cancel()
                await asyncio.gather(*waits, *watchers, return_exceptions=True)
        if self.stopping.is_set():
            return 0
        if self.zygote is not None and self.zygote.lost.is_set():
            self.terminal.note("The fork server exited and took the components with it.", style="red")
        self.terminal.note("No component is left running.", style="red")
        return 1

    async def _keep_alive(self, instance: Instance, http: aiohttp.ClientSession) -> None:
        """Wait for the instance to exit on its own; start it again after its back-off, or give up on it."""
        while True:
            assert instance.process is not None
            code = await instance.process.wait()
            if self.stopping.is_set() or (self.zygote is not None and self.zygote.lost.is_set()):
                return
            instance.last_exit = code
            delay = instance.backoff.after_exit(time.monotonic() - instance.started)
            if delay is None:
                self._set_state(instance, "failed", f"exit code {code}")
                self.terminal.note(
                    f"{instance.label} exited with code {code}, {healing.GIVE_UP_AFTER + 1} quick crashes in a row: "
                    f"giving up on it; the rest of the shop keeps running (see `ecommerce logs {instance.label}`).",
                    style="bold red",
                )
                return
            self._set_state(instance, "restarting", f"exit code {code}, back in {delay:.0f} s")
            self.terminal.note(
                f"{instance.label} exited with code {code}; restarting it in {delay:.0f} s "
                f"(restart {instance.backoff.restarts}).",
                style="red",
            )
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.stopping.wait(), delay)
            if self.stopping.is_set():
                return
            try:
                await self._start(instance, self._env)
            except ZygoteError as exc:
                self._set_state(instance, "failed", str(exc))
                self.terminal.note(f"{instance.label} could not be restarted: {exc}.", style="bold red")
                return
            if await self._wait_healthy(instance, http):
                self.terminal.note(f"{instance.label} is back (restart {instance.backoff.restarts}).", style="green")

    def _base_environment(self) -> dict[str, str]:
        env = dict(os.environ)
        env["ECOMMERCE_DATA_DIR"] = str(self.data_dir)
        env.setdefault("PYTHONUNBUFFERED", "1")
        # The environment's identity secrets, generated once under the data folder before any component starts
        # (they would race to create them), and given to each explicitly so that any profile finds them.
        for name, value in dev_secrets(self.data_dir).items():
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
        instance.pumps = [pump for pump in instance.pumps if not pump.done()]
        if self.zygote is not None:
            process = await self.zygote.spawn(instance.spec.name, instance.port, env)
            instance.process = process
            stream = process.stdout
        else:
            command = [sys.executable, "-m", "ecommerce", "run", instance.spec.name, "--port", str(instance.port)]
            instance.process = await asyncio.create_subprocess_exec(
                *command,
                env=env,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.STDOUT,
                start_new_session=True,  # Ctrl-C reaches us only; we stop the children in order
            )
            assert instance.process.stdout is not None
            stream = instance.process.stdout
        instance.started, instance.started_at = time.monotonic(), time.time()
        instance.pumps.append(asyncio.create_task(self._pump(instance, stream)))
        self._set_state(instance, "starting")

    async def _pump(self, instance: Instance, stream: asyncio.StreamReader) -> None:
        """Every line to the instance's file; to the terminal, everything (verbose) or its warnings and errors.

        Whatever the pipe holds is taken at once and written to the file in one go: a component flushes its
        access log in batches, and a line at a time (a read, a log record, a size check and a flush each) made
        this relay about 3 ms of CPU per purchase, a twentieth of the shop's.
        """
        prefix = f"{instance.label:<20}| "
        if self.tty:
            prefix = f"\x1b[1;{_ansi(instance.colour)}m{prefix}\x1b[0m"
        pending: bytes | None = b""  # a line begun and not ended yet; None inside one too long to keep
        while chunk := await stream.read(PUMP_CHUNK):
            *ended, rest = chunk.split(b"\n")
            if ended:
                lines = ended[1:] if pending is None else [pending + ended[0], *ended[1:]]
                pending = rest
                if lines:
                    self._relay(instance, prefix, [line.decode(errors="replace").rstrip("\r") for line in lines])
            elif pending is not None:
                pending += rest
            if pending is not None and len(pending) > PUMP_CHUNK:  # dropped; the next lines still flow
                pending = None
        if pending:
            self._relay(instance, prefix, [pending.decode(errors="replace").rstrip("\r")])

    def _relay(self, instance: Instance, prefix: str, lines: list[str]) -> None:
        if instance.log is not None:
            instance.log.write("\n".join(lines))
        if self.verbose:
            sys.stdout.write("".join(f"{prefix}{line}\n" for line in lines))
            sys.stdout.flush()
            return
        for line in lines:
            if (parsed := parse(line)).loud:
                self.terminal.log(instance.label, parsed)

    async def _wait_healthy(self, instance: Instance, http: aiohttp.ClientSession) -> bool:
        url = f"{instance.base_url}{instance.spec.actuator_base}/health/readiness"
        deadline = time.monotonic() + HEALTH_TIMEOUT_SECONDS
        while time.monotonic() < deadline and not self.stopping.is_set():
            assert instance.process is not None
            if instance.process.returncode is not None:
                self._set_state(instance, "exited", f"exit code {instance.process.returncode}")
                return False
            with contextlib.suppress(aiohttp.ClientError, TimeoutError):
                async with http.get(url) as response:
                    if response.status == 200:
                        self._set_state(instance, "healthy", f"{time.monotonic() - instance.started:.1f} s")
                        return True
            await asyncio.sleep(0.1)
        if not self.stopping.is_set():
            self._set_state(instance, "unhealthy", f"not ready after {HEALTH_TIMEOUT_SECONDS:.0f} s")
        return False

    def _set_state(self, instance: Instance, state: str, detail: str = "") -> None:
        instance.state = state
        self.terminal.state(instance.label, state, detail)
        self._publish()

    def _publish(self) -> None:
        """The state file `ecommerce status` reads (ecommerce.local.healing)."""
        rows = [
            InstanceState(
                name=i.label,
                component=i.spec.name,
                url=f"{i.base_url}{i.spec.context_path}/",
                state=i.state,
                pid=i.process.pid if i.process is not None and i.process.returncode is None else None,
                restarts=i.backoff.restarts,
                started_at=i.started_at if i.state in {"starting", "healthy", "unhealthy"} else None,
                last_exit=i.last_exit,
            )
            for i in self.instances
        ]
        with contextlib.suppress(OSError):  # a full disk must not take the shop down
            SupervisorState(instances=rows).write(self.data_dir)

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
        table.add_column("component", no_wrap=True)
        table.add_column("url", overflow="fold")  # folded on a narrow terminal, never cut with an ellipsis
        table.add_column("health", overflow="fold")
        for instance in self.instances:
            base = f"{instance.base_url}{instance.spec.context_path}/"
            table.add_row(instance.label, base, f"{instance.base_url}{instance.spec.actuator_base}/health")
        for row in self.monitoring.table_rows() if self.monitoring is not None else ():
            table.add_row(*row)
        self.terminal.print(table)
        secrets = self.data_dir / DEV_SECRETS_FILE
        # Below the table, whole: a table cell would cut the path to the terminal's width.
        self.terminal.note(f"Operator credentials: user operator, OPERATOR_PASSWORD in {secrets}")
        if not self.verbose and self.instances:
            self.terminal.note(f"Logs: {logs_dir(self.data_dir)} (`ecommerce logs -f`); warnings and errors show here.")
        self.terminal.note("Press Ctrl-C to stop everything.")


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
