"""The shop as containers on a real engine (`make test-containers`): each component in its own container from the
project's image, one PostgreSQL container with the six databases and roles, discovery and config across hosts;
then faults and the manual's procedures under a steady open-loop load, asserting what users see and what the
databases hold afterwards."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator

import docker
import httpx
import pytest
from shop_testing import operator_headers

from containers.openloop import OpenLoopLoad
from containers.stack import COMPOSE, Stack, wait_for

IMAGE = COMPOSE["x-component"]["image"]
FIRST_WAVE = ("service-discovery", "cloud-config-server")
SECOND_WAVE = (
    "user-service",
    "product-service",
    "favourite-service",
    "order-service",
    "shipping-service",
    "payment-service",
)
THIRD_WAVE = ("api-gateway", "proxy-client")
# Starting the shop and each fault take minutes on two cores; every load and wait inside is bounded on its own.
pytestmark = pytest.mark.timeout(900)
SHOPPER = {"username": "selimhorri", "password": "selimhorri-demo"}


@pytest.fixture(scope="module")
def stack() -> Iterator[Stack]:
    client = docker.from_env()
    client.images.get(IMAGE)  # built by `make test-containers`
    shop = Stack(client, IMAGE)
    try:
        shop.create_networks()
        shop.start_postgres()
        shop.start_all(FIRST_WAVE)
        shop.start_all(SECOND_WAVE)
        second = shop.create_component("product-service", "product-service-2")
        shop.start(second)
        shop.start_all(THIRD_WAVE)
        wait_for(second.ready, 120, "the second product-service instance")
        wait_for(lambda: len(product_instances(shop)) == 2, 60, "both product-service instances in the registry")
        wait_for(lambda: sign_in(shop) is not None, 60, "sign-in through the gateway")
        yield shop
    except Exception:
        for name in shop.components:
            print(f"----- {name}\n{shop.logs(name)}")
        raise
    finally:
        shop.remove()


def gateway(stack: Stack) -> str:
    return stack.components["api-gateway"].url()


def product_instances(stack: Stack) -> list[str]:
    """product-service's UP instances in the registry, read as the operator."""
    answer = httpx.get(
        stack.components["service-discovery"].url("/eureka/apps/PRODUCT-SERVICE"),
        headers={"Accept": "application/json", **operator_headers()},
        timeout=3,
    )
    if answer.status_code == 404:
        return []
    assert answer.status_code == 200, (answer.status_code, answer.text)
    instances = answer.json()["application"]["instance"]
    instances = instances if isinstance(instances, list) else [instances]
    return sorted(i["instanceId"] for i in instances if i["status"] == "UP")


def sign_in(stack: Stack) -> dict[str, str] | None:
    answer = httpx.post(f"{gateway(stack)}/app/api/authenticate", json=SHOPPER, timeout=10)
    if answer.status_code != 200:
        return None
    return {"Authorization": f"Bearer {answer.json()['jwtToken']}"}


def checkout(client: httpx.Client, auth: dict[str, str], product_id: int = 2) -> httpx.Response:
    return client.post(
        "/app/api/checkout",
        json={"items": [{"productId": product_id, "quantity": 1}]},
        headers={**auth, "Idempotency-Key": uuid.uuid4().hex},
    )


def read_load(stack: Stack, *, rate: float, max_seconds: float) -> OpenLoopLoad:
    urls = [f"{gateway(stack)}/product-service/api/products/{n}" for n in (1, 2, 3)]
    return OpenLoopLoad(urls, rate=rate, max_seconds=max_seconds)


def test_a_purchase_through_the_gateway_and_the_pages_api(stack: Stack) -> None:
    auth = sign_in(stack)
    assert auth is not None
    storefront = stack.components["proxy-client"].url()
    with httpx.Client(base_url=gateway(stack), timeout=15) as client:
        assert client.get("/product-service/api/products/1").json()["productTitle"] == "asus"
        stock_before = client.get("/product-service/api/products/2").json()["quantity"]
        order = checkout(client, auth)
        assert order.status_code == 201, order.text
        body = order.json()
        assert body["orderStatus"] == "CREATED"
        assert client.get("/product-service/api/products/2").json()["quantity"] == stock_before - 1
    # The rest straight through the pages' API on the storefront's own container.
    with httpx.Client(base_url=storefront, timeout=15) as pages:
        for status in ("IN_PROGRESS", "COMPLETED"):
            paid = pages.patch(f"/app/api/payments/{body['paymentId']}", json={"paymentStatus": status}, headers=auth)
            assert paid.status_code == 200, paid.text
        assert pages.get(f"/app/api/orders/{body['orderId']}", headers=auth).json()["orderStatus"] == "PAID"
    # What the databases hold: the order and its payment, each in its own service's database.
    order_id, payment_id = int(body["orderId"]), int(body["paymentId"])
    assert stack.sql("orderdb", f"SELECT order_status FROM orders WHERE order_id = {order_id}") == "PAID"
    assert stack.sql("paymentdb", f"SELECT payment_status FROM payments WHERE payment_id = {payment_id}") == "COMPLETED"


def test_docker_kill_of_one_of_two_product_instances_fails_no_read(stack: Stack) -> None:
    assert len(product_instances(stack)) == 2
    with read_load(stack, rate=20, max_seconds=40) as load:
        time.sleep(3)
        stack.components["product-service-2"].container.kill()
        wait_for(lambda: len(product_instances(stack)) == 1, 30, "the registry to drop the killed instance")
        time.sleep(3)
    assert product_instances(stack) == ["product-service:product-service:8500"]
    assert load.result.ok > 100
    assert load.result.failures == []
    print(f"kill: {json.dumps({'sent': load.result.sent, 'p99_ms': round(load.result.percentile(0.99))})}")
    # A replacement for the next tests: a new container, timed from start to ready.
    replacement = stack.create_component("product-service", "product-service-3")
    started = time.perf_counter()
    stack.start(replacement)
    wait_for(replacement.ready, 60, "the replacement instance", interval=0.05)
    print(f"container start to ready: {time.perf_counter() - started:.2f} s")
    wait_for(lambda: len(product_instances(stack)) == 2, 60, "the replacement in the registry")


def test_a_rolling_restart_of_product_service_fails_no_read(stack: Stack) -> None:
    """Each instance in turn gets SIGTERM (docker restart): it leaves the registry, keeps serving while the gateway's
    copy drops it (ECOMMERCE_SHUTDOWN_DRAIN_SECONDS), exits, comes back and registers once it listens."""
    instances = ["product-service", "product-service-3"]
    durations = {}
    with read_load(stack, rate=20, max_seconds=150) as load:
        for name in instances:
            component = stack.components[name]
            started = time.perf_counter()
            component.container.restart(timeout=30)
            stack.refresh_port(component)
            wait_for(component.ready, 60, f"{name} after its restart")
            wait_for(lambda: len(product_instances(stack)) == 2, 60, f"{name} back in the registry")
            durations[name] = round(time.perf_counter() - started, 2)
        time.sleep(2)
    print(f"rolling restart: {json.dumps(durations)} sent={load.result.sent} p99_ms={load.result.percentile(0.99):.0f}")
    _show_failures(stack, load)
    assert load.result.ok > 100
    assert load.result.failures == []


def _show_failures(stack: Stack, load: OpenLoopLoad) -> None:
    if load.result.failures:
        print("\n".join(load.result.failures[:10]))
        print("\n".join(line for line in stack.logs("api-gateway", 400).splitlines() if "upstream" in line))


def registered(stack: Stack, service: str) -> list[str]:
    """The UP instance ids of `service` in the registry (read as the operator)."""
    answer = httpx.get(
        stack.components["service-discovery"].url(f"/eureka/apps/{service.upper()}"),
        headers={"Accept": "application/json", **operator_headers()},
        timeout=3,
    )
    if answer.status_code == 404:
        return []
    assert answer.status_code == 200, (answer.status_code, answer.text)
    instances = answer.json()["application"]["instance"]
    instances = instances if isinstance(instances, list) else [instances]
    return sorted(i["instanceId"] for i in instances if i["status"] == "UP")


def surge(stack: Stack, name: str, generation: int, endpoints: list[str]) -> None:
    """Replace a component's only container as Kubernetes' maxSurge does: start the new one (answering to the
    service's DNS name too), wait until it is ready and registered, take the old one out of `endpoints` (the load's
    view of the Service), then stop it gracefully (SIGTERM: deregister, drain, exit)."""
    old = stack.components[name]
    service = old.service
    was_registered = any(i.startswith(f"{old.name}:") for i in registered(stack, service))
    new = stack.create_component(service, f"{service}-g{generation}", aliases=(service,))
    stack.start(new)
    wait_for(new.ready, 90, f"the new {service}", interval=0.2)
    if was_registered:
        wait_for(
            lambda: any(i.startswith(f"{new.name}:") for i in registered(stack, service)), 30, f"{new.name} registered"
        )
    if old.url() in endpoints:
        endpoints.append(new.url())
        endpoints.remove(old.url())
        time.sleep(1)  # requests already sent to the old address finish on it (its drain)
    old.container.stop(timeout=30)
    old.container.remove(v=True)
    stack.components[name] = new


ROLLING_ORDER = (
    "cloud-config-server",
    "service-discovery",
    "user-service",
    "favourite-service",
    "order-service",
    "shipping-service",
    "payment-service",
    "product-service",
    "product-service-3",
    "proxy-client",
    "api-gateway",
)


def test_a_rolling_restart_of_every_component_fails_no_request(stack: Stack) -> None:
    """Every component one by one under load: the registry restarts in place (clients ride on their cached copy
    and register again when it answers 404), product-service's two instances restart one at a time, and every
    other component (one instance) is replaced with a surge. Reads go through the gateway to product-service and
    through the storefront's API."""
    endpoints = [gateway(stack)]
    paths = ["/product-service/api/products/1", "/app/api/products/2", "/product-service/api/products/3"]
    durations: dict[str, float] = {}
    with OpenLoopLoad([], rate=20, max_seconds=600, endpoints=endpoints, paths=paths) as load:
        time.sleep(2)
        for generation, name in enumerate(ROLLING_ORDER, start=1):
            started = time.perf_counter()
            component = stack.components[name]
            if name == "service-discovery" or component.service == "product-service":
                component.container.restart(timeout=30)
                stack.refresh_port(component)
                wait_for(component.ready, 90, f"{name} after its restart", interval=0.2)
                wait_for(lambda: len(product_instances(stack)) == 2, 60, "both product instances registered")
            else:
                surge(stack, name, generation, endpoints)
            durations[name] = round(time.perf_counter() - started, 1)
            print(f"rolling: {name} {durations[name]} s, failed so far {len(load.result.failures)}", flush=True)
        time.sleep(3)
    total = round(sum(durations.values()), 1)
    print(
        f"rolling restart of every component: {json.dumps(durations)} total={total} s sent={load.result.sent} "
        f"failed={len(load.result.failures)} p99_ms={load.result.percentile(0.99):.0f}"
    )
    _show_failures(stack, load)
    assert load.result.ok > 500
    assert load.result.failures == []


def registry_status(stack: Stack, service: str, instance_id: str, status: str) -> None:
    """What scripts/blue-green-deploy.sh does in the registry, as the operator: OUT_OF_SERVICE is an override that
    survives heartbeats; UP removes the override."""
    base = stack.components["service-discovery"].url(f"/eureka/apps/{service.upper()}/{instance_id}/status")
    if status == "UP":
        answer = httpx.delete(base, headers=operator_headers(), timeout=5)
    else:
        answer = httpx.put(base, params={"value": status}, headers=operator_headers(), timeout=5)
    assert answer.status_code == 200, (answer.status_code, answer.text)


def served_by(stack: Stack, names: list[str], since: int) -> int:
    """How many product reads the containers `names` logged since `since` (a Unix time)."""
    count = 0
    for name in names:
        logs = stack.components[name].container.logs(since=since).decode(errors="replace")
        count += sum(1 for line in logs.splitlines() if "/api/products/" in line and '"GET' in line)
    return count


def test_blue_green_of_product_service_through_the_registry_fails_no_read(stack: Stack) -> None:
    """Green starts next to blue and is held OUT_OF_SERVICE; the switch marks green UP and blue OUT_OF_SERVICE;
    the switch back does the reverse; both colours run throughout, so not one read fails."""
    blue = ["product-service", "product-service-3"]
    green = [stack.create_component("product-service", f"product-service-green-{n}") for n in (1, 2)]
    for component in green:
        stack.start(component)
    for component in green:
        wait_for(component.ready, 90, f"{component.name} to be ready", interval=0.2)
    ids = {c.name: f"{c.name}:product-service:{c.health_port}" for c in [*green, *(stack.components[b] for b in blue)]}
    wait_for(lambda: set(ids.values()) <= set(registered(stack, "product-service")), 30, "green registered")
    green_names = [c.name for c in green]
    with read_load(stack, rate=20, max_seconds=120) as load:
        for name in green_names:
            registry_status(stack, "product-service", ids[name], "OUT_OF_SERVICE")
        time.sleep(4)
        for live, idle in ((green_names, blue), (blue, green_names)):  # the switch, then the switch back
            for name in live:
                registry_status(stack, "product-service", ids[name], "UP")
            for name in idle:
                registry_status(stack, "product-service", ids[name], "OUT_OF_SERVICE")
            assert sorted(product_instances(stack)) == sorted(ids[name] for name in live)
            time.sleep(3)  # the gateway's copy refreshes every second
            since = int(time.time())
            time.sleep(5)
            print(
                f"blue-green: live={live} reads on live={served_by(stack, live, since)} "
                f"on idle={served_by(stack, idle, since)}"
            )
        for name in green_names:
            registry_status(stack, "product-service", ids[name], "UP")
    for component in green:
        component.container.stop(timeout=30)  # graceful: deregisters first
        component.container.remove(v=True)
        del stack.components[component.name]
    wait_for(lambda: len(product_instances(stack)) == 2, 30, "blue alone in the registry")
    print(f"blue-green: sent={load.result.sent} failed={len(load.result.failures)}")
    _show_failures(stack, load)
    assert load.result.ok > 100
    assert load.result.failures == []


def test_order_service_cut_off_from_postgres_turns_unready_and_recovers(stack: Stack) -> None:
    order = stack.components["order-service"]
    data = stack.networks["data"]
    assert order.ready()
    data.disconnect(order.container)
    try:
        wait_for(lambda: not order.ready(), 45, "order-service's readiness to go false")
    finally:
        data.connect(order.container)
    wait_for(order.ready, 90, "order-service's readiness to come back by itself")
    # What users see: checkouts work again (the pool's connections from before the cut are dead, not closed).
    started = time.perf_counter()
    auth = sign_in(stack)
    assert auth is not None
    with httpx.Client(base_url=gateway(stack), timeout=20) as client:
        answers = []

        def checkout_works() -> bool:
            answers.append(checkout(client, auth).status_code)
            return answers[-1] == 201

        wait_for(checkout_works, 90, "a checkout after the reconnect", interval=1)
    print(f"cut off: checkouts after readiness came back: {answers}, {time.perf_counter() - started:.1f} s")


def test_a_postgres_restart_loses_no_committed_order(stack: Stack) -> None:
    auth = sign_in(stack)
    assert auth is not None
    with httpx.Client(base_url=gateway(stack), timeout=20) as client:
        # The precondition, not the property under test: the shop takes checkouts (an earlier scenario may still be
        # settling; one run saw a 503 here right after the cut-off scenario).
        wait_for(lambda: checkout(client, auth).status_code == 201, 90, "the shop to take checkouts", interval=1)
        committed = []
        for product_id in (1, 2, 3):
            answer = checkout(client, auth, product_id)
            assert answer.status_code == 201, answer.text
            committed.append(int(answer.json()["orderId"]))
        assert stack.postgres is not None
        stack.postgres.restart(timeout=30)
        wait_for(stack.postgres_ready, 90, "PostgreSQL after its restart", interval=0.5)
        ids = ",".join(map(str, committed))
        assert stack.sql("orderdb", f"SELECT count(*) FROM orders WHERE order_id IN ({ids})") == str(len(committed))
        wait_for(lambda: checkout(client, auth).status_code == 201, 90, "a checkout to succeed again", interval=1)


def test_docker_pause_of_payment_service_pays_no_order_without_its_payment(stack: Stack) -> None:
    """A hang, not a crash: checkouts answer within their timeouts while payment-service is frozen, and after
    unpause the shop takes checkouts again; no order is PAID whose payment is not COMPLETED."""
    auth = sign_in(stack)
    assert auth is not None
    payment = stack.components["payment-service"].container
    answers = []
    with httpx.Client(base_url=gateway(stack), timeout=60) as client:
        payment.pause()
        try:
            for _ in range(4):
                started = time.perf_counter()
                answer = checkout(client, auth)
                answers.append((answer.status_code, round(time.perf_counter() - started, 1)))
        finally:
            payment.unpause()
        print(f"checkouts while payment-service was paused (status, seconds): {answers}")
        assert all(status != 201 for status, _ in answers), answers
        assert all(seconds < 30 for _, seconds in answers), answers
        wait_for(lambda: checkout(client, auth).status_code == 201, 120, "a checkout after unpause", interval=2)
    paid = set(stack.sql("orderdb", "SELECT order_id FROM orders WHERE order_status = 'PAID'").split())
    completed = set(stack.sql("paymentdb", "SELECT order_id FROM payments WHERE payment_status = 'COMPLETED'").split())
    assert paid <= completed, paid - completed


def test_backup_and_restore_drill_against_the_postgres_container(stack: Stack) -> None:
    """`ecommerce db backup` of the six databases, then each restored into a new database: the restore compares every
    table's rows and checksum with the backup's manifest and fails otherwise."""
    env = COMPOSE["services"]["postgres"]["environment"]
    url = f"postgresql://{env['POSTGRES_USER']}:{env['POSTGRES_PASSWORD']}@postgres:5432/postgres"
    databases = [entry.split(":")[0] for entry in env["ECOMMERCE_DATABASES"].split()]
    script = (
        "set -e; "
        f"ecommerce db backup --url '{url}' --dir /tmp/b {' '.join(f'-d {d}' for d in databases)} | tee /tmp/out; "
        "for f in $(awk '/^backup /{print $2}' /tmp/out); do "
        f'ecommerce db restore "$f" --url \'{url}\' --dir /tmp/b -d "drill_$(basename "$f" | cut -d- -f1)" -y; '
        "done"
    )
    data = stack.networks["data"].name
    output = stack.client.containers.run(
        IMAGE,
        entrypoint=["sh", "-c", script],
        command=[],
        user="10001:10001",
        read_only=True,
        tmpfs={"/tmp": ""},
        network=data,
        labels=stack.labels,
        remove=True,
        stderr=True,
    ).decode(errors="replace")
    print(output)
    restored = [line for line in output.splitlines() if line.startswith("restored ") and line.endswith(" verified")]
    assert len(restored) == len(databases), output
    count = "SELECT count(*) FROM orders"
    assert stack.sql("drill_orderdb", count) == stack.sql("orderdb", count)
