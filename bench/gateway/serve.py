"""`ecommerce run api-gateway` with the gateway's own protocol: `python -m bench.gateway.serve PORT`.

The same app, settings and uvicorn options as `ecommerce run` (src/ecommerce/cli/service.py), except
`http=GatewayProtocol`, so the benchmark shows what switching the command to it would give.
"""

from __future__ import annotations

import os
import sys

import uvicorn

from ecommerce.chassis import create_app
from ecommerce.services.gateway import SPEC
from ecommerce.services.gateway.protocol import GatewayProtocol


def main() -> None:
    port = int(sys.argv[1])
    os.environ["ECOMMERCE_PORT"] = str(port)
    uvicorn.run(
        create_app(SPEC),
        host="127.0.0.1",
        port=port,
        loop="uvloop",
        http=GatewayProtocol,
        access_log=False,
        log_config=None,
        timeout_graceful_shutdown=10,
        server_header=False,
    )


if __name__ == "__main__":
    main()
