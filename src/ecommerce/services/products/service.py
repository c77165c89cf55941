"""product-service rules: the catalog's reads (one path: reads.Reader) and its writes (ORM, validated)."""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Integer, bindparam, delete, exists, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from ecommerce.chassis import BadRequest, Conflict, NotFound
from ecommerce.services.products import reads
from ecommerce.services.products.models import Category, Product
from ecommerce.services.products.schemas import CategoryIn, CategoryOut, CategoryRef, ProductIn, ProductOut

PRODUCT_SORTS = {
    "productId": Product.product_id,
    "productTitle": Product.product_title,
    "priceUnit": Product.price_unit,
    "quantity": Product.quantity,
}
CATEGORY_SORTS = {"categoryId": Category.category_id, "categoryTitle": Category.category_title}
MAX_PAGE_SIZE = 1000

_Parent = aliased(Category)

_PRODUCT_ROWS = select(
    Product.product_id,
    Product.product_title,
    Product.image_url,
    Product.sku,
    Product.price_unit,
    Product.quantity,
    Category.category_id,
    Category.category_title,
    Category.image_url.label("category_image_url"),
    Product.description,
).join(Category, Category.category_id == Product.category_id)

_CATEGORY_ROWS = select(
    Category.category_id,
    Category.category_title,
    Category.image_url,
    _Parent.category_id.label("parent_id"),
    _Parent.category_title.label("parent_title"),
    _Parent.image_url.label("parent_image_url"),
).outerjoin(_Parent, _Parent.category_id == Category.parent_category_id)


# --- reads -----------------------------------------------------------------------------------------------
# Every catalog read runs on `reads.Reader` (one statement on the driver, see reads.py); writes answer from the
# rows they wrote, so no read goes through a session.

_PRODUCT_BY_ID = reads.Statement(_PRODUCT_ROWS.where(Product.product_id == bindparam("product_id")))
_CATEGORY_BY_ID = reads.Statement(_CATEGORY_ROWS.where(Category.category_id == bindparam("category_id")))


async def read_product(reader: reads.Reader, *, product_id: int) -> ProductOut:
    """One product with its category (retired ones too, for the history), or 404."""
    row = await reader.one(_PRODUCT_BY_ID, product_id=product_id)
    if row is None:
        raise NotFound(f"Product with id: {product_id} not found")
    return _product_out(row)


async def read_products(
    reader: reads.Reader,
    *,
    page: int | None = None,
    size: int | None = None,
    sort: str | None = None,
    category_id: int | None = None,
    q: str | None = None,
    ids: Sequence[int] | None = None,
    after: int | None = None,
) -> list[ProductOut]:
    """Products, optionally filtered by category, title text or ids, sorted and paged.

    `after` is keyset paging: the `size` (default 20) products whose id follows `after`, in id order. It reads
    only those rows through the primary key (or the category index), so a page costs the same at any depth,
    where `page` makes the database step over every row before the page.
    """
    if after is not None:
        if page is not None or (sort and sort.replace(" ", "") not in ("productId", "productId,asc")):
            raise BadRequest("Invalid 'after': it pages in productId order and cannot be combined with page or sort")
        page, sort, size = None, None, size or 20
    if ids is not None and not ids:
        return []  # no id matches nothing
    id_values = None if ids is None else _padded(ids)
    statement = _products_statement(
        category=category_id is not None,
        search=bool(q),
        ids=None if id_values is None else len(id_values),
        after=after is not None,
        order=_order(sort, PRODUCT_SORTS),
        paged=page is not None or size is not None,
    )
    rows = await reader.all(
        statement,
        category_id=category_id,
        pattern=f"%{_escape_like(q)}%" if q else None,
        after=after,
        **_paging(page, size),
        **{f"id_{i}": product_id for i, product_id in enumerate(id_values or ())},
    )
    return [_product_out(row) for row in rows]


async def read_categories(
    reader: reads.Reader, *, page: int | None = None, size: int | None = None, sort: str | None = None
) -> list[CategoryOut]:
    """Every category with its parent."""
    statement = _categories_statement(order=_order(sort, CATEGORY_SORTS), paged=page is not None or size is not None)
    return [_category_out(row) for row in await reader.all(statement, **_paging(page, size))]


async def read_category(reader: reads.Reader, *, category_id: int) -> CategoryOut:
    """One category with its parent, or 404."""
    row = await reader.one(_CATEGORY_BY_ID, category_id=category_id)
    if row is None:
        raise NotFound(f"Category with id: {category_id} not found")
    return _category_out(row)


SHAPES = 128  # statements kept per list read
CACHED_IDS = 64  # longer id lists are built per call


def _products_statement(
    *, category: bool, search: bool, ids: int | None, after: bool, order: tuple[str, str] | None, paged: bool
) -> reads.Statement:
    """The list read of this shape (which filters, how many ids, the sort, paged or not), built and compiled once.

    Why: a list read's values are bind parameters, so its SQL depends only on the shape. Compiling it per request
    cost 276 us for a catalog page (278 us for an ids lookup) on a read of about 1 ms, and was 9 % of
    product-service's samples during purchases. Bounded: at most SHAPES kept, ids padded to a power of two (7 widths
    up to CACHED_IDS), and the rare longer lists, whose rows dominate anyway, not kept at all.
    """
    build = _build_products if ids is not None and ids > CACHED_IDS else _cached_products
    return build(category=category, search=search, ids=ids, after=after, order=order, paged=paged)


def _build_products(
    *, category: bool, search: bool, ids: int | None, after: bool, order: tuple[str, str] | None, paged: bool
) -> reads.Statement:
    query = _PRODUCT_ROWS
    if category:
        query = query.where(Product.category_id == bindparam("category_id"))
    if search:
        query = query.where(Product.product_title.ilike(bindparam("pattern"), escape="\\"))
    if ids is not None:  # by id: retired products too, for the history
        query = query.where(Product.product_id.in_([bindparam(f"id_{i}", type_=Integer) for i in range(ids)]))
    else:
        query = query.where(Product.retired_at.is_(None))
    if after:
        query = query.where(Product.product_id > bindparam("after"))
    return reads.Statement(_sorted_and_paged(query, order, PRODUCT_SORTS, Product.product_id, paged))


_cached_products = functools.lru_cache(maxsize=SHAPES)(_build_products)


@functools.lru_cache(maxsize=SHAPES)
def _categories_statement(*, order: tuple[str, str] | None, paged: bool) -> reads.Statement:
    return reads.Statement(_sorted_and_paged(_CATEGORY_ROWS, order, CATEGORY_SORTS, Category.category_id, paged))


def _padded(ids: Sequence[int]) -> list[int]:
    # The id count rounded up to a power of two, repeating the last id (IN ignores the repeat): few shapes.
    width = 1 << (len(ids) - 1).bit_length()
    return [*ids, *[ids[-1]] * (width - len(ids))]


# --- product writes ------------------------------------------------------------------------------------


async def create_product(session: AsyncSession, *, data: ProductIn) -> ProductOut:
    """Add a product to an existing category; the sku must be unused."""
    category = await _require_category(session, data.category.category_id)
    await _require_free_sku(session, data.sku, product_id=None)
    product = Product(**_product_fields(data))
    session.add(product)
    await session.flush()
    return _written_product(product, category)


async def create_or_update_product(session: AsyncSession, *, data: ProductIn) -> tuple[ProductOut, bool]:
    """PUT without a path id: create when the body has no id, else update that product; True when created."""
    if data.product_id is None:
        return await create_product(session, data=data), True
    return await update_product(session, product_id=data.product_id, data=data), False


async def update_product(session: AsyncSession, *, product_id: int, data: ProductIn) -> ProductOut:
    """Replace a product's fields with the body's (the original ignored the body)."""
    product = await session.get(Product, product_id)
    if product is None:
        raise NotFound(f"Product with id: {product_id} not found")
    category = await _require_category(session, data.category.category_id)
    await _require_free_sku(session, data.sku, product_id=product_id)
    for key, value in _product_fields(data).items():
        setattr(product, key, value)
    await session.flush()
    return _written_product(product, category)


async def delete_product(session: AsyncSession, *, product_id: int) -> None:
    """Retire a product, 404 when there is none (or it is retired already).

    Orders, shipments and favourites in other services name products by id, so a product is never removed: it
    leaves the catalog and can no longer be reserved, stays readable by id for that history, and its id is
    never handed out again. The answer is the original's (`true`).
    """
    result = await session.execute(
        update(Product)
        .where(Product.product_id == product_id, Product.retired_at.is_(None))
        .values(retired_at=func.now())
    )
    if result.rowcount == 0:  # type: ignore[attr-defined]
        raise NotFound(f"Product with id: {product_id} not found")


def _product_fields(data: ProductIn) -> dict[str, Any]:
    return {
        "product_title": data.product_title,
        "image_url": data.image_url,
        "description": data.description,
        "sku": data.sku,
        "price_unit": data.price_unit,
        "quantity": data.quantity,
        "category_id": data.category.category_id,
    }


def _written_product(product: Product, category: Category) -> ProductOut:
    # The answer of a write is the row it wrote: no second read, and no read through the request's session.
    return _product_out(
        (
            product.product_id,
            product.product_title,
            product.image_url,
            product.sku,
            product.price_unit,
            product.quantity,
            category.category_id,
            category.category_title,
            category.image_url,
            product.description,
        )
    )


def _product_out(row: Any) -> ProductOut:
    # model_construct: rows come from our own database and need no second validation on the hot path.
    # Positional: the columns of _PRODUCT_ROWS, as the reader's rows and _written_product give them.
    return ProductOut.model_construct(
        product_id=row[0],
        product_title=row[1],
        image_url=row[2],
        sku=row[3],
        price_unit=row[4],
        quantity=row[5],
        category=CategoryRef.model_construct(category_id=row[6], category_title=row[7], image_url=row[8]),
        description=row[9],
    )


async def _require_category(session: AsyncSession, category_id: int) -> Category:
    category = await session.get(Category, category_id)
    if category is None:
        raise BadRequest(f"Category with id: {category_id} not found")
    return category


async def _require_free_sku(session: AsyncSession, sku: str | None, *, product_id: int | None) -> None:
    if sku is None:
        return
    query = select(Product.product_id).where(Product.sku == sku)
    if product_id is not None:
        query = query.where(Product.product_id != product_id)
    if (await session.execute(query)).first() is not None:
        raise Conflict(f"A product with sku '{sku}' already exists")


# --- categories -----------------------------------------------------------------------------------------


async def create_category(session: AsyncSession, *, data: CategoryIn) -> CategoryOut:
    """Add a category, under an existing parent when one is given."""
    parent_id = data.parent_category.category_id if data.parent_category else None
    parent = None if parent_id is None else await _require_category(session, parent_id)
    category = Category(category_title=data.category_title, image_url=data.image_url, parent_category_id=parent_id)
    session.add(category)
    await session.flush()
    return _written_category(category, parent)


async def create_or_update_category(session: AsyncSession, *, data: CategoryIn) -> tuple[CategoryOut, bool]:
    """PUT without a path id: create when the body has no id, else update that category; True when created."""
    if data.category_id is None:
        return await create_category(session, data=data), True
    return await update_category(session, category_id=data.category_id, data=data), False


async def update_category(session: AsyncSession, *, category_id: int, data: CategoryIn) -> CategoryOut:
    """Replace a category's fields; a category can never become its own ancestor."""
    category = await session.get(Category, category_id)
    if category is None:
        raise NotFound(f"Category with id: {category_id} not found")
    parent_id = data.parent_category.category_id if data.parent_category else None
    parent = None
    if parent_id is not None:
        parent = await _require_category(session, parent_id)
        await _refuse_cycle(session, category_id=category_id, parent_id=parent_id)
    category.category_title = data.category_title
    category.image_url = data.image_url
    category.parent_category_id = parent_id
    await session.flush()
    return _written_category(category, parent)


async def delete_category(session: AsyncSession, *, category_id: int) -> None:
    """Remove an empty category: 404 when missing, 409 while products or sub-categories use it."""
    if await session.get(Category, category_id) is None:
        raise NotFound(f"Category with id: {category_id} not found")
    in_use = select(
        or_(
            exists().where(Product.category_id == category_id),  # retired products keep their category
            exists().where(Category.parent_category_id == category_id),
        )
    )
    if (await session.execute(in_use)).scalar_one():
        raise Conflict(f"Category with id: {category_id} still has products or sub-categories")
    await session.execute(delete(Category).where(Category.category_id == category_id))


async def _refuse_cycle(session: AsyncSession, *, category_id: int, parent_id: int) -> None:
    current: int | None = parent_id
    seen: set[int] = set()
    while current is not None and current not in seen:
        if current == category_id:
            raise BadRequest("A category cannot be its own ancestor")
        seen.add(current)
        current = (
            await session.execute(select(Category.parent_category_id).where(Category.category_id == current))
        ).scalar_one_or_none()


def _written_category(category: Category, parent: Category | None) -> CategoryOut:
    return _category_out(
        (
            category.category_id,
            category.category_title,
            category.image_url,
            *((None, None, None) if parent is None else (parent.category_id, parent.category_title, parent.image_url)),
        )
    )


def _category_out(row: Any) -> CategoryOut:
    # Positional: the columns of _CATEGORY_ROWS (the category, then its parent's id, title and picture).
    parent = None
    if row[3] is not None:
        parent = CategoryRef.model_construct(category_id=row[3], category_title=row[4], image_url=row[5])
    return CategoryOut.model_construct(
        category_id=row[0], category_title=row[1], image_url=row[2], parent_category=parent
    )


# --- shared ---------------------------------------------------------------------------------------------


def _order(sort: str | None, allowed: dict[str, Any]) -> tuple[str, str] | None:
    """`sort` ("field[,asc|desc]") as (field, direction), validated, or None for the default order."""
    if not sort:
        return None
    field, _, direction = sort.partition(",")
    field, direction = field.strip(), direction.strip().lower() or "asc"
    if field not in allowed or direction not in ("asc", "desc"):
        raise BadRequest(f"Invalid sort '{sort}': use one of {', '.join(allowed)} with ',asc' or ',desc'")
    return field, direction


def _sorted_and_paged(
    query: reads.Query, order: tuple[str, str] | None, allowed: dict[str, Any], default: Any, paged: bool
) -> reads.Query:
    columns = [default]
    if order is not None:
        column = allowed[order[0]]
        columns = [column.desc() if order[1] == "desc" else column.asc(), default]
    query = query.order_by(*columns)
    if paged:
        query = query.limit(bindparam("limit", type_=Integer)).offset(bindparam("offset", type_=Integer))
    return query


def _paging(page: int | None, size: int | None) -> dict[str, int]:
    size = size or 20
    return {"limit": size, "offset": (page or 0) * size}


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
