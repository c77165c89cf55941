"""Every component's OpenAPI document says what it answers a bad request: 400 with the one error body, never 422."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ecommerce import components
from ecommerce.chassis import create_app
from ecommerce.chassis.openapi import ERROR_BODY


@pytest.mark.parametrize("name", components.names())
def test_every_operation_declares_400_with_the_error_body_and_no_422(name: str, tmp_path: Path) -> None:
    spec = components.load_spec(name)
    settings = spec.settings_cls(access_log=False, profile="dev", data_dir=tmp_path)
    document = create_app(spec, settings).openapi()
    operations = [(m, p, op) for p, item in document["paths"].items() for m, op in item.items()]
    assert operations
    for method, path, operation in operations:
        responses = operation["responses"]
        assert "422" not in responses, (method, path)
        schema = responses["400"]["content"]["application/json"]["schema"]
        assert schema == {"$ref": f"#/components/schemas/{ERROR_BODY}"}, (method, path)
    schemas = document["components"]["schemas"]
    assert set(schemas[ERROR_BODY]["required"]) == {"timestamp", "httpStatus", "msg", "path", "traceId"}
    assert "HTTPValidationError" not in json.dumps(document)
