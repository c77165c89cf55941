"""favourite-service JSON shapes, field for field the original's FavouriteDto."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from ecommerce.chassis import ApiModel, LocalDateTime

Id = Annotated[int, Field(ge=1, le=2_147_483_647)]


class UserRef(ApiModel):
    """The liking user as user-service describes it (its six scalar fields)."""

    user_id: int
    first_name: str | None = None
    last_name: str | None = None
    image_url: str | None = None
    email: str | None = None
    phone: str | None = None


class ProductRef(ApiModel):
    """The liked product as product-service describes it."""

    product_id: int
    product_title: str | None = None
    image_url: str | None = None
    sku: str | None = None
    price_unit: float | None = None
    quantity: int | None = None


class FavouriteOut(ApiModel):
    """A favourite; `user` and `product` are null when their service could not be asked."""

    user_id: int
    product_id: int
    like_date: LocalDateTime
    user: UserRef | None = None
    product: ProductRef | None = None


class FavouriteIn(ApiModel):
    """Body of POST and PUT, and of `/find` and `/delete`: the key, and optionally when it was liked."""

    user_id: Id
    product_id: Id
    like_date: LocalDateTime | None = None
