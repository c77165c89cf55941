"""How `ecommerce up` restarts a crashed component, and the state file `ecommerce status` reads.

A component that exits on its own (a non-zero code, a signal, even 0: nobody asked it to stop) is started again
after a back-off that doubles from FIRST_DELAY up to MAX_DELAY, as Kubernetes does with CrashLoopBackOff. A run
that lasted STABLE_AFTER seconds clears the count; after GIVE_UP_AFTER quick crashes in a row the supervisor stops
trying, says so, and leaves the rest of the shop running. A stop asked for (Ctrl-C, SIGTERM) never restarts anything.

The supervisor writes `<data dir>/supervisor.json` (STATE_FILE) at every change of state, atomically, and removes
it when it stops; `ecommerce status` reads it. A file is simpler and sturdier than asking the supervisor: nothing
listens, nothing to authenticate, and a file left by a killed supervisor is recognised by its dead pid.
"""

from __future__ import annotations

import contextlib
import os
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import orjson

FIRST_DELAY = 1.0
MAX_DELAY = 30.0
STABLE_AFTER = 60.0
GIVE_UP_AFTER = 5
STATE_FILE = "supervisor.json"


@dataclass
class Backoff:
    """The restart count and the quick crashes in a row of one instance."""

    restarts: int = 0
    quick_crashes: int = 0

    def after_exit(self, ran_for: float) -> float | None:
        """The delay before the next start, or None to give up."""
        self.quick_crashes = 1 if ran_for >= STABLE_AFTER else self.quick_crashes + 1
        if self.quick_crashes > GIVE_UP_AFTER:
            return None
        self.restarts += 1
        return float(min(FIRST_DELAY * 2.0 ** (self.quick_crashes - 1), MAX_DELAY))


@dataclass
class InstanceState:
    """One line of the state file."""

    name: str
    component: str
    url: str
    state: str = "waiting"
    pid: int | None = None
    restarts: int = 0
    started_at: float | None = None  # wall clock, seconds since the epoch: uptime survives the reader's clock
    last_exit: int | None = None


@dataclass
class SupervisorState:
    """What `ecommerce status` learns from the running supervisor."""

    pid: int = field(default_factory=os.getpid)
    instances: list[InstanceState] = field(default_factory=list)

    def write(self, data_dir: Path) -> None:
        """Replace the state file atomically (a reader never sees half of it)."""
        target = data_dir / STATE_FILE
        partial = target.with_name(f".{STATE_FILE}.{self.pid}")
        partial.write_bytes(orjson.dumps(asdict(self) | {"updated_at": time.time()}, option=orjson.OPT_INDENT_2))
        partial.replace(target)

    @staticmethod
    def remove(data_dir: Path) -> None:
        with contextlib.suppress(FileNotFoundError):
            (data_dir / STATE_FILE).unlink()


def read_state(data_dir: Path) -> SupervisorState | None:
    """The running supervisor's state, or None when none runs on this data folder."""
    try:
        document: dict[str, Any] = orjson.loads((data_dir / STATE_FILE).read_bytes())
        pid = int(document["pid"])
        os.kill(pid, 0)
    except (OSError, ValueError, KeyError, TypeError, orjson.JSONDecodeError):
        return None
    fields = set(InstanceState.__dataclass_fields__)
    instances = [InstanceState(**{k: v for k, v in item.items() if k in fields}) for item in document["instances"]]
    return SupervisorState(pid=pid, instances=instances)


def uptime(started_at: float | None, now: float | None = None) -> str:
    """`1 h 02 min`, `3 min 05 s`, `12 s`; `-` when not running."""
    if started_at is None:
        return "-"
    seconds = int(max(0.0, (now or time.time()) - started_at))
    hours, rest = divmod(seconds, 3600)
    minutes, seconds = divmod(rest, 60)
    if hours:
        return f"{hours} h {minutes:02d} min"
    return f"{minutes} min {seconds:02d} s" if minutes else f"{seconds} s"
