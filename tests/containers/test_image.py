"""The project's image (built by `make test-containers`): nothing in the runtime layers that only a build needs."""

from __future__ import annotations

import docker
import pytest

from containers.stack import COMPOSE

IMAGE = COMPOSE["x-component"]["image"]


@pytest.fixture(scope="module")
def client() -> docker.DockerClient:
    engine = docker.from_env()
    engine.images.get(IMAGE)
    return engine


def _sh(client: docker.DockerClient, script: str) -> str:
    output = client.containers.run(IMAGE, entrypoint=["sh", "-c", script], command=[], remove=True, stderr=True)
    return output.decode(errors="replace").strip()


def test_the_runtime_image_has_no_compiler_cache_or_test_files(client: docker.DockerClient) -> None:
    found = _sh(
        client,
        "for c in gcc cc g++ c++ make; do command -v $c; done; "
        "ls -A /root/.cache /tmp/.cache /var/lib/apt/lists/*_Packages* 2>/dev/null; "
        "find /opt/venv /app -path '*/site-packages/ecommerce*' -prune -o -name 'pip-*' -path '*cache*' -print; "
        "find / -xdev \\( -name tests -o -name conftest.py \\) -path '*ecommerce*' -print 2>/dev/null; "
        "ls /opt/venv/bin | grep -Ex 'pytest|ruff|mypy' || true",
    )
    assert found == ""


def test_the_runtime_image_runs_as_an_unprivileged_user_with_the_shop_command(client: docker.DockerClient) -> None:
    assert _sh(client, "id -u; for c in ecommerce pg_dump wget; do command -v $c; done").split() == [
        "10001",
        "/opt/venv/bin/ecommerce",
        "/usr/bin/pg_dump",
        "/usr/bin/wget",
    ]
