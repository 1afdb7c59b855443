"""Listing N objects on each local cloud: the shipped `store.list()` (raw pages) against the plain
SDK listing call every store used before (boto3 list_objects_v2 pages, azure-storage-blob
list_blobs with metadata, google-cloud-storage list_blobs), same bucket, same run, interleaved.

    python bench/listing.py [--objects 20000] [--repeat 3] [--clouds aws,azure,gcp] [--noop]

Seeding is untimed and kept between runs (one bucket per cloud and size). Each timing runs in a
fresh process (imports outside the clock); CPU is the process's user+sys during the listing.
With `--noop` (needs aws and azure): a no-op plan of the S3 bucket onto the Azure container
(identical objects), through the shipped engine without Prefect, with the target listed in full
(`manifest: false`) and read from its manifest: `noop-plan/full-listing time ratio=R`.

Last line: `listing/sdk time ratio: aws=X azure=Y gcp=Z` (our seconds / the SDK's).
"""

from __future__ import annotations

import argparse
import io
import json
import statistics
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from deployments import cloudstack  # noqa: E402

SCHEME = {"aws": "s3", "azure": "az", "gcp": "gs"}
SEEDED = "dir"  # every seeded key; the noop plan keeps its manifest beside them, outside this prefix
PAGE = {"aws": 1000, "azure": 5000, "gcp": 1000}  # the SDK baseline asks each service's usual page


def bucket_name(cloud: str, n: int) -> str:
    return f"bench-list-{n}"


def seed(cloud: str, n: int) -> str:
    """The bucket of `n` 1 KiB objects on `cloud` (content type and the recorded SHA-256 as the
    project writes them), written once."""
    from multicloud.clouds import create_bucket, open_store

    profile = cloudstack.local_profile()
    name = bucket_name(cloud, n)
    create_bucket(profile.connection_for(cloud), name)
    store = open_store(f"{SCHEME[cloud]}://{name}/", profile)
    have = {m.key for m in store.list()}
    todo = [f"{SEEDED}{i % 10}/obj-{i:07d}.bin" for i in range(n)]
    todo = [k for k in todo if k not in have]
    body = b"x" * 1024

    def put(key: str) -> None:
        store.write(key, io.BytesIO(body), size=len(body), content_type="application/x-test")

    if todo:
        print(f"[bench] seeding {len(todo)} objects on {cloud}", file=sys.stderr, flush=True)
        with ThreadPoolExecutor(16) as pool:
            list(pool.map(put, todo))
    return name


def sdk_count(cloud: str, name: str) -> int:
    """The SDK's own listing, every field read as the stores read them."""
    from multicloud.clouds.aws.session import client
    from multicloud.clouds.azure.session import client_for
    from multicloud.clouds.gcp.session import api_for

    conn = cloudstack.local_profile().connection_for(cloud)
    n = 0
    if cloud == "aws":
        s3 = client(conn, "s3")
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=name, Prefix=SEEDED,
                                                                      PaginationConfig={"PageSize": 1000}):
            for item in page.get("Contents", ()):
                n += bool((item["Key"], item["Size"], item["ETag"], item["LastModified"]))
    elif cloud == "azure":
        container = client_for(conn).get_container_client(name)
        for props in container.list_blobs(name_starts_with=SEEDED, include=["metadata"],
                                          results_per_page=PAGE[cloud]):
            settings = props.content_settings
            n += bool((props.name, props.size, props.etag, props.last_modified, props.metadata,
                       settings.content_md5, settings.content_type))
    else:
        api = api_for(conn)
        for blob in api.client.list_blobs(name, prefix=SEEDED, page_size=PAGE[cloud], timeout=api.timeout,
                                          retry=None):
            n += bool((blob.name, blob.size, blob.etag, blob.updated, blob.metadata, blob.md5_hash, blob.crc32c))
    return n


def ours_count(cloud: str, name: str) -> int:
    from multicloud.clouds import open_store

    return sum(1 for _ in open_store(f"{SCHEME[cloud]}://{name}/", cloudstack.local_profile()).list(SEEDED))


def noop_plan(method: str, name: str) -> int:
    """Plan s3://name onto az://name once, the target listed (`full`) or read from its manifest
    (`manifest`); `fill` writes the manifest."""
    from datetime import datetime, timezone

    from multicloud.clouds import open_store
    from multicloud.config import ReplicationRule
    from multicloud.core.replication import Shard
    from multicloud.engine.manifest import ManifestPlanning, planned_shard

    profile = cloudstack.local_profile()
    rule = ReplicationRule(name="bench-noop", source=f"s3://{name}/", targets=[f"az://{name}/"],
                           manifest=method != "full")
    src, dst = open_store(rule.source, profile), open_store(rule.targets[0], profile)
    ctx = ManifestPlanning(rule.manifest_settings, rule.delete_policy, False, datetime.now(timezone.utc))
    plan = planned_shard(src, dst, rule.sync_options, Shard(rule.targets[0], ""), ctx)
    if plan.report.to_copy or (method != "fill" and plan.report.from_manifest != (method == "manifest")):
        raise SystemExit(f"noop plan {method}: {plan.report.to_copy} to copy, {plan.manifest}")
    return plan.report.skipped


def child(method: str, cloud: str, name: str) -> None:
    import multicloud.clouds.aws.storage  # noqa: F401  imports outside the clock
    import multicloud.clouds.azure.storage  # noqa: F401
    import multicloud.clouds.gcp.storage  # noqa: F401

    cpu, wall = time.process_time(), time.perf_counter()
    n = noop_plan(method, name) if cloud == "noop" else (sdk_count if method == "sdk" else ours_count)(cloud, name)
    print(json.dumps({"n": n, "seconds": time.perf_counter() - wall, "cpu": time.process_time() - cpu}))


def timed(method: str, cloud: str, name: str) -> dict:
    out = subprocess.run([sys.executable, __file__, "--child", method, cloud, name], check=True,
                         capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--objects", type=int, default=20000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--clouds", default="aws,azure,gcp")
    parser.add_argument("--noop", action="store_true", help="also time a no-op plan S3 -> Azure")
    parser.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        return child(*args.child)
    cloudstack.up()
    ratios = {}
    print("| cloud | method | objects | seconds min / median | client CPU s median |\n|---|---|---:|---:|---:|")
    for cloud in args.clouds.split(","):
        name = seed(cloud, args.objects)
        runs: dict[str, list[dict]] = {"sdk": [], "ours": []}
        for _ in range(args.repeat):  # interleaved, so drift on a shared machine hits both alike
            for method in runs:
                runs[method].append(timed(method, cloud, name))
        for method, rs in runs.items():
            if any(r["n"] != args.objects for r in rs):
                raise SystemExit(f"{cloud} {method} listed {[r['n'] for r in rs]}, expected {args.objects}")
            secs = [r["seconds"] for r in rs]
            print(f"| {cloud} | {'SDK' if method == 'sdk' else 'store.list()'} | {args.objects:,} | "
                  f"{min(secs):.2f} / {statistics.median(secs):.2f} | "
                  f"{statistics.median(r['cpu'] for r in rs):.2f} |", flush=True)
        ratios[cloud] = statistics.median(r["seconds"] for r in runs["ours"]) / statistics.median(
            r["seconds"] for r in runs["sdk"])
    if args.noop:
        noop(args)
    print("listing/sdk time ratio: " + " ".join(f"{c}={r:.2f}" for c, r in ratios.items()))


def noop(args) -> None:
    name = bucket_name("aws", args.objects)
    timed("fill", "noop", name)  # writes the manifest the timed runs read (untimed)
    runs: dict[str, list[dict]] = {"full": [], "manifest": []}
    for _ in range(args.repeat):
        for method in runs:
            runs[method].append(timed(method, "noop", name))
    for method, rs in runs.items():
        secs = [r["seconds"] for r in rs]
        print(f"| noop plan S3 -> Azure | target {'listed' if method == 'full' else 'from manifest'} | "
              f"{args.objects:,} | {min(secs):.2f} / {statistics.median(secs):.2f} | "
              f"{statistics.median(r['cpu'] for r in rs):.2f} |", flush=True)
    ratio = statistics.median(r["seconds"] for r in runs["manifest"]) / statistics.median(
        r["seconds"] for r in runs["full"])
    print(f"noop-plan/full-listing time ratio={ratio:.2f}")


if __name__ == "__main__":
    main()
