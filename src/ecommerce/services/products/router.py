"""product-service HTTP routes: the original's paths, thin handlers over `service`."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Request, Response

from ecommerce.chassis import Collection, DbSession, parse_ids
from ecommerce.services.products import service as product_service
from ecommerce.services.products.dependencies import CatalogAdmin
from ecommerce.services.products.schemas import CategoryIn, CategoryOut, ProductIn, ProductOut

router = APIRouter(prefix="/api")

ProductId = Annotated[int, Path(alias="productId", ge=1, le=2_147_483_647)]
CategoryId = Annotated[int, Path(alias="categoryId", ge=1, le=2_147_483_647)]
Page = Annotated[int | None, Query(ge=0, le=10_000_000, description="zero-based page number")]
Size = Annotated[int | None, Query(ge=1, le=product_service.MAX_PAGE_SIZE, description="page size")]
Sort = Annotated[str | None, Query(max_length=64, description="field[,asc|desc], e.g. priceUnit,desc")]


def _json(model: ProductOut | CategoryOut | Collection[ProductOut] | Collection[CategoryOut]) -> Response:
    # The body FastAPI would send for this model (camelCase, the wire serializers), minus its re-validation.
    return Response(model.__pydantic_serializer__.to_json(model, by_alias=True), media_type="application/json")


# The GETs read on the catalog's one read path (service.read_*, reads.py): no session, no transaction to commit.
@router.get("/products", tags=["products"], response_model=Collection[ProductOut])
async def list_products(
    request: Request,
    page: Page = None,
    size: Size = None,
    sort: Sort = None,
    category_id: Annotated[int | None, Query(alias="categoryId", ge=1, le=2_147_483_647)] = None,
    q: Annotated[str | None, Query(max_length=255, description="words in the title")] = None,
    ids: Annotated[str | None, Query(max_length=12_000, description="comma-separated product ids")] = None,
    after: Annotated[
        int | None,
        Query(ge=0, le=2_147_483_647, description="keyset paging: the products after this productId, in id order"),
    ] = None,
) -> Response:
    products = await product_service.read_products(
        request.app.state.catalog_reader,
        page=page,
        size=size,
        sort=sort,
        category_id=category_id,
        q=q,
        ids=parse_ids(ids, limit=product_service.MAX_PAGE_SIZE),
        after=after,
    )
    return _json(Collection[ProductOut].model_construct(collection=products))


@router.get("/products/{productId}", tags=["products"], response_model=ProductOut)
async def get_product(request: Request, product_id: ProductId) -> Response:
    return _json(await product_service.read_product(request.app.state.catalog_reader, product_id=product_id))


@router.post("/products", status_code=201, tags=["products"], dependencies=[CatalogAdmin])
async def create_product(session: DbSession, body: ProductIn) -> ProductOut:
    return await product_service.create_product(session, data=body)


@router.put("/products", tags=["products"], dependencies=[CatalogAdmin])
async def replace_product(session: DbSession, body: ProductIn, response: Response) -> ProductOut:
    product, created = await product_service.create_or_update_product(session, data=body)
    response.status_code = 201 if created else 200
    return product


@router.put("/products/{productId}", tags=["products"], dependencies=[CatalogAdmin])
async def update_product(session: DbSession, product_id: ProductId, body: ProductIn) -> ProductOut:
    return await product_service.update_product(session, product_id=product_id, data=body)


@router.delete("/products/{productId}", tags=["products"], dependencies=[CatalogAdmin])
async def delete_product(session: DbSession, product_id: ProductId) -> bool:
    await product_service.delete_product(session, product_id=product_id)
    return True


@router.get("/categories", tags=["categories"], response_model=Collection[CategoryOut])
async def list_categories(request: Request, page: Page = None, size: Size = None, sort: Sort = None) -> Response:
    reader = request.app.state.catalog_reader
    categories = await product_service.read_categories(reader, page=page, size=size, sort=sort)
    return _json(Collection[CategoryOut].model_construct(collection=categories))


@router.get("/categories/{categoryId}", tags=["categories"], response_model=CategoryOut)
async def get_category(request: Request, category_id: CategoryId) -> Response:
    return _json(await product_service.read_category(request.app.state.catalog_reader, category_id=category_id))


@router.post("/categories", status_code=201, tags=["categories"], dependencies=[CatalogAdmin])
async def create_category(session: DbSession, body: CategoryIn) -> CategoryOut:
    return await product_service.create_category(session, data=body)


@router.put("/categories", tags=["categories"], dependencies=[CatalogAdmin])
async def replace_category(session: DbSession, body: CategoryIn, response: Response) -> CategoryOut:
    category, created = await product_service.create_or_update_category(session, data=body)
    response.status_code = 201 if created else 200
    return category


@router.put("/categories/{categoryId}", tags=["categories"], dependencies=[CatalogAdmin])
async def update_category(session: DbSession, category_id: CategoryId, body: CategoryIn) -> CategoryOut:
    return await product_service.update_category(session, category_id=category_id, data=body)


@router.delete("/categories/{categoryId}", tags=["categories"], dependencies=[CatalogAdmin])
async def delete_category(session: DbSession, category_id: CategoryId) -> bool:
    await product_service.delete_category(session, category_id=category_id)
    return True
