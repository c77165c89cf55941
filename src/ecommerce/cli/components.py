"""`ecommerce components list|render`: the one table of components, and the files generated from it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from ecommerce import components
from ecommerce.ops import derived

app = typer.Typer(help="The component table (ecommerce/components.py) and the files generated from it.")
err = Console(stderr=True)

RootOption = Annotated[
    Path,
    typer.Option(
        "--root", help="The checkout holding the generated files (env: ECOMMERCE_ROOT).", envvar="ECOMMERCE_ROOT"
    ),
]


@app.command("list")
def list_components(
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object per component, in start order.")] = False,
) -> None:
    """Print every component: name, port, context path, tier, database, module (start order)."""
    if as_json:
        for component in components.TABLE:
            database = component.database
            row = {
                "name": component.name,
                "port": component.port,
                "contextPath": component.context_path,
                "actuatorBase": component.actuator_base,
                "tier": component.tier,
                "database": None if database is None else {"name": database.name, "username": database.username},
                "module": component.module,
            }
            typer.echo(json.dumps(row))
        return
    table = Table("name", "port", "context path", "tier", "database", "module")
    for component in components.TABLE:
        database = component.database.name if component.database is not None else "-"
        path = component.context_path or "/"
        table.add_row(component.name, str(component.port), path, component.tier, database, component.module)
    Console(width=200).print(table)


@app.command()
def render(
    root: RootOption = Path("."),
    check: Annotated[bool, typer.Option("--check", help="Change nothing; exit 1 when a file is stale.")] = False,
) -> None:
    """Regenerate the chart's files/components.yaml, scripts/lib/components.sh and the gateway routes' block."""
    if check:
        stale = derived.stale(root)
        for path in stale:
            err.print(f"stale: {path} (run `ecommerce components render`)")
        raise typer.Exit(1 if stale else 0)
    for path in derived.write(root):
        err.print(f"rewrote {path}")
