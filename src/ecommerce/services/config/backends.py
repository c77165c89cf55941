"""Where configuration files come from: a folder (config-repo/) or a git repository (label = branch)."""

from __future__ import annotations

import asyncio
import hashlib
import re
import shutil
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import structlog

log = structlog.get_logger("ecommerce.config.backend")

_SAFE_LABEL = re.compile(r"^[A-Za-z0-9._/-]+$")


class LabelNotFound(LookupError):
    """No such branch, tag or folder."""


@dataclass(frozen=True)
class Snapshot:
    """A directory of configuration files at one version."""

    root: Path
    label: str | None
    version: str | None
    origin: str  # what a property source's name starts with: relative to the repository, never a server path


def _is_dir(path: Path) -> bool:
    """A label too long for the file system (OSError) is a folder that is not there, like any other label."""
    try:
        return path.is_dir()
    except OSError:
        return False


class FolderBackend:
    """Files in a folder; a label that names a subfolder selects it, any other label is ignored."""

    def __init__(self, root: Path) -> None:
        self.root = root

    async def snapshot(self, label: str | None) -> Snapshot:
        if label and _SAFE_LABEL.match(label) and ".." not in label and _is_dir(self.root / label):
            return Snapshot(self.root / label, label, None, f"{label}/")
        return Snapshot(self.root, label, None, "")

    async def close(self) -> None:
        return None


@dataclass
class _Checkout:
    path: Path
    fetched_at: float = 0.0
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)


class GitBackend:
    """A shallow clone per label under a cache folder, fetched again once it is older than `refresh_seconds`."""

    def __init__(
        self, uri: str, *, default_label: str, refresh_seconds: float, cache_dir: Path | None = None, git: str = "git"
    ) -> None:
        self.uri = uri
        self.default_label = default_label
        self.refresh_seconds = refresh_seconds
        self._owned = cache_dir is None
        digest = hashlib.sha256(uri.encode()).hexdigest()[:12]
        self.cache_dir = (cache_dir or Path(tempfile.mkdtemp(prefix="config-git-"))) / digest
        self.git = git
        self._checkouts: dict[str, _Checkout] = {}

    async def snapshot(self, label: str | None) -> Snapshot:
        wanted = label or self.default_label
        if not _SAFE_LABEL.match(wanted) or ".." in wanted or wanted.startswith("-"):
            raise LabelNotFound(wanted)
        try:
            path, version = await self._checkout(wanted)
        except LabelNotFound:
            if wanted != "master" or self.default_label == "master":
                raise
            # Spring clients ask for "master" by default; serve the default branch instead.
            wanted = self.default_label
            path, version = await self._checkout(wanted)
        return Snapshot(path, wanted, version, "")

    async def close(self) -> None:
        if self._owned:
            shutil.rmtree(self.cache_dir.parent, ignore_errors=True)

    async def _checkout(self, label: str) -> tuple[Path, str]:
        checkout = self._checkouts.get(label)
        if checkout is None:
            safe = label.replace("/", "__")
            checkout = self._checkouts[label] = _Checkout(self.cache_dir / safe)
        async with checkout.lock:
            stale = time.monotonic() - checkout.fetched_at >= self.refresh_seconds
            if not (checkout.path / ".git").is_dir():
                checkout.path.parent.mkdir(parents=True, exist_ok=True)
                code, output = await self._run(
                    "clone", "--quiet", "--depth", "1", "--branch", label, "--", self.uri, str(checkout.path)
                )
                if code != 0:
                    shutil.rmtree(checkout.path, ignore_errors=True)
                    self._checkouts.pop(label, None)
                    raise LabelNotFound(f"{label}: {output.strip()[-300:]}")
                checkout.fetched_at = time.monotonic()
                log.info("cloned configuration", uri=self.uri, label=label)
            elif stale:
                code, output = await self._run(
                    "-C", str(checkout.path), "fetch", "--quiet", "--depth", "1", "origin", label
                )
                if code == 0:
                    await self._run("-C", str(checkout.path), "reset", "--quiet", "--hard", "FETCH_HEAD")
                    checkout.fetched_at = time.monotonic()
                else:
                    # Keep serving the last good copy; the repository may be briefly unreachable.
                    log.warning("git fetch failed; serving the cached copy", label=label, error=output.strip()[-300:])
            _, version = await self._run("-C", str(checkout.path), "rev-parse", "HEAD")
            return checkout.path, version.strip()

    async def _run(self, *args: str) -> tuple[int, str]:
        process = await asyncio.create_subprocess_exec(
            self.git,
            *args,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
            env={"GIT_TERMINAL_PROMPT": "0", "PATH": "/usr/bin:/bin:/usr/local/bin", "HOME": tempfile.gettempdir()},
        )
        output, _ = await process.communicate()
        return process.returncode or 0, output.decode(errors="replace")
