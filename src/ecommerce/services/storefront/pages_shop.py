"""Shop pages: catalog, product, favourites, cart, checkout, payment, order history."""

from __future__ import annotations

import uuid
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import Response

from ecommerce.chassis import BadRequest, NotFound, ServiceError
from ecommerce.services.storefront import clients, shopping
from ecommerce.services.storefront.clients import Peers
from ecommerce.services.storefront.web import (
    BASE,
    MAX_LINE_QUANTITY,
    CsrfForm,
    MaybeUser,
    PageUser,
    field,
    html_errors,
    int_field,
    read_cart,
    redirect,
    render,
    safe_next,
    settings_of,
    write_cart,
)

router = APIRouter(include_in_schema=False)

Id = Annotated[int, Path(ge=1, le=2_147_483_647)]
SORTS = {
    "": ("Featured", None),
    "title": ("Name A-Z", "productTitle,asc"),
    "price-asc": ("Price: low to high", "priceUnit,asc"),
    "price-desc": ("Price: high to low", "priceUnit,desc"),
    "newest": ("Newest", "productId,desc"),
}


@router.get("/")
@html_errors
async def catalog(
    request: Request,
    principal: MaybeUser,
    q: Annotated[str, Query(max_length=100)] = "",
    category: Annotated[int | None, Query(ge=1, le=2_147_483_647)] = None,
    sort: Annotated[str, Query(max_length=20)] = "",
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
) -> Response:
    """Products with categories, search, sorting and paging."""
    size = settings_of(request).page_size
    peers = Peers.of(request, principal)
    sort = sort if sort in SORTS else ""
    rows = await clients.list_products(
        peers, q=q.strip() or None, categoryId=category, sort=SORTS[sort][1], page=page - 1, size=size + 1
    )
    categories = await clients.list_categories(peers)
    query = {"q": q, "category": category or "", "sort": sort}
    return render(
        request,
        "catalog.html",
        principal=principal,
        products=rows[:size],
        categories=categories,
        liked=await _liked_ids(peers, principal),
        q=q,
        category=category,
        sort=sort,
        sorts=SORTS,
        page=page,
        prev_url=f"{BASE}/?{urlencode({**query, 'page': page - 1})}" if page > 1 else None,
        next_url=f"{BASE}/?{urlencode({**query, 'page': page + 1})}" if len(rows) > size else None,
    )


@router.get("/products/{productId}")
@html_errors
async def product_page(
    request: Request, principal: MaybeUser, product_ref: Annotated[str, Path(alias="productId", max_length=200)]
) -> Response:
    """One product with its stock state; an address that names no product id is a missing page (404)."""
    if not product_ref.isascii() or not product_ref.isdigit() or not 1 <= int(product_ref) <= 2_147_483_647:
        raise NotFound("There is no such product in the shop")
    product_id = int(product_ref)
    peers = Peers.of(request, principal)
    product = await clients.get_product(peers, product_id)
    return render(
        request,
        "product.html",
        principal=principal,
        product=product,
        liked=await _liked_ids(peers, principal),
        in_cart=read_cart(request).get(product_id, 0),
    )


async def _liked_ids(peers: Peers, principal: Any) -> set[int]:
    if principal is None:
        return set()
    try:
        return {f["productId"] for f in await clients.list_favourites(peers, principal.user_id)}
    except ServiceError:
        return set()  # hearts show empty while favourite-service is away; the catalog still works


# --- favourites ----------------------------------------------------------------------------------------------


@router.get("/favourites")
@html_errors
async def favourites(request: Request, principal: PageUser) -> Response:
    """The products the visitor likes."""
    peers = Peers.of(request, principal)
    liked = await clients.list_favourites(peers, principal.user_id)
    products = await clients.products_by_ids(peers, [f["productId"] for f in liked])
    rows = [products[f["productId"]] for f in liked if f["productId"] in products]
    return render(request, "favourites.html", principal=principal, products=rows, liked=set(products))


@router.post("/favourites/{productId}/toggle")
@html_errors
async def toggle_favourite(
    request: Request,
    principal: PageUser,
    form: CsrfForm,
    product_id: Annotated[int, Path(alias="productId", ge=1, le=2_147_483_647)],
) -> Response:
    """Like a product, or unlike it when already liked."""
    peers = Peers.of(request, principal)
    existing = [f for f in await clients.list_favourites(peers, principal.user_id) if f["productId"] == product_id]
    if existing:
        for favourite in existing:
            await clients.unlike(peers, favourite)
        notice = "unliked"
    else:
        await clients.like(peers, principal.user_id, product_id)
        notice = "liked"
    return redirect(_with_notice(safe_next(field(form, "next", max_length=500)), notice))


def _with_notice(url: str, notice: str) -> str:
    base = url.split("#", 1)[0]
    query = "&".join(p for p in base.partition("?")[2].split("&") if p and not p.startswith("notice="))
    return f"{base.partition('?')[0]}?{query + '&' if query else ''}notice={notice}"


# --- cart ----------------------------------------------------------------------------------------------------


@router.get("/cart")
@html_errors
async def cart_page(request: Request, principal: MaybeUser) -> Response:
    """The cart with its lines and total."""
    lines, total = await shopping.priced_cart(request, principal)
    return render(request, "cart.html", principal=principal, lines=lines, total=total)


@router.post("/cart/add")
@html_errors
async def cart_add(request: Request, form: CsrfForm) -> Response:
    """Put a product (or more of it) in the cart."""
    product_id = int_field(form, "productId")
    quantity = int_field(form, "quantity", 1) or 1
    if product_id is None or product_id < 1 or not 1 <= quantity <= MAX_LINE_QUANTITY:
        raise BadRequest("Choose a product and a quantity between 1 and 99")
    cart = shopping.added(read_cart(request), product_id, quantity)
    response = redirect(_with_notice(safe_next(field(form, "next", max_length=500)), "added"))
    write_cart(request, response, cart)
    return response


@router.post("/cart/update")
@html_errors
async def cart_update(request: Request, form: CsrfForm) -> Response:
    """Change a line's quantity (0 removes it)."""
    product_id = int_field(form, "productId")
    quantity = int_field(form, "quantity", 0) or 0
    cart = read_cart(request)
    if product_id is not None:
        cart = shopping.changed(cart, product_id, 0 if field(form, "remove") else quantity)
    response = redirect(f"{BASE}/cart?notice=cart-updated")
    write_cart(request, response, cart)
    return response


# --- checkout and payment ------------------------------------------------------------------------------------


@router.get("/checkout")
@html_errors
async def checkout_page(request: Request, principal: PageUser) -> Response:
    """Choose an address and place the order."""
    return await _render_checkout(request, principal, error=None)


async def _render_checkout(request: Request, principal: Any, *, error: str | None, status: int = 200) -> Response:
    lines, total = await shopping.priced_cart(request, principal)
    if not lines:
        return redirect(f"{BASE}/cart")
    addresses = await clients.list_addresses(Peers.of(request, principal), principal.user_id)
    return render(
        request,
        "checkout.html",
        status=status,
        principal=principal,
        lines=lines,
        total=total,
        addresses=addresses,
        idempotency_key=uuid.uuid4().hex,
        error=error,
    )


@router.post("/checkout")
@html_errors
async def place_order(request: Request, principal: PageUser, form: CsrfForm) -> Response:
    """Save the address when new, place the order through order-service, then go to payment."""
    peers = Peers.of(request, principal)
    cart = read_cart(request)
    if not cart:
        return redirect(f"{BASE}/cart")
    address_id = int_field(form, "addressId")
    if address_id is None:
        fields = {k: field(form, k) for k in ("fullAddress", "postalCode", "city")}
        if not all(fields.values()):
            return await _render_checkout(request, principal, error="Choose an address or enter a new one.", status=400)
        address_id = (await clients.create_address(peers, principal.user_id, fields)).get("addressId")
    key = field(form, "idempotencyKey", max_length=64) or uuid.uuid4().hex
    try:
        placed = await shopping.place_order(request, principal, cart, key)
    except ServiceError as exc:
        if exc.status in (400, 409, 422):
            return await _render_checkout(request, principal, error=exc.msg, status=409)
        raise
    order_id = shopping.order_id_of(placed.order)
    response = redirect(f"{BASE}/orders/{order_id}/pay?{urlencode({'address': address_id or ''})}")
    write_cart(request, response, {})
    return response


@router.get("/orders/{orderId}/pay")
@html_errors
async def payment_page(
    request: Request, principal: PageUser, order_id: Annotated[int, Path(alias="orderId", ge=1, le=2_147_483_647)]
) -> Response:
    """Pay for an order."""
    order, payment = await shopping.own_order_and_payment(request, principal, order_id)
    return render(request, "pay.html", principal=principal, order=order, payment=payment)


@router.post("/orders/{orderId}/pay")
@html_errors
async def pay(
    request: Request,
    principal: PageUser,
    form: CsrfForm,
    order_id: Annotated[int, Path(alias="orderId", ge=1, le=2_147_483_647)],
) -> Response:
    """Complete the payment: NOT_STARTED -> IN_PROGRESS -> COMPLETED."""
    del form
    await shopping.pay(request, principal, order_id)
    return redirect(f"{BASE}/orders/{order_id}?notice=paid")


# --- order history -------------------------------------------------------------------------------------------


@router.get("/orders")
@html_errors
async def orders_page(request: Request, principal: PageUser) -> Response:
    """The visitor's orders with lines, payment and shipping status."""
    peers = Peers.of(request, principal)
    orders = (await clients.list_orders(peers, principal.user_id))[:50]
    views = await order_views(peers, orders)
    return render(request, "orders.html", principal=principal, orders=views)


@router.get("/orders/{orderId}")
@html_errors
async def order_page(
    request: Request, principal: PageUser, order_id: Annotated[int, Path(alias="orderId", ge=1, le=2_147_483_647)]
) -> Response:
    """One order: the confirmation after payment, and its details."""
    order, _ = await shopping.own_order_and_payment(request, principal, order_id)
    views = await order_views(Peers.of(request, principal), [order])
    return render(request, "order.html", principal=principal, order=views[0])


async def order_views(peers: Peers, orders: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Orders with their lines (product titles), payment and shipping state, for display."""
    ids = {o["orderId"] for o in orders if isinstance(o.get("orderId"), int)}
    payments = await _optional(clients.payments_for(peers, ids), {})
    shipments = await _optional(clients.shipments_for(peers, ids), {})
    raw_lines = {
        o.get("orderId"): _lines_of(o, (shipments.get(o.get("orderId")) or {}).get("items", [])) for o in orders
    }
    product_ids = [line["productId"] for lines in raw_lines.values() for line in lines]
    products = await _optional(clients.products_by_ids(peers, product_ids), {})
    views = []
    for order in orders:
        order_id = order.get("orderId")
        payment = payments.get(order_id)
        views.append(
            {
                "order": order,
                "status": order.get("orderStatus") or order.get("status") or "",
                "lines": [{**line, "product": products.get(line["productId"])} for line in raw_lines[order_id]],
                "payment": payment,
                "payment_status": (payment or {}).get("paymentStatus", "UNKNOWN"),
                "shipping_status": (shipments.get(order_id) or {}).get("shippingStatus", ""),
            }
        )
    return views


def _lines_of(order: dict[str, Any], shipping_rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    for key in ("lines", "orderLines", "items", "orderItems"):
        rows = order.get(key)
        if isinstance(rows, list) and rows:
            return [
                {"productId": r.get("productId"), "quantity": r.get("quantity", r.get("orderedQuantity")), **r}
                for r in rows
                if isinstance(r, dict) and isinstance(r.get("productId"), int)
            ]
    return [
        {"productId": r["productId"], "quantity": r.get("orderedQuantity")}
        for r in shipping_rows
        if isinstance(r.get("productId"), int)
    ]


async def _optional(awaitable: Any, default: Any) -> Any:
    """Show the page even when one peer is away (its column reads 'unknown')."""
    try:
        return await awaitable
    except ServiceError:
        return default
