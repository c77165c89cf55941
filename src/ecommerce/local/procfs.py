"""Which local process listens on a TCP port, from /proc (Linux): for tests, benchmarks and the supervisor's users.

The command line does not tell a forked component from its fork server, the port does: /proc/net/tcp{,6} maps
a listening socket to its inode, /proc/<pid>/fd maps the inode to the processes holding it.
"""

from __future__ import annotations

from pathlib import Path

_LISTEN = "0A"


def listening_inodes(port: int) -> set[str]:
    """Inodes of the sockets listening on `port` (IPv4 and IPv6)."""
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            local, state, inode = fields[1], fields[3], fields[9]
            if state == _LISTEN and int(local.rsplit(":", 1)[1], 16) == port and inode != "0":
                inodes.add(inode)
    return inodes


def pids_listening_on(port: int) -> list[int]:
    """Every process holding a socket that listens on `port` (ours to read: same user), lowest pid first."""
    wanted = {f"socket:[{inode}]" for inode in listening_inodes(port)}
    found: list[int] = []
    if not wanted:
        return found
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            for fd in (entry / "fd").iterdir():
                try:
                    if fd.readlink().as_posix() in wanted:
                        found.append(int(entry.name))
                        break
                except OSError:
                    continue
        except OSError:
            continue
    return sorted(found)


def pid_listening_on(port: int) -> int | None:
    """The process listening on `port`, or None."""
    pids = pids_listening_on(port)
    return pids[0] if pids else None
