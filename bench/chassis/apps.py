"""The apps compared by the chassis benchmark: the same endpoint bare and on the chassis."""

from __future__ import annotations

import os

from fastapi import APIRouter, FastAPI

from ecommerce.chassis import ServiceSettings, ServiceSpec, create_app

router = APIRouter()


@router.get("/ping")
async def ping() -> dict[str, bool]:
    return {"ok": True}


def bare() -> FastAPI:
    """FastAPI with the endpoint and nothing else."""
    app = FastAPI(telemetry={"tracing": False, "metrics": False, "logs": False, "operation_spans": False})
    app.include_router(router, prefix="/bench")
    return app


def chassis() -> FastAPI:
    """The endpoint on the chassis: metrics, JSON access log, and tracing when an OTLP endpoint is set."""
    spec = ServiceSpec(name="bench-service", port=0, context_path="/bench", routers=(router,))
    settings = ServiceSettings(
        otel_endpoint=os.environ.get("BENCH_OTLP") or None,
        trace_sampling_ratio=float(os.environ.get("BENCH_SAMPLING", "0.1")),
        access_log=os.environ.get("BENCH_ACCESS_LOG", "1") == "1",
    )
    return create_app(spec, settings)
