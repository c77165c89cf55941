"""A stand-in for a peer service in API tests: a real HTTP server on a free port whose answers a test sets.

`answers[("GET", "/order-service/api/orders/7")] = (200, {...})`; anything unset is the one 404 error body.
Every request is recorded in `calls` as (method, path, parsed JSON body or None).
"""

from __future__ import annotations

import contextlib
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class StubPeer:
    def __init__(self) -> None:
        self.answers: dict[tuple[str, str], tuple[int, Any]] = {}
        self.calls: list[tuple[str, str, Any]] = []
        self.url = ""

    def answer(self, method: str, path: str) -> tuple[int, Any]:
        found = self.answers.get((method, path))
        if found is not None:
            return found
        return 404, {"timestamp": "", "httpStatus": "NOT_FOUND", "msg": f"No {path}", "path": path, "traceId": None}


@contextlib.contextmanager
def stub_peer() -> Iterator[StubPeer]:
    """Serve a StubPeer on 127.0.0.1 for the duration of the block."""
    stub = StubPeer()

    class Handler(BaseHTTPRequestHandler):
        def _serve(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            path = self.path.split("?", 1)[0]
            stub.calls.append((self.command, path, json.loads(raw) if raw else None))
            status, body = stub.answer(self.command, path)
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = _serve

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    stub.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield stub
    finally:
        server.shutdown()
        server.server_close()
