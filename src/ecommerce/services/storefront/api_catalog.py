"""/app/api products and categories: public to read, administrators only to write."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from ecommerce.services.storefront import clients
from ecommerce.services.storefront.api_support import CategoryId, JsonBody, ProductId, query, relay
from ecommerce.services.storefront.auth import ApiAdmin

router = APIRouter()
P = clients.peer_path
PRODUCTS = clients.PRODUCTS
_PRODUCT_QUERY = ("page", "size", "sort", "categoryId", "q", "ids", "after")
_CATEGORY_QUERY = ("page", "size", "sort")


@router.get("/products")
async def list_products(request: Request) -> Response:
    params = query(request, *_PRODUCT_QUERY)
    return await relay(request, None, "GET", PRODUCTS, P("/product-service/api/products"), params=params)


@router.get("/products/{productId}")
async def get_product(request: Request, product_id: ProductId) -> Response:
    return await relay(request, None, "GET", PRODUCTS, P("/product-service/api/products/{}", product_id))


@router.post("/products", status_code=201)
async def create_product(request: Request, me: ApiAdmin, body: JsonBody) -> Response:
    return await relay(request, me, "POST", PRODUCTS, P("/product-service/api/products"), json=body)


@router.put("/products")
async def replace_product(request: Request, me: ApiAdmin, body: JsonBody) -> Response:
    return await relay(request, me, "PUT", PRODUCTS, P("/product-service/api/products"), json=body)


@router.put("/products/{productId}")
async def update_product(request: Request, me: ApiAdmin, product_id: ProductId, body: JsonBody) -> Response:
    return await relay(request, me, "PUT", PRODUCTS, P("/product-service/api/products/{}", product_id), json=body)


@router.delete("/products/{productId}")
async def delete_product(request: Request, me: ApiAdmin, product_id: ProductId) -> Response:
    return await relay(request, me, "DELETE", PRODUCTS, P("/product-service/api/products/{}", product_id))


@router.get("/categories")
async def list_categories(request: Request) -> Response:
    params = query(request, *_CATEGORY_QUERY)
    return await relay(request, None, "GET", PRODUCTS, P("/product-service/api/categories"), params=params)


@router.get("/categories/{categoryId}")
async def get_category(request: Request, category_id: CategoryId) -> Response:
    return await relay(request, None, "GET", PRODUCTS, P("/product-service/api/categories/{}", category_id))


@router.post("/categories", status_code=201)
async def create_category(request: Request, me: ApiAdmin, body: JsonBody) -> Response:
    return await relay(request, me, "POST", PRODUCTS, P("/product-service/api/categories"), json=body)


@router.put("/categories")
async def replace_category(request: Request, me: ApiAdmin, body: JsonBody) -> Response:
    return await relay(request, me, "PUT", PRODUCTS, P("/product-service/api/categories"), json=body)


@router.put("/categories/{categoryId}")
async def update_category(request: Request, me: ApiAdmin, category_id: CategoryId, body: JsonBody) -> Response:
    return await relay(request, me, "PUT", PRODUCTS, P("/product-service/api/categories/{}", category_id), json=body)


@router.delete("/categories/{categoryId}")
async def delete_category(request: Request, me: ApiAdmin, category_id: CategoryId) -> Response:
    return await relay(request, me, "DELETE", PRODUCTS, P("/product-service/api/categories/{}", category_id))
