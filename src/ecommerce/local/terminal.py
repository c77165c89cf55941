"""What `ecommerce up` shows a person: the components' states as they start, the URL table, warnings and errors.

On a terminal the states are a Rich live view that gives way to the URL table once the shop is up; elsewhere (a
pipe, a file, CI) each change of state is a plain line. Off a terminal nothing is ever cut to a width: the console
is as wide as its longest line, so a URL in the table or a path below it is whole whatever COLUMNS says.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from dataclasses import dataclass

from rich.console import Console, Group, RenderableType
from rich.live import Live
from rich.spinner import Spinner
from rich.table import Table
from rich.text import Text

from ecommerce.local.logfiles import LogLine, readable

UNBOUNDED_WIDTH = 10_000  # off a terminal: no line is ever folded or cut
_STYLES = {
    "waiting": "dim",
    "starting": "yellow",
    "healthy": "green",
    "exited": "red",
    "restarting": "yellow",
    "failed": "bold red",
    "stopped": "dim",
}


def uncut_console(*, stderr: bool = False) -> Console:
    """A console for stdout or stderr that never cuts a line when it is not a terminal (a pipe, a file, CI).

    No file is bound: it writes to whatever sys.stdout or sys.stderr is at the time (pytest's capture too).
    """
    console = Console(stderr=stderr)
    return console if console.is_terminal else Console(stderr=stderr, width=UNBOUNDED_WIDTH, soft_wrap=True)


@dataclass
class _Row:
    state: str = "waiting"
    detail: str = ""
    since: float = 0.0


class Terminal:
    """The supervisor's one voice on stderr, live on a terminal and line by line elsewhere."""

    def __init__(self, *, live: bool = True) -> None:
        self.console = uncut_console(stderr=True)
        self.interactive = self.console.is_terminal
        self._live_wanted = live and self.interactive
        self._live: Live | None = None
        self._rows: dict[str, _Row] = {}
        self._activity = ""

    def track(self, labels: list[str]) -> None:
        """The components whose states the live view lists, in this order."""
        self._rows = {label: _Row(since=time.monotonic()) for label in labels}

    @contextlib.contextmanager
    def starting(self) -> Iterator[None]:
        """The live view of the states while the shop starts (plain lines when not on a terminal)."""
        if not self._live_wanted:
            yield
            return
        with Live(
            get_renderable=self._render, console=self.console, refresh_per_second=8, transient=True
        ) as self._live:
            try:
                yield
            finally:
                self._live = None

    def activity(self, text: str) -> None:
        """What the supervisor itself is doing now (importing, creating databases)."""
        self._activity = text
        if text and self._live is None:
            self.console.print(text, markup=False, highlight=False)

    def state(self, label: str, state: str, detail: str = "") -> None:
        """A component's new state; off the live view (or once the shop is up) one line says so."""
        row = self._rows.setdefault(label, _Row())
        row.state, row.detail, row.since = state, detail, time.monotonic()
        if self._live is None:
            mark = {"healthy": "✓", "failed": "✗", "exited": "✗"}.get(state, "·")
            line = Text.assemble((f"{mark} {label} {state}", _STYLES.get(state, "")), f" {detail}" if detail else "")
            self.console.print(line, highlight=False)

    def note(self, text: str, style: str = "") -> None:
        """A sentence for the operator (a crash, a restart, giving up), above the live view when there is one."""
        # soft_wrap: the terminal folds a long line itself; Rich never cuts or re-flows a path or a URL in it.
        self.console.print(text, style=style or None, markup=False, highlight=False, soft_wrap=True)

    def log(self, label: str, line: LogLine) -> None:
        """A component's warning or error, one readable line."""
        style = "red" if line.level in {"error", "critical", "exception", "fatal"} else "yellow"
        self.console.print(Text(readable(line, label), style=style), highlight=False)

    def print(self, renderable: RenderableType) -> None:
        self.console.print(renderable)

    def _render(self) -> RenderableType:
        table = Table(box=None, show_header=False, pad_edge=False)
        table.add_column(no_wrap=True)
        table.add_column(no_wrap=True)
        table.add_column(overflow="fold")
        now = time.monotonic()
        for label, row in self._rows.items():
            busy = row.state in {"starting", "restarting"}
            mark: RenderableType = (
                Spinner("dots", style="yellow")
                if busy
                else Text(
                    {"healthy": "✓", "failed": "✗", "exited": "✗"}.get(row.state, "·"), style=_STYLES.get(row.state, "")
                )
            )
            timing = f" {now - row.since:4.1f} s" if busy else ""
            state = Text.assemble((row.state, _STYLES.get(row.state, "")), timing, f"  {row.detail}".rstrip())
            table.add_row(mark, label, state)
        if not self._activity:
            return table
        return Group(Spinner("dots", text=Text(self._activity), style="cyan"), table)
