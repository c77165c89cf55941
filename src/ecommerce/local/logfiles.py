"""Each component's log in its own file under `<data dir>/logs/`, and how a JSON log line reads to a person.

`ecommerce up` keeps the terminal for what needs a person (states, the URL table, warnings and errors) and writes
every line a component prints to `<data dir>/logs/<component>.log` (`product-service#2.log` for a second instance),
size-bounded by the standard library's rotating handler: MAX_BYTES, then one older file `<component>.log.1`.
`ecommerce logs` reads them back (ecommerce.cli.logs).
"""

from __future__ import annotations

import logging
import logging.handlers
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import orjson

LOGS_FOLDER = "logs"
MAX_BYTES = 5 * 1024 * 1024
BACKUP_COUNT = 1
LOUD_LEVELS = frozenset({"warning", "warn", "error", "critical", "exception", "fatal"})
# Keys a reader does not need on the terminal: the rest of a structured line is shown as key=value.
_QUIET_KEYS = frozenset({"event", "level", "timestamp", "service", "logger", "exception", "trace_id", "span_id"})


def logs_dir(data_dir: Path) -> Path:
    """Where the components' log files live."""
    return data_dir / LOGS_FOLDER


class LogFile:
    """One component's log file, appended to across restarts, rotated at MAX_BYTES."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._handler = logging.handlers.RotatingFileHandler(
            path, maxBytes=MAX_BYTES, backupCount=BACKUP_COUNT, encoding="utf-8"
        )
        self._handler.setFormatter(logging.Formatter("%(message)s"))

    def write(self, line: str) -> None:
        """Append one line or several (joined by newlines, without the last one), in one write."""
        self._handler.handle(logging.makeLogRecord({"msg": line, "levelno": logging.INFO}))

    def close(self) -> None:
        self._handler.close()


@dataclass(frozen=True)
class LogLine:
    """A component's output line as a person reads it."""

    raw: str
    level: str  # lower-case; "" for a line that is not a structured log record (a traceback, a print)
    timestamp: str  # ISO 8601 from the record, "" when it has none
    text: str  # the event, then key=value, then the exception's last line

    @property
    def loud(self) -> bool:
        """A warning or an error: it reaches the terminal even when the logs go to files."""
        return self.level in LOUD_LEVELS or (not self.level and bool(self.raw.strip()))


def parse(raw: str) -> LogLine:
    """Read one line a component printed: a JSON record of the chassis' logging, or anything else as it is."""
    raw = raw.rstrip("\r\n")
    try:
        record = orjson.loads(raw) if raw.startswith("{") else None
    except orjson.JSONDecodeError:
        record = None
    if not isinstance(record, dict):
        return LogLine(raw, "", "", raw)
    parts = [str(record.get("event", ""))]
    parts += [f"{key}={value}" for key, value in record.items() if key not in _QUIET_KEYS]
    exception = record.get("exception")
    if isinstance(exception, str) and exception.strip():
        parts.append(f"({exception.strip().splitlines()[-1]})")
    level = str(record.get("level", "info")).lower()
    return LogLine(raw, level, str(record.get("timestamp", "")), " ".join(part for part in parts if part))


def readable(line: LogLine, name: str | None = None) -> str:
    """`12:01:02 product-service WARNING event key=value`: one line, the time of day, the name when given."""
    clock = line.timestamp[11:19] if len(line.timestamp) >= 19 else ""
    fields = [clock, name or "", line.level.upper() if line.level else "", line.text]
    return " ".join(field for field in fields if field)


def component_of(path: Path) -> str:
    """`product-service#2.log` -> `product-service#2`."""
    return path.name.removesuffix(".log")


def log_files(data_dir: Path, name: str | None = None) -> list[Path]:
    """The current log file of each component (and of each further instance of NAME), sorted by name."""
    folder = logs_dir(data_dir)
    if name is None:
        return sorted(folder.glob("*.log"))
    return sorted(path for path in folder.glob("*.log") if component_of(path).partition("#")[0] == name)


def tail(path: Path, count: int, upto: int | None = None) -> list[str]:
    """The last `count` lines of a log up to byte `upto` (a follower goes on from there), the rotated older file
    included when the current one is short."""
    lines: deque[str] = deque(maxlen=count or None)
    for part in (path.with_name(path.name + ".1"), path):
        if part.exists():
            with part.open("rb") as stream:
                chunk = stream.read(upto if part == path and upto is not None else -1)
            lines.extend(chunk.decode(errors="replace").splitlines())
    return list(lines) if count else []


def interleave(streams: dict[str, list[str]]) -> Iterator[tuple[str, str]]:
    """(name, line) of several logs in time order; a line without a time keeps its place after its predecessor."""
    keyed = []
    for name, lines in streams.items():
        last = ""
        for position, raw in enumerate(lines):
            last = parse(raw).timestamp or last
            keyed.append((last, name, position, raw))
    for _, name, _, raw in sorted(keyed):
        yield name, raw
