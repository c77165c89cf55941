"""Admin pages: products and categories (create, edit, delete, stock), every order, shipping status."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Annotated, Any

from fastapi import APIRouter, Path, Request
from fastapi.responses import Response
from starlette.datastructures import FormData

from ecommerce.chassis import BadRequest
from ecommerce.services.storefront import clients
from ecommerce.services.storefront.clients import Peers
from ecommerce.services.storefront.pages_shop import order_views
from ecommerce.services.storefront.web import (
    BASE,
    CsrfForm,
    PageAdmin,
    field,
    html_errors,
    int_field,
    redirect,
    render,
)

router = APIRouter(prefix="/admin", include_in_schema=False)

ProductId = Annotated[int, Path(alias="productId", ge=1, le=2_147_483_647)]
CategoryId = Annotated[int, Path(alias="categoryId", ge=1, le=2_147_483_647)]
OrderId = Annotated[int, Path(alias="orderId", ge=1, le=2_147_483_647)]


@router.get("")
async def admin_home(principal: PageAdmin) -> Response:
    """The admin area starts with the products."""
    del principal
    return redirect(f"{BASE}/admin/products")


@router.get("/products")
@html_errors
async def products(request: Request, principal: PageAdmin) -> Response:
    """Every product, and the form for a new one."""
    peers = Peers.of(request, principal)
    rows = await clients.list_products(peers, sort="productId,desc", page=0, size=500)
    categories = await clients.list_categories(peers)
    return render(request, "admin/products.html", principal=principal, products=rows, categories=categories)


@router.post("/products")
@html_errors
async def create_product(request: Request, principal: PageAdmin, form: CsrfForm) -> Response:
    """Add a product."""
    await clients.save_product(Peers.of(request, principal), _product_body(form))
    return redirect(f"{BASE}/admin/products?notice=saved")


@router.get("/products/{productId}")
@html_errors
async def edit_product_page(request: Request, principal: PageAdmin, product_id: ProductId) -> Response:
    """A product's edit form."""
    peers = Peers.of(request, principal)
    product = await clients.get_product(peers, product_id)
    categories = await clients.list_categories(peers)
    return render(request, "admin/product.html", principal=principal, product=product, categories=categories)


@router.post("/products/{productId}")
@html_errors
async def edit_product(request: Request, principal: PageAdmin, form: CsrfForm, product_id: ProductId) -> Response:
    """Save a product's fields and stock."""
    await clients.save_product(Peers.of(request, principal), _product_body(form), product_id)
    return redirect(f"{BASE}/admin/products?notice=saved")


@router.post("/products/{productId}/delete")
@html_errors
async def delete_product(request: Request, principal: PageAdmin, form: CsrfForm, product_id: ProductId) -> Response:
    """Remove a product."""
    del form
    await clients.delete_product(Peers.of(request, principal), product_id)
    return redirect(f"{BASE}/admin/products?notice=deleted")


def _product_body(form: FormData) -> dict[str, Any]:
    title, sku = field(form, "productTitle"), field(form, "sku")
    category_id, quantity = int_field(form, "categoryId"), int_field(form, "quantity")
    try:
        price = Decimal(field(form, "priceUnit", max_length=20) or "0")
    except InvalidOperation:
        raise BadRequest("The price must be a number like 19.99") from None
    if not title or category_id is None or quantity is None or quantity < 0 or price < 0:
        raise BadRequest("A product needs a title, a category, a price and a stock of 0 or more")
    return {
        "productTitle": title,
        "description": field(form, "description", max_length=2000) or None,
        "sku": sku or None,
        "priceUnit": float(price),
        "quantity": quantity,
        "imageUrl": field(form, "imageUrl") or None,
        "category": {"categoryId": category_id},
    }


@router.get("/categories")
@html_errors
async def categories(request: Request, principal: PageAdmin) -> Response:
    """Every category, with forms to add, rename and delete."""
    rows = await clients.list_categories(Peers.of(request, principal))
    return render(request, "admin/categories.html", principal=principal, categories=rows)


@router.post("/categories")
@html_errors
async def create_category(request: Request, principal: PageAdmin, form: CsrfForm) -> Response:
    """Add a category."""
    await clients.save_category(Peers.of(request, principal), _category_body(form))
    return redirect(f"{BASE}/admin/categories?notice=saved")


@router.post("/categories/{categoryId}")
@html_errors
async def edit_category(request: Request, principal: PageAdmin, form: CsrfForm, category_id: CategoryId) -> Response:
    """Rename a category or move it under another."""
    await clients.save_category(Peers.of(request, principal), _category_body(form), category_id)
    return redirect(f"{BASE}/admin/categories?notice=saved")


@router.post("/categories/{categoryId}/delete")
@html_errors
async def delete_category(request: Request, principal: PageAdmin, form: CsrfForm, category_id: CategoryId) -> Response:
    """Remove an empty category."""
    del form
    await clients.delete_category(Peers.of(request, principal), category_id)
    return redirect(f"{BASE}/admin/categories?notice=deleted")


def _category_body(form: FormData) -> dict[str, Any]:
    title = field(form, "categoryTitle")
    if not title:
        raise BadRequest("A category needs a title")
    parent = int_field(form, "parentCategoryId")
    return {"categoryTitle": title, "parentCategory": {"categoryId": parent} if parent else None}


@router.get("/orders")
@html_errors
async def orders(request: Request, principal: PageAdmin) -> Response:
    """Every order with payment and shipping status."""
    peers = Peers.of(request, principal)
    rows = (await clients.list_orders(peers))[:200]
    return render(request, "admin/orders.html", principal=principal, orders=await order_views(peers, rows))


@router.post("/orders/{orderId}/advance")
@html_errors
async def advance(request: Request, principal: PageAdmin, form: CsrfForm, order_id: OrderId) -> Response:
    """Move an order's shipment one step on."""
    await clients.advance_shipping(Peers.of(request, principal), order_id, field(form, "current"))
    return redirect(f"{BASE}/admin/orders?notice=advanced")
