"""Property-based fuzzing of every HTTP component from its own OpenAPI document (schemathesis).

Each component runs in-process over ASGI (its app from `create_app`, a temporary SQLite database, the demo rows);
the services it calls are real processes. For every documented operation, generated requests must get:
no 5xx, a response that matches the documented schema and content type, and the one error body on every 4xx.
Each generated request is also sent again with a string of its query, body or path made hostile: one holding NUL
(never storable in PostgreSQL: a 4xx with the error body, never a 2xx or a 5xx) and one of characters outside the
Basic Multilingual Plane (emoji, musical symbols: never a 5xx), since random generation seldom makes either.

`RELIABILITY_FUZZ_EXAMPLES` (default 25) bounds the examples per operation.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from reliability_support import BUSINESS, ERROR_KEYS, Shop, running_shop
from shop_testing import require

from ecommerce import components
from ecommerce.chassis import create_app

try:
    import schemathesis
    from hypothesis import HealthCheck, Phase, given, settings
    from schemathesis.checks import not_a_server_error
    from schemathesis.python import asgi as schemathesis_asgi
    from schemathesis.specs.openapi.checks import content_type_conformance, response_schema_conformance
except ImportError:  # the test says so (and fails in CI)
    schemathesis = None

pytestmark = pytest.mark.slow

EXAMPLES = int(os.environ.get("RELIABILITY_FUZZ_EXAMPLES", "25"))
NEEDS_PEERS = {"favourite-service", "order-service", "shipping-service", "payment-service", "proxy-client"}
# Protocols we re-implement keep their own error shapes: Eureka answers 4xx with an empty body, and the config
# server's /encrypt and /decrypt answer Spring Cloud Config's {"description", "status"}.
OWN_ERROR_SHAPE = ("/eureka/", "/encrypt", "/decrypt")


@pytest.fixture(scope="module")
def peers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Shop]:
    """The six business services as real processes (SQLite, demo rows), for the fuzzed services to call."""
    with running_shop(tmp_path_factory.mktemp("fuzz-peers"), BUSINESS) as shop:
        yield shop


def error_body_on_4xx(response: Any, case: Any) -> None:
    if 400 <= response.status_code < 500 and not any(part in case.path for part in OWN_ERROR_SHAPE):
        body = json.loads(response.content or b"null")
        assert isinstance(body, dict) and ERROR_KEYS <= set(body), f"{response.status_code} without the error body"
        assert body["msg"], body


@pytest.mark.parametrize("name", components.names())
def test_every_operation_answers_by_its_schema(
    name: str, request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    require(schemathesis is not None, "schemathesis is not installed (see docs/reliability.md)")
    spec = components.load_spec(name)
    overrides: dict[str, Any] = {"access_log": False, "log_level": "WARNING", "profile": "dev", "data_dir": tmp_path}
    if spec.migrations is not None:
        overrides["database_url"] = f"sqlite+aiosqlite:///{tmp_path / 'fuzz.db'}"
    headers: dict[str, str] = {}
    if name in NEEDS_PEERS:
        shop: Shop = request.getfixturevalue("peers")
        overrides["peers"] = {peer: url for peer, url in shop.urls.items() if peer in BUSINESS}
    if name == "user-service":
        monkeypatch.setenv("BCRYPT_ROUNDS", "4")
    if name == "proxy-client":
        headers = storefront_user(spec, overrides, tmp_path)
    if name == "service-discovery":
        headers = {"Accept": "application/json"}
    app = create_app(spec, spec.settings_cls(**overrides))
    schema = schemathesis.openapi.from_asgi(f"{spec.context_path}/openapi.json", app)
    failures: dict[str, str] = {}
    try:
        for result in schema.get_all_operations():
            operation = result.ok()
            try:
                fuzz(operation, headers)
            except (Exception, BaseExceptionGroup) as exc:  # schemathesis reports a group of failures
                failures[operation.label] = str(exc)[-2500:]
    finally:
        schemathesis_asgi.shutdown_lifespans()
    assert not failures, "\n\n".join(f"== {label}\n{text}" for label, text in failures.items())


def fuzz(operation: Any, headers: dict[str, str]) -> None:
    @given(case=operation.as_strategy())
    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
        phases=[Phase.explicit, Phase.generate],
        print_blob=False,
    )
    def run(case: Any) -> None:
        response = case.call(headers=headers)
        case.validate_response(
            response, checks=[not_a_server_error, response_schema_conformance, content_type_conformance]
        )
        error_body_on_4xx(response, case)
        for hostile in HOSTILE:
            for variant in hostile_variants(case, hostile.text):
                answer = variant.call(headers=headers)
                where = f"{variant.method} {variant.path} with {hostile.text!r}: {answer.status_code}"
                assert answer.status_code < 500, f"{where} {answer.content[:300]!r}"
                if hostile.refused:
                    assert 400 <= answer.status_code < 500, where
                error_body_on_4xx(answer, variant)

    run()


@dataclass(frozen=True)
class Hostile:
    """A string random generation seldom makes, and whether it must be refused (4xx) wherever it is sent."""

    text: str
    refused: bool


HOSTILE = (Hostile("nul\x00byte", refused=True), Hostile("astral \U0001f600\U0001d11e\U00010348", refused=False))


def hostile_variants(case: Any, text: str) -> Iterator[Any]:
    """Copies of `case`, each with the first string of its query, its body or its path parameters set to `text`."""
    for part in ("query", "body", "path_parameters"):
        value = getattr(case, part)
        if part == "body" and not isinstance(value, (dict, list, str)):
            continue
        changed, done = _replace_first_string(value, text)
        if not done:
            continue
        fields = {name: getattr(case, name) for name in ("query", "body", "path_parameters")}
        fields[part] = changed
        yield type(case)(
            case.operation,
            case.method,
            case.path,
            path_parameters=dict(fields["path_parameters"] or {}),
            headers=case.headers.copy() if case.headers is not None else None,
            cookies=dict(case.cookies or {}),
            query=dict(fields["query"] or {}),
            body=fields["body"],
            media_type=case.media_type,
        )


def _replace_first_string(value: Any, text: str) -> tuple[Any, bool]:
    if isinstance(value, str):
        return text, True
    if isinstance(value, dict):
        copy = dict(value)
        for key, item in value.items():
            copy[key], done = _replace_first_string(item, text)
            if done:
                return copy, True
    if isinstance(value, list):
        items = list(value)
        for index, item in enumerate(value):
            items[index], done = _replace_first_string(item, text)
            if done:
                return items, True
    return value, False


def storefront_user(spec: Any, overrides: dict[str, Any], tmp_path: Path) -> dict[str, str]:
    """A shopper's token signed with the in-process storefront's own key (userId 1 of the demo rows)."""
    from ecommerce.services.storefront import keys, tokens

    key_file = tmp_path / "signing-key.pem"
    key_file.write_bytes(keys.private_pem(keys.generate_private_key()))
    overrides["jwt_private_key_file"] = key_file
    ring = keys.load_keyring(spec.settings_cls(**overrides))
    token = tokens.issue(
        ring, user_id=1, username="selimhorri", role="ROLE_USER", ttl_seconds=900, issuer="proxy-client"
    )
    return {"Authorization": f"Bearer {token}"}
