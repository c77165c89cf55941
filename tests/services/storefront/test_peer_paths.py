"""The one place peer URLs are built: a fixed template whose holes take only ids and plain keys."""

from __future__ import annotations

import pytest

from ecommerce.services.storefront.clients import Peers, UnsafeSegment, peer_path


def test_ids_and_plain_keys_fill_the_template() -> None:
    assert peer_path("/order-service/api/orders/{}", 7) == "/order-service/api/orders/7"
    like = peer_path("/favourite-service/api/favourites/{}/{}/{}", 1, 2, "07-12-2026__14:22:29:395097")
    assert like == "/favourite-service/api/favourites/1/2/07-12-2026__14:22:29:395097"
    assert (
        peer_path("/user-service/api/users/username/{}", "selim.horri")
        == "/user-service/api/users/username/selim.horri"
    )


@pytest.mark.parametrize(
    "value",
    [0, -1, 2**31, True, "..", ".", "%2e%2e", "%252e", "a/b", "a%2fb", "a\\b", "", "1?x=1", "1#x", ".hidden", 1.5],
)
def test_anything_else_is_refused(value: object) -> None:
    with pytest.raises(UnsafeSegment):
        peer_path("/order-service/api/orders/{}", value)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "template", ["/order-service/api/orders/../x", "/order-service/api/{}/{}", "http://evil/api", "/x/api/orders"]
)
def test_templates_are_literals_of_a_service_api(template: str) -> None:
    with pytest.raises(UnsafeSegment):
        peer_path(template, 1)


async def test_a_hand_made_path_never_reaches_a_peer() -> None:
    with pytest.raises(UnsafeSegment):
        await Peers(client=None).call("GET", "order-service", "/order-service/api/orders/1/../..")  # type: ignore[arg-type]
