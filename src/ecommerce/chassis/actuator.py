"""Spring-Boot-style actuator: health (with liveness and readiness groups), info, prometheus, refresh.

Health is public (probes and load balancers ask it). Everything else is management and answers only HTTP Basic
credentials (identity.py): the operator may use every endpoint, Prometheus may only GET `/prometheus`; anyone else
gets 401, a component 403. `management_guard` is the one guard; every component's own management routes (the
gateway's route dump, the fault switch) declare it too.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, Depends, FastAPI, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, generate_latest

import ecommerce
from ecommerce.chassis.errors import Forbidden, Unauthorized
from ecommerce.chassis.identity import Caller, MeshSecrets, caller_from_basic

_BASIC_CHALLENGE = {"WWW-Authenticate": 'Basic realm="management"'}
_SCRAPE_METHODS = frozenset({"GET", "HEAD"})


async def management_guard(request: Request) -> Caller:
    """The operator, or Prometheus on `GET .../prometheus`; 401 without valid credentials, 403 for anyone else."""
    secrets: MeshSecrets = request.app.state.mesh_secrets
    caller = caller_from_basic(secrets, request.headers.get("authorization"))
    if caller is None:
        msg = "Management endpoints need the operator's or Prometheus' credentials"
        raise Unauthorized(msg, headers=_BASIC_CHALLENGE)
    if caller.is_operator:
        return caller
    if caller.kind == "prometheus" and request.method in _SCRAPE_METHODS and request.url.path.endswith("/prometheus"):
        return caller
    raise Forbidden(f"{caller.name} may not use this management endpoint")


ManagementCaller = Depends(management_guard)


@dataclass(frozen=True)
class HealthCheck:
    """A named component of `/health`; `readiness` ones also decide whether traffic may come."""

    name: str
    probe: Callable[[], Awaitable[dict[str, Any]]]
    readiness: bool = True


def add_health_check(app: FastAPI, check: HealthCheck) -> None:
    """Register a component shown by `/health` (and `/health/readiness` when it gates readiness)."""
    app.state.health_checks.append(check)


def add_refresher(app: FastAPI, refresher: Callable[[], Awaitable[list[str]]]) -> None:
    """Register what `POST /actuator/refresh` reloads; each returns the names of the settings it changed."""
    app.state.refreshers.append(refresher)


async def _run_checks(app: FastAPI, *, readiness_only: bool) -> tuple[bool, dict[str, Any]]:
    checks = [c for c in app.state.health_checks if c.readiness or not readiness_only]
    results = await asyncio.gather(*(_safe(c) for c in checks))
    components = {c.name: result for c, result in zip(checks, results, strict=True)}
    healthy = all(result["status"] == "UP" for result in results)
    return healthy, components


async def _safe(check: HealthCheck) -> dict[str, Any]:
    try:
        return await asyncio.wait_for(check.probe(), timeout=3)
    except Exception as exc:  # a failing probe is a DOWN component, never a 500
        return {"status": "DOWN", "details": {"error": type(exc).__name__}}


def _health_response(healthy: bool, components: dict[str, Any] | None = None) -> JSONResponse:
    body: dict[str, Any] = {"status": "UP" if healthy else "DOWN"}
    if components is not None:
        body["components"] = components
    return JSONResponse(body, status_code=200 if healthy else 503)


def health_router() -> APIRouter:
    """The three health endpoints, mounted under the actuator base and at the root."""
    router = APIRouter(tags=["actuator"])

    @router.get("/health")
    async def health(request: Request) -> JSONResponse:
        healthy, components = await _run_checks(request.app, readiness_only=False)
        components["ping"] = {"status": "UP"}
        return _health_response(healthy, components)

    @router.get("/health/liveness")
    async def liveness() -> JSONResponse:
        return _health_response(True)

    @router.get("/health/readiness")
    async def readiness(request: Request) -> JSONResponse:
        if request.app.state.draining:
            return _health_response(False, {"shutdown": {"status": "DOWN"}})
        healthy, components = await _run_checks(request.app, readiness_only=True)
        return _health_response(healthy, components)

    return router


def actuator_router() -> APIRouter:
    """The full actuator: health (public), and info, prometheus and refresh behind the management guard."""
    router = health_router()
    router.include_router(_management_router())
    return router


def _management_router() -> APIRouter:
    router = APIRouter(tags=["actuator"], dependencies=[ManagementCaller])

    @router.get("/info")
    async def info(request: Request) -> dict[str, Any]:
        settings = request.app.state.settings
        return {
            "app": {"name": request.app.state.spec.name, "version": ecommerce.__version__},
            "git": {"commit": settings.git_commit},
            "profile": settings.profile,
        }

    @router.get("/prometheus", response_class=Response, responses={200: {"content": {CONTENT_TYPE_LATEST: {}}}})
    async def prometheus() -> Response:
        return Response(generate_latest(REGISTRY), media_type=CONTENT_TYPE_LATEST)

    @router.post("/refresh")
    async def refresh(request: Request) -> list[str]:
        changed: list[str] = []
        for refresher in request.app.state.refreshers:
            changed.extend(await refresher())
        return changed

    return router
