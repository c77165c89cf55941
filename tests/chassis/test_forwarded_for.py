"""The client behind proxies: the right-most X-Forwarded-For address not added by a trusted proxy."""

from __future__ import annotations

import pytest

from ecommerce.chassis.forwarded import TrustedProxies


@pytest.mark.parametrize(
    ("forwarded_for", "peer", "client"),
    [
        (None, "127.0.0.1", "127.0.0.1"),
        ("1.2.3.4", "127.0.0.1", "1.2.3.4"),
        ("6.6.6.6, 1.2.3.4", "127.0.0.1", "1.2.3.4"),
        ("6.6.6.6, 1.2.3.4, 10.1.2.3", "127.0.0.1", "1.2.3.4"),  # two trusted hops
        ("6.6.6.6, 1.2.3.4", "192.0.2.1", "192.0.2.1"),  # the peer is no proxy of ours: its header means nothing
        ("garbage, 1.2.3.4", "127.0.0.1", "1.2.3.4"),
        ("1.2.3.4, garbage", "127.0.0.1", "garbage"),  # what a trusted proxy passed on as the client: counted as is
        ("10.0.0.1, 127.0.0.2", "127.0.0.1", "10.0.0.1"),  # every hop trusted: the left-most
        ("2001:db8::1", "::1", "2001:db8::1"),
    ],
)
def test_client_address(forwarded_for: str | None, peer: str, client: str) -> None:
    proxies = TrustedProxies(["127.0.0.0/8", "::1/128", "10.0.0.0/8"])
    headers = [(b"host", b"shop")]
    if forwarded_for is not None:
        headers.append((b"x-forwarded-for", forwarded_for.encode()))
    assert proxies.client_address(headers, peer) == client


def test_several_forwarded_for_headers_are_one_list() -> None:
    proxies = TrustedProxies(["127.0.0.0/8"])
    headers = [(b"x-forwarded-for", b"6.6.6.6"), (b"x-forwarded-for", b"1.2.3.4, 127.0.0.5")]
    assert proxies.client_address(headers, "127.0.0.1") == "1.2.3.4"
