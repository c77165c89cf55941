"""Who may talk to the registry: every /eureka call proves its caller, and a component writes only its own leases.

Reproduces the takeover of issue 13: a rogue registers an instance of USER-SERVICE (JSON or XML) and marks the
real one OUT_OF_SERVICE, so that sign-ins go to the rogue.
"""

from __future__ import annotations

import httpx
import pytest
from discovery_support import OPERATOR, component, replica

from ecommerce.services.discovery.registry import Registry

REAL = "10.0.0.1:user-service:8700"
ROGUE_XML = b"<instance><hostName>6.6.6.6</hostName><app>USER-SERVICE</app><port enabled='true'>80</port></instance>"


def _instance(app: str, host: str, port: int) -> dict[str, object]:
    return {"instance": {"hostName": host, "app": app, "ipAddr": host, "port": {"$": port, "@enabled": "true"}}}


async def _with_real_user_service(url: str) -> None:
    async with httpx.AsyncClient(base_url=url, auth=component("user-service")) as owner:
        assert (
            await owner.post("apps/USER-SERVICE", json=_instance("USER-SERVICE", "10.0.0.1", 8700))
        ).status_code == 204


@pytest.mark.parametrize("auth", [None, ("user-service", "guessed"), ("operator", "guessed")])
async def test_the_takeover_is_refused_without_credentials(auth: tuple[str, str] | None) -> None:
    async with replica() as (url, app), httpx.AsyncClient(base_url=url, auth=auth) as rogue:
        registry: Registry = app.state.eureka_registry
        await _with_real_user_service(url)
        as_json = await rogue.post("apps/USER-SERVICE", json=_instance("USER-SERVICE", "6.6.6.6", 80))
        headers = {"Content-Type": "application/xml"}
        as_xml = await rogue.post("apps/USER-SERVICE", content=ROGUE_XML, headers=headers)
        out = await rogue.put(f"apps/USER-SERVICE/{REAL}/status", params={"value": "OUT_OF_SERVICE"})
        gone = await rogue.delete(f"apps/USER-SERVICE/{REAL}")
        for response in (as_json, as_xml, out, gone):
            assert response.status_code == 401
            assert response.headers["www-authenticate"].startswith("Basic")
        assert (await rogue.get("apps/")).status_code == 401  # reads too: the registry maps the whole shop
        lease = registry.lease("USER-SERVICE", REAL)
        assert registry.size() == 1 and lease is not None and lease.record["status"] == "UP"


async def test_a_component_cannot_register_or_touch_another_application() -> None:
    async with replica() as (url, app), httpx.AsyncClient(base_url=url, auth=component("order-service")) as other:
        registry: Registry = app.state.eureka_registry
        await _with_real_user_service(url)
        as_json = await other.post("apps/USER-SERVICE", json=_instance("USER-SERVICE", "6.6.6.6", 80))
        as_xml = await other.post("apps/USER-SERVICE", content=ROGUE_XML, headers={"Content-Type": "text/xml"})
        out = await other.put(f"apps/USER-SERVICE/{REAL}/status", params={"value": "OUT_OF_SERVICE"})
        cleared = await other.delete(f"apps/USER-SERVICE/{REAL}/status")
        renewed = await other.put(f"apps/USER-SERVICE/{REAL}", params={"status": "UP"})
        gone = await other.delete(f"apps/USER-SERVICE/{REAL}")
        for response in (as_json, as_xml, out, cleared, renewed, gone):
            assert response.status_code == 403
        # The status page is the operator's; a component reads the registry (it must find its peers).
        assert (await other.get("")).status_code == 403
        assert (await other.get("apps/USER-SERVICE")).status_code == 200
        # Its own application it runs as before.
        own = await other.post("apps/order-service", json=_instance("ORDER-SERVICE", "10.0.0.2", 8300))
        assert own.status_code == 204
        assert (await other.put("apps/ORDER-SERVICE/10.0.0.2:order-service:8300")).status_code == 200
        lease = registry.lease("USER-SERVICE", REAL)
        assert lease is not None and lease.record["status"] == "UP"
        assert sorted(registry.apps) == ["ORDER-SERVICE", "USER-SERVICE"]


async def test_the_operator_overrides_any_status_and_reads_the_status_page() -> None:
    async with replica() as (url, app), httpx.AsyncClient(base_url=url, auth=OPERATOR) as operator:
        registry: Registry = app.state.eureka_registry
        await _with_real_user_service(url)
        assert (await operator.put(f"apps/USER-SERVICE/{REAL}/status", params={"value": "OUT_OF_SERVICE"})).is_success
        lease = registry.lease("USER-SERVICE", REAL)
        assert lease is not None and lease.record["status"] == "OUT_OF_SERVICE"
        assert (await operator.delete(f"apps/USER-SERVICE/{REAL}/status")).is_success
        assert lease.record["status"] == "UP"
        page = await operator.get("")
        assert page.status_code == 200 and REAL in page.text
        root = await operator.get(url.removesuffix("eureka/"))
        assert root.status_code == 200


async def test_health_is_public_and_the_root_page_needs_the_operator() -> None:
    async with replica() as (url, _), httpx.AsyncClient(base_url=url.removesuffix("eureka/")) as http:
        assert (await http.get("/actuator/health")).status_code == 200
        page = await http.get("/")
        assert page.status_code == 401 and page.headers["www-authenticate"].startswith("Basic")
        assert (await http.get("/", auth=component("order-service"))).status_code == 403
        assert (await http.get("/", auth=OPERATOR)).status_code == 200


async def test_a_forged_replication_header_does_not_stop_replication_or_grant_anything() -> None:
    forged = {"x-netflix-discovery-replication": "true"}
    async with replica() as (url, _), httpx.AsyncClient(base_url=url, auth=component("order-service")) as other:
        response = await other.post("apps/USER-SERVICE", json=_instance("USER-SERVICE", "6.6.6.6", 80), headers=forged)
        assert response.status_code == 403


@pytest.mark.parametrize("url", ["javascript:alert(document.cookie)", " JavaScript:alert(1)", "data:text/html,x"])
async def test_the_status_page_links_only_http_home_pages(url: str) -> None:
    async with replica() as (base, _), httpx.AsyncClient(base_url=base, auth=component("order-service")) as owner:
        body = _instance("ORDER-SERVICE", "10.0.0.2", 8300)
        body["instance"]["homePageUrl"] = url  # type: ignore[index]
        assert (await owner.post("apps/ORDER-SERVICE", json=body)).status_code == 204
        body = _instance("ORDER-SERVICE", "10.0.0.3", 8300)
        body["instance"]["homePageUrl"] = "http://10.0.0.3:8300/order-service/"  # type: ignore[index]
        assert (await owner.post("apps/ORDER-SERVICE", json=body)).status_code == 204
        page = (await owner.get("", auth=OPERATOR)).text
        assert "href='http://10.0.0.3:8300/order-service/'" in page
        assert page.count("href=") == 1  # the other home page is shown as text, not as a link
