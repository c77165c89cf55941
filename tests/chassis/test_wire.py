"""The wire format: dates, money, camelCase."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal

import pytest
from pydantic import ValidationError

from ecommerce.chassis import ApiModel, Collection, LocalDate, LocalDateTime, Money


class Sample(ApiModel):
    like_date: LocalDateTime
    expire_date: LocalDate
    order_fee: Money


def test_round_trip_in_the_original_formats() -> None:
    sample = Sample.model_validate(
        {"likeDate": "03-01-2022__14:05:09:123456", "expireDate": "31-12-2021", "orderFee": "5000"}
    )
    assert sample.like_date == datetime(2022, 1, 3, 14, 5, 9, 123456)
    assert sample.model_dump(by_alias=True, mode="json") == {
        "likeDate": "03-01-2022__14:05:09:123456",
        "expireDate": "31-12-2021",
        "orderFee": 5000.0,
    }


def test_aware_times_are_stored_in_utc() -> None:
    plus_two = timezone(timedelta(hours=2))
    sample = Sample(like_date=datetime(2022, 1, 3, 16, 0, tzinfo=plus_two), expire_date=date(2021, 1, 1), order_fee=1)
    assert sample.model_dump(mode="json")["like_date"] == "03-01-2022__14:00:00:000000"
    assert (
        Sample(like_date=datetime.now(UTC), expire_date=date.today(), order_fee=Decimal("1")).like_date.tzinfo is None
    )


def test_money_has_two_places() -> None:
    assert Sample(like_date=datetime(2022, 1, 1), expire_date=date(2022, 1, 1), order_fee=Decimal("19.999")).model_dump(
        mode="json"
    )["order_fee"] == pytest.approx(20.0)


@pytest.mark.parametrize("bad", ["2022/01/03", "yesterday", "32-13-2022__25:00:00:000000"])
def test_bad_dates_are_rejected(bad: str) -> None:
    with pytest.raises(ValidationError):
        Sample.model_validate({"likeDate": bad, "expireDate": "31-12-2021", "orderFee": 1})


def test_collection_envelope() -> None:
    assert Collection[int](collection=[1, 2]).model_dump() == {"collection": [1, 2]}
