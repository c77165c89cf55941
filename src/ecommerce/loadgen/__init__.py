"""The load generator: shoppers played with Locust against a running shop (`ecommerce loadgen`, the chart's
`loadgenerator` Deployment, `canary-deploy.sh --load`).

`shoppers.py` is the Locust file; it is only ever imported by Locust's own process, because importing Locust
monkey-patches the standard library for gevent (sockets, ssl, threads), which no other process of the shop wants.
"""

from __future__ import annotations

from pathlib import Path

LOCUSTFILE = Path(__file__).with_name("shoppers.py")
