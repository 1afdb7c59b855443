"""The backup scene of `make demo`: the demo bucket and a small PostgreSQL database backed up to Azure
and GCS with a KMS-wrapped password, backed up again (listings only), one snapshot restored into a new
bucket with every hash verified, and the restic command that lists the same snapshots."""

from __future__ import annotations

import shutil
import subprocess
import time
from pathlib import Path
from typing import Awaitable, Callable

import yaml

from deployments import cloudstack
from deployments.paths import REPO_ROOT
from multicloud.clouds import create_bucket, open_store
from multicloud.config.backups import load_plans
from multicloud.engine.passwords import repository_password

STATE = REPO_ROOT / ".local" / "demo" / "backups"
KEY_ALIAS = "alias/multicloud-demo-backups"
SOURCE = "s3://demo-replication-src/"  # the replication scene's source bucket (300 objects)


def demo_key(profile) -> str:
    """The demo's KMS key on moto, made once (by alias) and reused by later demo runs."""
    from multicloud.clouds.aws.session import client

    kms = client(profile.connection_for("aws"), "kms")
    for alias in kms.list_aliases()["Aliases"]:
        if alias["AliasName"] == KEY_ALIAS and alias.get("TargetKeyId"):
            return alias["TargetKeyId"]
    key = kms.create_key(Description="multicloud-ops demo: backup repository passwords")["KeyMetadata"]["KeyId"]
    kms.create_alias(AliasName=KEY_ALIAS, TargetKeyId=key)
    return key


def write_plans(profile, database_dsn: str) -> Path:
    """Two plans, each mirrored to Azure and GCS. The repositories sit under the key's id: a fresh
    moto (a new key) starts fresh repositories instead of failing on passwords it cannot unwrap."""
    key = demo_key(profile)
    for cloud, bucket in (("azure", "demo-backups"), ("gcp", "demo-backups")):
        create_bucket(profile.connection_for(cloud), bucket)
    password = {"kms": {"provider": "aws", "key": key}}
    plans = [{"name": "demo-bucket", "source": {"url": SOURCE},
              "repositories": [f"az://demo-backups/{key[:8]}/bucket", f"gs://demo-backups/{key[:8]}/bucket"],
              "password": password, "drill": {"sample_objects": 10}},
             {"name": "demo-database", "source": {"postgres": database_dsn},
              "repositories": [f"az://demo-backups/{key[:8]}/database", f"gs://demo-backups/{key[:8]}/database"],
              "password": password}]
    STATE.mkdir(parents=True, exist_ok=True)
    path = STATE / "plans.yaml"
    path.write_text(yaml.safe_dump({"plans": plans}, sort_keys=False))
    return path


def seed_database(server) -> str:
    """A small shop database: customers and orders, a few thousand rows."""
    database = "demo_shop"
    server.sql(f"DROP DATABASE IF EXISTS {database}")
    dsn = server.create_database(database)
    server.sql("CREATE TABLE customers (id serial PRIMARY KEY, name text NOT NULL, since date);"
               "CREATE TABLE orders (id serial PRIMARY KEY, customer int REFERENCES customers, cents bigint);"
               "INSERT INTO customers (name, since) SELECT 'customer ' || g, date '2026-01-01' + g % 300 "
               "FROM generate_series(1, 500) g;"
               "INSERT INTO orders (customer, cents) SELECT 1 + g % 500, g * 37 FROM generate_series(1, 5000) g;",
               database)
    return dsn


def restic_listing(profile, plans_file: Path) -> None:
    """Mirror the bucket plan's Azure repository into a folder and let the standard restic list it."""
    plan = load_plans(plans_file).plan("demo-bucket", str(plans_file))
    repo, folder = plan.repositories[0], STATE / "restic-view"
    shutil.rmtree(folder, ignore_errors=True)
    store, target = open_store(repo, profile), open_store(f"file://{folder}")
    for meta in store.list():
        with store.open(meta.key) as stream:
            target.write(meta.key, stream, size=meta.size)
    password = repository_password(plan.password, profile, repo, plan.name, create=False)
    (STATE / "restic-view.password").write_text(password)
    command = ["restic", "-r", str(folder), "--password-file", str(STATE / "restic-view.password"), "snapshots"]
    print(f"\nThe same snapshots, listed by the standard restic (a copy of {repo}):\n  {' '.join(command)}")
    if shutil.which("restic"):
        print(subprocess.run(command, capture_output=True, text=True).stdout)
    else:
        print("  (restic is not installed here: apt-get install restic)")


def run(run_and_report: Callable[[str, dict], Awaitable[None]], asyncio_run) -> None:
    """The scene; `run_and_report` runs a deployment and prints its artifacts."""
    from multicloud.testing.postgres import LocalPostgres

    profile = cloudstack.local_profile()
    with LocalPostgres() as server:
        plans_file = write_plans(profile, seed_database(server))
        print(f"\nbackup plans: {plans_file} (PostgreSQL {server.version} on 127.0.0.1:{server.port})")
        asyncio_run(run_and_report("backup/backups", {"plans_file": str(plans_file)}))
        # Again, unchanged: only listings are read, every object reuses the last snapshot.
        asyncio_run(run_and_report("backup/backups", {"plans_file": str(plans_file)}))
        target = f"demo-restored-{int(time.time())}"
        create_bucket(profile.connection_for("gcp"), target)
        asyncio_run(run_and_report("restore/restore", {"plans_file": str(plans_file), "plan": "demo-bucket",
                                                       "target": f"gs://{target}/"}))
        asyncio_run(run_and_report("backup-drill/backup-drill", {"plans_file": str(plans_file)}))
    restic_listing(profile, plans_file)
