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


# The dev extras (pyproject.toml) that must never reach the runtime image. pytest itself is not among them: the load
# generator's Locust declares it as a requirement (Requires-Dist: pytest, for its pytest-style locustfiles), so pip
# installs it with Locust; the test below allows it only while Locust's own metadata asks for it.
DEV_ONLY = ("ruff", "mypy", "pytest-asyncio", "pytest-timeout", "hypothesis", "schemathesis", "docker", "playwright")
_INSTALLED = """
import importlib.metadata as m
names = {d.metadata["Name"].lower() for d in m.distributions()}
print(" ".join(sorted(names)))
print(any(r.split(";")[0].strip().lower().startswith("pytest") for r in m.requires("locust") or []))
"""


def test_the_runtime_image_has_no_compiler_cache_or_test_files(client: docker.DockerClient) -> None:
    """No compiler, no pip or apt caches, none of the project's tests, no dev tool; pytest only as Locust's own
    declared requirement."""
    found = _sh(
        client,
        "for c in gcc cc g++ c++ make; do command -v $c; done; "
        "ls -A /root/.cache /tmp/.cache /var/lib/apt/lists/*_Packages* 2>/dev/null; "
        "find /opt/venv /app -path '*/site-packages/ecommerce*' -prune -o -name 'pip-*' -path '*cache*' -print; "
        "find / -xdev \\( -name tests -o -name conftest.py -o -name 'test_*.py' \\) -path '*ecommerce*' -print "
        "2>/dev/null; ls /opt/venv/bin | grep -Ex 'ruff|mypy|hypothesis|schemathesis|st|playwright' || true",
    )
    assert found == ""
    names, locust_needs_pytest = _sh(client, f"python -c '{_INSTALLED}'").splitlines()
    installed = set(names.split())
    assert installed.isdisjoint(DEV_ONLY), installed & set(DEV_ONLY)
    if "pytest" in installed:
        assert "locust" in installed and locust_needs_pytest == "True", "pytest in the image without Locust needing it"


def test_the_runtime_image_runs_as_an_unprivileged_user_with_the_shop_command(client: docker.DockerClient) -> None:
    assert _sh(client, "id -u; for c in ecommerce pg_dump wget; do command -v $c; done").split() == [
        "10001",
        "/opt/venv/bin/ecommerce",
        "/usr/bin/pg_dump",
        "/usr/bin/wget",
    ]
