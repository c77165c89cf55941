"""The container tests start a whole shop on a Docker engine: `make test-containers` runs them (it installs and
starts the engine and builds the images first). A plain `pytest` run leaves them out."""

from __future__ import annotations

import os

collect_ignore_glob = [] if os.environ.get("ECOMMERCE_CONTAINER_TESTS") == "1" else ["test_shop_*.py", "test_image.py"]
