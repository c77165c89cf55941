"""The `ecommerce` command: run, migrate and seed one component, or bring up the whole shop."""

from __future__ import annotations

import typer

from ecommerce.cli import service

app = typer.Typer(
    name="ecommerce",
    help="Run the shop's components locally, one or all of them.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
service.register(app)


def main() -> None:
    """Console-script entry point."""
    app()
