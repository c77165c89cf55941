"""`{cipher}` values: AES-256-GCM with a key derived from ENCRYPT_KEY (PBKDF2-SHA256), hex on the wire."""

from __future__ import annotations

import functools
import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.pbkdf2 import PBKDF2HMAC

PREFIX = "{cipher}"
_SALT = b"ecommerce-config-server"
_NONCE_BYTES = 12


class CipherError(ValueError):
    """No key, or a value that this key did not encrypt."""


@functools.lru_cache(maxsize=4)
def _aes(key: str) -> AESGCM:
    kdf = PBKDF2HMAC(algorithm=hashes.SHA256(), length=32, salt=_SALT, iterations=200_000)
    return AESGCM(kdf.derive(key.encode()))


def encrypt(plain: str, key: str | None) -> str:
    """Hex of nonce + ciphertext + tag."""
    if not key:
        raise CipherError("no encryption key installed (ENCRYPT_KEY)")
    nonce = os.urandom(_NONCE_BYTES)
    return (nonce + _aes(key).encrypt(nonce, plain.encode(), None)).hex()


def decrypt(cipher: str, key: str | None) -> str:
    """The plain text of `encrypt`'s output (with or without the {cipher} prefix)."""
    if not key:
        raise CipherError("no encryption key installed (ENCRYPT_KEY)")
    text = cipher.removeprefix(PREFIX).strip()
    try:
        raw = bytes.fromhex(text)
        return _aes(key).decrypt(raw[:_NONCE_BYTES], raw[_NONCE_BYTES:], None).decode()
    except (ValueError, InvalidTag) as exc:
        raise CipherError("cannot decrypt this value with the installed key") from exc
