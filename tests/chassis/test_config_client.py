"""Settings from the config server: at start, with the environment winning, when it is down, and on refresh."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
import uvicorn
from fastapi import FastAPI

from ecommerce.chassis import ServiceSettings, ServiceSpec, config_client, create_app, load_settings
from ecommerce.chassis.identity import MeshSecrets, component_password
from ecommerce.services.config import SPEC as CONFIG_SERVER
from ecommerce.services.config.settings import ConfigServerSettings

DEMO = ServiceSpec(name="demo-service", port=8999, context_path="/demo-service")
# The environment's identity secrets: the config server checks callers against them, the service derives its own.
IDENTITY = {
    "SERVICE_KEYS": "test:" + "k" * 40,
    "OPERATOR_PASSWORD": "operator-test-password",
    "PROMETHEUS_PASSWORD": "prometheus-test-password",
}
MESH = MeshSecrets.parse(*IDENTITY.values())


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.asynccontextmanager
async def _config_server(repo: Path, **overrides: object) -> AsyncIterator[str]:
    port = _free_port()
    app = create_app(
        CONFIG_SERVER,
        ConfigServerSettings(
            config_repo_dir=repo,
            access_log=False,
            **{name.lower(): value for name, value in IDENTITY.items()},
            **overrides,
        ),
    )
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None, lifespan="on"))
    server.install_signal_handlers = lambda: None  # type: ignore[method-assign]
    task = asyncio.create_task(server.serve())
    while not server.started:
        assert not task.done()
        await asyncio.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("ECOMMERCE_LOG_LEVEL", "ECOMMERCE_PROFILE", "PEER_TIMEOUT_SECONDS", "PEER_RETRIES", "DB_POOL_SIZE"):
        monkeypatch.delenv(name, raising=False)
    for name in ("CONFIG_LABEL", "SPRING_CLOUD_CONFIG_LABEL", "SPRING_CLOUD_CONFIG_URI", "DISCOVERY_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.delenv("EUREKA_CLIENT_SERVICEURL_DEFAULTZONE", raising=False)


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    (tmp_path / "application.yml").write_text("log_level: INFO\npeer_timeout_seconds: 4.0\n")
    (tmp_path / "demo-service.yml").write_text("db.pool.size: 7\npeers:\n  user-service: http://users:8700\n")
    (tmp_path / "demo-service-dev.yml").write_text("db_pool_size: 5\npeer-retries: 4\n")
    (tmp_path / "demo-service-prod.yml").write_text("db_pool_size: 30\n")
    (tmp_path / "v2").mkdir()
    (tmp_path / "v2" / "demo-service.yml").write_text("db_pool_size: 42\n")
    return tmp_path


def _build(monkeypatch: pytest.MonkeyPatch, url: str, **env: str) -> FastAPI:
    monkeypatch.setenv("CONFIG_SERVER_URL", url)
    for key, value in {**IDENTITY, **env}.items():
        monkeypatch.setenv(key, value)
    return create_app(DEMO, load_settings(ServiceSettings, DEMO.name))


async def test_settings_come_from_the_server_with_profiles_and_the_environment_wins(
    repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with _config_server(repo) as url:
        dev = (await asyncio.to_thread(_build, monkeypatch, url, PEER_TIMEOUT_SECONDS="9")).state.settings
        assert dev.db_pool_size == 5 and dev.peer_retries == 4  # most specific source, dashed key mapped
        assert dev.peers == {"user-service": "http://users:8700"}
        assert dev.peer_timeout_seconds == 9.0  # the environment beats the config server
        prod = (await asyncio.to_thread(_build, monkeypatch, url, ECOMMERCE_PROFILE="prod")).state.settings
        assert prod.db_pool_size == 30
        labelled = (await asyncio.to_thread(_build, monkeypatch, url, CONFIG_LABEL="v2")).state.settings
        assert labelled.db_pool_size == 42


async def test_the_client_proves_its_component_or_uses_the_credentials_in_the_url(
    repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with _config_server(repo) as url:
        derived = (await asyncio.to_thread(_build, monkeypatch, url)).state.settings
        assert derived.db_pool_size == 5  # read as demo-service, with the password derived from the mesh key
        user_service = f"user-service:{component_password(MESH, 'user-service')}@"
        given = url.replace("http://", f"http://{user_service}")
        refused = (await asyncio.to_thread(_build, monkeypatch, given)).state.settings
        assert refused.db_pool_size == ServiceSettings.model_fields["db_pool_size"].default  # 403: not its documents
        wrong_key = await asyncio.to_thread(_build, monkeypatch, url, SERVICE_KEYS="other:" + "z" * 40)
        assert wrong_key.state.settings.db_pool_size == ServiceSettings.model_fields["db_pool_size"].default


async def test_a_config_server_down_at_start_means_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(config_client, "BACKOFF_SECONDS", 0.01)
    app = await asyncio.to_thread(_build, monkeypatch, f"http://127.0.0.1:{_free_port()}")
    assert app.state.settings.db_pool_size == ServiceSettings.model_fields["db_pool_size"].default
    assert app.state.remote_config == {}


async def test_refresh_applies_run_time_settings_only(repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    async with _config_server(repo) as url:
        app = await asyncio.to_thread(_build, monkeypatch, url, PEER_RETRIES="1")
        settings = app.state.settings
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            operator = ("operator", IDENTITY["OPERATOR_PASSWORD"])  # refresh is management: operators only
            async with httpx.AsyncClient(transport=transport, base_url="http://test", auth=operator) as http:
                assert (await http.post("/demo-service/actuator/refresh")).json() == []
                (repo / "application.yml").write_text("log_level: WARNING\npeer_timeout_seconds: 1.5\n")
                (repo / "demo-service-dev.yml").write_text("db_pool_size: 50\npeer-retries: 3\n")
                changed = (await http.post("/demo-service/actuator/refresh")).json()
        assert changed == ["log_level", "peer_timeout_seconds"]
        assert app.state.settings is settings  # changed in place: the peer client sees it
        assert settings.log_level == "WARNING" and settings.peer_timeout_seconds == 1.5
        assert settings.db_pool_size == 5  # needs a restart
        assert settings.peer_retries == 1  # the environment still wins


def test_spring_style_keys_map_onto_fields() -> None:
    values = config_client.settings_values(
        {
            "logging.level.root": "DEBUG",
            "db-max-overflow": 3,
            "peers.order-service": "http://orders:8300",
            "unknown.key": 1,
        },
        ServiceSettings,
    )
    assert values == {"log_level": "DEBUG", "db_max_overflow": 3, "peers": {"order-service": "http://orders:8300"}}


def test_lists_nested_under_a_dict_field_keep_their_indexes() -> None:
    from ecommerce.chassis.config_client import settings_values
    from ecommerce.services.gateway import SPEC as GATEWAY

    flat = {
        "gateway.cors.allowed-origins[0]": "http://a",
        "gateway.cors.allowed-origins[1]": "http://b",
        "gateway.policy[1].methods[0]": "GET",
    }
    values = settings_values(flat, GATEWAY.settings_cls)
    assert values["gateway"]["cors"]["allowed-origins"] == ["http://a", "http://b"]
    assert values["gateway"]["policy"][1] == {"methods": ["GET"]}
