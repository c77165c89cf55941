"""The Eureka REST API: shapes, content negotiation, leases, eviction, self-preservation."""

from __future__ import annotations

import asyncio
from xml.etree import ElementTree

import httpx
from discovery_support import OPERATOR, replica

from ecommerce.services.discovery.registry import Registry


def _instance(app: str, host: str, port: int, **extra: object) -> dict[str, object]:
    port_field = {"$": port, "@enabled": "true"}
    return {"instance": {"hostName": host, "app": app, "ipAddr": host, "port": port_field, **extra}}


async def test_xml_by_default_json_on_request_with_the_shapes_clients_parse() -> None:
    async with replica() as (url, _), httpx.AsyncClient(base_url=url, auth=OPERATOR) as http:
        registered = await http.post("apps/product-service", json=_instance("PRODUCT-SERVICE", "10.1.0.5", 8500))
        assert registered.status_code == 204
        xml = await http.get("apps/")
        assert xml.headers["content-type"].startswith("application/xml")
        root = ElementTree.fromstring(xml.content)
        assert root.tag == "applications" and root.findtext("apps__hashcode") == "UP_1_"
        instance = root.find("application/instance")
        assert instance is not None
        assert instance.findtext("instanceId") == "10.1.0.5:product-service:8500"
        assert instance.find("port").attrib["enabled"] == "true"  # type: ignore[union-attr]
        assert instance.find("dataCenterInfo").attrib["class"].endswith("DefaultDataCenterInfo")  # type: ignore[union-attr]
        assert int(instance.findtext("leaseInfo/durationInSecs") or "0") == 90
        assert int(instance.findtext("lastDirtyTimestamp") or "0") > 0

        data = (await http.get("apps", headers={"Accept": "application/json"})).json()
        [application] = data["applications"]["application"]
        assert application["name"] == "PRODUCT-SERVICE"
        assert application["instance"][0]["port"] == {"$": 8500, "@enabled": "true"}

        json_accept = {"Accept": "application/json"}
        one = await http.get("apps/PRODUCT-SERVICE/10.1.0.5%3Aproduct-service%3A8500", headers=json_accept)
        assert one.json()["instance"]["hostName"] == "10.1.0.5"
        by_id = await http.get("instances/10.1.0.5:product-service:8500")
        assert ElementTree.fromstring(by_id.content).tag == "instance"
        assert ElementTree.fromstring((await http.get("apps/product-service")).content).tag == "application"
        assert (await http.get("vips/product-service")).status_code == 200
        assert (await http.get("svips/nothing")).status_code == 404
        assert (await http.get("apps/NOPE")).status_code == 404


async def test_renew_cancel_and_status_overrides() -> None:
    async with replica() as (url, app), httpx.AsyncClient(base_url=url, auth=OPERATOR) as http:
        registry: Registry = app.state.eureka_registry
        await http.post("apps/USER-SERVICE", json=_instance("USER-SERVICE", "10.0.0.1", 8700))
        instance_path = "apps/USER-SERVICE/10.0.0.1%3Auser-service%3A8700"
        assert (await http.put(instance_path, params={"status": "UP"})).status_code == 200
        assert (await http.put("apps/USER-SERVICE/unknown", params={"status": "UP"})).status_code == 404

        assert (await http.put(f"{instance_path}/status", params={"value": "OUT_OF_SERVICE"})).status_code == 200
        await http.put(instance_path, params={"status": "UP"})
        # The override survives heartbeats and a re-registration.
        await http.post("apps/USER-SERVICE", json=_instance("USER-SERVICE", "10.0.0.1", 8700))
        lease = registry.lease("USER-SERVICE", "10.0.0.1:user-service:8700")
        assert lease is not None and lease.record["status"] == "OUT_OF_SERVICE"
        assert registry.hashcode() == "OUT_OF_SERVICE_1_"
        delta = (await http.get("apps/delta", headers={"Accept": "application/json"})).json()["applications"]
        assert delta["application"][0]["instance"][0]["actionType"] == "MODIFIED"

        assert (await http.delete(f"{instance_path}/status")).status_code == 200
        assert lease.record["status"] == "UP"
        assert (await http.delete(instance_path)).status_code == 200
        assert (await http.delete(instance_path)).status_code == 404
        assert registry.size() == 0


async def test_status_page_metrics_and_bad_bodies() -> None:
    async with replica() as (url, _), httpx.AsyncClient(base_url=url.removesuffix("eureka/"), auth=OPERATOR) as http:
        await http.post("eureka/apps/ORDER-SERVICE", json=_instance("ORDER-SERVICE", "10.0.0.2", 8300))
        for path in ("/", "/eureka/", "/eureka"):
            page = await http.get(path)
            assert page.status_code == 200
            assert "ORDER-SERVICE" in page.text and "10.0.0.2:order-service:8300" in page.text
        metrics = (await http.get("/actuator/prometheus")).text
        assert 'eureka_instances{app="ORDER-SERVICE",application="service-discovery",status="UP"} 1.0' in metrics
        assert "eureka_renewals_total" in metrics and "eureka_evictions_total" in metrics
        broken = await http.post("eureka/apps/X", content=b"{", headers={"Content-Type": "application/json"})
        assert broken.status_code == 400
        xml = b"<instance><hostName>h</hostName><app>XML-APP</app><port enabled='true'>81</port></instance>"
        response = await http.post("eureka/apps/XML-APP", content=xml, headers={"Content-Type": "application/xml"})
        assert response.status_code == 204
        assert (await http.get("eureka/apps/XML-APP/h:xml-app:81")).status_code == 200


async def test_expired_leases_are_evicted() -> None:
    async with (
        replica(eviction_interval_seconds=0.1) as (url, app),
        httpx.AsyncClient(base_url=url, auth=OPERATOR) as http,
    ):
        registry: Registry = app.state.eureka_registry
        short = {"leaseInfo": {"renewalIntervalInSecs": 1, "durationInSecs": 1}}
        await http.post("apps/A", json=_instance("A", "10.0.0.3", 1000, **short))
        await asyncio.sleep(0.6)
        await http.put("apps/A/10.0.0.3:a:1000")
        await asyncio.sleep(0.6)
        assert registry.size() == 1  # renewed in time
        await asyncio.sleep(1.2)
        assert registry.size() == 0
        assert registry.delta_views()["A"][0]["actionType"] == "DELETED"


async def test_self_preservation_keeps_leases_when_many_lapse_at_once() -> None:
    async with (
        replica(eviction_interval_seconds=0.1) as (url, app),
        httpx.AsyncClient(base_url=url, auth=OPERATOR) as http,
    ):
        registry: Registry = app.state.eureka_registry
        short = {"leaseInfo": {"renewalIntervalInSecs": 1, "durationInSecs": 1}}
        long = {"leaseInfo": {"renewalIntervalInSecs": 30, "durationInSecs": 90}}
        for index in range(3):
            await http.post("apps/B", json=_instance("B", f"10.0.1.{index}", 1000, **short))
        await http.post("apps/C", json=_instance("C", "10.0.2.1", 1000, **long))
        await asyncio.sleep(1.6)
        # Three of four leases lapsed together: a network fault, not three crashes. Nothing is evicted.
        assert registry.size() == 4 and registry.preserving
        # Heartbeats come back, the instances are there to receive them.
        for index in range(3):
            assert (await http.put(f"apps/B/10.0.1.{index}:b:1000")).status_code == 200


async def test_a_single_lapsed_lease_among_many_is_evicted() -> None:
    async with (
        replica(eviction_interval_seconds=0.1) as (url, app),
        httpx.AsyncClient(base_url=url, auth=OPERATOR) as http,
    ):
        registry: Registry = app.state.eureka_registry
        long = {"leaseInfo": {"renewalIntervalInSecs": 30, "durationInSecs": 90}}
        for index in range(9):
            await http.post("apps/D", json=_instance("D", f"10.0.3.{index}", 1000, **long))
        await http.post("apps/D", json=_instance("D", "10.0.4.1", 1000, leaseInfo={"durationInSecs": 1}))
        await asyncio.sleep(1.6)
        assert registry.size() == 9 and not registry.preserving
