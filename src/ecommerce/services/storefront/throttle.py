"""A brake on guessing passwords, per account from one address and per address.

An attempt is reserved before the password is checked (`SignInBrake.reserve`, synchronous, so atomic on the event
loop): attempts still being checked count as failures until they are settled, so a burst of concurrent guesses gets
no more checks than the free failures allow. Keys: the (account, client address) pair, so a guesser elsewhere can
never lock an account's owner out, and the address alone, with a larger allowance, so one address cannot try many
accounts. After the free failures each further one doubles the wait (1 s, 2 s, 4 s ... up to a ceiling) and only one
attempt at a time is let through. A success clears the pair; entries are forgotten after 15 quiet minutes. Kept in
memory per instance.
"""

from __future__ import annotations

import math
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

FORGET_AFTER_SECONDS = 900.0
MAX_ENTRIES = 50_000


@dataclass
class _Record:
    failures: int = 0
    pending: int = 0
    last_failure: float = 0.0


class FailureThrottle:
    """Failures and attempts in flight per key, and how long a key must still wait."""

    def __init__(self, *, free_failures: int, max_delay: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.free_failures = free_failures
        self.max_delay = max_delay
        self._clock = clock
        self._records: OrderedDict[str, _Record] = OrderedDict()

    def retry_after(self, key: str) -> int:
        """Whole seconds before `key` may try (0: now), counting the attempts still in flight as failures."""
        record = self._live(key)
        if record is None or record.failures + record.pending < self.free_failures:
            return 0
        wait = record.last_failure + self._delay(record.failures) - self._clock()
        if record.pending:  # past the free failures, one attempt at a time
            return max(1, math.ceil(wait))
        return math.ceil(wait) if wait > 0 else 0

    def begin(self, key: str) -> None:
        """Count an attempt in flight."""
        record = self._live(key) or _Record()
        record.pending += 1
        self._records[key] = record
        self._records.move_to_end(key)
        while len(self._records) > MAX_ENTRIES:
            self._records.popitem(last=False)

    def settle(self, key: str, *, failed: bool | None) -> None:
        """End an attempt: a failure (True), a success that clears the key (False), or no verdict (None)."""
        record = self._records.get(key)
        if record is None:
            return
        record.pending = max(0, record.pending - 1)
        if failed:
            record.failures += 1
            record.last_failure = self._clock()
        elif failed is False:
            del self._records[key]

    def _live(self, key: str) -> _Record | None:
        record = self._records.get(key)
        if record is not None and not record.pending and self._clock() - record.last_failure > FORGET_AFTER_SECONDS:
            del self._records[key]
            return None
        return record

    def _delay(self, failures: int) -> float:
        if failures < self.free_failures:
            return 0.0
        return min(self.max_delay, 2.0 ** (failures - self.free_failures))


@dataclass(frozen=True)
class Attempt:
    """A reserved sign-in attempt: settle it once with the verdict."""

    brake: SignInBrake
    pair: str
    address: str

    def succeeded(self) -> None:
        self.brake.by_pair.settle(self.pair, failed=False)
        self.brake.by_address.settle(self.address, failed=None)  # one good account does not clear an address

    def failed(self) -> None:
        self.brake.by_pair.settle(self.pair, failed=True)
        self.brake.by_address.settle(self.address, failed=True)

    def abandoned(self) -> None:
        self.brake.by_pair.settle(self.pair, failed=None)
        self.brake.by_address.settle(self.address, failed=None)


class SignInBrake:
    """Reserve sign-in attempts per (account, address) and per address."""

    def __init__(
        self,
        *,
        free_failures: int,
        address_free_failures: int,
        max_delay: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.by_pair = FailureThrottle(free_failures=free_failures, max_delay=max_delay, clock=clock)
        self.by_address = FailureThrottle(free_failures=address_free_failures, max_delay=max_delay, clock=clock)

    def reserve(self, account: str, address: str) -> Attempt | int:
        """An attempt to check now, or the whole seconds to wait first (nothing reserved then)."""
        pair, at = f"{account.strip().lower()}\0{address}", f"address:{address}"
        wait = max(self.by_pair.retry_after(pair), self.by_address.retry_after(at))
        if wait:
            return wait
        self.by_pair.begin(pair)
        self.by_address.begin(at)
        return Attempt(self, pair, at)
