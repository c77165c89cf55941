"""The `ecommerce` command: run, migrate and seed one component, bring up the whole shop, and the operations
scripts' helpers (`components`, `kubeobj`, `canary`).

Each command group is imported only when it is called: the commands that run the shop import the chassis (FastAPI,
SQLAlchemy, aiohttp, OpenTelemetry: about two seconds on a busy machine), while the scripts call the small
`kubeobj`/`canary` helpers many times per run and need none of it. The root is click's documented lazy group
(`list_commands`/`get_command` overridden), which Typer accepts as its group class; bench/results/cli-startup.md
has the start-up times with and without it.
"""

from __future__ import annotations

import importlib

import click
import typer
from typer.core import TyperGroup

# name -> (module, attribute): a Typer app (a command group) or a function (one command).
COMMANDS: dict[str, tuple[str, str]] = {
    "run": ("ecommerce.cli.service", "run"),
    "migrate": ("ecommerce.cli.service", "migrate"),
    "seed": ("ecommerce.cli.service", "seed"),
    "up": ("ecommerce.cli.service", "up"),
    "status": ("ecommerce.cli.status", "status"),
    "logs": ("ecommerce.cli.logs", "logs"),
    "reconcile": ("ecommerce.cli.reconcile", "reconcile"),
    "loadgen": ("ecommerce.cli.loadgen", "loadgen"),
    "db": ("ecommerce.cli.db", "app"),
    "backup": ("ecommerce.cli.db", "backup_command"),
    "restore": ("ecommerce.cli.db", "restore_command"),
    "components": ("ecommerce.cli.components", "app"),
    "kubeobj": ("ecommerce.cli.kubeobj", "app"),
    "canary": ("ecommerce.cli.canary", "app"),
}


_COMPLETION = ("install_completion", "show_completion")


class LazyGroup(TyperGroup):
    """The root group: lists every command, imports a command's module only when that command is looked up."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return [*super().list_commands(ctx), *COMMANDS]

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in COMMANDS:
            return super().get_command(ctx, cmd_name)
        module, attribute = COMMANDS[cmd_name]
        target = getattr(importlib.import_module(module), attribute)
        if not isinstance(target, typer.Typer):
            single = typer.Typer(pretty_exceptions_enable=False, add_completion=False)
            single.command(cmd_name)(target)
            target = single
        command = typer.main.get_command(target)
        command.name = cmd_name
        # Shell completion is installed from the root only.
        command.params = [param for param in command.params if param.name not in _COMPLETION]
        return command


app = typer.Typer(
    name="ecommerce",
    cls=LazyGroup,
    help="Run the shop's components locally, one or all of them; the operations scripts' helpers.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)


@app.callback()
def _root() -> None:
    """Run the shop's components locally, one or all of them; the operations scripts' helpers."""


def main() -> None:
    """Console-script entry point."""
    app()
