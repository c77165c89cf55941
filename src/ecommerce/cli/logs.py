"""`ecommerce logs [NAME] [-f]`: the components' log files that `ecommerce up` writes, read and followed.

Without NAME every component's lines come interleaved in time order, each after its component's name; `-f` keeps
printing what they add, across restarts and rotations, by polling the files (no inotify: the same on any system).
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

import typer

from ecommerce import components
from ecommerce.local.logfiles import component_of, interleave, log_files, logs_dir, parse, readable, tail

POLL_SECONDS = 0.25


def logs(
    name: Annotated[
        str | None,
        typer.Argument(
            help="A component (all its instances), or product-service#2 for one; default: all.", show_default=False
        ),
    ] = None,
    follow: Annotated[bool, typer.Option("--follow", "-f", help="Keep printing new lines until Ctrl-C.")] = False,
    lines: Annotated[int, typer.Option("--lines", "-n", min=0, help="How many past lines of each log.")] = 50,
    raw: Annotated[bool, typer.Option("--json", help="The lines as written: one JSON record each.")] = False,
    data_dir: Annotated[
        Path, typer.Option(help="The data folder `ecommerce up` runs on.", envvar="ECOMMERCE_DATA_DIR")
    ] = Path(".data"),
) -> None:
    """Show the components' logs from <data-dir>/logs/, all interleaved or one component's; -f follows them."""
    base = name.partition("#")[0] if name else None
    if base is not None and base not in components.names():
        typer.echo(f"Unknown component '{name}'. Known: {', '.join(components.names())}", err=True)
        raise typer.Exit(2)
    files = _matching(data_dir, name)
    if not files and not follow:
        typer.echo(
            f"No logs in {logs_dir(data_dir)}{f' for {name}' if name else ''}: is `ecommerce up` run there?", err=True
        )
        raise typer.Exit(1)
    prefixed = name is None or "#" not in name and len(files) > 1
    cursors = {path: _Cursor.at_end(path) for path in files}  # before the tail: a line written meanwhile is followed
    past = {component_of(path): tail(path, lines, upto=cursors[path].offset) for path in files}
    _print(interleave(past), prefixed=prefixed, raw=raw)
    if follow:
        with contextlib.suppress(KeyboardInterrupt):
            _follow(data_dir, name, cursors, prefixed=prefixed or name is None, raw=raw)


def _matching(data_dir: Path, name: str | None) -> list[Path]:
    if name is not None and "#" in name:
        path = logs_dir(data_dir) / f"{name}.log"
        return [path] if path.exists() else []
    return log_files(data_dir, name)


def _print(entries: Iterable[tuple[str, str]], *, prefixed: bool, raw: bool) -> None:
    for component, line in entries:
        if raw:
            typer.echo(f"{component} | {line}" if prefixed else line)
        else:
            typer.echo(readable(parse(line), component if prefixed else None))


@dataclass
class _Cursor:
    inode: int
    offset: int

    @classmethod
    def at_end(cls, path: Path) -> _Cursor:
        stat = path.stat()
        return cls(stat.st_ino, stat.st_size)


def _follow(data_dir: Path, name: str | None, cursors: dict[Path, _Cursor], *, prefixed: bool, raw: bool) -> None:
    """Print what the files gain past their cursors; a rotated, recreated or new file is read from its start."""
    while True:
        fresh: dict[str, list[str]] = {}
        for path in _matching(data_dir, name):
            try:
                stat = path.stat()
            except FileNotFoundError:
                continue
            cursor = cursors.get(path)
            if cursor is None or cursor.inode != stat.st_ino or stat.st_size < cursor.offset:
                cursor = cursors[path] = _Cursor(stat.st_ino, 0)
            if stat.st_size == cursor.offset:
                continue
            with path.open("rb") as stream:
                stream.seek(cursor.offset)
                chunk = stream.read()
            complete = chunk[: chunk.rfind(b"\n") + 1]  # a line still being written waits for its end
            cursor.offset += len(complete)
            if complete:
                fresh[component_of(path)] = complete.decode(errors="replace").splitlines()
        _print(interleave(fresh), prefixed=prefixed, raw=raw)
        time.sleep(POLL_SECONDS)
