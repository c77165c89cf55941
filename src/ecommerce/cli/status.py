"""`ecommerce status`: what the registry knows, how each instance says it is doing, and what the local supervisor
(`ecommerce up` on this data folder) knows of each process: its state, restarts and uptime."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Annotated, Any

import aiohttp
import typer
from rich.table import Table

from ecommerce import components
from ecommerce.chassis import DEFAULT_PORTS, OPERATOR, MeshSecrets, ServiceSettings
from ecommerce.local.healing import SupervisorState, read_state, uptime
from ecommerce.local.terminal import uncut_console


def status(
    registry: Annotated[
        str, typer.Option(help="The registry's base URL.", envvar="DISCOVERY_URL")
    ] = f"http://127.0.0.1:{DEFAULT_PORTS['service-discovery']}/eureka/",
    data_dir: Annotated[
        Path, typer.Option(help="The data folder of the local `ecommerce up`.", envvar="ECOMMERCE_DATA_DIR")
    ] = Path(".data"),
) -> None:
    """Show every registered instance with its registry status and its own health (env: DISCOVERY_URL), and the
    local `ecommerce up`'s processes with their state, restarts and uptime."""
    out = uncut_console()
    local = read_state(data_dir)
    if local is not None:
        out.print(_local_table(local))
    rows, reachable = asyncio.run(_collect(registry.rstrip("/")))
    table = Table(title=f"Registry {registry}" + ("" if reachable else " (unreachable: local defaults shown)"))
    for column in ("component", "instance", "registry", "health", "url"):
        table.add_column(column)
    unhealthy = 0
    for row in rows:
        colour = "green" if row["health"] == "UP" else "red"
        unhealthy += row["health"] != "UP"
        table.add_row(row["name"], row["instance"], row["registry"], f"[{colour}]{row['health']}[/]", row["url"])
    out.print(table)
    raise typer.Exit(1 if unhealthy or not rows else 0)


def _local_table(state: SupervisorState) -> Table:
    table = Table(title=f"ecommerce up (pid {state.pid})")
    for column in ("component", "state", "pid", "restarts", "uptime", "url"):
        table.add_column(column, overflow="fold")
    for item in state.instances:
        colour = {"healthy": "green", "starting": "yellow", "restarting": "yellow"}.get(item.state, "red")
        table.add_row(
            item.name,
            f"[{colour}]{item.state}[/]",
            str(item.pid or "-"),
            str(item.restarts),
            uptime(item.started_at),
            item.url,
        )
    return table


async def _collect(registry: str) -> tuple[list[dict[str, str]], bool]:
    timeout = aiohttp.ClientTimeout(total=3)
    async with aiohttp.ClientSession(timeout=timeout) as http:
        instances, reachable = await _registered(http, registry)
        if not reachable:  # no registry: look at each component on its well-known local port
            instances = [
                {"name": name, "instance": "-", "registry": "-", "url": f"http://127.0.0.1:{DEFAULT_PORTS[name]}"}
                for name in components.names()
            ]
        healths = await asyncio.gather(*(_health(http, item) for item in instances))
    for item, health in zip(instances, healths, strict=True):
        item["health"] = health
    return instances, reachable


async def _registered(http: aiohttp.ClientSession, registry: str) -> tuple[list[dict[str, str]], bool]:
    # The registry answers components and operators only: as the operator (OPERATOR_PASSWORD, else the data folder's).
    password = MeshSecrets.from_settings(ServiceSettings()).operator_password
    headers = {"Accept": "application/json", "Authorization": aiohttp.encode_basic_auth(OPERATOR, password)}
    try:
        async with http.get(f"{registry}/apps", headers=headers) as response:
            if response.status != 200:  # 401: not this environment's operator password
                return [], False
            document: dict[str, Any] = await response.json()
    except (aiohttp.ClientError, TimeoutError, ValueError):
        return [], False
    rows = []
    for application in _as_list(document.get("applications", {}).get("application")):
        for instance in _as_list(application.get("instance")):
            port = instance.get("port", {})
            port_number = port.get("$") if isinstance(port, dict) else port
            rows.append(
                {
                    "name": application.get("name", "?").lower(),
                    "instance": instance.get("instanceId", "?"),
                    "registry": instance.get("status", "?"),
                    "url": f"http://{instance.get('ipAddr') or instance.get('hostName')}:{port_number}",
                }
            )
    return sorted(rows, key=lambda row: (row["name"], row["instance"])), True


async def _health(http: aiohttp.ClientSession, item: dict[str, str]) -> str:
    try:
        spec = components.load_spec(item["name"])
        base = spec.actuator_base
    except KeyError:
        base = "/actuator"
    try:
        async with http.get(f"{item['url']}{base}/health") as response:
            body = await response.json()
            return str(body.get("status", "UNKNOWN"))
    except (aiohttp.ClientError, TimeoutError, ValueError):
        return "UNREACHABLE"


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]
