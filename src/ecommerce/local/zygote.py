"""The fork server behind `ecommerce up`: import every component once, then fork one child per component.

Ten interpreters that each import FastAPI, SQLAlchemy, OpenTelemetry and the rest cost about 100 MB and a second
or more of CPU apiece; forks of one process that imported them all share those pages copy-on-write (the imported
objects are `gc.freeze()`d so the collector never touches, and so never copies, them) and start serving at once.

`python -m ecommerce.local.zygote FD` is a small synchronous program: no event loop and no thread ever runs in it,
so forking is safe. FD is its end of an AF_UNIX SOCK_SEQPACKET socket pair. Each request on it is one JSON message
`{"name": ..., "port": ..., "env": {...}}` carrying one file descriptor (SCM_RIGHTS): the write end of the pipe the
supervisor reads the child's output from. The child starts a new session, points stdout and stderr at that pipe,
takes the request's environment, and runs `ecommerce run NAME --port PORT` through the CLI itself, so it is the
same code path as a separate `python -m ecommerce run`.

Events go to stdout, one line each: `ready` once everything is imported, `started PID` or `failed REASON` for each
request in order, and `exited PID CODE` for each child reaped (CODE negative for a signal, as asyncio reports it).
When the socket closes (the supervisor stopped or died) or on SIGTERM, it stops the children still running (SIGTERM,
then SIGKILL after STOP_TIMEOUT_SECONDS) and exits.
"""

from __future__ import annotations

import contextlib
import gc
import importlib
import json
import os
import select
import signal
import socket
import sys
import time
import traceback

# What a component imports after the spec and the chassis: the server, its loop and protocol, the database drivers.
PRELOAD = (
    "ecommerce.cli",
    "ecommerce.chassis",
    "ecommerce.chassis.uvicorn_adapter",
    "uvicorn",
    "uvicorn.main",
    "uvicorn.config",
    "uvicorn.server",
    "uvicorn.loops.uvloop",
    "uvicorn.protocols.http.httptools_impl",
    "uvicorn.protocols.websockets.auto",
    "uvicorn.lifespan.on",
    "uvloop",
    "httptools",
    "aiosqlite",
    "asyncpg",
    "sqlalchemy.dialects.sqlite.aiosqlite",
    "sqlalchemy.dialects.postgresql.asyncpg",
)
STOP_TIMEOUT_SECONDS = 15.0
MAX_REQUEST_BYTES = 1 << 20


def preload() -> None:
    """Import every component and what it uses at start, then freeze the heap so forks share it."""
    from ecommerce import components

    for name in components.names():
        components.load_spec(name)
    for module in PRELOAD:
        with contextlib.suppress(ImportError):
            importlib.import_module(module)
    gc.collect()
    gc.freeze()


def _event(line: str) -> None:
    with contextlib.suppress(OSError):  # the supervisor may be gone; the children are stopped all the same
        sys.stdout.write(line + "\n")
        sys.stdout.flush()


def _child(request: dict[str, object], output: int, close: list[int]) -> None:
    """In the forked child: become `ecommerce run NAME --port PORT` and never return."""
    code = 1
    try:
        os.setsid()  # Ctrl-C in the supervisor's terminal reaches the supervisor only; it stops the children
        signal.set_wakeup_fd(-1)
        for signum in (signal.SIGTERM, signal.SIGCHLD, signal.SIGHUP):
            signal.signal(signum, signal.SIG_DFL)
        signal.signal(signal.SIGINT, signal.default_int_handler)
        for fd in close:
            with contextlib.suppress(OSError):
                os.close(fd)
        os.dup2(output, 1)
        os.dup2(output, 2)
        os.close(output)
        name, port = str(request["name"]), str(request["port"])
        env = request.get("env")
        if isinstance(env, dict):
            os.environ.clear()
            os.environ.update({str(k): str(v) for k, v in env.items()})
        argv = ["run", name, "--port", port]
        sys.argv = ["ecommerce", *argv]
        with contextlib.suppress(ImportError):
            # optional: `ps` then shows the component as if started on its own
            importlib.import_module("setproctitle").setproctitle(f"ecommerce {' '.join(argv)}")
        from ecommerce.cli import app

        try:
            app(argv, prog_name="ecommerce")
            code = 0
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        except KeyboardInterrupt:
            code = 130
    except BaseException:  # noqa: BLE001 - the child must never return into the server's loop
        traceback.print_exc()
    finally:
        with contextlib.suppress(Exception):
            sys.stdout.flush()
            sys.stderr.flush()
        os._exit(code)


class ForkServer:
    """The server's loop: requests on the socket, SIGCHLD through the wakeup pipe."""

    def __init__(self, control: socket.socket) -> None:
        self.control = control
        self.children: set[int] = set()
        self.terminating = False
        self.wakeup_read, self.wakeup_write = os.pipe()
        os.set_blocking(self.wakeup_read, False)
        os.set_blocking(self.wakeup_write, False)

    def serve(self) -> None:
        signal.set_wakeup_fd(self.wakeup_write)
        signal.signal(signal.SIGCHLD, lambda *_: None)
        signal.signal(signal.SIGTERM, self._terminate)
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        _event("ready")
        try:
            while not self.terminating:
                readable, _, _ = select.select([self.control.fileno(), self.wakeup_read], [], [])
                if self.wakeup_read in readable:
                    with contextlib.suppress(BlockingIOError):
                        while os.read(self.wakeup_read, 512):
                            pass
                    self._reap()
                if self.control.fileno() in readable and not self._request():
                    break
        finally:
            self._stop_children()

    def _terminate(self, *_: object) -> None:
        self.terminating = True

    def _request(self) -> bool:
        """Handle one request; False once the supervisor has closed its end."""
        try:
            message, fds, _, _ = socket.recv_fds(self.control, MAX_REQUEST_BYTES, 1)
        except InterruptedError:
            return True
        except OSError:
            return False
        if not message:
            for fd in fds:
                os.close(fd)
            return False
        if len(fds) != 1:
            for fd in fds:
                os.close(fd)
            _event("failed a request needs exactly one output descriptor")
            return True
        try:
            request = json.loads(message)
            assert isinstance(request, dict) and "name" in request and "port" in request
        except (ValueError, AssertionError):
            os.close(fds[0])
            _event("failed a request is a JSON object with name, port and env")
            return True
        sys.stdout.flush()
        sys.stderr.flush()
        try:
            pid = os.fork()
        except OSError as exc:
            os.close(fds[0])
            _event(f"failed fork: {exc}")
            return True
        if pid == 0:
            _child(request, fds[0], [self.control.fileno(), self.wakeup_read, self.wakeup_write])
        os.close(fds[0])
        self.children.add(pid)
        _event(f"started {pid}")
        return True

    def _reap(self) -> None:
        while True:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            self.children.discard(pid)
            _event(f"exited {pid} {os.waitstatus_to_exitcode(status)}")

    def _stop_children(self) -> None:
        for signum in (signal.SIGTERM, signal.SIGKILL):
            for pid in self.children:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(pid, signum)
            deadline = time.monotonic() + STOP_TIMEOUT_SECONDS
            while self.children and time.monotonic() < deadline:
                self._reap()
                time.sleep(0.05)
            if not self.children:
                return


def main() -> None:
    control = socket.socket(fileno=int(sys.argv[1]))
    preload()
    ForkServer(control).serve()


if __name__ == "__main__":
    main()
