"""`ecommerce loadgen`: play shoppers against a running shop with Locust, headless with a live summary or with
Locust's web UI; headless, it is the smoke gate a deploy runs after a release.

The command replaces itself (exec) with `python -m locust -f ecommerce/loadgen/shoppers.py ...`: Locust
monkey-patches the standard library for gevent when it is imported, which must happen first in its own process,
and exec keeps one process, so Ctrl-C, SIGTERM (Kubernetes) and the exit code reach Locust directly.
"""

from __future__ import annotations

import os
import sys
from typing import Annotated

import typer

from ecommerce import components
from ecommerce.loadgen import LOCUSTFILE


def loadgen(
    users: Annotated[int, typer.Option(min=1, max=1000, help="Concurrent shoppers.", envvar="LOADGEN_USERS")] = 5,
    rate: Annotated[
        float,
        typer.Option(min=0.01, help="Shopper actions per second, spread over the shoppers.", envvar="LOADGEN_RATE"),
    ] = 5.0,
    duration: Annotated[
        int,
        typer.Option(min=0, help="Seconds to run; 0 runs until stopped.", envvar="LOADGEN_DURATION"),
    ] = 0,
    storefront: Annotated[
        str, typer.Option(help="proxy-client's base URL (/app/api).", envvar="LOADGEN_STOREFRONT")
    ] = f"http://127.0.0.1:{components.get('proxy-client').port}",
    gateway: Annotated[
        str, typer.Option(help="api-gateway's base URL (catalog reads).", envvar="LOADGEN_GATEWAY")
    ] = f"http://127.0.0.1:{components.get('api-gateway').port}",
    accounts: Annotated[
        str | None,
        typer.Option(
            help="user:password,... to sign in with (default: the dev profile's demo customers; '' browses only).",
            envvar="LOADGEN_ACCOUNTS",
            show_default=False,
        ),
    ] = None,
    headless: Annotated[
        bool,
        typer.Option(
            "--headless/--web-ui",
            help="Headless: live stats in the terminal and the smoke gate's exit code. Web UI: Locust's page.",
            envvar="LOADGEN_HEADLESS",
        ),
    ] = True,
    min_requests: Annotated[
        int,
        typer.Option(
            min=0, help="Headless: exit 1 unless at least this many requests were made.", envvar="LOADGEN_MIN_REQUESTS"
        ),
    ] = 1,
    web_port: Annotated[int, typer.Option(help="Web UI port (on 127.0.0.1).", envvar="LOADGEN_WEB_PORT")] = 8089,
    stats_json: Annotated[
        str | None,
        typer.Option(help="Write the final per-request stats as JSON to this file.", envvar="LOADGEN_STATS_JSON"),
    ] = None,
) -> None:
    """Play shoppers against a running shop (env: LOADGEN_*); headless, exit 1 when any request failed."""
    argv = locust_argv(
        users=users,
        rate=rate,
        duration=duration,
        storefront=storefront,
        gateway=gateway,
        accounts=accounts,
        headless=headless,
        min_requests=min_requests,
        web_port=web_port,
        stats_json=stats_json,
    )
    sys.stdout.flush()
    sys.stderr.flush()
    os.execv(sys.executable, argv)


def locust_argv(
    *,
    users: int,
    rate: float,
    duration: int,
    storefront: str,
    gateway: str,
    accounts: str | None,
    headless: bool,
    min_requests: int,
    web_port: int,
    stats_json: str | None,
) -> list[str]:
    """The Locust command line for these options (its own options, and those shoppers.py adds)."""
    argv = [sys.executable, "-m", "locust", "-f", str(LOCUSTFILE), "--config", os.devnull]
    argv += ["--host", storefront.rstrip("/"), "--gateway", gateway.rstrip("/"), "--rate", str(rate)]
    # Every shopper starts within the first second; a run that is stopped lets actions in flight finish.
    argv += ["--users", str(users), "--spawn-rate", str(users), "--stop-timeout", "10"]
    if accounts is not None:
        argv += ["--accounts", accounts]
    if duration:
        argv += ["--run-time", f"{duration}s"]
    if headless:
        argv += ["--headless", "--min-requests", str(min_requests)]
    else:
        argv += ["--web-host", "127.0.0.1", "--web-port", str(web_port), "--autostart"]
    if stats_json:  # Locust adds ".json" to the name it is given
        argv += ["--json-file", stats_json.removesuffix(".json")]
    return argv
