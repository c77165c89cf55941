"""The `ecommerce` command: run, migrate and seed one component, or bring up the whole shop."""

from __future__ import annotations

import typer

from ecommerce.cli import db as db_cli
from ecommerce.cli import service
from ecommerce.cli.loadgen import loadgen
from ecommerce.cli.logs import logs
from ecommerce.cli.reconcile import reconcile
from ecommerce.cli.status import status

app = typer.Typer(
    name="ecommerce",
    help="Run the shop's components locally, one or all of them.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
service.register(app)
app.command()(status)
app.command()(logs)
app.command()(reconcile)
app.command()(loadgen)
app.add_typer(db_cli.app, name="db")
app.command("backup")(db_cli.backup_command)
app.command("restore")(db_cli.restore_command)


def main() -> None:
    """Console-script entry point."""
    app()
