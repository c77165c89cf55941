"""The supervisor's side of the fork server (ecommerce.local.zygote): start it, ask it for children, watch them."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import socket
import subprocess
import sys

READY_TIMEOUT_SECONDS = 120.0
STOP_TIMEOUT_SECONDS = 20.0


class ZygoteError(RuntimeError):
    """The fork server could not start or refused a request."""


class ForkedProcess:
    """A component forked by the zygote, with the parts of asyncio.subprocess.Process the supervisor uses."""

    def __init__(self, pid: int, stdout: asyncio.StreamReader) -> None:
        self.pid = pid
        self.stdout = stdout
        self.returncode: int | None = None
        self._exited = asyncio.get_running_loop().create_future()

    def _set_exited(self, code: int) -> None:
        if self.returncode is None:
            self.returncode = code
            self._exited.set_result(code)

    async def wait(self) -> int:
        return int(await asyncio.shield(self._exited))

    def send_signal(self, signum: int) -> None:
        if self.returncode is not None:
            raise ProcessLookupError(self.pid)
        os.kill(self.pid, signum)  # the zygote reaps it; until it has, the pid cannot be reused

    def terminate(self) -> None:
        self.send_signal(signal.SIGTERM)

    def kill(self) -> None:
        self.send_signal(signal.SIGKILL)


class Zygote:
    """`python -m ecommerce.local.zygote`: started first, then one fork per component on request."""

    def __init__(self) -> None:
        self.process: asyncio.subprocess.Process | None = None
        self.children: dict[int, ForkedProcess] = {}
        self.lost: asyncio.Event = asyncio.Event()  # it exited while children still ran
        self._control: socket.socket | None = None
        self._replies: asyncio.Queue[str] = asyncio.Queue()
        self._early_exits: dict[int, int] = {}
        self._events: asyncio.Task[None] | None = None
        self._lock = asyncio.Lock()
        self._closing = False

    async def start(self, env: dict[str, str]) -> None:
        """Start the fork server; `ready()` waits until it has imported everything."""
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        try:
            self.process = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "ecommerce.local.zygote",
                str(theirs.fileno()),
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=asyncio.subprocess.PIPE,
                pass_fds=(theirs.fileno(),),
                start_new_session=True,  # Ctrl-C reaches the supervisor only; it stops everything in order
            )
        finally:
            theirs.close()
        self._control = ours
        self._events = asyncio.create_task(self._read_events())

    async def ready(self) -> None:
        reply = await asyncio.wait_for(self._replies.get(), READY_TIMEOUT_SECONDS)
        if reply != "ready":
            raise ZygoteError(f"the fork server did not start ({reply})")

    async def spawn(self, name: str, port: int, env: dict[str, str]) -> ForkedProcess:
        """Fork `ecommerce run NAME --port PORT` with this environment; its output comes on `.stdout`."""
        assert self._control is not None
        loop = asyncio.get_running_loop()
        read_end, write_end = os.pipe()
        try:
            reader = asyncio.StreamReader(limit=2**16, loop=loop)
            transport, _ = await loop.connect_read_pipe(
                lambda: asyncio.StreamReaderProtocol(reader, loop=loop), os.fdopen(read_end, "rb", buffering=0)
            )
        except BaseException:
            os.close(read_end)
            os.close(write_end)
            raise
        message = json.dumps({"name": name, "port": port, "env": env}).encode()
        async with self._lock:
            try:
                socket.send_fds(self._control, [message], [write_end])
            except OSError as exc:
                transport.close()
                raise ZygoteError(f"the fork server is gone ({exc})") from exc
            finally:
                os.close(write_end)
            reply = await self._replies.get()
        if not reply.startswith("started "):
            transport.close()
            raise ZygoteError(f"could not start {name}: {reply}")
        child = ForkedProcess(int(reply.split()[1]), reader)
        self.children[child.pid] = child
        if child.pid in self._early_exits:
            child._set_exited(self._early_exits.pop(child.pid))
        return child

    async def close(self) -> None:
        """Close the request socket: the fork server stops what still runs and exits."""
        self._closing = True
        if self._control is not None:
            self._control.close()
            self._control = None
        if self.process is not None and self.process.returncode is None:
            try:
                await asyncio.wait_for(self.process.wait(), STOP_TIMEOUT_SECONDS)
            except TimeoutError:
                with contextlib.suppress(ProcessLookupError):
                    self.process.kill()
                await self.process.wait()
        if self._events is not None:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await asyncio.wait_for(self._events, 2)

    async def _read_events(self) -> None:
        assert self.process is not None and self.process.stdout is not None
        while line := await self.process.stdout.readline():
            kind, _, rest = line.decode(errors="replace").strip().partition(" ")
            if kind == "exited":
                pid, code = (int(part) for part in rest.split())
                if pid in self.children:
                    self.children[pid]._set_exited(code)
                else:
                    self._early_exits[pid] = code
            else:
                self._replies.put_nowait(f"{kind} {rest}".strip())
        await self.process.wait()
        self._replies.put_nowait(f"exited with code {self.process.returncode}")
        # Gone on its own (killed, crashed): its children are orphans now; stop them rather than leave them.
        for child in self.children.values():
            if child.returncode is None:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(child.pid, signal.SIGKILL)
                child._set_exited(-signal.SIGKILL)
        if not self._closing:
            self.lost.set()
