"""Who may read what at the config server: each component its own documents, the operator everything.

Issue 13, item 8: no authentication, `{cipher}` values decrypted for anyone, `/decrypt` open, absolute paths in
the answers.
"""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from config_support import OPERATOR, component, config_server

from ecommerce.services.config import crypto

KEY = "dev-key"


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    root = tmp_path / "repo"
    (root / "v2").mkdir(parents=True)
    (root / "application.yml").write_text("shop:\n  name: Shop\n")
    secret = crypto.encrypt("payments-db-password", KEY)
    (root / "payment-service.yml").write_text(f"database_url: '{{cipher}}{secret}'\n")
    (root / "order-service.yml").write_text("db_pool_size: 10\n")
    (root / "v2" / "order-service.yml").write_text("db_pool_size: 99\n")
    return root


@pytest.mark.parametrize("auth", [None, ("order-service", "guessed"), ("operator", "guessed")])
async def test_every_call_needs_a_proven_caller(repo: Path, auth: tuple[str, str] | None) -> None:
    async with config_server(config_repo_dir=repo, encrypt_key=KEY) as base:
        async with httpx.AsyncClient(base_url=base, auth=auth) as http:
            ciphertext = (repo / "payment-service.yml").read_text().split("}")[1].strip("'\n")
            for response in (
                await http.get("/payment-service/dev"),
                await http.get("/payment-service-dev.yml"),
                await http.get("/payment-service/dev/v2"),
                await http.post("/decrypt", content=ciphertext),
                await http.post("/encrypt", content="x"),
            ):
                assert response.status_code == 401
                assert response.headers["www-authenticate"].startswith("Basic")
                assert "payments-db-password" not in response.text
            assert (await http.get("/actuator/health")).status_code == 200  # health stays public


async def test_a_component_reads_its_own_and_the_shared_documents_only(repo: Path) -> None:
    async with config_server(config_repo_dir=repo, encrypt_key=KEY) as base:
        async with httpx.AsyncClient(base_url=base, auth=component("order-service")) as orders:
            own = await orders.get("/order-service/dev")
            assert own.status_code == 200
            assert (await orders.get("/application/dev")).status_code == 200
            assert (await orders.get("/order-service-dev.yml")).status_code == 200
            assert (await orders.get("/v2/order-service-dev.yml")).status_code == 200
            for path in (
                "/payment-service/dev",
                "/order-service,payment-service/dev",
                "/payment-service-dev.yml",
                "/payment-service-dev.json",
                "/v2/payment-service-dev.properties",
                "/payment-service/dev/v2",
            ):
                response = await orders.get(path)
                assert response.status_code == 403, path
                assert "payments-db-password" not in response.text
        async with httpx.AsyncClient(base_url=base, auth=component("payment-service")) as payments:
            env = (await payments.get("/payment-service/dev")).json()
            assert env["propertySources"][0]["source"] == {"database_url": "payments-db-password"}
        async with httpx.AsyncClient(base_url=base, auth=OPERATOR) as operator:
            assert (await operator.get("/payment-service/dev")).status_code == 200
            assert (await operator.get("/order-service,payment-service/dev")).status_code == 200
        async with httpx.AsyncClient(base_url=base, auth=("prometheus", "prometheus-test-password")) as prometheus:
            assert (await prometheus.get("/order-service/dev")).status_code == 403


async def test_encrypt_and_decrypt_are_the_operators(repo: Path) -> None:
    async with config_server(config_repo_dir=repo, encrypt_key=KEY) as base:
        async with httpx.AsyncClient(base_url=base, auth=component("payment-service")) as payments:
            ciphertext = crypto.encrypt("anything", KEY)
            assert (await payments.post("/decrypt", content=ciphertext)).status_code == 403
            assert (await payments.post("/encrypt", content="x")).status_code == 403
            assert (await payments.get("/encrypt/status")).status_code == 403
        async with httpx.AsyncClient(base_url=base, auth=OPERATOR) as operator:
            encrypted = (await operator.post("/encrypt", content="hello")).text
            assert (await operator.post("/decrypt", content=encrypted)).text == "hello"
            assert (await operator.get("/encrypt/status")).json() == {"status": "OK"}


async def test_property_source_names_are_relative_to_the_repository(repo: Path) -> None:
    async with config_server(config_repo_dir=repo) as base:
        async with httpx.AsyncClient(base_url=base, auth=component("order-service")) as orders:
            plain = await orders.get("/order-service/dev")
            labelled = await orders.get("/order-service/dev/v2")
    assert [source["name"] for source in plain.json()["propertySources"]] == ["order-service.yml", "application.yml"]
    assert [source["name"] for source in labelled.json()["propertySources"]] == ["v2/order-service.yml"]
    for response in (plain, labelled):
        assert str(repo) not in response.text and "file:" not in response.text
