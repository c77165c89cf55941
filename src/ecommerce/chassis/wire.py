"""The wire format every service speaks: camelCase fields, the original's date formats, Decimal money."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Annotated, Any, Generic, TypeVar

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    PlainSerializer,
    ValidationInfo,
    WithJsonSchema,
    field_validator,
)
from pydantic.alias_generators import to_camel

from ecommerce.chassis.strict import BOOLEAN_MSG, UNSTORABLE_MSG, admits_bool, first_unstorable

DATE_FORMAT = "%d-%m-%Y"
DATETIME_FORMAT = "%d-%m-%Y__%H:%M:%S:%f"
_CENTS = Decimal("0.01")


def format_datetime(value: datetime) -> str:
    """Render a timestamp as `dd-MM-yyyy__HH:mm:ss:SSSSSS` in UTC."""
    if value.tzinfo is not None:
        value = value.astimezone(UTC).replace(tzinfo=None)
    return value.strftime(DATETIME_FORMAT)


def parse_datetime(value: Any) -> Any:
    """Accept the original's format, and ISO 8601 as a courtesy; stored naive in UTC."""
    if isinstance(value, str):
        try:
            return datetime.strptime(value, DATETIME_FORMAT)
        except ValueError:
            try:
                parsed = datetime.fromisoformat(value)
            except ValueError:
                raise ValueError("must be a date-time formatted dd-MM-yyyy__HH:mm:ss:SSSSSS") from None
            value = parsed
    if isinstance(value, datetime) and value.tzinfo is not None:
        return value.astimezone(UTC).replace(tzinfo=None)
    return value


def parse_date(value: Any) -> Any:
    """Accept `dd-MM-yyyy` (and ISO `yyyy-MM-dd`)."""
    if isinstance(value, str):
        for fmt in (DATE_FORMAT, "%Y-%m-%d"):
            try:
                return datetime.strptime(value, fmt).date()
            except ValueError:
                continue
        raise ValueError("must be a date formatted dd-MM-yyyy")
    return value


def money(value: Decimal) -> float:
    """Money goes out as a JSON number with two decimal places."""
    return float(value.quantize(_CENTS, rounding=ROUND_HALF_UP))


LocalDateTime = Annotated[
    datetime,
    BeforeValidator(parse_datetime),
    PlainSerializer(format_datetime, return_type=str),
    WithJsonSchema({"type": "string", "example": "03-01-2022__14:05:09:123456"}),
]
LocalDate = Annotated[
    date,
    BeforeValidator(parse_date),
    PlainSerializer(lambda d: d.strftime(DATE_FORMAT), return_type=str),
    WithJsonSchema({"type": "string", "example": "31-12-2021"}),
]
Money = Annotated[
    Decimal,
    PlainSerializer(money, return_type=float),
    WithJsonSchema({"type": "number", "example": 19.99}),
]


class ApiModel(BaseModel):
    """Base of every request and response body: camelCase on the wire, snake_case in Python."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, from_attributes=True)

    @field_validator("*", mode="before")
    @classmethod
    def _strict(cls, value: Any, info: ValidationInfo) -> Any:
        """Every field of every body: text the database can store, and no boolean where a number is expected."""
        if isinstance(value, bool):
            if info.field_name is not None and not _admits_bool(cls, info.field_name):
                raise ValueError(BOOLEAN_MSG)
        elif first_unstorable(value):
            raise ValueError(UNSTORABLE_MSG)
        return value


_BOOL_FIELDS: dict[tuple[type, str], bool] = {}


def _admits_bool(model: type[BaseModel], field: str) -> bool:
    key = (model, field)
    found = _BOOL_FIELDS.get(key)
    if found is None:
        found = _BOOL_FIELDS[key] = admits_bool(model.model_fields[field].annotation)
    return found


T = TypeVar("T")


class Collection(ApiModel, Generic[T]):
    """The original's list envelope: `{"collection": [...]}`."""

    collection: list[T]
