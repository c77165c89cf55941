"""`ecommerce canary gate|service|ingress`: canary-deploy.sh's gate and its edge canary objects.

The logic is in ecommerce/ops/canary.py (the gate's queries and verdict) and ecommerce/ops/edge_canary.py (the
canary Service and nginx canary Ingress of an edge component).
"""

from __future__ import annotations

import json
import sys
from typing import Annotated

import typer

from ecommerce.cli.kubeobj import labels_of, print_json
from ecommerce.ops import canary as gate_ops
from ecommerce.ops import edge_canary

app = typer.Typer(help="The canary gate (Prometheus) and the edge canary's Service and Ingress (JSON on stdin).")


@app.command()
def gate(
    prometheus: Annotated[str, typer.Option(help="Prometheus' base URL.")],
    service: Annotated[str, typer.Option(help="The component under canary.")],
    namespace: Annotated[str, typer.Option(help="Its namespace.")],
    window: Annotated[str, typer.Option(help="The rate window, in PromQL.")] = "2m",
    max_error_delta: Annotated[float, typer.Option(help="Error rate the canary may add to the stable's.")] = 0.01,
    max_latency_ratio: Annotated[float, typer.Option(help="Canary p95 / stable p95 allowed.")] = 1.5,
    latency_floor: Annotated[float, typer.Option(help="p95 below this many seconds always passes.")] = 0.25,
) -> None:
    """Compare the canary's error rate and p95 with the stable track's: exit 0 pass, 1 fail, 2 no Prometheus."""
    common = {"service": service, "namespace": namespace, "window": window}
    try:
        canary = gate_ops.track_stats(prometheus, canary=True, **common)
        stable = gate_ops.track_stats(prometheus, canary=False, **common)
    except (OSError, RuntimeError, ValueError, KeyError) as error:
        typer.echo(f"gate: cannot query Prometheus at {prometheus}: {error}", err=True)
        raise typer.Exit(2) from None
    for name, stats in (("stable", stable), ("canary", canary)):
        typer.echo(
            f"gate: {name:<6} rps={_fmt(stats.requests_per_second)} errors={_fmt(stats.error_rate, 100, '%')} "
            f"p95={_fmt(stats.p95_seconds, 1000, 'ms')}"
        )
    reasons = gate_ops.judge(
        canary,
        stable,
        max_error_delta=max_error_delta,
        max_latency_ratio=max_latency_ratio,
        latency_floor=latency_floor,
    )
    if reasons:
        typer.echo("gate: FAIL: " + "; ".join(reasons))
        raise typer.Exit(1)
    typer.echo("gate: pass (no canary traffic measured yet)" if canary.requests_per_second is None else "gate: pass")


@app.command("service")
def canary_service(
    name: Annotated[str, typer.Option(help="The canary Service's name.")],
    label: Annotated[list[str] | None, typer.Option(help="key=value, a label of the canary pods (repeatable).")] = None,
) -> None:
    """The canary Service from the stable Service on stdin; exit 1 when the stable one would select the canary."""
    try:
        print_json(edge_canary.canary_service(json.load(sys.stdin), name=name, pod_labels=labels_of(label)))
    except ValueError as error:
        typer.echo(f"canary: {error}", err=True)
        raise typer.Exit(1) from None


@app.command("ingress")
def canary_ingress(
    service: Annotated[str, typer.Option(help="The stable Service the Ingresses route to.")],
    name: Annotated[str, typer.Option(help="The canary Service (and Ingress) name.")],
    weight: Annotated[int, typer.Option(help="Percent of the requests sent to the canary, 0..100.")],
) -> None:
    """The nginx canary Ingress from the Ingresses on stdin (`kubectl get ingress -o json`); exit 1 when none."""
    try:
        print_json(edge_canary.canary_ingress(json.load(sys.stdin), service=service, name=name, weight=weight))
    except ValueError as error:
        typer.echo(f"canary: {error}", err=True)
        raise typer.Exit(1) from None


def _fmt(value: float | None, scale: float = 1.0, unit: str = "") -> str:
    return "no data" if value is None else f"{value * scale:.3f}{unit}"
