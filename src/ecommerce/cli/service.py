"""Commands on one component: run, migrate, seed; and `up`/`status` for the whole shop."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Annotated

import typer
import uvloop
from rich.console import Console

from ecommerce import components
from ecommerce.chassis import (
    Database,
    ServiceSpec,
    create_app,
    load_settings,
    serve,
    server_options,
    sqlite_url,
    upgrade,
)

err = Console(stderr=True)


def _spec(name: str) -> ServiceSpec:
    try:
        return components.load_spec(name)
    except KeyError:
        err.print(f"[red]Unknown component '{name}'.[/] Known: {', '.join(components.names())}")
        raise typer.Exit(2) from None


Name = Annotated[str, typer.Argument(help="Component name, e.g. product-service.", show_default=False)]


def run(
    name: Name,
    host: Annotated[str, typer.Option(help="Address to listen on.", envvar="ECOMMERCE_HOST")] = "127.0.0.1",
    port: Annotated[
        int | None, typer.Option(help="Port; defaults to the component's own.", envvar="ECOMMERCE_PORT")
    ] = None,
) -> None:
    """Start one component and serve it until stopped (env: ECOMMERCE_HOST, ECOMMERCE_PORT)."""
    import os

    spec = _spec(name)
    if port:  # the settings read it: the instance registers the port it really listens on
        os.environ["ECOMMERCE_PORT"] = str(port)
    app = create_app(spec)
    serve(
        app,
        drain_seconds=app.state.settings.shutdown_drain_seconds,  # deregister and keep serving first (SIGTERM)
        host=host,
        port=port or spec.port,
        loop="uvloop",
        **server_options(spec.http_protocol),  # the HTTP limits every component serves with
        access_log=False,
        log_config=None,
        timeout_graceful_shutdown=10,
        server_header=False,
    )


def migrate(name: Name) -> None:
    """Apply the component's database migrations (env: DATABASE_URL, <SERVICE>_DATABASE_URL)."""
    spec = _spec(name)
    if spec.migrations is None:
        err.print(f"{name} has no database.")
        return
    asyncio.run(_with_database(spec, seed=False))
    err.print(f"[green]{name}: migrations applied[/]")


def seed(name: Name) -> None:
    """Migrate, then load the component's demo data into an empty database."""
    spec = _spec(name)
    if spec.migrations is None or spec.seed is None:
        err.print(f"{name} has no demo data.")
        return
    asyncio.run(_with_database(spec, seed=True))
    err.print(f"[green]{name}: demo data loaded[/]")


async def _with_database(spec: ServiceSpec, *, seed: bool) -> None:
    settings = load_settings(spec.settings_cls, spec.name)
    database = Database(settings.database_url or sqlite_url(settings.data_dir, spec.name), application=spec.name)
    try:
        assert spec.migrations is not None
        await upgrade(database, Path(spec.migrations))
        if seed and spec.seed is not None:
            async with database.sessionmaker() as session, session.begin():
                await spec.seed(session)
    finally:
        await database.dispose()


def up(
    only: Annotated[list[str] | None, typer.Option("--only", help="Start only these components (repeatable).")] = None,
    postgres: Annotated[
        str | None,
        typer.Option(help="Run on PostgreSQL: an admin URL, e.g. postgresql://postgres@127.0.0.1:5432/postgres."),
    ] = None,
    instances: Annotated[
        list[str] | None, typer.Option(help="More instances of a component, e.g. product-service=2 (repeatable).")
    ] = None,
    data_dir: Annotated[Path, typer.Option(help="Where SQLite files and logs go.", envvar="ECOMMERCE_DATA_DIR")] = Path(
        ".data"
    ),
    monitoring: Annotated[
        bool, typer.Option(help="Also start Prometheus and Alertmanager from .tools/bin (`make tools`).")
    ] = False,
    fork: Annotated[
        bool,
        typer.Option(
            "--fork/--no-fork",
            envvar="ECOMMERCE_UP_FORK",
            help="Fork every component from one process that imported them all once (less memory, faster start); "
            "--no-fork starts each as its own interpreter.",
        ),
    ] = True,
    verbose: Annotated[
        bool,
        typer.Option(
            "--verbose",
            "-v",
            help="Interleave every component's log lines on stdout; by default they go to <data-dir>/logs/ "
            "(`ecommerce logs`) and only warnings and errors reach the terminal.",
        ),
    ] = False,
) -> None:
    """Start the whole shop in order, wait until healthy, restart what crashes (Ctrl-C stops all).

    The terminal shows the components' states, the URL table, and warnings and errors; each component's log goes
    to <data-dir>/logs/<component>.log (`ecommerce logs [NAME] [-f]`).
    """
    from ecommerce.local.monitoring import INSTALL_HINT, LocalMonitoring, missing_tools
    from ecommerce.local.supervisor import Supervisor, parse_instances

    names = only or components.names()
    local_monitoring = None
    if monitoring:
        if missing := missing_tools():
            err.print(f"{' and '.join(missing)} not installed: {INSTALL_HINT}.", style="red", markup=False)
            raise typer.Exit(1)
        local_monitoring = LocalMonitoring(data_dir=data_dir, components=names)
    supervisor = Supervisor(
        names=names,
        instances=parse_instances(instances or []),
        data_dir=data_dir,
        postgres_admin_url=postgres,
        monitoring=local_monitoring,
        fork=fork,
        verbose=verbose,
    )
    # uvloop, as the components: under load the supervisor wakes for every component's log flush, and each turn
    # of the standard loop cost more than the relay's own work (bench/results/checkout.md).
    raise typer.Exit(uvloop.run(supervisor.run()))
