"""rotate-secrets.sh: the new credential overlaps the old; a failure halfway leaves the old one working."""

from __future__ import annotations

import base64
import json


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def script_cluster(cluster, *, user: str = "productservice", healthy: bool = True, postgres_key: bool = True) -> None:
    cluster.on(r"get secret product-service-secret -o jsonpath=\{\.data\.database\\\.username\}", b64(user))
    cluster.on(r"get secret product-service-secret -o jsonpath=\{\.data\.database\\\.password\}", b64("old-secret-pw"))
    cluster.on(r"get secret postgres-secret -o jsonpath=\{\.data\.username\}", b64("postgres"))
    cluster.on(
        r"get secret postgres-secret -o jsonpath=\{\.data\.product-service-password\}",
        b64("old-secret-pw") if postgres_key else "",
    )
    cluster.on(r"exec statefulset/postgres -- psql .* -c SELECT pg_get_userbyid", "productservice")
    cluster.on(r"exec deployment/product-service", '{"status":"UP"}' if healthy else '{"status":"DOWN"}')


def sql_calls(result) -> list[str]:
    return [call.stdin for call in result.calls if "-i" in call.argv and call.stdin is not None]


def patches(result, secret: str = "product-service-secret") -> list[dict[str, dict[str, str]]]:
    return [
        json.loads(content)
        for call in result.calls
        if f"patch secret {secret} " in call.line
        for content in call.files.values()
    ]


def test_rotation_with_generated_password_alternates_roles(cluster):
    script_cluster(cluster)

    result = cluster.run("rotate-secrets.sh", "product-service")

    assert result.returncode == 0, result.stderr
    create, retire = sql_calls(result)
    assert 'CREATE ROLE "productservice_b"' in create
    assert 'GRANT "productservice" TO "productservice_b"' in create
    assert 'ALTER ROLE "productservice_b" SET role = "productservice"' in create
    [patch] = patches(result)
    assert base64.b64decode(patch["data"]["database.username"]).decode() == "productservice_b"
    password = base64.b64decode(patch["data"]["database.password"]).decode()
    assert len(password) >= 30 and f"PASSWORD '{password}'" in create
    assert not any(password in " ".join(call.argv) for call in result.calls)
    assert 'ALTER ROLE "productservice" NOLOGIN' in retire
    # postgres-secret's copy of the role password follows, once the service works with the new one.
    [postgres_patch] = patches(result, "postgres-secret")
    assert postgres_patch == {"data": {"product-service-password": b64(password)}}
    order = [
        result.index("exec -i"),
        result.index("patch secret product-service-secret"),
        result.index("rollout restart"),
        result.index("rollout status"),
        result.index("exec deployment/product-service"),
        result.index("patch secret postgres-secret"),
    ]
    assert order == sorted(order)
    kubectl_calls = [call for call in result.calls if call.tool == "kubectl"]
    retire_at = max(i for i, call in enumerate(kubectl_calls) if call.stdin == retire)
    assert result.index("patch secret postgres-secret") < retire_at


def test_rotation_without_a_postgres_secret_key_leaves_it_alone(cluster):
    script_cluster(cluster, postgres_key=False)

    result = cluster.run("rotate-secrets.sh", "product-service")

    assert result.returncode == 0, result.stderr
    assert not result.called("patch secret postgres-secret")
    assert "has no key product-service-password" in result.stderr


def test_rotation_failing_halfway_keeps_old_credential(cluster):
    script_cluster(cluster)
    cluster.on(r"rollout status deployment/product-service", rc=1)

    result = cluster.run("rotate-secrets.sh", "product-service", "--password-stdin", stdin="a-new-password-123\n")

    assert result.returncode == 1
    assert "old credential (productservice) is in place and still valid" in result.stderr
    statements = "\n".join(sql_calls(result))
    assert 'ALTER ROLE "productservice" NOLOGIN' not in statements
    assert 'ALTER ROLE "productservice_b" NOLOGIN' in statements
    new_patch, restored = patches(result)
    assert base64.b64decode(new_patch["data"]["database.password"]).decode() == "a-new-password-123"
    assert restored["data"] == {"database.username": b64("productservice"), "database.password": b64("old-secret-pw")}
    assert sum("rollout restart" in line for line in result.lines()) == 2
    assert not result.called("patch secret postgres-secret")


def test_manual_form_warns_about_shell_history(cluster):
    script_cluster(cluster)

    result = cluster.run("rotate-secrets.sh", "product-service", "productuser2", "Very-Secret-Pass-1")

    assert result.returncode == 0, result.stderr
    assert "shell history" in result.stderr
    assert 'CREATE ROLE "productuser2"' in sql_calls(result)[0]
    assert patches(result, "postgres-secret") == [{"data": {"product-service-password": b64("Very-Secret-Pass-1")}}]


def test_same_username_failure_puts_old_password_back(cluster):
    script_cluster(cluster)
    cluster.on(r"rollout status deployment/product-service", rc=1)

    result = cluster.run("rotate-secrets.sh", "--username", "productservice", "product-service", "--generate")

    assert result.returncode == 1
    assert "ALTER ROLE \"productservice\" WITH PASSWORD 'old-secret-pw'" in "\n".join(sql_calls(result))
    assert not result.called("patch secret postgres-secret")


def test_unknown_service_is_a_usage_error(cluster):
    result = cluster.run("rotate-secrets.sh", "api-gateway")
    assert result.returncode == 2 and result.calls == []


COMPONENT_WORKLOADS = [
    "statefulset/service-discovery",
    *(
        f"deployment/{name}"
        for name in (
            "cloud-config-server",
            "user-service",
            "product-service",
            "favourite-service",
            "order-service",
            "shipping-service",
            "payment-service",
            "api-gateway",
            "proxy-client",
        )
    ),
]
OLD_KEYS = "k1:" + "o" * 40


def identity_cluster(cluster) -> None:
    cluster.on(r"get secret identity-secret -o jsonpath=\{\.data\.service-keys\}", b64(OLD_KEYS))
    cluster.on(r"get secret identity-secret -o jsonpath=\{\.data\.operator-password\}", b64("old-operator-pw"))
    cluster.on(r"get secret identity-secret -o jsonpath=\{\.data\.prometheus-password\}", b64("old-prometheus-pw"))


def decoded(patch: dict[str, dict[str, str]]) -> dict[str, str]:
    return {key: base64.b64decode(value).decode() for key, value in patch["data"].items()}


def test_identity_rotation_overlaps_the_mesh_keys_and_restarts_everything_between_steps(cluster):
    identity_cluster(cluster)

    result = cluster.run("rotate-secrets.sh", "-n", "qa", "identity")

    assert result.returncode == 0, result.stderr
    verify, sign, drop = (decoded(patch) for patch in patches(result, "identity-secret"))
    new_key = verify["service-keys"].split(",")[1]
    kid, secret = new_key.split(":")
    assert len(secret) >= 32 and kid != "k1"
    assert verify["service-keys"] == f"{OLD_KEYS},{new_key}"  # verified everywhere before it signs
    assert len(verify["operator-password"]) >= 30 and verify["operator-password"] != "old-operator-pw"
    assert len(verify["prometheus-password"]) >= 30
    assert sign == {"service-keys": f"{new_key},{OLD_KEYS}"}
    assert drop == {"service-keys": new_key}
    assert not any(secret in " ".join(call.argv) for call in result.calls)  # never on a command line
    lines = [call.line for call in result.calls if call.tool == "kubectl"]
    step_at = [i for i, line in enumerate(lines) if "patch secret identity-secret" in line]
    for start, end in zip(step_at, [*step_at[1:], len(lines)], strict=True):
        between = lines[start:end]
        for workload in COMPONENT_WORKLOADS:
            assert any(f"-n qa rollout restart {workload}" in line for line in between), workload
            assert any(f"-n qa rollout status {workload}" in line for line in between), workload


def test_a_failed_first_identity_step_restores_the_old_keys_and_passwords(cluster):
    identity_cluster(cluster)
    cluster.on(r"rollout status deployment/order-service", rc=1)

    result = cluster.run("rotate-secrets.sh", "-n", "qa", "identity")

    assert result.returncode == 1
    first, restored = (decoded(patch) for patch in patches(result, "identity-secret"))
    assert first["service-keys"].startswith(OLD_KEYS + ",")
    assert restored == {
        "service-keys": OLD_KEYS,
        "operator-password": "old-operator-pw",
        "prometheus-password": "old-prometheus-pw",
    }
    assert "the old key and passwords are in place" in result.stderr
