"""Settings precedence: defaults < config server < environment."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from ecommerce.chassis import ServiceSettings, load_settings
from ecommerce.chassis.settings import sqlite_url


def test_defaults() -> None:
    settings = ServiceSettings()
    assert settings.profile == "dev"
    assert settings.seeds_demo_data
    assert settings.trace_sampling_ratio == 0.1


def test_remote_values_beat_defaults_and_env_beats_remote(monkeypatch: pytest.MonkeyPatch) -> None:
    remote = {"log_level": "DEBUG", "peer_timeout_seconds": 7}
    assert load_settings(ServiceSettings, "product-service", remote).log_level == "DEBUG"
    monkeypatch.setenv("ECOMMERCE_LOG_LEVEL", "WARNING")
    settings = load_settings(ServiceSettings, "product-service", remote)
    assert settings.log_level == "WARNING"
    assert settings.peer_timeout_seconds == 7


def test_service_specific_database_url_wins(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", "sqlite+aiosqlite:///generic.db")
    monkeypatch.setenv("PRODUCT_SERVICE_DATABASE_URL", "postgresql+asyncpg://u@h/productdb")
    assert load_settings(ServiceSettings, "product-service").database_url == "postgresql+asyncpg://u@h/productdb"
    assert load_settings(ServiceSettings, "user-service").database_url == "sqlite+aiosqlite:///generic.db"


def test_profile_is_checked(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ECOMMERCE_PROFILE", "staging")
    with pytest.raises(ValidationError):
        ServiceSettings()
    monkeypatch.setenv("ECOMMERCE_PROFILE", "prod")
    assert not ServiceSettings().seeds_demo_data


def test_sqlite_files_live_in_the_data_dir(tmp_path: Path) -> None:
    url = sqlite_url(tmp_path / "data", "product-service")
    assert url == f"sqlite+aiosqlite:///{tmp_path / 'data' / 'product-service.db'}"
    assert (tmp_path / "data").is_dir()
