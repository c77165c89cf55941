"""The token signing keys: the current RSA key, earlier ones kept public for rotation, and the JWKS.

Outside the dev profile the key must come from JWT_PRIVATE_KEY_FILE (a mounted secret). In dev a key is
generated once into the data folder (never into the repository) and reused across restarts.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from ecommerce.services.storefront.settings import StorefrontSettings

DEV_KEY_NAME = "jwt-signing-key.pem"
_PEM_BEGIN = "-----BEGIN "


class KeyConfigurationError(RuntimeError):
    """The signing key is missing or unreadable."""


@dataclass
class KeyRing:
    """The signing key and every public key a valid token may have been signed with, by key id."""

    private_key: rsa.RSAPrivateKey
    kid: str
    public_keys: dict[str, rsa.RSAPublicKey] = field(default_factory=dict)

    def jwks(self) -> dict[str, Any]:
        """The JSON Web Key Set: current key first, then the earlier ones."""
        ordered = [self.kid, *(k for k in self.public_keys if k != self.kid)]
        return {"keys": [_jwk(self.public_keys[kid], kid) for kid in ordered]}

    def secret(self, purpose: str) -> bytes:
        """A symmetric secret for `purpose` (cookies, CSRF), derived from the signing key."""
        der = self.private_key.private_bytes(
            serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        return hashlib.sha256(purpose.encode() + b"\0" + der).digest()


def load_keyring(settings: StorefrontSettings) -> KeyRing:
    """Read (or, in dev, create) the signing key and the earlier public keys."""
    if settings.jwt_private_key_file is not None:
        private_key = _read_private_key(settings.jwt_private_key_file)
    elif settings.profile == "dev":
        private_key = _dev_key(settings.data_dir / "proxy-client")
    else:
        raise KeyConfigurationError(
            f"JWT_PRIVATE_KEY_FILE is required in the {settings.profile} profile (a PEM RSA private key)"
        )
    kid = key_id(private_key.public_key())
    public_keys = {kid: private_key.public_key()}
    if settings.jwt_previous_keys_file is not None:
        for public_key in _read_public_keys(settings.jwt_previous_keys_file):
            public_keys.setdefault(key_id(public_key), public_key)
    return KeyRing(private_key=private_key, kid=kid, public_keys=public_keys)


def key_id(public_key: rsa.RSAPublicKey) -> str:
    """RFC 7638 thumbprint of the public key: stable, and the same wherever it is computed."""
    numbers = public_key.public_numbers()
    canonical = json.dumps(
        {"e": _b64_int(numbers.e), "kty": "RSA", "n": _b64_int(numbers.n)}, separators=(",", ":"), sort_keys=True
    )
    return _b64(hashlib.sha256(canonical.encode()).digest())


def generate_private_key() -> rsa.RSAPrivateKey:
    """A fresh 2048-bit RSA key."""
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def private_pem(private_key: rsa.RSAPrivateKey) -> bytes:
    """PKCS#8 PEM of a private key."""
    return private_key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def _dev_key(folder: Path) -> rsa.RSAPrivateKey:
    path = folder / DEV_KEY_NAME
    if path.exists():
        return _read_private_key(path)
    folder.mkdir(parents=True, exist_ok=True)
    private_key = generate_private_key()
    # O_EXCL: when two instances start at once, one writes and the other reads the winner's key.
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return _read_private_key(path)
    with os.fdopen(fd, "wb") as handle:
        handle.write(private_pem(private_key))
    return private_key


def _read_private_key(path: Path) -> rsa.RSAPrivateKey:
    try:
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    except (OSError, ValueError) as exc:
        raise KeyConfigurationError(f"Cannot read the signing key {path}: {exc}") from exc
    if not isinstance(key, rsa.RSAPrivateKey):
        raise KeyConfigurationError(f"{path} is not an RSA private key")
    return key


def _read_public_keys(path: Path) -> list[rsa.RSAPublicKey]:
    try:
        text = path.read_text()
    except OSError as exc:
        raise KeyConfigurationError(f"Cannot read the earlier keys {path}: {exc}") from exc
    keys: list[rsa.RSAPublicKey] = []
    for block in _pem_blocks(text):
        loaded: Any
        if "PRIVATE KEY" in block.splitlines()[0]:
            loaded = serialization.load_pem_private_key(block.encode(), password=None).public_key()
        else:
            loaded = serialization.load_pem_public_key(block.encode())
        if isinstance(loaded, rsa.RSAPublicKey):
            keys.append(loaded)
    return keys


def _pem_blocks(text: str) -> list[str]:
    blocks, current = [], []
    for line in text.splitlines():
        if line.startswith(_PEM_BEGIN):
            current = [line]
        elif current:
            current.append(line)
            if line.startswith("-----END "):
                blocks.append("\n".join(current) + "\n")
                current = []
    return blocks


def _jwk(public_key: rsa.RSAPublicKey, kid: str) -> dict[str, str]:
    numbers = public_key.public_numbers()
    return {"kty": "RSA", "use": "sig", "alg": "RS256", "kid": kid, "n": _b64_int(numbers.n), "e": _b64_int(numbers.e)}


def _b64_int(value: int) -> str:
    return _b64(value.to_bytes((value.bit_length() + 7) // 8, "big"))


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()
