"""backup-database.sh, list-backups.sh and restore-database.sh against a scripted cluster."""

from __future__ import annotations

import json

SHA = "ab" * 32
CRONJOB = {
    "apiVersion": "batch/v1",
    "kind": "CronJob",
    "metadata": {"name": "postgres-backup", "labels": {"app": "postgres-backup"}},
    "spec": {
        "schedule": "0 2 * * *",
        "jobTemplate": {
            "spec": {
                "template": {
                    "metadata": {"labels": {"app": "postgres-backup"}},
                    "spec": {
                        "restartPolicy": "OnFailure",
                        "containers": [
                            {
                                "name": "backup",
                                "image": "ecommerce:1.0.0",
                                "args": ["db", "backup", "--dir", "/backups"],
                                "env": [{"name": "PGHOST", "value": "postgres"}],
                                "volumeMounts": [{"name": "backups", "mountPath": "/backups"}],
                            }
                        ],
                        "volumes": [{"name": "backups", "persistentVolumeClaim": {"claimName": "backup-storage"}}],
                    },
                }
            }
        },
    },
}
JOB_LOG = (
    "backing up productdb (postgresql)\n"
    f"backup /backups/productdb-20261202T020000Z.dump sha256={SHA} tables=3 rows=10 verified\n"
    f"backup /backups/userdb-20261202T020000Z.dump sha256={SHA} tables=2 rows=4 verified\n"
)


def test_backup_waits_on_the_job_it_created(cluster):
    cluster.sequence(r"get job/backup-manual-", {"stdout": "/"}, {"stdout": "1/"})
    cluster.on(r"logs job/backup-manual-", JOB_LOG)

    result = cluster.run("backup-database.sh")

    assert result.returncode == 0, result.stderr
    created = next(call.argv for call in result.calls if "create" in call.argv)
    job = created[created.index("job") + 1]
    assert created[-1] == "--from=cronjob/postgres-backup" and created[:2] == ["-n", "dev"]
    assert result.called(f"get job/{job} -o jsonpath")
    assert result.called(f"logs job/{job}")
    assert f"{SHA}  /backups/productdb-20261202T020000Z.dump" in result.stdout
    assert "/backups/userdb-20261202T020000Z.dump" in result.stdout


def test_backup_of_named_databases_sets_the_selection(cluster):
    cluster.on(r"create job .* --dry-run=client", json.dumps({"kind": "Job", "metadata": {"name": "x"}}))
    cluster.on(r"get job/", "1/")
    cluster.on(r"logs job/", JOB_LOG)

    result = cluster.run("backup-database.sh", "-n", "prod", "productdb", "userdb")

    assert result.returncode == 0, result.stderr
    assert result.called("set env --local -f - -o json ECOMMERCE_BACKUP_DATABASES=productdb userdb")
    assert result.called("-n prod apply -f -")


def test_backup_job_failure_is_reported(cluster):
    cluster.on(r"get job/", "/1")
    cluster.on(r"logs job/", "error: cannot connect to PostgreSQL\n")

    result = cluster.run("backup-database.sh")

    assert result.returncode == 1
    assert "cannot connect to PostgreSQL" in result.stderr and "failed" in result.stderr


def test_list_backups_uses_a_short_lived_pod_with_the_volume(cluster):
    cluster.on(r"get cronjob/postgres-backup -o json", json.dumps(CRONJOB))
    cluster.on(r"get pod/backup-list-.* -o jsonpath", "Succeeded")
    cluster.on(r"logs pod/backup-list-", "productdb-20261202T020000Z.dump  productdb  1.2 MiB  2026-12-02  abab ok\n")

    result = cluster.run("list-backups.sh", "-n", "qa")

    assert result.returncode == 0, result.stderr
    assert "productdb-20261202T020000Z.dump" in result.stdout
    [pod] = [json.loads(call.stdin) for call in result.calls if call.argv[-3:] == ["apply", "-f", "-"]]
    assert pod["kind"] == "Pod" and pod["spec"]["restartPolicy"] == "Never"
    container = pod["spec"]["containers"][0]
    assert container["args"] == ["db", "list", "--dir", "/backups"]
    assert container["volumeMounts"] == [{"name": "backups", "mountPath": "/backups", "readOnly": True}]
    assert pod["spec"]["volumes"][0]["persistentVolumeClaim"]["claimName"] == "backup-storage"
    assert result.index("logs pod/") < result.index("delete pod backup-list-")


def restore_cluster(cluster) -> None:
    cluster.on(r"get cronjob/postgres-backup -o json", json.dumps(CRONJOB))
    cluster.on(r"get pod/backup-verify-.* -o jsonpath", "Succeeded")
    cluster.on(r"get deployment/product-service -o jsonpath", "3")
    cluster.on(r"get scaledobject product-service-scaler", "product-service-scaler")
    cluster.on(r"get job/restore-", "1/")
    cluster.on(
        r"logs job/restore-", "restored /backups/productdb-20261202T020000Z.dump into productdb rows=10 verified\n"
    )


def test_restore_refused_without_confirmation(cluster):
    restore_cluster(cluster)

    result = cluster.run("restore-database.sh", "productdb-20261202T020000Z.dump")

    assert result.returncode == 1
    assert "without confirmation" in result.stderr
    assert not result.called("scale") and not result.called("apply")


def test_restore_stops_writer_restores_and_starts_it_again(cluster):
    restore_cluster(cluster)

    result = cluster.run("restore-database.sh", "--yes", "productdb-20261202T020000Z.dump")

    assert result.returncode == 0, result.stderr
    applied = [json.loads(call.stdin) for call in result.calls if call.argv[-3:] == ["apply", "-f", "-"]]
    verify_pod, job = applied
    assert verify_pod["spec"]["containers"][0]["args"] == ["db", "verify", "/backups/productdb-20261202T020000Z.dump"]
    assert job["kind"] == "Job" and job["spec"]["backoffLimit"] == 0
    assert job["spec"]["template"]["spec"]["containers"][0]["args"] == [
        "db",
        "restore",
        "/backups/productdb-20261202T020000Z.dump",
        "--database",
        "productdb",
        "--yes",
    ]
    order = [
        result.index("annotate scaledobject product-service-scaler autoscaling.keda.sh/paused-replicas=0"),
        result.index("scale deployment/product-service --replicas=0"),
        result.index("wait --for=delete pod -l app=product-service"),
        result.index("get job/restore-"),
        result.index("scale deployment/product-service --replicas=3"),
        result.index("autoscaling.keda.sh/paused-replicas-"),
        result.index("rollout status deployment/product-service"),
    ]
    assert order == sorted(order)


def test_restore_failure_still_starts_the_writer(cluster):
    restore_cluster(cluster)
    cluster.rules.insert(0, {"match": "get job/restore-", "stdout": "/1", "rc": 0, "tool": "kubectl"})

    result = cluster.run("restore-database.sh", "--yes", "productdb-20261202T020000Z.dump")

    assert result.returncode == 1 and "keeps its previous contents" in result.stderr
    assert result.called("scale deployment/product-service --replicas=3")


def test_restore_refuses_a_damaged_backup_before_stopping_anything(cluster):
    restore_cluster(cluster)
    cluster.rules.insert(0, {"match": "get pod/backup-verify-", "stdout": "Failed", "rc": 0, "tool": "kubectl"})

    result = cluster.run("restore-database.sh", "--yes", "productdb-20261202T020000Z.dump")

    assert result.returncode == 1 and "missing or damaged" in result.stderr
    assert not result.called("scale")


def test_restore_rejects_a_strange_file_name(cluster):
    result = cluster.run("restore-database.sh", "--yes", "../../etc/passwd")
    assert result.returncode == 2
