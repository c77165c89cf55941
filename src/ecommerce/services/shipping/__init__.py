"""shipping-service: the items of each order (the original's "shippings") and the order's shipment status."""

from pathlib import Path

from ecommerce import components
from ecommerce.chassis import ServiceSpec, outbox_extension, outbox_reconciler, reconcile_extension, reconcile_router
from ecommerce.services.shipping import events, reconcile
from ecommerce.services.shipping.models import outbox
from ecommerce.services.shipping.router import root_router, router
from ecommerce.services.shipping.seed import seed

SPEC = ServiceSpec(
    **components.placement("shipping-service"),  # name, port and context path: the component table
    description="Order items and shipments: PENDING -> SHIPPED -> DELIVERED.",
    routers=(root_router, router, events.router, reconcile_router()),
    migrations=Path(__file__).parent / "migrations",
    seed=seed,
    extensions=(outbox_extension(outbox), reconcile_extension(reconcile.RECONCILER, outbox_reconciler(outbox))),
)
