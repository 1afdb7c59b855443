"""Streams one 1 GiB object S3 -> Azure through ObjectStore and through a plain SDK loop, in the
same run on the local clouds, each in its own process so peak RSS is its own.

    python bench/storage.py [--mib 1024]

Last line: `storage/raw-sdk throughput ratio=R peak_rss_mib=M` (R = ObjectStore MB/s / raw SDK MB/s).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchlib import MIB, Pattern, peak_rss_mib  # noqa: E402
from deployments import cloudstack  # noqa: E402

SRC_BUCKET, DST_CONTAINER, KEY = "bench-storage-src", "bench-storage-dst", "one-gib.bin"


def seed(size: int) -> None:
    from multicloud.clouds import create_bucket
    from multicloud.clouds.aws.session import client

    profile = cloudstack.local_profile()
    create_bucket(profile.connection_for("aws"), SRC_BUCKET)
    create_bucket(profile.connection_for("azure"), DST_CONTAINER)
    s3 = client(profile.connection_for("aws"), "s3")
    try:
        if s3.head_object(Bucket=SRC_BUCKET, Key=KEY)["ContentLength"] == size:
            return
    except Exception:
        pass
    s3.upload_fileobj(Pattern(size), SRC_BUCKET, KEY)


def child(mode: str) -> dict:
    """One copy, timed, in this process."""
    from multicloud.clouds import open_store
    from multicloud.clouds.aws.session import client

    profile = cloudstack.local_profile()
    started = time.perf_counter()
    if mode == "objectstore":
        src = open_store(f"s3://{SRC_BUCKET}", profile=profile)
        dst = open_store(f"az://{DST_CONTAINER}", profile=profile)
        size = src.stat(KEY).size
        with src.open(KEY) as reader:
            dst.write("via-objectstore.bin", reader, size=size)
    else:
        from azure.storage.blob import BlobServiceClient

        from multicloud.clouds.azure.session import AZURITE_KEY

        conn = profile.connection_for("azure")
        blob = BlobServiceClient(conn.endpoint, credential={"account_name": conn.account, "account_key": AZURITE_KEY}
                                 ).get_blob_client(DST_CONTAINER, "via-raw-sdk.bin")
        obj = client(profile.connection_for("aws"), "s3").get_object(Bucket=SRC_BUCKET, Key=KEY)
        size = obj["ContentLength"]
        blob.upload_blob(obj["Body"], length=size, overwrite=True, max_concurrency=4)
    seconds = time.perf_counter() - started
    return {"mode": mode, "seconds": seconds, "mb_per_s": size / 1e6 / seconds,
            "peak_rss_mib": peak_rss_mib()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--mib", type=int, default=1024, help="object size in MiB (default 1024)")
    parser.add_argument("--child", choices=["objectstore", "raw-sdk"], help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(args.child)))
        return
    started = cloudstack.up()
    try:
        seed(args.mib * MIB)
        results = {}
        for mode in ("raw-sdk", "objectstore"):
            out = subprocess.run([sys.executable, __file__, "--child", mode], check=True, capture_output=True, text=True)
            results[mode] = json.loads(out.stdout.strip().splitlines()[-1])
        print(f"{'tool':12} {'seconds':>8} {'MB/s':>8} {'peak RSS MiB':>13}")
        for mode, r in results.items():
            print(f"{mode:12} {r['seconds']:8.2f} {r['mb_per_s']:8.1f} {r['peak_rss_mib']:13.0f}")
        ratio = results["objectstore"]["mb_per_s"] / results["raw-sdk"]["mb_per_s"]
        print(f"storage/raw-sdk throughput ratio={ratio:.2f} peak_rss_mib={results['objectstore']['peak_rss_mib']:.0f}")
    finally:
        if started:
            cloudstack.down(started)


if __name__ == "__main__":
    main()
