"""Who may change product-service's rows: the catalog is public to read (no dependency), administrators write it,
and only order-service (and administrators) reserve and release stock."""

from __future__ import annotations

from ecommerce.chassis import allow

ORDERS = "order-service"

# Catalog writes: administrators only; no component writes the catalog.
CatalogAdmin = allow(users="admin")
# Stock reservations: order-service's checkout and its stock-release worker, or an administrator.
StockKeeper = allow(ORDERS, users="admin")
