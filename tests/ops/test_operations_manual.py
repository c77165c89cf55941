"""The operations manuals (English and Spanish) only show scripts, options, files and runbooks that exist."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
MANUALS = [ROOT / "docs/operations-manual.md", ROOT / "docs/manual-de-operaciones.md"]
BUSINESS = [
    "user-service",
    "product-service",
    "favourite-service",
    "order-service",
    "shipping-service",
    "payment-service",
]
COMPONENTS = ["service-discovery", "cloud-config-server", "api-gateway", "proxy-client", *BUSINESS]
PLACEHOLDER = re.compile(r"<service-name>|\$\{service\}")
K8S_PATH = re.compile(r"k8s/[A-Za-z0-9_./<>${}-]*")
SCRIPT_CALL = re.compile(r"^\s*\./scripts/(?P<script>[a-z0-9-]+\.sh)(?P<args>[^\n#]*)", re.MULTILINE)


def text(manual: Path) -> str:
    return manual.read_text()


def code_blocks(manual: Path) -> str:
    return "\n".join(re.findall(r"```bash\n(.*?)```", text(manual), re.DOTALL))


def expand(path: str) -> list[str]:
    path = path.rstrip(".,)`'\"")
    if "<name>" in path:
        return [path.replace("<name>", name) for name in COMPONENTS]
    if PLACEHOLDER.search(path):
        return [PLACEHOLDER.sub(service, path) for service in BUSINESS]
    return [path]


@pytest.mark.parametrize("manual", MANUALS, ids=lambda path: path.name)
def test_manual_has_the_nine_sections(manual):
    headings = re.findall(r"^## (\d)\. ", text(manual), re.MULTILINE)
    assert headings == [str(n) for n in range(1, 10)]


@pytest.mark.parametrize("manual", MANUALS, ids=lambda path: path.name)
def test_scripts_and_options_shown_exist(manual):
    calls = list(SCRIPT_CALL.finditer(code_blocks(manual)))
    assert len(calls) >= 15
    for call in calls:
        script = ROOT / "scripts" / call["script"]
        assert script.exists() and os.access(script, os.X_OK), f"{manual.name}: {script} does not exist"
        usage = subprocess.run(["bash", str(script), "--help"], capture_output=True, text=True, check=True).stdout
        for option in re.findall(r"(?<!\S)(--?[a-z][a-z-]*)", call["args"]):
            assert option in usage, f"{manual.name}: {call['script']} has no option {option}"
    for name in re.findall(r"scripts/([a-z0-9-]+\.sh)", text(manual)):
        assert (ROOT / "scripts" / name).exists(), f"{manual.name} mentions missing scripts/{name}"


@pytest.mark.parametrize("manual", MANUALS, ids=lambda path: path.name)
def test_k8s_paths_shown_exist(manual):
    if not (ROOT / "k8s").is_dir():
        if os.environ.get("CI") == "true":
            pytest.fail("k8s/ does not exist, so the manual's k8s/ paths cannot be checked")
        pytest.skip("k8s/ is not rendered yet: the manual's k8s/ paths are checked once it exists")
    paths = {expanded for found in K8S_PATH.findall(text(manual)) for expanded in expand(found)}
    paths.discard("k8s/")
    assert len(paths) >= 20
    missing = sorted(path for path in paths if not (ROOT / path).exists())
    assert missing == [], f"{manual.name} shows k8s/ paths that do not exist: {missing}"


@pytest.mark.parametrize("manual", MANUALS, ids=lambda path: path.name)
def test_runbook_links_exist(manual):
    links = re.findall(r"\]\((runbooks/[A-Za-z]+\.md)\)", text(manual))
    assert len(links) >= 9
    if not (ROOT / "docs/runbooks").is_dir():
        if os.environ.get("CI") == "true":
            pytest.fail("docs/runbooks/ does not exist")
        pytest.skip("docs/runbooks/ is not written yet")
    assert [link for link in links if not (ROOT / "docs" / link).exists()] == []


def test_both_manuals_show_the_same_commands():
    english, spanish = (
        sorted(re.sub(r"\s+", " ", call.group(0).strip()) for call in SCRIPT_CALL.finditer(code_blocks(manual)))
        for manual in MANUALS
    )
    assert english == spanish
