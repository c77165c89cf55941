"""What the fuzzing found, pinned down so it stays fixed (the generator only finds these now and then)."""

from __future__ import annotations

import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST
from shop_testing import operator_headers

from ecommerce import components
from ecommerce.chassis import create_app
from ecommerce.services.config import SPEC as CONFIG_SPEC


async def test_config_server_answers_404_for_a_name_too_long_for_the_file_system(
    make_client: Callable[..., Any],
) -> None:
    """Names and labels longer than a file name may be are documents or folders that are not there, never a 500.

    Asked as the operator, who may read every application's documents, so the request reaches the files.
    """
    long_names = (
        f"/{'a' * 300}/default",
        f"/{'a' * 300}-dev.yml",
        f"/x/{'b' * 300}/main",
        f"/x/default/{'c' * 300}",
        f"/{'c' * 300}/x-default.yml",
    )
    async with make_client(CONFIG_SPEC, headers=operator_headers()) as client:
        for path in long_names:
            answer = await client.get(path)
            assert answer.status_code in (200, 404), (path, answer.status_code, answer.text[:200])
            if answer.status_code == 404:
                assert answer.json()["msg"]
        # The one error body for a document name the server cannot read at all.
        answer = await client.get(f"/{'a' * 300}.yml")
        assert answer.status_code == 404, answer.text[:200]
        assert answer.json()["msg"]


def test_every_openapi_document_builds_without_warnings(tmp_path: Path) -> None:
    for name in components.names():
        spec = components.load_spec(name)
        app = create_app(spec, spec.settings_cls(access_log=False, data_dir=tmp_path))
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # e.g. FastAPI's "Duplicate Operation ID"
            document = app.openapi()
        ids = [op["operationId"] for ops in document["paths"].values() for op in ops.values()]
        assert len(ids) == len(set(ids)), name
        prometheus = document["paths"][f"{spec.actuator_base}/prometheus"]["get"]["responses"]["200"]["content"]
        assert list(prometheus) == [CONTENT_TYPE_LATEST], name
