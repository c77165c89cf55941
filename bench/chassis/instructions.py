"""Instructions per request over the wire, counted by valgrind's callgrind: a cost other load cannot skew.

CPU time per request on this shared 2-core machine moves by half between runs of the same code (the server and wrk
share a physical core, and whatever else runs takes its share of caches and frequency). Instructions do not: the
server runs under callgrind, a keep-alive client sends SMALL requests and, in a second run, LARGE ones, and the
difference of the two totals over LARGE - SMALL requests is one request's instructions, start-up and shutdown
cancelled out. Every thread counts, so the span exporter's encoding and sending are in the traced figure.
"""

from __future__ import annotations

import asyncio
import re
import signal
import subprocess
from collections.abc import Mapping

import aiohttp

from bench.common import ROOT, free_port

SMALL, LARGE = 200, 1200
CONNECTIONS = 8
_COLLECTED = re.compile(rb"Collected : (\d+)")


def per_request(server_command: list[str], env: Mapping[str, str]) -> float:
    """Instructions per request of the server `server_command` (with `{port}` in it) under `env`."""
    return (_total(server_command, env, LARGE) - _total(server_command, env, SMALL)) / (LARGE - SMALL)


def _total(server_command: list[str], env: Mapping[str, str], requests: int) -> int:
    port = free_port()
    command = ["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null"]
    command += [part.replace("{port}", str(port)) for part in server_command]
    process = subprocess.Popen(command, cwd=ROOT, env=dict(env), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        asyncio.run(_send(f"http://127.0.0.1:{port}/bench/ping", requests))
    finally:
        process.send_signal(signal.SIGINT)
        _, err = process.communicate(timeout=600)
    found = _COLLECTED.search(err)
    if found is None:
        raise RuntimeError(f"callgrind gave no total: {err[-500:]!r}")
    return int(found.group(1))


async def _send(url: str, requests: int) -> None:
    """One request once the server answers (it starts slowly under callgrind), then the rest, CONNECTIONS at once."""
    async with aiohttp.ClientSession() as session:
        for _ in range(600):
            try:
                async with session.get(url) as response:
                    await response.read()
                break
            except aiohttp.ClientError:
                await asyncio.sleep(0.5)
        else:
            raise RuntimeError(f"{url} never answered under callgrind")
        gate = asyncio.Semaphore(CONNECTIONS)

        async def one() -> None:
            async with gate, session.get(url) as response:
                await response.read()

        await asyncio.gather(*(one() for _ in range(requests - 1)))
