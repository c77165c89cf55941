"""Prometheus and Alertmanager next to the shop for `ecommerce up --monitoring`.

Both run from the project's tool folder (`.tools/bin`, filled by `make tools`) on 127.0.0.1, with their
configuration rendered from `monitoring/local/*.j2`: Prometheus scrapes every running component at its metrics
path, loads `monitoring/rules/*.yaml` and sends alerts to the local Alertmanager, which posts them to a webhook.
Configuration, data and the two logs live under `<data dir>/monitoring/`.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import jinja2

from ecommerce.chassis import MeshSecrets, ServiceSettings

PROMETHEUS_PORT = 9090
ALERTMANAGER_PORT = 9093
DEFAULT_WEBHOOK_URL = "http://127.0.0.1:9095/alerts"
READY_TIMEOUT_SECONDS = 30.0
STOP_TIMEOUT_SECONDS = 10.0
INSTALL_HINT = "run `make tools` (or `bash tools/install-prometheus.sh`) to install them into .tools/bin"


class MonitoringError(RuntimeError):
    """Prometheus or Alertmanager is missing, or did not start."""


def project_root() -> Path:
    """The checkout holding `monitoring/` and `.tools/`: the working directory when it has them, else ours."""
    cwd = Path.cwd()
    if (cwd / "monitoring" / "local").is_dir():
        return cwd
    return Path(__file__).resolve().parents[3]


def missing_tools(root: Path | None = None) -> list[str]:
    """The binaries `up --monitoring` needs that `.tools/bin` lacks."""
    tools_bin = (root or project_root()) / ".tools" / "bin"
    return [name for name in ("prometheus", "alertmanager") if not os.access(tools_bin / name, os.X_OK)]


def pick_port(preferred: int | None, host: str = "127.0.0.1") -> int:
    """`preferred` when nobody listens on it, else a free port (0 or None: always a free port)."""
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, preferred or 0))
        except OSError:
            sock.bind((host, 0))
        return int(sock.getsockname()[1])


@dataclass
class _Server:
    name: str
    port: int
    log_path: Path
    process: asyncio.subprocess.Process | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


class LocalMonitoring:
    """Render the local configuration, start Alertmanager then Prometheus, stop both.

    `ports` maps component -> port where it differs from the contract; `components` limits the scrape jobs
    (default: all ten). Ports 9090 and 9093 are used when free, other free ports otherwise (pass 0 for any).
    """

    def __init__(
        self,
        *,
        data_dir: Path,
        components: Sequence[str] | None = None,
        ports: Mapping[str, int] | None = None,
        prometheus_port: int | None = PROMETHEUS_PORT,
        alertmanager_port: int | None = ALERTMANAGER_PORT,
        webhook_url: str = DEFAULT_WEBHOOK_URL,
        scrape_interval: str = "5s",
        rule_files: Sequence[Path] | None = None,
        root: Path | None = None,
    ) -> None:
        self.root = (root or project_root()).resolve()
        self.tools_bin = self.root / ".tools" / "bin"
        self.data_dir = data_dir
        self.directory = data_dir.resolve() / "monitoring"
        self.components = list(components) if components is not None else None
        self.ports = dict(ports or {})
        self.webhook_url = webhook_url
        self.scrape_interval = scrape_interval
        self.rule_files = [
            p.resolve() for p in (rule_files or sorted((self.root / "monitoring" / "rules").glob("*.yaml")))
        ]
        self._wanted_ports = {"prometheus": prometheus_port, "alertmanager": alertmanager_port}
        self.prometheus = _Server("prometheus", 0, self.directory / "prometheus.log")
        self.alertmanager = _Server("alertmanager", 0, self.directory / "alertmanager.log")

    @property
    def prometheus_url(self) -> str:
        return self.prometheus.url

    @property
    def alertmanager_url(self) -> str:
        return self.alertmanager.url

    def check_installed(self) -> None:
        """Raise MonitoringError naming the missing binaries and how to install them."""
        missing = missing_tools(self.root)
        if missing:
            raise MonitoringError(f"{' and '.join(missing)} not found in {self.tools_bin}: {INSTALL_HINT}")

    def render(self) -> tuple[Path, Path]:
        """Write prometheus.yml and alertmanager.yml into the monitoring folder; return their paths."""
        self.directory.mkdir(parents=True, exist_ok=True)
        templates = jinja2.Environment(
            loader=jinja2.FileSystemLoader(self.root / "monitoring" / "local"),
            undefined=jinja2.StrictUndefined,
            keep_trailing_newline=True,
            autoescape=False,
        )
        variables: dict[str, object] = {
            "host": "127.0.0.1",
            "ports": self.ports,
            "rule_files": [str(p) for p in self.rule_files],
            "alertmanager": f"127.0.0.1:{self.alertmanager.port}",
            "scrape_interval": self.scrape_interval,
            "password_file": str(self._password_file()),
        }
        if self.components is not None:
            variables["components"] = self.components
        prometheus = self.directory / "prometheus.yml"
        prometheus.write_text(templates.get_template("prometheus.yml.j2").render(**variables))
        alertmanager = self.directory / "alertmanager.yml"
        alertmanager.write_text(templates.get_template("alertmanager.yml.j2").render(webhook_url=self.webhook_url))
        return prometheus, alertmanager

    def _password_file(self) -> Path:
        """The prometheus user's password, in a file only this user reads (the actuators ask for it)."""
        settings = ServiceSettings(data_dir=self.data_dir)  # PROMETHEUS_PASSWORD, else the data folder's
        path = self.directory / "prometheus-password"
        path.touch(mode=0o600, exist_ok=True)
        path.chmod(0o600)
        path.write_text(MeshSecrets.from_settings(settings).prometheus_password)
        return path

    async def start(self) -> None:
        """Start Alertmanager, then Prometheus, and wait until both say they are ready."""
        self.check_installed()
        self.alertmanager.port = pick_port(self._wanted_ports["alertmanager"])
        self.prometheus.port = pick_port(self._wanted_ports["prometheus"])
        prometheus_config, alertmanager_config = self.render()
        data = self.directory / "data"
        await self._spawn(
            self.alertmanager,
            [
                str(self.tools_bin / "alertmanager"),
                f"--config.file={alertmanager_config}",
                f"--storage.path={data / 'alertmanager'}",
                f"--web.listen-address=127.0.0.1:{self.alertmanager.port}",
                "--cluster.listen-address=",  # a single instance: no gossip port
            ],
        )
        await self._spawn(
            self.prometheus,
            [
                str(self.tools_bin / "prometheus"),
                f"--config.file={prometheus_config}",
                f"--storage.tsdb.path={data / 'prometheus'}",
                "--storage.tsdb.retention.time=7d",
                f"--web.listen-address=127.0.0.1:{self.prometheus.port}",
                "--web.enable-lifecycle",  # POST /-/reload after editing the rendered configuration
            ],
        )

    async def _spawn(self, server: _Server, command: list[str]) -> None:
        with server.log_path.open("ab") as log:
            server.process = await asyncio.create_subprocess_exec(
                *command,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=log,
                stderr=asyncio.subprocess.STDOUT,
                cwd=self.directory,
                start_new_session=True,  # Ctrl-C reaches the supervisor only; it stops us in order
            )
        deadline = time.monotonic() + READY_TIMEOUT_SECONDS
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=2)) as http:
            while time.monotonic() < deadline:
                code = server.process.returncode
                if code is not None:
                    raise MonitoringError(f"{server.name} exited with {code}: {self._tail(server)}")
                with contextlib.suppress(aiohttp.ClientError, TimeoutError):
                    async with http.get(f"{server.url}/-/ready") as response:
                        if response.status == 200:
                            return
                await asyncio.sleep(0.2)
        raise MonitoringError(f"{server.name} not ready after {READY_TIMEOUT_SECONDS:.0f} s: {self._tail(server)}")

    @staticmethod
    def _tail(server: _Server) -> str:
        try:
            return server.log_path.read_text(errors="replace")[-2000:]
        except OSError:
            return "(no log)"

    async def stop(self) -> None:
        """Stop Prometheus, then Alertmanager (SIGTERM, then SIGKILL after a grace period)."""
        for server in (self.prometheus, self.alertmanager):
            process = server.process
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

    def table_rows(self) -> list[tuple[str, str, str]]:
        """(name, URL, health URL) rows for the status table."""
        return [
            ("prometheus", f"{self.prometheus_url}/", f"{self.prometheus_url}/-/healthy"),
            ("alertmanager", f"{self.alertmanager_url}/", f"{self.alertmanager_url}/-/healthy"),
        ]
