"""Signing keys, tokens, key rotation and the sign-in brake, without any peer."""

from __future__ import annotations

import asyncio
import time
import uuid
from pathlib import Path

import jwt
import pytest

from ecommerce.chassis.security import Principal, TokenError
from ecommerce.services.storefront.keys import (
    DEV_KEY_NAME,
    KeyConfigurationError,
    KeyRing,
    generate_private_key,
    load_keyring,
    private_pem,
)
from ecommerce.services.storefront.settings import StorefrontSettings
from ecommerce.services.storefront.throttle import FailureThrottle
from ecommerce.services.storefront.tokens import issue, verifier_for

InvalidToken = TokenError


def verify(keys: KeyRing, token: str) -> Principal:
    """What the storefront's verifier (the chassis one, over its own key set) makes of a token."""
    return asyncio.run(verifier_for(keys, issuer="proxy-client").verify(token))


def settings(tmp_path: Path, **overrides: object) -> StorefrontSettings:
    return StorefrontSettings(data_dir=tmp_path, **overrides)  # type: ignore[arg-type]


def test_dev_key_is_generated_once_into_the_data_dir_and_private(tmp_path: Path) -> None:
    first = load_keyring(settings(tmp_path))
    key_file = tmp_path / "proxy-client" / DEV_KEY_NAME
    assert key_file.exists()
    assert key_file.stat().st_mode & 0o077 == 0
    again = load_keyring(settings(tmp_path))
    assert again.kid == first.kid


def test_outside_dev_the_key_file_is_required(tmp_path: Path) -> None:
    with pytest.raises(KeyConfigurationError, match="JWT_PRIVATE_KEY_FILE"):
        load_keyring(settings(tmp_path, profile="prod"))
    assert not (tmp_path / "proxy-client").exists()


def test_token_claims_header_and_verification(tmp_path: Path) -> None:
    keys = load_keyring(settings(tmp_path))
    token = issue(keys, user_id=7, username="ann", role="ROLE_USER", ttl_seconds=3600, issuer="proxy-client")
    header = jwt.get_unverified_header(token)
    assert header["alg"] == "RS256" and header["kid"] == keys.kid
    claims = jwt.decode(token, keys.private_key.public_key(), algorithms=["RS256"], audience="ecommerce")
    assert claims["sub"] == "ann" and claims["userId"] == 7 and claims["roles"] == ["ROLE_USER"]
    assert claims["exp"] - claims["iat"] == 3600
    principal = verify(keys, token)
    assert (principal.user_id, principal.username, principal.is_admin) == (7, "ann", False)


def test_expired_tampered_and_foreign_tokens_are_refused(tmp_path: Path) -> None:
    keys = load_keyring(settings(tmp_path))
    expired = jwt.encode(
        {"sub": "a", "userId": 1, "roles": ["ROLE_USER"], "iat": 1, "exp": int(time.time()) - 60}
        | {"iss": "proxy-client", "aud": "ecommerce"},
        keys.private_key,
        algorithm="RS256",
        headers={"kid": keys.kid},
    )
    good = issue(keys, user_id=1, username="a", role="ROLE_USER", ttl_seconds=60, issuer="proxy-client")
    head, body, signature = good.split(".")
    forged_body = jwt.utils.base64url_encode(b'{"sub":"a","userId":1,"roles":["ROLE_ADMIN"],"iat":1,"exp":9999999999}')
    foreign = jwt.encode({"sub": "a", "userId": 1, "roles": [], "iat": 1, "exp": 9999999999}, "s" * 32, "HS256")
    for token in (expired, f"{head}.{forged_body.decode()}.{signature}", foreign, "not-a-token"):
        with pytest.raises(InvalidToken):
            verify(keys, token)


def test_tokens_carry_issuer_audience_and_an_id_and_are_checked_for_them(tmp_path: Path) -> None:
    keys = load_keyring(settings(tmp_path))
    token = issue(keys, user_id=7, username="ann", role="ROLE_USER", ttl_seconds=60, issuer="proxy-client")
    claims = jwt.decode(token, options={"verify_signature": False})
    assert claims["iss"] == "proxy-client" and claims["aud"] == "ecommerce" and len(claims["jti"]) >= 16
    assert (
        claims["jti"]
        != jwt.decode(
            issue(keys, user_id=7, username="ann", role="ROLE_USER", ttl_seconds=60, issuer="proxy-client"),
            options={"verify_signature": False},
        )["jti"]
    )
    now = int(time.time())
    good = {"sub": "ann", "userId": 7, "roles": ["ROLE_USER"], "iat": now, "exp": now + 60, "jti": uuid.uuid4().hex}
    for claims in (
        good | {"aud": "ecommerce"},  # no issuer
        good | {"iss": "proxy-client"},  # no audience
        good | {"iss": "someone-else", "aud": "ecommerce"},
        good | {"iss": "proxy-client", "aud": "another-shop"},
        good | {"iss": "proxy-client", "aud": "ecommerce", "iat": now - 70, "exp": now - 10},  # beyond the 5 s leeway
    ):
        forged = jwt.encode(claims, keys.private_key, algorithm="RS256", headers={"kid": keys.kid})
        with pytest.raises(InvalidToken):
            verify(keys, forged)
    within = good | {"iss": "proxy-client", "aud": "ecommerce", "iat": now - 62, "exp": now - 2}
    assert verify(keys, jwt.encode(within, keys.private_key, algorithm="RS256", headers={"kid": keys.kid})).user_id == 7


def test_rotation_keeps_tokens_of_the_previous_key_valid(tmp_path: Path) -> None:
    old_file, new_file = tmp_path / "old.pem", tmp_path / "new.pem"
    old_file.write_bytes(private_pem(generate_private_key()))
    new_file.write_bytes(private_pem(generate_private_key()))
    before = load_keyring(settings(tmp_path, jwt_private_key_file=old_file))
    old_token = issue(before, user_id=1, username="a", role="ROLE_USER", ttl_seconds=600, issuer="proxy-client")

    after = load_keyring(settings(tmp_path, jwt_private_key_file=new_file, jwt_previous_keys_file=old_file))
    assert after.kid != before.kid
    assert [k["kid"] for k in after.jwks()["keys"]] == [after.kid, before.kid]
    assert verify(after, old_token).username == "a"
    new_token = issue(after, user_id=2, username="b", role="ROLE_USER", ttl_seconds=600, issuer="proxy-client")
    assert jwt.get_unverified_header(new_token)["kid"] == after.kid

    dropped = load_keyring(settings(tmp_path, jwt_private_key_file=new_file))
    with pytest.raises(InvalidToken):
        verify(dropped, old_token)


def test_jwks_verifies_with_a_standard_client(tmp_path: Path) -> None:
    keys = load_keyring(settings(tmp_path))
    token = issue(keys, user_id=3, username="c", role="ROLE_ADMIN", ttl_seconds=60, issuer="proxy-client")
    jwk_set = jwt.PyJWKSet.from_dict(keys.jwks())
    claims = jwt.decode(token, jwk_set[keys.kid].key, algorithms=["RS256"], audience="ecommerce")
    assert claims["roles"] == ["ROLE_ADMIN"]
    assert "d" not in keys.jwks()["keys"][0]  # public parts only


def test_throttle_doubles_the_wait_after_the_free_failures() -> None:
    now = [1000.0]
    throttle = FailureThrottle(free_failures=3, max_delay=8, clock=lambda: now[0])

    def fail() -> None:
        throttle.begin("a")
        throttle.settle("a", failed=True)

    for _ in range(2):
        fail()
    assert throttle.retry_after("a") == 0
    fail()
    assert throttle.retry_after("a") == 1
    now[0] += 1
    fail()
    assert throttle.retry_after("a") == 2
    for _ in range(5):
        fail()
    assert throttle.retry_after("a") == 8
    now[0] += 8
    assert throttle.retry_after("a") == 0
    throttle.begin("a")
    assert throttle.retry_after("a") >= 1  # past the free failures: one attempt in flight at a time
    throttle.settle("a", failed=False)
    fail()
    assert throttle.retry_after("a") == 0


def test_attempts_in_flight_count_before_their_verdict() -> None:
    throttle = FailureThrottle(free_failures=3, max_delay=8)
    for _ in range(3):
        assert throttle.retry_after("a") == 0
        throttle.begin("a")
    assert throttle.retry_after("a") >= 1
    throttle.settle("a", failed=None)
    assert throttle.retry_after("a") == 0
