"""Backups end to end on a real Prefect server: what the `backup` flow writes, the `restore` flow puts
back exactly (bucket objects with their keys and metadata, a PostgreSQL database with its rows), and
the `backup-drill` flow verifies, with KMS-wrapped passwords on moto."""

from __future__ import annotations

import io

import yaml

from flows.backup_checks import backup_drill
from flows.backups import backup
from flows.restore import restore
from multicloud.clouds import create_bucket, open_store
from multicloud.clouds.aws.session import client
from tests.support import unique_name

CLOUD = {"s3": "aws", "az": "azure", "gs": "gcp"}
KEYS = {"a": b"file a", "a/b": b"beside a folder of the same name", "trail/": b"a marker", "x/./y": b"dot",
        "logs/app.log": b"GET /\n" * 20_000, "ünï ☃ %2F": b"unicode and a literal escape"}


def bucket(profile, scheme: str) -> str:
    name = unique_name("e2e")
    create_bucket(profile.connection_for(CLOUD[scheme]), name)
    return f"{scheme}://{name}"


def kms_key(profile) -> str:
    kms = client(profile.connection_for("aws"), "kms")
    return kms.create_key(Description="backup passwords")["KeyMetadata"]["Arn"]


def plans_file(tmp_path, profile, source: dict, repositories: list[str]) -> tuple[str, str]:
    name = unique_name("e2e")[:30]
    path = tmp_path / f"{name}.yaml"
    path.write_text(yaml.safe_dump({"plans": [{
        "name": name, "source": source, "repositories": repositories,
        "password": {"kms": {"provider": "aws", "key": kms_key(profile)}},
        "drill": {"sample_objects": 3}}]}))
    return str(path), name


def test_a_bucket_backed_up_to_two_clouds_restores_exactly_elsewhere_and_drills(local_profile, tmp_path):
    source = bucket(local_profile, "s3")
    store = open_store(source, local_profile)
    for key, data in KEYS.items():
        store.write(key, io.BytesIO(data), size=len(data), content_type="text/x-e2e",
                    metadata={"owner": "team-a", "Mixed-Case": "kept"})
    path, name = plans_file(tmp_path, local_profile, {"url": source},
                            [f"{bucket(local_profile, 'az')}/repo", f"{bucket(local_profile, 'gs')}/repo"])

    backup(plans_file=path, profile="local")
    target = f"{bucket(local_profile, 'gs')}/restored/"
    restore(plan=name, target=target, plans_file=path, repository=None, profile="local")

    restored = open_store(target, local_profile)
    assert sorted(m.key for m in restored.list()) == sorted(KEYS)
    for key, data in KEYS.items():
        meta = restored.stat(key)
        with restored.open(key) as stream:
            assert stream.read() == data, key
        assert meta.content_type == "text/x-e2e", key
        assert {k.lower(): v for k, v in meta.metadata.items()}.get("owner") == "team-a", key

    rows = backup_drill(plans_file=path, plans=[name], profile="local")
    assert [(r["plan"], r["state"]) for r in rows] == [(name, "fresh")], rows


def test_a_postgresql_database_restores_into_a_new_database_and_drills(local_profile, tmp_path, postgres):
    database = unique_name("shop").replace("-", "_")
    dsn = postgres.create_database(database)
    postgres.sql("CREATE TABLE orders (id serial PRIMARY KEY, item text, cents bigint);"
                 "INSERT INTO orders (item, cents) SELECT 'item ' || g, g * 100 FROM generate_series(1, 5000) g;",
                 database)
    path, name = plans_file(tmp_path, local_profile, {"postgres": dsn}, [f"{bucket(local_profile, 'az')}/db"])

    backup(plans_file=path, profile="local")
    copy = f"{database}_restored"
    restore(plan=name, target=postgres.dsn(), plans_file=path, database=copy, profile="local")

    count = postgres.sql("SELECT count(*), sum(cents) FROM orders", copy).rows
    assert count == [("5000", str(sum(g * 100 for g in range(1, 5001))))]
    rows = backup_drill(plans_file=path, plans=[name], profile="local")
    assert [(r["plan"], r["state"]) for r in rows] == [(name, "fresh")], rows

