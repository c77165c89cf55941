"""A brake on guessing passwords: after a few failures for one username or one address, wait before trying again.

The wait doubles with every further failure (1 s, 2 s, 4 s ... up to a ceiling) and is kept per instance in
memory; a success for the username clears it. Entries are forgotten after 15 minutes of quiet.
"""

from __future__ import annotations

import math
import time
from collections import OrderedDict
from dataclasses import dataclass

FORGET_AFTER_SECONDS = 900.0
MAX_ENTRIES = 50_000


@dataclass
class _Record:
    failures: int
    last_failure: float


class FailureThrottle:
    """Counts sign-in failures per key and says how long a key must still wait."""

    def __init__(self, *, free_failures: int, max_delay: float, clock: object = time.monotonic) -> None:
        self.free_failures = free_failures
        self.max_delay = max_delay
        self._clock = clock
        self._records: OrderedDict[str, _Record] = OrderedDict()

    def retry_after(self, *keys: str) -> int:
        """Whole seconds the caller must still wait (0 when it may try now)."""
        now = self._now()
        wait = 0.0
        for key in keys:
            record = self._records.get(key)
            if record is None:
                continue
            if now - record.last_failure > FORGET_AFTER_SECONDS:
                del self._records[key]
                continue
            wait = max(wait, record.last_failure + self._delay(record.failures) - now)
        return math.ceil(wait) if wait > 0 else 0

    def failed(self, *keys: str) -> None:
        """Record one failure for each key."""
        now = self._now()
        for key in keys:
            record = self._records.pop(key, None) or _Record(0, now)
            record.failures += 1
            record.last_failure = now
            self._records[key] = record
        while len(self._records) > MAX_ENTRIES:
            self._records.popitem(last=False)

    def succeeded(self, key: str) -> None:
        """Forget the failures of a key."""
        self._records.pop(key, None)

    def _delay(self, failures: int) -> float:
        if failures < self.free_failures:
            return 0.0
        return min(self.max_delay, 2.0 ** (failures - self.free_failures))

    def _now(self) -> float:
        return float(self._clock())  # type: ignore[operator]
