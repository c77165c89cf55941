"""/app/docs documents every /app/api operation with its request body and its answers (the schemas checked live by
tests/reliability/test_fuzz.py, which runs schemathesis against /app/api)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from ecommerce import components
from ecommerce.chassis import create_app

# Operations that take no body: reads, deletes by id, and the few posts the path says everything for.
NO_BODY = {
    ("post", "/app/api/cart/checkout"),
    ("post", "/app/api/orders/{orderId}/pay"),
}


@pytest.fixture(scope="module")
def document(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    spec = components.load_spec("proxy-client")
    settings = spec.settings_cls(access_log=False, profile="dev", data_dir=tmp_path_factory.mktemp("docs"))
    return create_app(spec, settings).openapi()


def api_operations(document: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [(m, p, op) for p, item in document["paths"].items() for m, op in item.items() if p.startswith("/app/api/")]


def test_every_api_operation_documents_its_answer(document: dict[str, Any]) -> None:
    operations = api_operations(document)
    assert len(operations) >= 80
    for method, path, operation in operations:
        answers = {code: a for code, a in operation["responses"].items() if code.startswith("2")}
        assert answers, (method, path)
        for code, answer in answers.items():
            schema = (answer.get("content") or {}).get("application/json", {}).get("schema")
            assert code == "204" or schema not in (None, {}), (method, path, code)


def test_every_api_operation_that_takes_a_body_documents_it(document: dict[str, Any]) -> None:
    for method, path, operation in api_operations(document):
        if method in ("post", "put", "patch") and (method, path) not in NO_BODY:
            body = operation.get("requestBody", {}).get("content", {}).get("application/json", {}).get("schema")
            assert body, (method, path)


def test_relayed_operations_carry_their_services_schemas(document: dict[str, Any]) -> None:
    paths = document["paths"]
    register = paths["/app/api/users"]["post"]
    assert register["requestBody"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/user-service.UserIn"
    }
    product = paths["/app/api/products/{productId}"]["get"]["responses"]["200"]["content"]["application/json"]
    assert product["schema"] == {"$ref": "#/components/schemas/product-service.ProductOut"}
    schemas = document["components"]["schemas"]
    assert "description" in schemas["product-service.ProductOut"]["properties"]
    refs = set(_refs(document))
    assert refs <= set(schemas), refs - set(schemas)
    checkout = paths["/app/api/cart/checkout"]["post"]["responses"]["201"]["content"]["application/json"]["schema"]
    assert checkout == {"$ref": "#/components/schemas/order-service.OrderOut"}
    assert paths["/app/api/authenticate/jwt/{jwt}"]["get"]["responses"]["200"]["content"]["application/json"][
        "schema"
    ] == {"type": "boolean", "title": "Response Check Token App Api Authenticate Jwt  Jwt  Get"}


def _refs(value: Any) -> list[str]:
    if isinstance(value, dict):
        found = [value["$ref"].rsplit("/", 1)[1]] if isinstance(value.get("$ref"), str) else []
        return found + [r for item in value.values() for r in _refs(item)]
    if isinstance(value, list):
        return [r for item in value for r in _refs(item)]
    return []


def test_the_docs_page_is_served(tmp_path: Path) -> None:
    spec = components.load_spec("proxy-client")
    app = create_app(spec, spec.settings_cls(access_log=False, profile="dev", data_dir=tmp_path))
    assert any(getattr(route, "path", "") == "/app/docs" for route in app.routes)
