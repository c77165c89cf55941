"""cloud-config-server: Spring's Environment JSON and documents, labels, placeholders, ciphers, git (as the
operator, who reads everything; who may read what: test_config_access.py)."""

from __future__ import annotations

import asyncio
import shutil
import subprocess
from pathlib import Path

import httpx
import pytest
import yaml
from config_support import OPERATOR, component, config_server

from ecommerce.services.config import crypto

ROOT = Path(__file__).resolve().parents[3]
COMPONENTS = [
    "service-discovery",
    "cloud-config-server",
    "api-gateway",
    "proxy-client",
    "user-service",
    "product-service",
    "favourite-service",
    "order-service",
    "shipping-service",
    "payment-service",
]


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    root = tmp_path / "repo"
    root.mkdir()
    (root / "application.yml").write_text("log_level: INFO\npeer_timeout_seconds: 3.0\nshop:\n  name: Shop\n")
    (root / "application-dev.yml").write_text("log_level: DEBUG\n")
    (root / "orders.yml").write_text("db_pool_size: 10\ngreeting: 'Hello ${shop.name}'\nport: ${missing:8300}\n")
    (root / "orders-dev.yml").write_text("db_pool_size: 5\nfeatures: [a, b]\n")
    (root / "orders-qa.properties").write_text("db_pool_size=7\n")
    (root / "v2").mkdir()
    (root / "v2" / "orders.yml").write_text("db_pool_size: 99\n")
    return root


async def test_environment_json_lists_sources_most_specific_first(repo: Path) -> None:
    async with config_server(config_repo_dir=repo) as base, httpx.AsyncClient(base_url=base, auth=OPERATOR) as http:
        env = (await http.get("/orders/dev")).json()
        assert env["name"] == "orders" and env["profiles"] == ["dev"] and env["state"] is None
        names = [Path(source["name"]).name for source in env["propertySources"]]
        assert names == ["orders-dev.yml", "application-dev.yml", "orders.yml", "application.yml"]
        assert env["propertySources"][0]["source"] == {"db_pool_size": 5, "features[0]": "a", "features[1]": "b"}
        orders = env["propertySources"][2]["source"]
        assert orders["greeting"] == "Hello Shop" and orders["port"] == "8300"  # placeholders resolved

        qa = (await http.get("/orders/qa")).json()
        assert qa["propertySources"][0]["source"] == {"db_pool_size": "7"}
        # Several profiles: the last one wins.
        both = (await http.get("/orders/qa,dev")).json()
        both_names = [Path(s["name"]).name for s in both["propertySources"]][:3]
        assert both_names == ["orders-dev.yml", "application-dev.yml", "orders-qa.properties"]
        labelled = (await http.get("/orders/default/v2")).json()
        assert labelled["label"] == "v2" and labelled["propertySources"][0]["source"] == {"db_pool_size": 99}
        assert (await http.get("/actuator/health")).json()["status"] == "UP"  # not mistaken for an application


async def test_merged_documents_in_every_format(repo: Path) -> None:
    async with config_server(config_repo_dir=repo) as base, httpx.AsyncClient(base_url=base, auth=OPERATOR) as http:
        document = yaml.safe_load((await http.get("/orders-dev.yml")).text)
        assert document["db_pool_size"] == 5 and document["log_level"] == "DEBUG"
        assert document["features"] == ["a", "b"] and document["shop"] == {"name": "Shop"}
        assert yaml.safe_load((await http.get("/v2/orders-dev.yaml")).text)["db_pool_size"] == 99
        properties = (await http.get("/orders-dev.properties")).text
        assert "db_pool_size: 5\n" in properties and "shop.name: Shop\n" in properties
        assert (await http.get("/orders-dev.json")).json()["shop"]["name"] == "Shop"
        assert (await http.get("/nodash.yml")).status_code == 404


async def test_cipher_values_encrypt_and_decrypt(repo: Path) -> None:
    secret = crypto.encrypt("s3cret", "dev-key")
    (repo / "orders.yml").write_text(f"password: '{{cipher}}{secret}'\n")
    async with (
        config_server(config_repo_dir=repo, encrypt_key="dev-key") as base,
        httpx.AsyncClient(base_url=base, auth=OPERATOR) as http,
    ):
        assert (await http.get("/orders/dev")).json()["propertySources"][2]["source"] == {"password": "s3cret"}
        encrypted = (await http.post("/encrypt", content="hello")).text
        assert (await http.post("/decrypt", content=encrypted)).text == "hello"
        assert (await http.post("/decrypt", content="00ff")).status_code == 400
    async with config_server(config_repo_dir=repo) as base, httpx.AsyncClient(base_url=base, auth=OPERATOR) as http:
        # Without the key the value is reported invalid, never served encrypted.
        assert (await http.get("/orders/dev")).json()["propertySources"][2]["source"] == {"invalid.password": "<n/a>"}
        assert (await http.post("/encrypt", content="x")).status_code == 404


async def test_spring_config_client_from_pypi_reads_our_server() -> None:
    config = pytest.importorskip("config")
    async with config_server() as base:

        def fetch() -> dict[str, object]:
            client = config.ConfigClient(address=base, app_name="user-service", profile="dev", label="master")
            client.get_config(auth=component("user-service"))  # HTTP Basic, as the client documents it
            return dict(client.config)

        values = await asyncio.to_thread(fetch)
    assert values["bcrypt_rounds"] == 4 and values["log_level"] == "INFO" and values["trace_sampling_ratio"] == 1.0


def test_config_repo_has_every_component_and_profile() -> None:
    repo = ROOT / "config-repo"
    for name in COMPONENTS:
        for suffix in ("", "-dev", "-qa", "-prod"):
            data = yaml.safe_load((repo / f"{name}{suffix}.yml").read_text())
            assert isinstance(data, dict) and data, f"{name}{suffix}.yml is empty"
    assert yaml.safe_load((repo / "api-gateway.yml").read_text())["gateway"]["routes"]


def _git(cwd: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True)


async def test_git_backend_serves_branches_and_follows_new_commits(tmp_path: Path) -> None:
    if shutil.which("git") is None:
        pytest.skip("git is not installed")
    origin = tmp_path / "origin"
    origin.mkdir()
    _git(origin, "init", "-q", "-b", "main")
    _git(origin, "config", "user.email", "config@example.test")
    _git(origin, "config", "user.name", "config")
    (origin / "orders.yml").write_text("db_pool_size: 1\n")
    _git(origin, "add", ".")
    _git(origin, "commit", "-q", "-m", "one")
    _git(origin, "checkout", "-q", "-b", "feature")
    (origin / "orders.yml").write_text("db_pool_size: 2\n")
    _git(origin, "commit", "-q", "-am", "feature")
    _git(origin, "checkout", "-q", "main")

    settings = {"git_uri": str(origin), "git_refresh_seconds": 0, "git_cache_dir": tmp_path / "cache"}
    async with config_server(**settings) as base, httpx.AsyncClient(base_url=base, auth=OPERATOR) as http:
        main = (await http.get("/orders/dev")).json()
        assert main["label"] == "main" and main["propertySources"][0]["source"] == {"db_pool_size": 1}
        assert len(main["version"]) == 40
        feature = (await http.get("/orders/dev/feature")).json()
        assert feature["propertySources"][0]["source"] == {"db_pool_size": 2}
        master = (await http.get("/orders/dev/master")).json()  # Spring clients' default label
        assert master["label"] == "main"
        assert (await http.get("/orders/dev/nope")).status_code == 404

        (origin / "orders.yml").write_text("db_pool_size: 3\n")
        _git(origin, "commit", "-q", "-am", "three")
        refreshed = (await http.get("/orders/dev")).json()
        assert refreshed["propertySources"][0]["source"] == {"db_pool_size": 3}
        assert refreshed["version"] != main["version"]
