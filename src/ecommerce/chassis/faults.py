"""A fault-injection switch per service: added latency and a share of failed requests, for demos and chaos tests.

`POST <actuator base>/faults {"latencyMs": 200, "errorRate": 0.5, "errorStatus": 503}` turns it on, `GET` shows
it, `DELETE` turns it off. It is off at start, refused in the prod profile (403), and only the operator's HTTP
Basic credential (actuator.management_guard, like every management endpoint) may touch it. The actuator itself
is never slowed down or failed, so the switch can always be reset and the probes keep telling the truth about
the process.

When off it costs the per-request layer one attribute read.
"""

from __future__ import annotations

import asyncio
import random
from dataclasses import dataclass
from typing import Annotated, Any

import structlog
from fastapi import APIRouter, Depends, FastAPI, Request
from prometheus_client import Gauge
from pydantic import Field
from starlette.types import Receive, Scope, Send

from ecommerce.chassis.actuator import management_guard
from ecommerce.chassis.errors import Forbidden, error_response
from ecommerce.chassis.wire import ApiModel

log = structlog.get_logger("ecommerce.faults")

ALLOWED_PROFILES = frozenset({"dev", "qa"})

FAULTS_ACTIVE = Gauge(
    "fault_injection_active", "1 while the fault-injection switch is on, else 0", ["application", "kind"]
)


class FaultSettings(ApiModel):
    """What the switch injects; zero everywhere means off."""

    latency_ms: int = Field(0, ge=0, le=60_000)
    error_rate: float = Field(0.0, ge=0.0, le=1.0)
    error_status: int = Field(500, ge=500, le=599)


@dataclass(slots=True)
class FaultSwitch:
    """The live setting read by the middleware; `active` is False unless something is injected."""

    application: str
    exempt_prefixes: tuple[str, ...]
    latency: float = 0.0
    error_rate: float = 0.0
    error_status: int = 500
    active: bool = False

    def set(self, wanted: FaultSettings) -> None:
        self.latency = wanted.latency_ms / 1000
        self.error_rate = wanted.error_rate
        self.error_status = wanted.error_status
        self.active = self.latency > 0 or self.error_rate > 0
        FAULTS_ACTIVE.labels(self.application, "latency").set(1 if self.latency > 0 else 0)
        FAULTS_ACTIVE.labels(self.application, "error").set(1 if self.error_rate > 0 else 0)

    def clear(self) -> None:
        self.set(FaultSettings())

    def describe(self) -> FaultSettings:
        return FaultSettings(
            latency_ms=round(self.latency * 1000), error_rate=self.error_rate, error_status=self.error_status
        )

    def applies_to(self, path: str) -> bool:
        """True when the switch is on and `path` is outside the actuator."""
        return self.active and not path.startswith(self.exempt_prefixes)

    async def inject(self, scope: Scope, receive: Receive, send: Send) -> bool:
        """Delay the request and maybe answer it with the injected error; True when it was answered here."""
        if self.latency > 0:
            await asyncio.sleep(self.latency)
        if self.error_rate > 0 and random.random() < self.error_rate:
            await error_response(scope, self.error_status, "Injected fault")(scope, receive, send)
            return True
        return False


def install_faults(app: FastAPI, application: str, actuator_base: str) -> FaultSwitch:
    """Create the app's switch (`app.state.faults`) and its actuator endpoints; the chassis' per-request layer
    (telemetry.TelemetryMiddleware) consults the switch."""
    exempt = tuple(dict.fromkeys((f"{actuator_base}/", "/actuator/")))
    switch = app.state.faults = FaultSwitch(application, exempt)
    app.include_router(faults_router(), prefix=actuator_base)
    return switch


async def _authorize(request: Request) -> None:
    settings = request.app.state.settings
    profile = getattr(settings, "profile", "prod")
    await management_guard(request)  # 401 or 403 before anything is said about the profile
    if profile not in ALLOWED_PROFILES:
        raise Forbidden(f"Fault injection is disabled in the {profile} profile")


def _switch_of(request: Request) -> FaultSwitch:
    switch: FaultSwitch = request.app.state.faults
    return switch


Switch = Annotated[FaultSwitch, Depends(_switch_of)]


def faults_router() -> APIRouter:
    """`GET|POST|DELETE /faults` under the actuator base."""
    router = APIRouter(tags=["actuator"], dependencies=[Depends(_authorize)])

    @router.get("/faults")
    async def show(switch: Switch) -> FaultSettings:
        return switch.describe()

    @router.post("/faults")
    async def change(wanted: FaultSettings, switch: Switch) -> FaultSettings:
        switch.set(wanted)
        log.warning("faults_set", **_fields(wanted))
        return switch.describe()

    @router.delete("/faults")
    async def clear(switch: Switch) -> FaultSettings:
        switch.clear()
        log.info("faults_cleared")
        return switch.describe()

    return router


def _fields(wanted: FaultSettings) -> dict[str, Any]:
    return {"latency_ms": wanted.latency_ms, "error_rate": wanted.error_rate, "error_status": wanted.error_status}
