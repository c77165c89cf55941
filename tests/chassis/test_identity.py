"""Service identity: derived Basic passwords, service tokens, key rotation and the dev profile's generated secrets."""

from __future__ import annotations

import base64
import time
from pathlib import Path

import jwt
import pytest

from ecommerce.chassis.identity import (
    Caller,
    IdentityConfigurationError,
    IdentityError,
    MeshSecrets,
    ServiceTokens,
    caller_from_basic,
    component_password,
    verify_service_token,
)
from ecommerce.chassis.settings import ServiceSettings

KEY_A = "a:" + "A" * 40
KEY_B = "b:" + "B" * 40
OPERATOR_PASSWORD = "operator-password-1"
PROMETHEUS_PASSWORD = "prometheus-password-1"


def _secrets(keys: str = KEY_A) -> MeshSecrets:
    return MeshSecrets.parse(keys, OPERATOR_PASSWORD, PROMETHEUS_PASSWORD)


def _basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def test_a_component_password_proves_that_component_only() -> None:
    mesh = _secrets()
    password = component_password(mesh, "order-service")
    assert caller_from_basic(mesh, _basic("order-service", password)) == Caller("order-service", "component")
    assert caller_from_basic(mesh, _basic("user-service", password)) is None
    assert caller_from_basic(mesh, _basic("order-service", password + "x")) is None
    assert caller_from_basic(mesh, None) is None
    assert caller_from_basic(mesh, "Basic not-base64!") is None


def test_operator_and_prometheus_have_their_own_passwords() -> None:
    mesh = _secrets()
    assert caller_from_basic(mesh, _basic("operator", OPERATOR_PASSWORD)) == Caller("operator", "operator")
    assert caller_from_basic(mesh, _basic("prometheus", PROMETHEUS_PASSWORD)) == Caller("prometheus", "prometheus")
    assert caller_from_basic(mesh, _basic("operator", PROMETHEUS_PASSWORD)) is None


def test_a_service_token_names_its_caller_and_is_for_one_audience() -> None:
    mesh = _secrets()
    token = ServiceTokens(mesh, "order-service").token_for("product-service")
    assert verify_service_token(mesh, token, "product-service") == Caller("order-service", "component")
    with pytest.raises(IdentityError):
        verify_service_token(mesh, token, "payment-service")


def test_tokens_are_reused_until_shortly_before_expiry() -> None:
    tokens = ServiceTokens(_secrets(), "order-service")
    assert tokens.token_for("product-service") is tokens.token_for("product-service")


def test_a_token_of_another_key_or_expired_is_refused() -> None:
    mesh = _secrets()
    foreign = ServiceTokens(_secrets("a:" + "Z" * 40), "order-service").token_for("product-service")
    with pytest.raises(IdentityError):
        verify_service_token(mesh, foreign, "product-service")
    now = int(time.time())
    claims = {"iss": "ecommerce-mesh", "sub": "x", "aud": "product-service", "iat": now - 600, "exp": now - 60}
    expired = jwt.encode(claims, b"A" * 40, algorithm="HS256", headers={"kid": "a"})
    with pytest.raises(IdentityError):
        verify_service_token(mesh, expired, "product-service")
    with pytest.raises(IdentityError):
        verify_service_token(mesh, "not-a-token", "product-service")


def test_rotation_overlaps_old_and_new_keys() -> None:
    old = _secrets(KEY_A)
    rotating = _secrets(f"{KEY_B},{KEY_A}")
    old_token = ServiceTokens(old, "order-service").token_for("product-service")
    assert verify_service_token(rotating, old_token, "product-service").name == "order-service"
    old_password = component_password(old, "order-service")
    assert caller_from_basic(rotating, _basic("order-service", old_password)) is not None
    assert component_password(rotating, "order-service") != old_password  # the new key signs


@pytest.mark.parametrize("keys", ["", "nokid", "a:short", ":" + "A" * 40])
def test_malformed_keys_are_refused(keys: str) -> None:
    with pytest.raises(IdentityConfigurationError):
        _secrets(keys)


def test_dev_secrets_are_generated_once_per_data_folder(tmp_path: Path) -> None:
    first = MeshSecrets.from_settings(ServiceSettings(data_dir=tmp_path))
    again = MeshSecrets.from_settings(ServiceSettings(data_dir=tmp_path))
    assert first == again
    assert (tmp_path / "secrets" / "identity.json").stat().st_mode & 0o077 == 0
    other = MeshSecrets.from_settings(ServiceSettings(data_dir=tmp_path / "other"))
    assert other.keys != first.keys


def test_outside_dev_the_secrets_are_required(tmp_path: Path) -> None:
    with pytest.raises(IdentityConfigurationError, match="SERVICE_KEYS"):
        MeshSecrets.from_settings(ServiceSettings(profile="prod", data_dir=tmp_path))
    given = ServiceSettings(
        profile="prod",
        data_dir=tmp_path,
        service_keys=KEY_A,
        operator_password=OPERATOR_PASSWORD,
        prometheus_password=PROMETHEUS_PASSWORD,
    )
    assert MeshSecrets.from_settings(given) == _secrets()
    assert not (tmp_path / "secrets").exists()
