"""An OTLP/HTTP sink that accepts and drops spans, so tracing does its real export work."""

import sys

from aiohttp import web


async def accept(_request: web.Request) -> web.Response:
    await _request.read()
    return web.Response(status=200, content_type="application/x-protobuf", body=b"")


app = web.Application()
app.router.add_post("/v1/traces", accept)
app.router.add_get("/", lambda _r: web.Response(text="ok"))
web.run_app(app, host="127.0.0.1", port=int(sys.argv[1]), print=None)
