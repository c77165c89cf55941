"""Run the operations scripts against recording fake kubectl/helm binaries that answer scripted cluster states."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPTS = ROOT / "scripts"
FAKES = Path(__file__).resolve().parent / "fakes"


@dataclass
class Call:
    tool: str
    argv: list[str]
    stdin: str | None
    files: dict[str, str]

    @property
    def line(self) -> str:
        return " ".join(self.argv)


@dataclass
class Result:
    returncode: int
    stdout: str
    stderr: str
    calls: list[Call] = field(default_factory=list)

    def lines(self, tool: str = "kubectl") -> list[str]:
        return [call.line for call in self.calls if call.tool == tool]

    def index(self, fragment: str, tool: str = "kubectl") -> int:
        """Position of the first call containing `fragment` (fails the test when there is none)."""
        for position, line in enumerate(self.lines(tool)):
            if fragment in line:
                return position
        raise AssertionError(f"no {tool} call contains {fragment!r}:\n" + "\n".join(self.lines(tool)))

    def called(self, fragment: str, tool: str = "kubectl") -> bool:
        return any(fragment in line for line in self.lines(tool))


class FakeCluster:
    """Scripted answers (regex on the command line -> stdout/rc) and a log of every call."""

    def __init__(self, tmp_path: Path) -> None:
        self.tmp_path = tmp_path
        self.rules: list[dict[str, object]] = []
        self.log = tmp_path / "calls.jsonl"
        self.env: dict[str, str] = {}
        # The fakes run under this interpreter directly (a version-manager shim would cost ~0.3 s per call).
        bin_dir = tmp_path / "bin"
        bin_dir.mkdir()
        source = (FAKES / "kubectl").read_text().split("\n", 1)[1]
        for tool in ("kubectl", "helm"):
            fake = bin_dir / tool
            fake.write_text(f"#!{sys.executable} -S\n{source}")
            fake.chmod(0o755)
        self.bin_dir = bin_dir

    def on(self, match: str, stdout: str = "", rc: int = 0, tool: str = "kubectl", **extra: object) -> None:
        self.rules.append({"match": match, "stdout": stdout, "rc": rc, "tool": tool, **extra})

    def sequence(self, match: str, *responses: dict[str, object], tool: str = "kubectl") -> None:
        self.rules.append({"match": match, "responses": list(responses), "tool": tool})

    def run(self, script: str, *args: str, stdin: str | None = None, env: dict[str, str] | None = None) -> Result:
        rules = self.tmp_path / "rules.json"
        rules.write_text(json.dumps(self.rules))
        self.log.unlink(missing_ok=True)
        full_env = {
            **os.environ,
            "KUBECTL": str(self.bin_dir / "kubectl"),
            "HELM": str(self.bin_dir / "helm"),
            "FAKE_LOG": str(self.log),
            "FAKE_RULES": str(rules),
            "POLL_SECONDS": "0",
            "PYTHON": sys.executable,
            **self.env,
            **(env or {}),
        }
        completed = subprocess.run(
            ["bash", str(SCRIPTS / script), *args],
            input=stdin,
            stdin=None if stdin is not None else subprocess.DEVNULL,
            capture_output=True,
            text=True,
            env=full_env,
            timeout=60,
            check=False,
        )
        calls = []
        if self.log.exists():
            calls = [Call(**json.loads(line)) for line in self.log.read_text().splitlines()]
        return Result(completed.returncode, completed.stdout, completed.stderr, calls)


@pytest.fixture
def cluster(tmp_path: Path) -> FakeCluster:
    return FakeCluster(tmp_path)
