"""Who is calling: one of the shop's components, an operator, or Prometheus. No caller is trusted for where it stands.

One secret per environment proves the shop's own components: the mesh keys (`SERVICE_KEYS`, a comma-separated list
of `kid:secret`; the first signs, every one verifies, so a rotation adds the new key first, waits for every
component to restart, then drops the old one). From it come the two proofs the shop's callers speak:

- between business services, a short-lived service token (a JWT, HS256, `iss` "ecommerce-mesh", `sub` the calling
  component, `aud` the component called, five minutes), sent as `X-Service-Token` beside the user's own bearer
  token when there is one. A token is minted once per audience and reused until a minute before it expires, so a
  call costs one dictionary look-up, not a signature;
- towards the registry and the config server, HTTP Basic, the convention their real clients (py-eureka-client,
  Spring's config client) speak: the user name is the component's name and its password is derived from the key
  (`component_password`), so no list of passwords has to be kept in step with the components.

Operators and Prometheus have passwords of their own (`OPERATOR_PASSWORD`, `PROMETHEUS_PASSWORD`), user names
`operator` and `prometheus`. Outside the dev profile all three secrets must be given (Kubernetes Secrets); in dev
they are generated once into the data folder (`secrets/identity.json`, never into the repository) and shared by
every process started on that folder.

Every component holds the mesh key, so a component that is taken over can speak for any other: the key proves
"one of this environment's components", and the network policies keep each component to the peers it needs.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import os
import secrets
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import jwt

from ecommerce.chassis.settings import ServiceSettings

SERVICE_TOKEN_HEADER = "X-Service-Token"
ISSUER = "ecommerce-mesh"
OPERATOR = "operator"
PROMETHEUS = "prometheus"
LEEWAY_SECONDS = 5
TOKEN_LIFETIME_SECONDS = 300
_RENEW_BEFORE_SECONDS = 60
DEV_SECRETS_FILE = Path("secrets") / "identity.json"

CallerKind = Literal["component", "operator", "prometheus"]


class IdentityError(Exception):
    """A credential or service token that does not prove who it claims to be."""


class IdentityConfigurationError(RuntimeError):
    """The environment's identity secrets are missing or malformed."""


@dataclass(frozen=True, slots=True)
class Caller:
    """A proven caller that is not a shopper: a component of the shop, an operator, or Prometheus."""

    name: str
    kind: CallerKind

    @property
    def is_operator(self) -> bool:
        return self.kind == "operator"


@dataclass(frozen=True)
class MeshSecrets:
    """The environment's identity secrets: the mesh keys (first signs) and the operator's and Prometheus' passwords."""

    keys: tuple[tuple[str, bytes], ...]
    operator_password: str
    prometheus_password: str

    @classmethod
    def parse(cls, service_keys: str, operator_password: str, prometheus_password: str) -> MeshSecrets:
        """From `kid:secret,kid:secret` and the two passwords; IdentityConfigurationError when malformed."""
        keys = []
        for entry in service_keys.split(","):
            kid, sep, secret = entry.strip().partition(":")
            if not sep or not kid or len(secret) < 32:
                raise IdentityConfigurationError("SERVICE_KEYS must be 'kid:secret' entries, secrets of 32+ characters")
            keys.append((kid, secret.encode()))
        if len(operator_password) < 12 or len(prometheus_password) < 12:
            raise IdentityConfigurationError("OPERATOR_PASSWORD and PROMETHEUS_PASSWORD need 12+ characters")
        return cls(tuple(keys), operator_password, prometheus_password)

    @classmethod
    def from_settings(cls, settings: ServiceSettings) -> MeshSecrets:
        """The secrets the settings give; in dev, those of the data folder (created on first use) for what is unset."""
        given = {
            "SERVICE_KEYS": settings.service_keys,
            "OPERATOR_PASSWORD": settings.operator_password,
            "PROMETHEUS_PASSWORD": settings.prometheus_password,
        }
        values = {name: secret.get_secret_value() for name, secret in given.items() if secret is not None}
        if len(values) < len(given):
            if settings.profile != "dev":
                missing = ", ".join(name for name, secret in given.items() if secret is None)
                raise IdentityConfigurationError(f"{missing} must be set in the {settings.profile} profile")
            values = {**dev_secrets(settings.data_dir), **values}
        return cls.parse(values["SERVICE_KEYS"], values["OPERATOR_PASSWORD"], values["PROMETHEUS_PASSWORD"])

    @property
    def signing_key(self) -> tuple[str, bytes]:
        return self.keys[0]


def dev_secrets(data_dir: Path) -> dict[str, str]:
    """The dev profile's generated secrets under `data_dir`, created once (atomically: processes start together)."""
    path = data_dir / DEV_SECRETS_FILE
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        document = {
            "SERVICE_KEYS": f"dev{secrets.token_hex(3)}:{secrets.token_urlsafe(32)}",
            "OPERATOR_PASSWORD": secrets.token_urlsafe(18),
            "PROMETHEUS_PASSWORD": secrets.token_urlsafe(18),
        }
        scratch = path.with_name(f".{path.name}.{os.getpid()}")
        scratch.write_text(json.dumps(document, indent=2) + "\n")
        scratch.chmod(0o600)
        try:
            os.link(scratch, path)  # fails when another process got there first: theirs wins
        except FileExistsError:
            pass
        finally:
            scratch.unlink()
    loaded: dict[str, str] = json.loads(path.read_text())
    return loaded


def component_password(secrets_: MeshSecrets, component: str, *, key: bytes | None = None) -> str:
    """The HTTP Basic password of `component` (derived from the signing key unless `key` is given)."""
    secret = key if key is not None else secrets_.signing_key[1]
    digest = hmac.new(secret, b"basic\0" + component.encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


def basic_credentials(authorization: str | None) -> tuple[str, str] | None:
    """(user, password) of an `Authorization: Basic ...` header value, else None."""
    if not authorization or authorization[:6].lower() != "basic ":
        return None
    try:
        user, sep, password = base64.b64decode(authorization[6:].strip(), validate=True).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError):
        return None
    return (user, password) if sep and user else None


def caller_from_basic(secrets_: MeshSecrets, authorization: str | None) -> Caller | None:
    """The caller an HTTP Basic header proves, or None (no header, or a wrong password)."""
    credentials = basic_credentials(authorization)
    if credentials is None:
        return None
    user, password = credentials
    if user == OPERATOR:
        return Caller(user, "operator") if _same(password, secrets_.operator_password) else None
    if user == PROMETHEUS:
        return Caller(user, "prometheus") if _same(password, secrets_.prometheus_password) else None
    for _, key in secrets_.keys:  # every key verifies during a rotation
        if _same(password, component_password(secrets_, user, key=key)):
            return Caller(user, "component")
    return None


def _same(given: str, expected: str) -> bool:
    return hmac.compare_digest(given.encode(), expected.encode())


@dataclass
class ServiceTokens:
    """Mints `component`'s service tokens, one per audience, reused until shortly before they expire."""

    secrets: MeshSecrets
    component: str
    _minted: dict[str, tuple[str, float]] = field(default_factory=dict)

    def token_for(self, audience: str) -> str:
        """A service token for calls to `audience` (a component name)."""
        now = time.time()
        cached = self._minted.get(audience)
        if cached is not None and cached[1] - _RENEW_BEFORE_SECONDS > now:
            return cached[0]
        kid, key = self.secrets.signing_key
        expires = int(now) + TOKEN_LIFETIME_SECONDS
        claims = {"iss": ISSUER, "sub": self.component, "aud": audience, "iat": int(now), "exp": expires}
        token = jwt.encode(claims, key, algorithm="HS256", headers={"kid": kid})
        self._minted[audience] = (token, expires)
        return token


def verify_service_token(secrets_: MeshSecrets, token: str, audience: str) -> Caller:
    """The component a service token for `audience` proves; IdentityError otherwise."""
    return _service_claims(secrets_, token, audience)[0]


def _service_claims(secrets_: MeshSecrets, token: str, audience: str) -> tuple[Caller, int]:
    try:
        kid = jwt.get_unverified_header(token).get("kid")
    except jwt.PyJWTError as exc:
        raise IdentityError("Malformed service token") from exc
    key = next((secret for name, secret in secrets_.keys if name == kid), None)
    if key is None:
        raise IdentityError("Service token signed with an unknown key")
    try:
        claims = jwt.decode(
            token,
            key,
            algorithms=["HS256"],
            audience=audience,
            issuer=ISSUER,
            leeway=LEEWAY_SECONDS,
            options={"require": ["iss", "sub", "aud", "iat", "exp"]},
        )
    except jwt.PyJWTError as exc:
        raise IdentityError(f"Invalid service token: {exc}") from exc
    subject = claims["sub"]
    if not isinstance(subject, str) or not subject:
        raise IdentityError("Service token has no subject")
    return Caller(subject, "component"), int(claims["exp"])


class ServiceTokenVerifier:
    """Verifies the service tokens sent to `audience`, remembering each good one until it expires (a peer sends
    the same token for minutes, so a call costs a dictionary look-up, not a signature check)."""

    def __init__(self, secrets_: MeshSecrets, audience: str, cache_size: int = 1024) -> None:
        self.secrets = secrets_
        self.audience = audience
        self.cache_size = cache_size
        self._verified: dict[str, tuple[Caller, int]] = {}

    def verify(self, token: str) -> Caller:
        """The component `token` proves; IdentityError otherwise."""
        cached = self._verified.get(token)
        if cached is not None and cached[1] + LEEWAY_SECONDS > time.time():
            return cached[0]
        caller, expires = _service_claims(self.secrets, token, self.audience)
        if len(self._verified) >= self.cache_size:
            self._verified.clear()  # one live token per calling component: the cache only fills under attack
        self._verified[token] = (caller, expires)
        return caller
