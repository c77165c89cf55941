"""Bearer tokens: verify the storefront's signed JWTs with its published keys, and turn them into a user.

The storefront (proxy-client) signs tokens with an asymmetric key (RS256 or EdDSA) and publishes the public
keys as a JWKS document (`JWT_JWKS_URL`). The gateway, the storefront and the services verify tokens here,
without calling anyone per request:
- keys are fetched once and cached by `kid`; an unknown `kid` triggers a refetch (rate limited), so a rotated
  key is picked up at once while the old one stays valid until its tokens expire;
- a verified token is remembered until it expires, so a busy client costs one signature check, not one per call;
- claims: `sub` (username), `userId`, `roles` (e.g. `["ROLE_USER"]`), `iat`, `exp`, `jti`, `iss` (must be
  "proxy-client") and `aud` (must be "ecommerce"), with one leeway of 5 s on every time claim, everywhere;
- revocation: user-service publishes, per user, the moment before which that user's tokens no longer count (a
  password change, a deletion); `revocation_poller` fetches that list every `REVOCATION_POLL_SECONDS` (5 s) and
  the verifier refuses a token issued before its user's moment, cached or not. A revoked token therefore stops
  working within one poll interval (plus the time user-service takes to answer); when user-service cannot be
  asked, the last list fetched stays in force.

FastAPI dependencies: `CurrentUser` (401 without a valid token), `OptionalUser`, `require_roles("ROLE_ADMIN")`
(403 without one of the roles) and `AdminUser`; `chassis/access.py` combines them with service tokens.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Annotated, Any

import aiohttp
import jwt
import structlog
from fastapi import Depends, FastAPI, Request
from fastapi.params import Depends as DependsParam

from ecommerce.chassis.errors import Forbidden, ServiceUnavailable, Unauthorized

log = structlog.get_logger("ecommerce.security")

ALGORITHMS = frozenset({"RS256", "EdDSA"})
USER_TOKEN_ISSUER = "proxy-client"
USER_TOKEN_AUDIENCE = "ecommerce"
LEEWAY_SECONDS = 5.0
REVOCATIONS_PEER = "user-service"
REVOCATIONS_PATH = "/user-service/api/credentials/revocations"
ROLE_USER = "ROLE_USER"
ROLE_ADMIN = "ROLE_ADMIN"
_BEARER = "bearer "
_CHALLENGE = {"WWW-Authenticate": 'Bearer realm="ecommerce"'}


@dataclass(frozen=True, slots=True)
class Principal:
    """Who a verified token speaks for."""

    username: str
    user_id: int | None
    roles: frozenset[str]
    expires_at: int
    claims: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)
    issued_at: int = 0

    def has_any_role(self, *roles: str) -> bool:
        """True when the user holds at least one of `roles` (`ADMIN` and `ROLE_ADMIN` are the same)."""
        return any(normalize_role(role) in self.roles for role in roles)

    @property
    def is_admin(self) -> bool:
        return ROLE_ADMIN in self.roles


class TokenError(Exception):
    """The token is missing, malformed, expired, or its signature does not verify."""


class KeysUnavailable(TokenError):
    """The signing keys could not be fetched, so no token can be checked right now."""


class Revocations:
    """Per user, the moment (epoch s) before which their tokens no longer count; replaced whole by each poll."""

    def __init__(self, not_before: dict[int, int] | None = None) -> None:
        self.not_before: dict[int, int] = dict(not_before or {})

    def replace(self, not_before: dict[int, int]) -> None:
        """Swap in a freshly fetched list."""
        self.not_before = not_before

    def refuses(self, principal: Principal) -> bool:
        """True when the token behind `principal` was issued before its user's revocation moment."""
        if principal.user_id is None:
            return False
        moment = self.not_before.get(principal.user_id)
        return moment is not None and principal.issued_at < moment


def parse_revocations(document: Any) -> dict[int, int]:
    """`{"revocations": [{"userId": 1, "notBefore": 1765000000}]}` -> {1: 1765000000}; ValueError when malformed."""
    entries = document.get("revocations") if isinstance(document, dict) else None
    if not isinstance(entries, list):
        raise ValueError("no 'revocations' list")
    parsed: dict[int, int] = {}
    for entry in entries:
        user_id = entry.get("userId") if isinstance(entry, dict) else None
        moment = entry.get("notBefore") if isinstance(entry, dict) else None
        if not all(isinstance(v, int) and not isinstance(v, bool) for v in (user_id, moment)):
            raise ValueError(f"malformed revocation {entry!r}")
        assert isinstance(user_id, int) and isinstance(moment, int)
        parsed[user_id] = max(moment, parsed.get(user_id, moment))
    return parsed


def normalize_role(role: str) -> str:
    """`admin`, `ADMIN` and `ROLE_ADMIN` all name `ROLE_ADMIN`."""
    upper = role.upper()
    return upper if upper.startswith("ROLE_") else f"ROLE_{upper}"


class JwksCache:
    """Public keys by `kid`, from a JWKS URL (refetched on unknown `kid` and every `ttl` s) or a fixed document."""

    def __init__(
        self,
        url: str | None = None,
        *,
        document: dict[str, Any] | None = None,
        ttl: float = 300.0,
        min_refetch_interval: float = 10.0,
        timeout: float = 3.0,
    ) -> None:
        self.url = url
        self.ttl = ttl
        self.min_refetch_interval = min_refetch_interval
        self.timeout = timeout
        self._keys: dict[str | None, jwt.PyJWK] = {}
        self._fetched_at = float("-inf")  # last successful fetch
        self._attempted_at = float("-inf")  # last fetch attempt, successful or not
        self._lock = asyncio.Lock()
        if document is not None:
            self._keys = _parse_jwks(document)

    @property
    def configured(self) -> bool:
        return self.url is not None or bool(self._keys)

    async def key(self, kid: str | None) -> jwt.PyJWK:
        """The public key named `kid` (the only key when the token names none); TokenError when unknown."""
        # A fetch in flight counts as attempted, so `_wants_fetch` says no while it runs: wait for its keys rather
        # than answer "unavailable" to every request of a cold component's first burst.
        if self.url is not None and (self._lock.locked() or self._wants_fetch(kid)):
            async with self._lock:
                if self._wants_fetch(kid):  # another task may have fetched while this one waited
                    await self._fetch()
        found = self._keys.get(kid)
        if found is None and kid is None and len(self._keys) == 1:
            found = next(iter(self._keys.values()))
        if found is None:
            if not self._keys:
                raise KeysUnavailable("Signing keys are unavailable")
            raise TokenError("Token signed with an unknown key")
        return found

    def _wants_fetch(self, kid: str | None) -> bool:
        now = time.monotonic()
        if now - self._attempted_at < self.min_refetch_interval:
            return False
        return now - self._fetched_at > self.ttl or (kid not in self._keys and not (kid is None and self._keys))

    async def _fetch(self) -> None:
        assert self.url is not None
        self._attempted_at = time.monotonic()
        try:
            timeout = aiohttp.ClientTimeout(total=self.timeout)
            async with aiohttp.ClientSession(timeout=timeout) as session, session.get(self.url) as response:
                response.raise_for_status()
                document = await response.json(content_type=None)
            keys = _parse_jwks(document)
        except (aiohttp.ClientError, TimeoutError, OSError, ValueError, AttributeError) as exc:
            # Keep the keys we had: the storefront being down must not sign everybody out.
            log.warning("jwks_fetch_failed", url=self.url, error=f"{type(exc).__name__}: {exc}"[:200])
            return
        self._keys = keys
        self._fetched_at = time.monotonic()
        log.info("jwks_fetched", url=self.url, keys=len(keys))


def _parse_jwks(document: dict[str, Any]) -> dict[str | None, jwt.PyJWK]:
    keys: dict[str | None, jwt.PyJWK] = {}
    for entry in document.get("keys", []):
        if not isinstance(entry, dict) or entry.get("use", "sig") != "sig":
            continue
        try:
            key = jwt.PyJWK(entry)
        except jwt.PyJWKError as exc:
            log.warning("jwks_key_skipped", kid=entry.get("kid"), error=str(exc))
            continue
        if key.algorithm_name in ALGORITHMS:
            keys[entry.get("kid")] = key
    return keys


class TokenVerifier:
    """Verify bearer tokens against a `JwksCache`, remembering good tokens until they expire."""

    def __init__(
        self,
        keys: JwksCache,
        *,
        leeway: float = LEEWAY_SECONDS,
        issuer: str | None = USER_TOKEN_ISSUER,
        audience: str | None = USER_TOKEN_AUDIENCE,
        cache_size: int = 10_000,
        revocations: Revocations | None = None,
    ) -> None:
        self.keys = keys
        self.leeway = leeway
        self.issuer = issuer
        self.audience = audience
        self.cache_size = cache_size
        self.revocations = revocations if revocations is not None else Revocations()
        self._verified: dict[str, Principal] = {}
        self._required = ["sub", "exp", "iat", *(["iss"] if issuer else []), *(["aud"] if audience else [])]

    async def verify(self, token: str) -> Principal:
        """The principal of a valid, unrevoked token; TokenError (KeysUnavailable when keys cannot be fetched)
        otherwise."""
        cached = self._verified.get(token)
        if cached is not None and cached.expires_at + self.leeway <= time.time():
            del self._verified[token]
            cached = None
        principal = cached or await self._verify(token)
        if self.revocations.refuses(principal):
            raise TokenError("Token revoked")
        if cached is None:
            if len(self._verified) >= self.cache_size:
                del self._verified[next(iter(self._verified))]  # oldest first: dicts keep insertion order
            self._verified[token] = principal
        return principal

    async def _verify(self, token: str) -> Principal:
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError as exc:
            raise TokenError("Malformed token") from exc
        algorithm = header.get("alg")
        if algorithm not in ALGORITHMS:
            raise TokenError("Token algorithm not accepted")
        key = await self.keys.key(header.get("kid"))
        if key.algorithm_name != algorithm:
            raise TokenError("Token algorithm does not match its key")
        try:
            claims = jwt.decode(
                token,
                key=key,
                algorithms=[algorithm],
                leeway=self.leeway,
                issuer=self.issuer,
                audience=self.audience,
                options={"require": self._required, "verify_aud": self.audience is not None},
            )
        except jwt.ExpiredSignatureError as exc:
            raise TokenError("Token expired") from exc
        except jwt.PyJWTError as exc:
            raise TokenError("Invalid token") from exc
        return principal_from_claims(claims)


def principal_from_claims(claims: dict[str, Any]) -> Principal:
    """Build the principal from verified claims; TokenError when they have the wrong shape."""
    username = claims.get("sub")
    roles = claims.get("roles", [])
    user_id = claims.get("userId")
    if not isinstance(username, str) or not username:
        raise TokenError("Token has no subject")
    if isinstance(roles, str):
        roles = [roles]
    if not isinstance(roles, list) or not all(isinstance(role, str) for role in roles):
        raise TokenError("Token roles are malformed")
    if user_id is not None and (isinstance(user_id, bool) or not isinstance(user_id, int)):
        raise TokenError("Token userId is malformed")
    return Principal(
        username=username,
        user_id=user_id,
        roles=frozenset(normalize_role(role) for role in roles),
        expires_at=int(claims["exp"]),
        claims=claims,
        issued_at=int(claims.get("iat", 0)),
    )


def bearer_token(authorization: str | None) -> str | None:
    """The token of an `Authorization: Bearer <token>` header value, else None."""
    if authorization and authorization[:7].lower() == _BEARER:
        token = authorization[7:].strip()
        return token or None
    return None


def verifier_from_url(url: str | None) -> TokenVerifier:
    """A verifier for the JWKS at `url` (None: every token is refused)."""
    return TokenVerifier(JwksCache(url))


def get_verifier(app: FastAPI) -> TokenVerifier:
    """The app's verifier (`app.state.token_verifier`), built on first use from the settings' JWT_JWKS_URL."""
    verifier: TokenVerifier | None = getattr(app.state, "token_verifier", None)
    if verifier is None:
        settings = getattr(app.state, "settings", None)
        url = getattr(settings, "jwt_jwks_url", None) or None
        verifier = app.state.token_verifier = verifier_from_url(url)
    return verifier


_START_GRACE_SECONDS = 60.0


@contextlib.asynccontextmanager
async def revocation_poller(app: FastAPI) -> AsyncIterator[None]:
    """App extension: keep the verifier's revocation list fresh from user-service, through the app's PeerClient
    (which proves this component with its service token). Every component that verifies user tokens runs it."""
    interval = float(getattr(app.state.settings, "revocation_poll_seconds", 5.0))
    task = asyncio.create_task(_poll_revocations(app, interval), name="revocation-poller")
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def _poll_revocations(app: FastAPI, interval: float) -> None:
    healthy: bool | None = None
    # While the shop starts, user-service may simply not be up yet: that is not worth a warning on the terminal.
    quiet_until = time.monotonic() + _START_GRACE_SECONDS
    while True:
        try:
            document = await app.state.peers.get_json(REVOCATIONS_PEER, REVOCATIONS_PATH, background=True)
            get_verifier(app).revocations.replace(parse_revocations(document))
            if healthy is not True:
                log.info("revocations_fetched")
            healthy = True
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # keep the last good list: user-service being down must not stop the shop
            if healthy is not False:
                starting = healthy is None and time.monotonic() < quiet_until
                (log.info if starting else log.warning)(
                    "revocations_fetch_failed", error=f"{type(exc).__name__}: {exc}"[:200]
                )
                healthy = None if starting else False
        await asyncio.sleep(interval)


async def authenticate(request: Request, token: str) -> Principal:
    """The principal of `token` by the app's verifier: 401 for a bad token, 503 when the keys cannot be fetched."""
    verifier = get_verifier(request.app)
    if not verifier.keys.configured:
        raise Unauthorized("Token verification is not configured", headers=_CHALLENGE)
    try:
        return await verifier.verify(token)
    except KeysUnavailable as exc:
        raise ServiceUnavailable(str(exc)) from exc
    except TokenError as exc:
        raise Unauthorized(str(exc), headers=_CHALLENGE) from exc


async def current_user(request: Request) -> Principal:
    """The signed-in user; 401 without a valid bearer token."""
    token = bearer_token(request.headers.get("authorization"))
    if token is None:
        raise Unauthorized("Sign-in required", headers=_CHALLENGE)
    return await authenticate(request, token)


async def optional_user(request: Request) -> Principal | None:
    """The signed-in user, or None without a token; 401 for a bad token."""
    token = bearer_token(request.headers.get("authorization"))
    return None if token is None else await authenticate(request, token)


def require_roles(*roles: str) -> DependsParam:
    """A dependency giving the signed-in user when they hold one of `roles`; 403 otherwise.

    Use as `user: Annotated[Principal, require_roles("ROLE_ADMIN")]` or `dependencies=[require_roles("ADMIN")]`.
    """
    wanted = frozenset(normalize_role(role) for role in roles)

    async def checker(user: Annotated[Principal, Depends(current_user)]) -> Principal:
        if not user.roles & wanted:
            raise Forbidden("Not allowed for this user")
        return user

    dependency: DependsParam = Depends(checker)
    return dependency


CurrentUser = Annotated[Principal, Depends(current_user)]
OptionalUser = Annotated[Principal | None, Depends(optional_user)]
AdminUser = Annotated[Principal, require_roles(ROLE_ADMIN)]
