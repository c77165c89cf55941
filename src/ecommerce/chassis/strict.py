"""Strict input, checked once for every service: text every backend can store, and no boolean posing as a number.

PostgreSQL cannot store NUL (U+0000) in text, and an unpaired surrogate (JSON's "\\ud800") cannot be encoded as
UTF-8: SQLite would keep either, PostgreSQL would fail with a 500. Python counts `True` as the integer 1, so a lax
validator turns `"quantity": true` into one unit. Both are refused as a 400 here, for bodies (ApiModel) and for
query strings and paths (`params.reject_unstorable_url`, on every app), so no field can forget.
"""

from __future__ import annotations

import re
import types
import typing
from typing import Any

_UNSTORABLE = re.compile("[\u0000\ud800-\udfff]")
UNSTORABLE_MSG = "contains a character that cannot be stored (NUL or an unpaired surrogate)"
BOOLEAN_MSG = "must be a number, not a boolean"


def storable(text: str) -> bool:
    """True when `text` holds no NUL and no unpaired surrogate."""
    return _UNSTORABLE.search(text) is None


def first_unstorable(value: Any) -> bool:
    """True when `value` (a string, or lists and dicts of them, keys included) holds text that cannot be stored."""
    if isinstance(value, str):
        return not storable(value)
    if isinstance(value, dict):
        return any(first_unstorable(key) or first_unstorable(item) for key, item in value.items())
    if isinstance(value, list | tuple):
        return any(first_unstorable(item) for item in value)
    return False


def admits_bool(annotation: Any) -> bool:
    """True when a field of this type may hold a boolean (bool itself, Any, or a union or alias containing one)."""
    if annotation is bool or annotation is Any or annotation is object:
        return True
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return admits_bool(typing.get_args(annotation)[0])
    if origin is typing.Union or origin is types.UnionType:
        return any(admits_bool(arg) for arg in typing.get_args(annotation))
    if origin is typing.Literal:
        return any(isinstance(arg, bool) for arg in typing.get_args(annotation))
    return False
