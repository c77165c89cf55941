"""Who the client is behind proxies: the right-most X-Forwarded-For address not added by a trusted proxy.

Each proxy appends the address it received the request from, so only the entries written by proxies we run can be
believed; everything left of them was written by the client (or by proxies it chose) and can say anything. Reading
the list from the right, skipping the hops that are trusted proxies, the first other address is the one a proxy of
ours saw: the client as far as we can know. A peer that is not a trusted proxy is itself the client, whatever
header it sent. Rate limits and sign-in brakes key on this address, so rotating the left-most entries gains nothing.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Sequence
from typing import Annotated, Any

from pydantic import AfterValidator, BeforeValidator
from pydantic_settings import NoDecode

LOOPBACK = ("127.0.0.0/8", "::1/128")
_MAX_VERDICTS = 4096
_Network = ipaddress.IPv4Network | ipaddress.IPv6Network


class TrustedProxies:
    """The networks of the proxies whose X-Forwarded-For entries are believed (CIDRs; a bare address is a /32)."""

    def __init__(self, networks: Iterable[str]) -> None:
        self.networks: tuple[_Network, ...] = tuple(ipaddress.ip_network(n.strip(), strict=False) for n in networks)
        self._verdicts: dict[str, bool] = {}  # address -> trusted; bounded, so client-written entries cannot grow it

    def trusts(self, address: str) -> bool:
        """True when `address` is one of the trusted proxies."""
        verdict = self._verdicts.get(address)
        if verdict is None:
            if len(self._verdicts) >= _MAX_VERDICTS:
                self._verdicts.clear()
            verdict = self._verdicts[address] = _within(address, self.networks)
        return verdict

    def client_address(self, headers: Sequence[tuple[bytes, bytes]], peer: str) -> str:
        """The client of a request that came from `peer` with these (lower-case) headers."""
        if not self.trusts(peer):
            return peer
        entries: list[str] = []
        for name, value in headers:  # several headers are one list, in order
            if name == b"x-forwarded-for":
                entries += value.decode("latin-1").split(",")
        client = peer
        for entry in reversed(entries):
            hop = entry.strip()
            if not hop:
                continue
            client = hop[:64]  # a bucket key, not an essay
            if not self.trusts(hop):
                return client
        return client  # every hop is a proxy of ours: the left-most is the nearest thing to a client


def _within(address: str, networks: tuple[_Network, ...]) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return any(ip in network for network in networks)


def _split(value: Any) -> Any:
    return [part.strip() for part in value.split(",") if part.strip()] if isinstance(value, str) else value


def _check(networks: list[str]) -> list[str]:
    TrustedProxies(networks)  # a malformed network stops the component at start, not at the first request
    return networks


# A settings field of trusted proxy networks: CIDRs, comma-separated in the environment.
ProxyNetworks = Annotated[list[str], NoDecode, BeforeValidator(_split), AfterValidator(_check)]
