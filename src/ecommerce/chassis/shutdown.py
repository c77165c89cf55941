"""Graceful start and shutdown: join the registry once listening; on stop, leave it first, keep serving while the
clients' copies of it refresh, then stop.

uvicorn, told to stop, closes its listening socket at once and runs the application's shutdown (where the
registry client deregisters) only after the last connection ended. For the callers that is the wrong order: their
registry copies still list the instance, so for up to a fetch interval they send it requests it refuses. Here the
first SIGTERM or SIGINT instead deregisters the instance (and turns readiness false), keeps answering in-flight and
newly arriving requests for `shutdown_drain_seconds`, and only then lets uvicorn stop as it always did. A second
signal stops at once. Kubernetes does the same in the chart's preStop hook (OUT_OF_SERVICE, then `drainSeconds`),
so there the setting is 0; Docker and `docker compose` have no such hook and use the setting.
"""

from __future__ import annotations

import asyncio
import signal
from types import FrameType
from typing import Any

import structlog
import uvicorn

log = structlog.get_logger("ecommerce.shutdown")


class DrainingServer(uvicorn.Server):
    """uvicorn's server with a drain period between the stop signal and the listener's close."""

    def __init__(self, config: uvicorn.Config, *, app: Any, drain_seconds: float) -> None:
        super().__init__(config)
        self.app = app  # the FastAPI app: its state holds the registry client and the draining flag
        self.drain_seconds = drain_seconds
        self.draining: asyncio.Task[None] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        # The registry client registers once this is set (chassis/discovery.py): after the socket is open.
        self.listening = app.state.listening = asyncio.Event()

    async def startup(self, sockets: Any = None) -> None:
        self._loop = asyncio.get_running_loop()
        await super().startup(sockets)
        if self.started:
            self.listening.set()

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        loop = self._loop
        if self.drain_seconds <= 0 or self.draining is not None or loop is None or not self.started:
            if self.draining is not None:
                self.force_exit = sig == signal.SIGINT
            super().handle_exit(sig, frame)  # no drain, a second signal, or not serving yet: stop now
            return
        self._captured_signals.append(sig)  # re-raised by uvicorn once it stopped, as for its own handling
        self.draining = loop.create_task(self.drain())

    async def drain(self) -> None:
        """Deregister, keep serving `drain_seconds`, then stop."""
        state = self.app.state
        state.draining = True  # readiness answers 503 from now on
        registry = getattr(state, "_state", {}).get("registry")
        log.info("draining", seconds=self.drain_seconds)
        if registry is not None:
            try:
                await registry.deregister()
            except Exception as exc:  # noqa: BLE001 - drain anyway; the lease expires by itself
                log.warning("deregistration failed; draining anyway", error=repr(exc)[:200])
        await asyncio.sleep(self.drain_seconds)
        self.should_exit = True


def serve(app: Any, *, drain_seconds: float, **options: Any) -> None:
    """`uvicorn.run(app, **options)`, with the drain on the first stop signal."""
    config = uvicorn.Config(app, **options)
    server = DrainingServer(config, app=app, drain_seconds=drain_seconds)
    server.run()
