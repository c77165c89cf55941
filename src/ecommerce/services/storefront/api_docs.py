"""/app/docs documents what each /app/api operation takes and answers: its peer's own document, where it relays one.

Most /app/api routes relay a body to one endpoint of one service and answer what it says, so they declare neither
(they read raw JSON: the service validates it, and ownership rules edit it first). Their request bodies and answers
are the service's, and are taken from the service's routes here, when the document is first built: the same path
under `/api` and the same method, or the endpoint ALIASES names. Schemas keep their service's name as a prefix
(`product-service.ProductOut`), so two services' `UserRef` never clash. The routes the storefront answers itself
(sign-in, checkout, the cart) declare their own models.
"""

from __future__ import annotations

import json
import re
from functools import cache
from typing import Any

from fastapi.openapi.utils import get_openapi
from fastapi.routing import APIRoute

from ecommerce import components

API = "/app/api"
PEERS = ("user-service", "product-service", "favourite-service", "order-service", "payment-service", "shipping-service")
# /app/api operations whose service endpoint has another path or method: (method, path) -> (peer, method, path).
ALIASES = {
    ("post", "/checkout"): ("order-service", "post", "/api/orders/checkout"),
    ("post", "/cart/checkout"): ("order-service", "post", "/api/orders/checkout"),
    ("post", "/orders/{orderId}/pay"): ("payment-service", "patch", "/api/payments/{paymentId}"),
    ("get", "/favourites/find"): ("favourite-service", "post", "/api/favourites/find"),
    ("get", "/shippings/find"): ("shipping-service", "post", "/api/shippings/find"),
}
_REF = re.compile(r'"#/components/schemas/([^"]+)"')
_ANSWERS = ("200", "201", "204")


@cache
def peer_document(peer: str) -> dict[str, Any]:
    """The service's OpenAPI paths and schemas (context path left out), its schema names prefixed with its name."""
    spec = components.load_spec(peer)
    routes = [r for router in spec.routers for r in router.routes if isinstance(r, APIRoute) and r.include_in_schema]
    document = get_openapi(title=peer, version="1", routes=routes)
    text = _REF.sub(lambda m: f'"#/components/schemas/{peer}.{m.group(1)}"', json.dumps(document))
    found: dict[str, Any] = json.loads(text)
    schemas = found.get("components", {}).get("schemas", {})
    found["schemas"] = {f"{peer}.{name}": schema for name, schema in schemas.items()}
    return found


def _peer_operation(method: str, path: str) -> tuple[dict[str, Any], dict[str, Any]] | None:
    """The service operation an /app/api operation relays to, with its service's schemas."""
    if (method, path) in ALIASES:
        peer, peer_method, peer_path = ALIASES[(method, path)]
        candidates = [(peer, peer_method, peer_path)]
    else:
        candidates = [(peer, method, f"/api{path}") for peer in PEERS]
    for peer, peer_method, peer_path in candidates:
        document = peer_document(peer)
        operation = document["paths"].get(peer_path, {}).get(peer_method)
        if operation is not None:
            return operation, document["schemas"]
    return None


def _is_blank(answer: dict[str, Any] | None) -> bool:
    schema = ((answer or {}).get("content") or {}).get("application/json", {}).get("schema")
    return answer is None or schema in (None, {})


def complete(document: dict[str, Any]) -> None:
    """Give each /app/api operation that relays a body its service's request body and answers (in place)."""
    schemas = document.setdefault("components", {}).setdefault("schemas", {})
    wanted: set[str] = set()
    available: dict[str, Any] = {}
    for path, item in document.get("paths", {}).items():
        if not path.startswith(API + "/"):
            continue
        for method, operation in item.items():
            found = _peer_operation(method, path[len(API) :])
            if found is None:
                continue
            peer_operation, peer_schemas = found
            available.update(peer_schemas)
            if "requestBody" not in operation and "requestBody" in peer_operation:
                operation["requestBody"] = peer_operation["requestBody"]
            responses = operation.setdefault("responses", {})
            ours = [code for code in _ANSWERS if code in responses]
            if all(_is_blank(responses[code]) for code in ours):
                for code in ours:
                    del responses[code]
                responses.update({k: v for k, v in peer_operation.get("responses", {}).items() if k in _ANSWERS})
            wanted |= set(_REF.findall(json.dumps(operation)))
    while missing := {name for name in wanted if name not in schemas and name in available}:
        for name in missing:
            schemas[name] = available[name]
            wanted |= set(_REF.findall(json.dumps(available[name])))
