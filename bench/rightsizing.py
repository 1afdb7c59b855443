"""Idle detection, ours against Cloud Custodian 0.9.53, in one run on one moto of its own: N EC2
instances (1,000 by default) with 14 days of hourly CPUUtilization, NetworkIn and NetworkOut, some
free volumes and Elastic IPs and a few RDS instances with DatabaseConnections; both tools judge the
same state with equivalent window-average rules (multicloud/testing/custodian_oracle/). Then our time
for 10,000 resources across the three clouds on the local fakes.

    python bench/rightsizing.py [--instances 1000] [--moto indexed|stock] [--seed-threads 4]
                                [--fake-resources 10000]

Fairness: both tools talk to moto through the same counting proxy (one HTTP request per connection,
as a real cloud costs a round trip per request), which counts the API requests of each. Each tool
runs in its own process, so its time and peak RSS are its own: Custodian is the whole `custodian run`
(start-up included, its cache off); ours is the whole child process (imports included) running the
AWS inventory, GetMetricData reads and `evaluate`. `--moto indexed` (default) puts an index in front
of moto's CloudWatch reads (multicloud/testing/moto_server.py): stock moto scans every datum once per
query and, for GetMetricData, once per query *and period*, so at 1,000 instances its scan, not either
tool, decides the time. `--moto stock` measures that.

Last line: `rightsizing/custodian time ratio=R api_calls_ratio=A findings_agree=yes|no peak_rss_mib=M`
(our seconds / Custodian's, our API requests / Custodian's, the four detectors' id sets equal, our
child's peak RSS).
"""

from __future__ import annotations

import argparse
import json
import random
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from benchlib import peak_rss_mib  # noqa: E402
from multicloud.clouds.aws.session import client  # noqa: E402
from multicloud.config import Connection  # noqa: E402
from multicloud.testing import custodian  # noqa: E402
from multicloud.testing.fakes.faulty_proxy import FaultyProxy  # noqa: E402
from multicloud.testing.moto_server import MotoServer  # noqa: E402

REGION = "us-east-1"
RESULT_MARK = "BENCH-RESULT "
HOURS = range(1, 14 * 24 - 1)  # hours before the current hour: inside both tools' 14-day windows
DB_HOURS = range(1, 7 * 24 - 1)  # and their 7-day windows


def log(msg: str) -> None:
    print(f"[bench] {msg}", file=sys.stderr, flush=True)


# ---- seeding ------------------------------------------------------------------------------------

def seed(conn: Connection, instances: int, threads: int) -> dict:
    """Instances (a fifth idle, a twentieth without metrics, a tenth stopped), N/20 free volumes and
    Elastic IPs, N/100 + 2 databases (half idle); returns what was made and how long it took."""
    started = time.perf_counter()
    ids, stopped, dbs = _resources(conn, instances)
    resources_seconds = time.perf_counter() - started
    started = time.perf_counter()
    with_data = [i for n, i in enumerate(ids) if n % 20 != 7]
    calls = _metrics(conn, with_data, dbs, threads)
    datums = len(with_data) * len(HOURS) * 3 + len(dbs) * len(DB_HOURS)
    return {"instances": len(ids), "with_metrics": len(with_data), "stopped": len(stopped), "databases": len(dbs),
            "datums": datums, "put_calls": calls, "resources_seconds": round(resources_seconds, 2),
            "metrics_seconds": round(time.perf_counter() - started, 2)}


def _resources(conn: Connection, instances: int) -> tuple[list[str], list[str], list[str]]:
    ec2, rds = client(conn, "ec2"), client(conn, "rds")
    ids: list[str] = []
    while len(ids) < instances:
        count = min(500, instances - len(ids))
        got = ec2.run_instances(ImageId="ami-12345678", MinCount=count, MaxCount=count, InstanceType="t3.micro")
        ids += [i["InstanceId"] for i in got["Instances"]]
    stopped = ids[::10]
    ec2.stop_instances(InstanceIds=stopped)
    for _ in range(max(1, instances // 20)):
        ec2.create_volume(AvailabilityZone=f"{REGION}a", Size=8)
        ec2.allocate_address(Domain="vpc")
    dbs = [f"db-{n:04d}" for n in range(instances // 100 + 2)]
    for db in dbs:
        rds.create_db_instance(DBInstanceIdentifier=db, DBInstanceClass="db.t3.micro", Engine="postgres",
                               AllocatedStorage=20, MasterUsername="admin", MasterUserPassword="not-a-secret-1")
    return ids, stopped, dbs


def _metrics(conn: Connection, instances: list[str], dbs: list[str], threads: int) -> int:
    """Hourly CPU (idle: 0.5-8 %, else 12-90 %, +-10 % by hour), NetworkIn/Out in proportion, and
    DatabaseConnections (0 for every other database), put from `threads` threads; the requests made."""
    rng = random.Random(11)
    hour = datetime.now(timezone.utc).replace(minute=0, second=0, microsecond=0)
    level = {i: rng.uniform(0.5, 8.0) if n % 5 == 0 else rng.uniform(12.0, 90.0) for n, i in enumerate(instances)}

    def ec2_datums(part: list[str]):
        for i in part:
            for h in HOURS:
                t = hour - timedelta(hours=h)
                yield "CPUUtilization", "InstanceId", i, t, level[i] * (1 + 0.1 * ((h % 7) - 3) / 3)
                yield "NetworkIn", "InstanceId", i, t, level[i] * 40_000.0
                yield "NetworkOut", "InstanceId", i, t, level[i] * 25_000.0

    rds_datums = (("DatabaseConnections", "DBInstanceIdentifier", db, hour - timedelta(hours=h),
                   0.0 if n % 2 == 0 else float(h % 5)) for n, db in enumerate(dbs) for h in DB_HOURS)
    cw = client(conn, "cloudwatch")
    with ThreadPoolExecutor(threads) as pool:
        calls = sum(pool.map(lambda part: custodian.put_hourly(cw, "AWS/EC2", ec2_datums(part)),
                             [instances[k::threads] for k in range(threads)]))
    return calls + custodian.put_hourly(cw, "AWS/RDS", rds_datums)


# ---- the two tools --------------------------------------------------------------------------------

def run_ours_child(endpoint: str) -> dict:
    """Ours in a child process (its own time, imports included, and peak RSS)."""
    started = time.perf_counter()
    proc = subprocess.run([sys.executable, __file__, "--child-ours", endpoint], capture_output=True, text=True)
    seconds = time.perf_counter() - started
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith(RESULT_MARK)]
    if proc.returncode != 0 or not lines:
        raise SystemExit(f"our child failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    return {**json.loads(lines[-1][len(RESULT_MARK):]), "seconds": seconds}


def child_ours(endpoint: str) -> None:
    conn = MotoServer().connection(REGION, endpoint=endpoint)
    ours = custodian.run_ours(conn, datetime.now(timezone.utc))
    print(RESULT_MARK + json.dumps({"matches": ours.matches, "requests": ours.requests,
                                    "inner_seconds": ours.seconds, "peak_rss_mib": peak_rss_mib()}))


def warm(conn: Connection) -> None:
    """One CloudWatch read before either tool is timed, so the index (when on) is built for both."""
    client(conn, "cloudwatch").get_metric_statistics(
        Namespace="AWS/EC2", MetricName="CPUUtilization", Dimensions=[{"Name": "InstanceId", "Value": "i-none"}],
        StartTime=datetime.now(timezone.utc) - timedelta(hours=1), EndTime=datetime.now(timezone.utc),
        Period=3600, Statistics=["Average"])


def compare(args) -> dict:
    with MotoServer(cloudwatch_index=args.moto == "indexed") as moto:
        conn = moto.connection(REGION)
        seeded = seed(conn, args.instances, args.seed_threads)
        log(f"seeded {json.dumps(seeded)}")
        warm(conn)
        with FaultyProxy(moto.port) as proxy:
            theirs = custodian.run(custodian.POLICIES, proxy.url, REGION)
            their_calls = dict(proxy.operations)
            proxy.operations.clear()
            log(f"custodian {theirs.seconds:.2f}s {their_calls}")
            ours = run_ours_child(proxy.url)
            our_calls = dict(proxy.operations)
            log(f"ours {ours['seconds']:.2f}s (inside the child {ours['inner_seconds']:.2f}s) {our_calls}")
    agree = ours["matches"] == theirs.matches
    counts = {policy: len(ids) for policy, ids in theirs.matches.items()}
    log(f"findings per detector (Custodian): {counts}; ours equal: {agree}")
    if not agree:
        for policy in theirs.matches:
            only_ours = set(ours["matches"][policy]) - set(theirs.matches[policy])
            only_theirs = set(theirs.matches[policy]) - set(ours["matches"][policy])
            if only_ours or only_theirs:
                log(f"{policy}: only ours {sorted(only_ours)[:10]}, only Custodian's {sorted(only_theirs)[:10]}")
    return {"seeded": seeded, "ours_seconds": ours["seconds"], "custodian_seconds": theirs.seconds,
            "ours_calls": sum(our_calls.values()), "custodian_calls": sum(their_calls.values()),
            "agree": agree, "peak_rss_mib": ours["peak_rss_mib"]}


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--instances", type=int, default=1000)
    parser.add_argument("--moto", choices=("indexed", "stock"), default="indexed")
    parser.add_argument("--seed-threads", type=int, default=4)
    parser.add_argument("--fake-resources", type=int, default=10_000, help="0 skips the three-cloud fakes case")
    parser.add_argument("--child-ours", metavar="ENDPOINT", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child_ours:
        child_ours(args.child_ours)
        return 0
    custodian.ensure_venv()
    result = compare(args)
    if args.fake_resources:
        from rightsizing_fakes import three_clouds

        log(f"three clouds on the fakes: {json.dumps(three_clouds(args.fake_resources))}")
    print(f"rightsizing/custodian time ratio={result['ours_seconds'] / result['custodian_seconds']:.3f} "
          f"api_calls_ratio={result['ours_calls'] / result['custodian_calls']:.4f} "
          f"findings_agree={'yes' if result['agree'] else 'no'} peak_rss_mib={result['peak_rss_mib']:.0f}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
