"""`ecommerce reconcile`: run the shop's reconcilers now, in the services that own them, and show what they did.

It asks each running owner (`POST <context>/actuator/reconcile`) with the operator's credential instead of opening
the databases itself, because:
- a repair is a service's own act: it re-publishes through that service's outbox, calls its peers with that
  service's identity, and follows that service's rules and locks (it never runs beside the service's own periodic
  run);
- the found and repaired counts land in the metrics Prometheus already scrapes from the services, so the alert
  sees an on-demand run like any other;
- it needs one credential, the operator's, in both places an operator works: with `make up` the data folder
  holds it and the services answer on their local ports; on Kubernetes each database has its own Secret, and
  `kubectl exec deploy/order-service -- ecommerce reconcile` (with `PEERS_BY_DNS=true`, the pods' setting) reaches
  every owner by its Service name with the OPERATOR_PASSWORD the pod already has.
Each owner is found as the services find each other: `--url NAME=URL`, else ECOMMERCE_PEERS, else its Service
name (PEERS_BY_DNS) or 127.0.0.1 on its own port. Exit status 1 when a run failed or a divergence was left.
"""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

import aiohttp
import typer
from rich.console import Console
from rich.table import Table

from ecommerce import components
from ecommerce.chassis import DEFAULT_PORTS, OPERATOR, MeshSecrets, ServiceSettings

# The services that own a reconciler (chassis/reconcile.py), in the order they run.
OWNERS = ("payment-service", "shipping-service", "order-service")
out = Console()


def reconcile(
    service: Annotated[
        list[str] | None, typer.Option("--service", "-s", help="Only this owner (repeatable).", show_default=False)
    ] = None,
    url: Annotated[
        list[str] | None, typer.Option(help="Where an owner answers, NAME=URL (repeatable).", show_default=False)
    ] = None,
    grace_seconds: Annotated[
        float | None,
        typer.Option(min=0, help="Count rows changed at least this long ago (default: each service's setting)."),
    ] = None,
) -> None:
    """Find and repair divergence between the shop's services now (orders, payments, shipments, reservations)."""
    names = tuple(service or OWNERS)
    unknown = sorted(set(names) - set(OWNERS))
    if unknown:
        out.print(f"[red]Not a reconciler's owner: {', '.join(unknown)}.[/] Owners: {', '.join(OWNERS)}")
        raise typer.Exit(2)
    overrides = dict(item.split("=", 1) for item in url or () if "=" in item)
    settings = ServiceSettings()
    answers = asyncio.run(_ask_all(settings, names, overrides, grace_seconds))
    table = Table(title="Reconcilers")
    for column in ("service", "pair", "kind", "found", "repaired"):
        table.add_column(column)
    left = False
    for name, results in answers.items():
        for result in results:
            if result.get("error"):
                left = True
                table.add_row(name, result.get("pair", "-"), f"[red]run failed: {result['error']}[/]", "-", "-")
                continue
            found, repaired = result.get("found", {}), result.get("repaired", {})
            if not found:
                table.add_row(name, result["pair"], "[green]in agreement[/]", "0", "0")
            for kind, count in sorted(found.items()):
                fixed = repaired.get(kind, 0)
                left = left or fixed < count
                colour = "green" if fixed == count else "red"
                table.add_row(name, result["pair"], kind, str(count), f"[{colour}]{fixed}[/]")
    out.print(table)
    raise typer.Exit(1 if left else 0)


def owner_url(settings: ServiceSettings, name: str, overrides: dict[str, str]) -> str:
    """Where the owner `name` answers (the same order of look-ups as the services' own peer calls, no registry)."""
    if name in overrides:
        return overrides[name].rstrip("/")
    if name in settings.peers:
        return settings.peers[name].rstrip("/")
    host = name if settings.peers_by_dns else "127.0.0.1"
    return f"http://{host}:{DEFAULT_PORTS[name]}"


async def _ask_all(
    settings: ServiceSettings, names: tuple[str, ...], overrides: dict[str, str], grace: float | None
) -> dict[str, list[dict[str, Any]]]:
    password = MeshSecrets.from_settings(settings).operator_password
    headers = {"Authorization": aiohttp.encode_basic_auth(OPERATOR, password)}
    params = {"graceSeconds": str(grace)} if grace is not None else {}
    timeout = aiohttp.ClientTimeout(total=300)
    answers: dict[str, list[dict[str, Any]]] = {}
    async with aiohttp.ClientSession(timeout=timeout, headers=headers) as http:
        for name in names:
            context = components.load_spec(name).actuator_base
            target = f"{owner_url(settings, name, overrides)}{context}/reconcile"
            try:
                async with http.post(target, params=params) as response:
                    body = await response.json(content_type=None)
                    if response.status != 200:
                        message = body.get("msg") if isinstance(body, dict) else None
                        raise RuntimeError(f"{response.status} {message or ''}".strip())
                    answers[name] = list(body.get("results", []))
            except (aiohttp.ClientError, TimeoutError, ValueError, RuntimeError) as exc:
                answers[name] = [{"pair": "-", "error": f"{target}: {type(exc).__name__} {exc}"[:300]}]
    return answers
