"""product-service JSON shapes, field for field the original's."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated

from pydantic import Field, StringConstraints

from ecommerce.chassis import ApiModel, Money

Title = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=255)]
Text255 = Annotated[str, StringConstraints(max_length=255)]
Id = Annotated[int, Field(ge=1, le=2_147_483_647)]


class CategoryRef(ApiModel):
    """A category as nested inside a product (or as a parent)."""

    category_id: int | None = None
    category_title: str | None = None
    image_url: str | None = None


class CategoryOut(CategoryRef):
    """A category with its parent; `parentCategory` is null for a root category."""

    parent_category: CategoryRef | None = None


class IdRef(ApiModel):
    """A reference by id in a request body, e.g. `{"categoryId": 1}`."""

    category_id: Id


class CategoryIn(ApiModel):
    """Body of POST and PUT on categories."""

    category_id: Id | None = None
    category_title: Title
    image_url: Text255 | None = None
    parent_category: IdRef | None = None


class ProductOut(ApiModel):
    """A product with its category."""

    product_id: int
    product_title: str
    image_url: str | None
    description: str | None = None
    sku: str | None
    price_unit: Money
    quantity: int
    category: CategoryRef | None


class ProductIn(ApiModel):
    """Body of POST and PUT on products."""

    product_id: Id | None = None
    product_title: Title
    image_url: Text255 | None = None
    description: Annotated[str, StringConstraints(strip_whitespace=True, max_length=2000)] | None = None
    sku: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=255)] | None = None
    price_unit: Annotated[Decimal, Field(ge=0, max_digits=12, decimal_places=2)] = Decimal("0")
    quantity: Annotated[int, Field(ge=0, le=2_147_483_647)] = 0
    category: IdRef
