"""Strict input: text every backend can store, booleans that are not numbers, money as Decimal."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from pydantic import ValidationError

from ecommerce.chassis import ApiModel, Money
from ecommerce.chassis.strict import storable


class Line(ApiModel):
    product_id: int
    quantity: int


class Body(ApiModel):
    title: str
    tags: list[str] = []
    price: Money = Decimal("0")
    count: int | None = None
    enabled: bool = False
    lines: list[Line] = []
    extra: Any = None


@pytest.mark.parametrize("text", ["a\u0000b", "\u0000", "x\ud800y", "\udfff"])
def test_text_postgresql_cannot_store_is_refused(text: str) -> None:
    assert not storable(text)
    for body in ({"title": text}, {"title": "ok", "tags": ["fine", text]}, {"title": "ok", "extra": {"k": [text]}}):
        with pytest.raises(ValidationError, match="cannot be stored"):
            Body.model_validate(body)


def test_other_unicode_is_kept() -> None:
    text = "caf\u00e9 \U0001f600 \u2028 tab\t"
    assert storable(text)
    assert Body.model_validate({"title": text}).title == text


@pytest.mark.parametrize("body", [{"count": True}, {"price": False}, {"lines": [{"productId": 1, "quantity": True}]}])
def test_booleans_are_not_numbers(body: dict[str, Any]) -> None:
    with pytest.raises(ValidationError, match="boolean"):
        Body.model_validate({"title": "t", **body})


def test_booleans_still_fill_boolean_fields() -> None:
    assert Body.model_validate({"title": "t", "enabled": True, "extra": True}).enabled is True


def test_money_is_a_decimal_from_a_json_number() -> None:
    body = Body.model_validate_json('{"title": "t", "price": 19.99}')
    assert body.price == Decimal("19.99")
    assert isinstance(body.price, Decimal)
    assert Body.model_validate({"title": "t", "price": 0.1}).price == Decimal("0.1")
