"""payment-service: one payment per order, moved through a state machine that drives the order's status."""

from pathlib import Path

from ecommerce.chassis import ServiceSpec
from ecommerce.services.payments.router import root_router, router
from ecommerce.services.payments.seed import seed

SPEC = ServiceSpec(
    name="payment-service",
    port=8400,
    context_path="/payment-service",
    description="Payments: NOT_STARTED -> IN_PROGRESS -> COMPLETED or FAILED.",
    routers=(root_router, router),
    migrations=Path(__file__).parent / "migrations",
    seed=seed,
)
