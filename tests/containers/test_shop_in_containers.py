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


@pytest.mark.xfail(
    strict=False,
    reason="known gap: during `docker restart` of an instance the gateway answers a few reads 502 'product-service "
    "is unreachable (Connection refused)': it still routes to the instance after that one stopped listening and does "
    "not retry the refused GET on the other instance (seen: 7 of 392 reads)",
)
def test_a_rolling_restart_of_product_service_fails_no_read(stack: Stack) -> None:
    """Each instance in turn gets SIGTERM (docker restart): it deregisters, drains, exits, comes back."""
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


def test_a_postgres_restart_loses_no_committed_order(stack: Stack) -> None:
    auth = sign_in(stack)
    assert auth is not None
    with httpx.Client(base_url=gateway(stack), timeout=20) as client:
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
