"""payment-service: one payment per order, moved through a state machine that drives the order's status."""

from pathlib import Path

from ecommerce import components
from ecommerce.chassis import ServiceSpec, outbox_extension, outbox_reconciler, reconcile_extension, reconcile_router
from ecommerce.services.payments import events, reconcile
from ecommerce.services.payments.models import outbox
from ecommerce.services.payments.router import root_router, router
from ecommerce.services.payments.seed import seed

SPEC = ServiceSpec(
    **components.placement("payment-service"),  # name, port and context path: the component table
    description="Payments: NOT_STARTED -> IN_PROGRESS -> COMPLETED or FAILED.",
    routers=(root_router, router, events.router, reconcile_router()),
    migrations=Path(__file__).parent / "migrations",
    seed=seed,
    extensions=(outbox_extension(outbox), reconcile_extension(reconcile.RECONCILER, outbox_reconciler(outbox))),
)
