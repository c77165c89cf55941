"""order-service: carts, orders with a status and priced lines, and the checkout across the shop."""

from pathlib import Path

from ecommerce import components
from ecommerce.chassis import ServiceSpec, outbox_extension, outbox_reconciler, reconcile_extension, reconcile_router
from ecommerce.services.orders import events, reconcile
from ecommerce.services.orders.checkout import stock_release_worker
from ecommerce.services.orders.models import outbox
from ecommerce.services.orders.router import root_router, router
from ecommerce.services.orders.seed import seed
from ecommerce.services.orders.settings import OrderSettings

SPEC = ServiceSpec(
    **components.placement("order-service"),  # name, port and context path: the component table
    description="Carts, orders and the checkout.",
    settings_cls=OrderSettings,
    routers=(root_router, router, events.router, reconcile_router()),
    migrations=Path(__file__).parent / "migrations",
    seed=seed,
    extensions=(
        stock_release_worker,
        outbox_extension(outbox),
        reconcile_extension(reconcile.RECONCILER, outbox_reconciler(outbox)),
    ),
)
