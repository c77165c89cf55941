"""bcrypt hashing, always off the event loop; the original's `$2a$` hashes keep verifying."""

from __future__ import annotations

import asyncio

import bcrypt

MAX_PASSWORD_BYTES = 72  # bcrypt reads no further; longer passwords are refused, never silently truncated
_dummy_hashes: dict[int, bytes] = {}


async def hash_password(password: str, *, rounds: int) -> str:
    """A fresh bcrypt hash of `password` with cost `rounds`."""
    encoded = password.encode()
    if len(encoded) > MAX_PASSWORD_BYTES:
        raise ValueError("password longer than 72 bytes")
    hashed = await asyncio.to_thread(bcrypt.hashpw, encoded, bcrypt.gensalt(rounds=rounds))
    return hashed.decode()


async def check_password(password: str, hashed: str | None, *, rounds: int) -> bool:
    """True when `password` matches `hashed`; with no hash, burn the same time against a dummy and say no."""
    encoded = password.encode()
    target = hashed.encode() if hashed else await _dummy_hash(rounds)
    try:
        matches = await asyncio.to_thread(bcrypt.checkpw, encoded[:MAX_PASSWORD_BYTES], target)
    except ValueError:  # a malformed stored hash never matches
        return False
    return matches and hashed is not None and len(encoded) <= MAX_PASSWORD_BYTES


def hash_cost(hashed: str) -> int | None:
    """The cost factor of a `$2a$NN$...`/`$2b$NN$...` hash, None when it is not bcrypt."""
    parts = hashed.split("$")
    if len(parts) < 4 or not parts[2].isdigit():
        return None
    return int(parts[2])


async def _dummy_hash(rounds: int) -> bytes:
    cached = _dummy_hashes.get(rounds)
    if cached is None:
        salt = bcrypt.gensalt(rounds=rounds)
        cached = _dummy_hashes[rounds] = await asyncio.to_thread(bcrypt.hashpw, b"no such user", salt)
    return cached
