"""Peak RSS of copying one large object S3 -> GCS and S3 -> Azure through the shipped copy path
(`multicloud.engine.transfer.copy_object`), at several sizes, each copy in its own process: the
proof that memory does not grow with the object's size. Not a timing benchmark (seconds are shown
only to tell a stalled copy).

    python bench/large_objects.py [--sizes-mib 256,2048] [--targets gcp,azure] [--source aws|local]
                                  [--recorded-sha256]

`--source local` reads from a directory store (`file://`, its SHA-256 recorded) instead of moto,
whose multipart assembly of a 2 GiB object takes minutes on a shared machine.

Each copy is checked: the target's size and SHA-256 equal the source's. `--recorded-sha256` seeds
the source with its SHA-256 in the metadata (as objects this project wrote carry it), so the
target gets it up front. The process imports Prefect and the flow first, as the flow's process
does, so the baseline is the flow's. Last line: `large-object peak RSS MiB: <target>@<size>=M ...`.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchlib import MIB, Pattern, peak_rss_mib  # noqa: E402

RESULT_MARK = "LARGE-RESULT "
SCHEME = {"aws": "s3", "azure": "az", "gcp": "gs"}


def _profile():
    from deployments import cloudstack

    # fake-gcs-server answers a 2 GiB body only after re-reading it in memory, beyond the default 60 s.
    local = cloudstack.local_profile()
    return local.model_copy(update={"connections": [
        c.model_copy(update={"timeout_seconds": 900.0}) for c in local.connections]})


def _bucket(cloud: str) -> str:
    from multicloud.clouds import create_bucket

    if cloud == "local":
        return f"file://{tempfile.mkdtemp(prefix='bench-large-')}"

    name = f"bench-large-{uuid.uuid4().hex[:12]}"
    create_bucket(_profile().connection_for(cloud), name)
    return f"{SCHEME[cloud]}://{name}"


def _remove(url: str) -> None:
    """Empty and drop a bucket (best effort: a leftover one only costs emulator memory)."""
    from multicloud.clouds import open_store
    from multicloud.core.errors import StoreError

    if url.startswith("file://"):
        shutil.rmtree(url[len("file://"):], ignore_errors=True)
        return
    store = open_store(url, _profile())
    try:
        store.delete([m.key for m in store.list()])
        name = url.split("://", 1)[1].rstrip("/")
        if url.startswith("s3://"):
            store._s3.delete_bucket(Bucket=name)
        elif url.startswith("az://"):
            store._service.delete_container(name)
        else:
            store._bucket.delete()
    except StoreError as exc:
        print(f"[large] could not remove {url}: {exc}", file=sys.stderr)


def child(src: str, dst: str, key: str) -> dict:
    import flows.replicate  # noqa: F401  the flow's own imports: the baseline of its process
    from multicloud.clouds import open_store
    from multicloud.core.replication import Decision
    from multicloud.engine.transfer import copy_object, sha256_of

    profile = _profile()
    source, target = open_store(src, profile), open_store(dst, profile)
    listed = source.stat(key)
    baseline = peak_rss_mib()
    started = time.perf_counter()
    size, server_side, *_ = copy_object(source, target, Decision(key=key, action="copy", reason="bench",
                                                                 source=listed, target_key=key))
    seconds = time.perf_counter() - started
    peak = peak_rss_mib()
    written = target.stat(key)
    return {"size": size, "server_side": server_side, "seconds": seconds, "baseline_mib": baseline,
            "peak_rss_mib": peak, "target_size": written.size, "target_sha256": written.sha256}


def seed(url: str, key: str, size: int, recorded: bool) -> str:
    """Write `size` bytes of pattern into the source; returns their SHA-256."""
    from multicloud.clouds import open_store
    from multicloud.core.objects import HashingReader

    data = HashingReader(Pattern(size))
    store = open_store(url, _profile())
    store.write(key, data, size=size, metadata={"owner": "bench"})
    if not recorded and url.startswith("s3://"):  # as written by another tool: no SHA-256 in its metadata
        name = url.split("://", 1)[1].rstrip("/")
        store._s3.copy_object(Bucket=name, Key=key, CopySource={"Bucket": name, "Key": key},
                              Metadata={"owner": "bench"}, MetadataDirective="REPLACE")
    return data.hexdigest()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes-mib", default="256,2048")
    parser.add_argument("--targets", default="gcp,azure")
    parser.add_argument("--source", choices=["aws", "local"], default="aws")
    parser.add_argument("--recorded-sha256", action="store_true")
    parser.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(RESULT_MARK + json.dumps(child(*args.child)), flush=True)
        return
    rows = []
    for size_mib in [int(s) for s in args.sizes_mib.split(",")]:
        src = _bucket(args.source)
        try:
            key = "large.bin"
            want = seed(src, key, size_mib * MIB, args.recorded_sha256)
            for cloud in args.targets.split(","):
                dst = _bucket(cloud)
                try:
                    proc = subprocess.run([sys.executable, __file__, "--child", src, dst, key], capture_output=True,
                                          text=True)
                    found = [ln[len(RESULT_MARK):] for ln in proc.stdout.splitlines() if ln.startswith(RESULT_MARK)]
                    if proc.returncode or not found:
                        raise SystemExit(f"copy to {cloud} failed:\n{proc.stderr[-3000:]}")
                    r = json.loads(found[0])
                    if r["target_size"] != size_mib * MIB or r["target_sha256"] != want:
                        raise SystemExit(f"{cloud}: wrong copy {r}")
                    rows.append((cloud, size_mib, r))
                    print(f"{cloud:6} {size_mib:6} MiB  peak RSS {r['peak_rss_mib']:6.0f} MiB (baseline "
                          f"{r['baseline_mib']:.0f})  {r['seconds']:6.1f} s", flush=True)
                finally:
                    _remove(dst)
        finally:
            _remove(src)
    print("large-object peak RSS MiB: " + " ".join(f"{c}@{s}MiB={r['peak_rss_mib']:.0f}" for c, s, r in rows))


if __name__ == "__main__":
    main()
