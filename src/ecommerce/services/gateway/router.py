"""`GET /actuator/gateway/routes`: the route table as the gateway runs it, with each instance's breaker state."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

from ecommerce.chassis import ManagementCaller

# Management: the chassis' one guard (operators only; Prometheus may only scrape), like every other actuator.
router = APIRouter(prefix="/actuator/gateway", tags=["actuator"], dependencies=[ManagementCaller])


@router.get("/routes")
async def routes(request: Request) -> list[dict[str, Any]]:
    """Spring Cloud Gateway's shape (`route_id`, `uri`, `predicate`, `order`) plus our per-route settings."""
    gateway = request.app.state.gateway
    circuits = gateway.upstreams.states()
    answer = []
    for order, route in enumerate(gateway.routes.values()):
        answer.append(
            {
                "route_id": route.id,
                "uri": ", ".join(route.urls) if route.urls else f"lb://{route.service.upper()}",
                "predicate": f"Paths: [{route.path}], match trailing slash: true",
                "order": order,
                "filters": [],
                "service": route.service,
                "timeoutSeconds": route.read_timeout,
                "connectTimeoutSeconds": route.connect_timeout,
                "retries": route.retries,
                "maxBodyBytes": route.max_body_bytes,
                "rateLimit": {"rate": route.rate, "burst": route.burst} if route.rate else None,
                "circuits": {u: s for u, s in circuits.items() if u in route.urls or not route.urls},
            }
        )
    return answer
