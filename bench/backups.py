"""Our restic-format backup engine against `restic` 0.14 itself, same data set, one run: a folder
to a local repository (backup, incremental after 1 % churn, restore), plus our S3 -> Azure backup
throughput against the `replicate` flow on the same objects. Every case of every tool runs in its
own process, so its peak RSS is its own.

    python bench/backups.py [--scale 1.0] [--cases backup,incremental,restore,cloud] [--cloud-mib 200]

Data set (scale 1.0; sizes and counts scale with --scale), generated deterministically once into
.local/bench/backups/data-<scale>/src and put back to its original state at the start of each run:
  random/  one file of 256 MiB and 48 of 16 MiB of random bytes (1 GiB)
  text/    64 files of 16 MiB of log-like text (1 GiB; zstd-3 stores it in about 0.3 GiB)
  small/   20,000 files of 100-3,000 bytes (half text, half random) in 100 folders

Cases:
  backup       first backup of the folder into a fresh repository
  incremental  after 1 % churn (1 % of the files of each group rewritten in place, 1 % new small
               files), a backup with the first snapshot as parent: unchanged files (same size,
               mtime and ctime) reuse the parent's content without being read, in both tools
  restore      the incremental snapshot into an empty folder
  cloud        N MiB of objects (4 MiB random, 4 MiB text and 4 KiB text ones) in an S3 bucket backed up into a
               repository in an Azure container (ours, streaming every object through ObjectStore into
               SnapshotWriter.add_file), against the `replicate` flow copying the same objects S3 -> Azure

Fairness: both tools use zstd at the same setting (restic 0.14's `--compression auto`, level
"default" ~ zstd 3; ours zstd 3), the same password from RESTIC_PASSWORD, and the same scrypt cost
(our repository's key file is written with the N, r, p restic calibrated for its own). restic runs
with `--no-cache` (no local metadata cache: it reads its trees from the repository as we do). Times
are wall clock of the whole child process's work (restic: the whole command). Results are checked:
`restic check --read-data` on our repository, a byte compare of both restores with the source.

Last line: `backups/restic time ratio: backup=X incremental=Y restore=Z peak_rss_mib=M` (our seconds
/ restic's; M = our highest peak RSS over the backup and incremental cases).
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import os
import random
import shutil
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from benchlib import MIB, peak_rss_mib  # noqa: E402
from deployments.paths import REPO_ROOT  # noqa: E402

STATE = REPO_ROOT / ".local" / "bench" / "backups"
PASSWORD = "bench backups password"
HOST = "bench-backups"
RESULT_MARK = "BENCH-RESULT "
CASES = ("backup", "incremental", "restore", "cloud")
RESTIC = "/usr/bin/restic"
GNU_TIME = "/usr/bin/time"


def log(msg: str) -> None:
    print(f"[bench] {msg}", file=sys.stderr, flush=True)


# ---- the data set ---------------------------------------------------------------------------

class DataSet:
    """The generated folder at one scale: which files it has and how to make each from its name."""

    def __init__(self, scale: float):
        self.scale = scale
        self.root = STATE / f"data-{scale:g}"
        self.src = self.root / "src"
        big, file = int(256 * MIB * scale), int(16 * MIB * scale)
        self.files: dict[str, int] = {"random/r-big.bin": big}
        self.files.update({f"random/r-{i:04d}.bin": file for i in range(48)})
        self.files.update({f"text/t-{i:04d}.log": file for i in range(64)})
        rng = random.Random(1)
        for i in range(max(1, int(20_000 * scale))):
            self.files[f"small/d{i % 100:03d}/s-{i:05d}.{'txt' if i % 2 else 'bin'}"] = rng.randrange(100, 3001)
        self._lines = None

    def _text_lines(self) -> list[bytes]:
        if self._lines is None:
            rng = random.Random(2)
            words = ["GET", "PUT", "POST", "DELETE", "/objects", "/api/v1", "/health", "200", "201", "404", "500",
                     "bucket", "eu-west-1", "us-east-1", "ok", "timeout", "retry", "user", "etag", "range"]
            self._lines = [(f"2026-01-{rng.randrange(1, 29):02d}T{rng.randrange(24):02d}:{rng.randrange(60):02d}:"
                            f"{rng.randrange(60):02d}Z {' '.join(rng.choices(words, k=rng.randrange(4, 9)))} "
                            f"{rng.randrange(10**6)} {rng.randrange(10**4)}ms\n").encode() for _ in range(50_000)]
        return self._lines

    def content(self, name: str, size: int, variant: int = 0) -> bytes:
        """The bytes of file `name` (variant 0: original; others: after churn), from its name only."""
        seed = int.from_bytes(hashlib.sha256(f"{name}/{variant}".encode()).digest()[:8], "little")
        if name.endswith(".bin"):
            import numpy

            return numpy.random.default_rng(seed).bytes(size)
        rng, out, have = random.Random(seed), [], 0
        lines = self._text_lines()
        while have < size:
            block = b"".join(rng.choices(lines, k=2048))
            out.append(block)
            have += len(block)
        return b"".join(out)[:size]

    def _write(self, name: str, variant: int = 0) -> None:
        path = self.src / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(self.content(name, self.files[name], variant))

    def churned(self) -> list[str]:
        """1 % of the files of each group (at least one): the same names every run."""
        groups: dict[str, list[str]] = {}
        for name in self.files:
            groups.setdefault(name.split("/", 1)[0], []).append(name)
        return [n for names in groups.values() for n in names[1::100] or names[:1]]

    def new_files(self) -> dict[str, int]:
        count = max(1, int(200 * self.scale))
        return {f"small/new/n-{i:05d}.txt": 100 + 29 * i % 2900 for i in range(count)}

    def ensure(self) -> None:
        """Generate what is missing and undo an earlier run's churn."""
        marker = self.root / "generated.json"
        started = time.perf_counter()
        if not marker.exists():
            shutil.rmtree(self.src, ignore_errors=True)
            names = list(self.files)
            with ThreadPoolExecutor(2) as pool:
                list(pool.map(self._write, names))
            marker.write_text(json.dumps({"files": len(names), "bytes": sum(self.files.values())}))
            log(f"generated {len(names):,} files, {sum(self.files.values()) / MIB:,.0f} MiB in {self.src} "
                f"in {time.perf_counter() - started:.0f} s")
        state = self.root / "churn.json"
        if state.exists():
            for name in json.loads(state.read_text()):
                self._write(name)
            shutil.rmtree(self.src / "small" / "new", ignore_errors=True)
            state.unlink()
            log("put the churned files back")

    def churn(self) -> tuple[int, int]:
        """Rewrite the churned files (same sizes, new bytes) and add new small files; returns (files, bytes)."""
        names = self.churned()
        (self.root / "churn.json").write_text(json.dumps(names))
        for name in names:
            self._write(name, variant=1)
        for name, size in self.new_files().items():
            path = self.src / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(self.content(name, size))
        return len(names) + len(self.new_files()), sum(self.files[n] for n in names) + sum(self.new_files().values())

    def size(self) -> int:
        return sum(self.files.values())


def tree_digest(folder: Path) -> dict[str, str]:
    """Relative path -> sha256 (files) or '->target' (symlinks) for everything under `folder`."""
    out: dict[str, str] = {}
    paths = [p for p in folder.rglob("*") if p.is_symlink() or p.is_file()]

    def digest(path: Path) -> tuple[str, str]:
        rel = str(path.relative_to(folder))
        if path.is_symlink():
            return rel, "->" + os.readlink(path)
        h = hashlib.sha256()
        with open(path, "rb") as f:
            while block := f.read(8 * MIB):
                h.update(block)
        return rel, h.hexdigest()

    with ThreadPoolExecutor(2) as pool:
        out.update(pool.map(digest, paths))
    return out


def check_restore(source: dict[str, str], restored: Path, tool: str) -> None:
    got = tree_digest(restored)
    wrong = sorted(k for k in source.keys() | got.keys() if source.get(k) != got.get(k))
    if wrong:
        raise RuntimeError(f"{tool} restore differs from the source in {len(wrong)} file(s), e.g. {wrong[:3]}")


# ---- children: one tool, one case, one process ----------------------------------------------

def child_backup(repo_dir: str, src: str, parent: bool) -> dict:
    from multicloud.clouds import open_store
    from multicloud.engine.restic import Repository, SnapshotWriter, add_folder

    started = time.perf_counter()
    repo = Repository.open(open_store(f"file://{repo_dir}"), PASSWORD)
    previous = repo.snapshots()[-1] if parent else None
    with SnapshotWriter(repo) as writer:
        add_folder(writer, Path(src), parent_tree=previous["tree"] if previous else None)
        snapshot = writer.commit([src], datetime.now(timezone.utc), hostname=HOST,
                                 parent=previous["id"] if previous else None)
    seconds = time.perf_counter() - started
    stats = writer.stats
    return {"seconds": seconds, "snapshot": snapshot, "files": stats.files, "bytes_read": stats.bytes_read,
            "files_unchanged": stats.files_unchanged, "bytes_stored": stats.bytes_stored, "packs": stats.packs,
            "blobs": len(writer.index)}


def child_restore(repo_dir: str, target: str) -> dict:
    from multicloud.clouds import open_store
    from multicloud.engine.restic import Repository, SnapshotReader

    started = time.perf_counter()
    repo = Repository.open(open_store(f"file://{repo_dir}"), PASSWORD)
    with SnapshotReader(repo) as reader:
        stats = reader.restore(reader.find("latest"), Path(target))
    return {"seconds": time.perf_counter() - started, "files": stats.files, "bytes": stats.bytes_written}


def child_index_size(repo_dir: str) -> dict:
    """Bytes of Python heap the loaded index costs per blob (tracemalloc over load_index)."""
    import tracemalloc

    from multicloud.clouds import open_store
    from multicloud.engine.restic import Repository

    repo = Repository.open(open_store(f"file://{repo_dir}"), PASSWORD)
    tracemalloc.start()
    index = repo.load_index()
    size, _ = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return {"blobs": len(index), "bytes": size, "bytes_per_blob": size / max(1, len(index))}


def child_cloud_backup(bucket: str, container: str) -> dict:
    """S3 bucket -> restic repository in an Azure container through our `backup` flow (one plan,
    timed like the replicate flow: the flow call only)."""
    import yaml

    import prefect  # noqa: F401  warm-up outside the clock
    from flows.backups import backup

    plans = STATE / "work" / "cloud-plans.yaml"
    plans.parent.mkdir(parents=True, exist_ok=True)
    plans.write_text(yaml.safe_dump({"plans": [{
        "name": "bench-cloud", "source": {"url": f"s3://{bucket}"}, "repositories": [f"az://{container}/repo"],
        "password": {"env": "MCOPS_BENCH_BACKUP_PASSWORD"}, "concurrency": 16}]}))
    os.environ["MCOPS_BENCH_BACKUP_PASSWORD"] = PASSWORD
    started = time.perf_counter()
    (result,) = backup(plans_file=str(plans), profile="local")
    seconds = time.perf_counter() - started
    if result["failure"]:
        raise RuntimeError(result["failure"])
    return {"seconds": seconds, "bytes": result["bytes_read"], "files": result["objects"]}


def child_replicate(bucket: str, container: str) -> dict:
    import prefect  # noqa: F401  warm-up outside the clock
    import flows.replicate  # noqa: F401
    from replication import child_replicate as replicate_case

    return replicate_case("cloud", f"s3://{bucket}", f"az://{container}")


CHILDREN = {"ours-backup": lambda a: child_backup(a.repo, a.src, a.parent),
            "ours-restore": lambda a: child_restore(a.repo, a.target),
            "ours-index": lambda a: child_index_size(a.repo),
            "ours-cloud": lambda a: child_cloud_backup(a.bucket, a.container),
            "replicate": lambda a: child_replicate(a.bucket, a.container)}


# ---- the parent: run each tool, check its result ---------------------------------------------

def restic_env(repo: Path) -> dict[str, str]:
    return {"PATH": "/usr/bin:/bin", "HOME": os.environ.get("HOME", "/root"), "TZ": "UTC",
            "RESTIC_PASSWORD": PASSWORD, "RESTIC_REPOSITORY": str(repo)}


def restic(repo: Path, *args: str, timed: bool = False, logfile: Path | None = None) -> dict:
    """Run restic (with --no-cache); when `timed`, under /usr/bin/time -v for its peak RSS."""
    cmd = [RESTIC, "--no-cache", *args]
    rss_file = (logfile or STATE / "restic").with_suffix(".time")
    if timed:
        cmd = [GNU_TIME, "-v", "-o", str(rss_file)] + cmd
    started = time.perf_counter()
    proc = subprocess.run(cmd, env=restic_env(repo), capture_output=True, text=True)
    seconds = time.perf_counter() - started
    if logfile:
        logfile.write_text(proc.stdout + "\n--- stderr ---\n" + proc.stderr)
    if proc.returncode != 0:
        raise RuntimeError(f"restic {' '.join(args)} exited {proc.returncode}:\n{proc.stdout[-2000:]}\n"
                           f"{proc.stderr[-2000:]}")
    peak = cpu = 0.0
    if timed:
        for line in rss_file.read_text().splitlines():
            if "Maximum resident set size" in line:
                peak = int(line.rsplit(":", 1)[1]) / 1024
            elif "User time" in line or "System time" in line:
                cpu += float(line.rsplit(":", 1)[1])
    return {"seconds": seconds, "peak_rss_mib": peak, "cpu_seconds": cpu, "stdout": proc.stdout,
            "stderr": proc.stderr}


def run_child(name: str, logfile: Path, *args: str, env: dict | None = None) -> dict:
    """One child process of this script; its result is the JSON on its last RESULT_MARK line."""
    proc = subprocess.run([sys.executable, __file__, "--child", name, *args], cwd=REPO_ROOT,
                          env={**os.environ, **(env or {})}, capture_output=True, text=True)
    logfile.write_text(f"{proc.stdout}\n--- stderr ---\n{proc.stderr}")
    marked = next((ln for ln in reversed(proc.stdout.splitlines()) if ln.startswith(RESULT_MARK)), None)
    if proc.returncode or marked is None:
        tail = "\n".join(proc.stderr.splitlines()[-15:])
        raise RuntimeError(f"{name} failed (exit {proc.returncode}); see {logfile}:\n{tail}")
    return json.loads(marked[len(RESULT_MARK):])


def settle(limit: float = 30.0, quiet: float = 25.0) -> None:
    """Wait (at most `limit` s) for the machine to be near idle, so one tool's leftovers (or another
    user's work) are not billed to the next tool; says so when it never gets quiet."""
    import psutil

    os.sync()  # the last tool's written files are flushed now, not while the next one runs
    deadline, busy = time.monotonic() + limit, 100.0
    while time.monotonic() < deadline:
        busy = psutil.cpu_percent(interval=1.0)
        if busy < quiet:
            return
    log(f"machine still {busy:.0f}% busy after {limit:.0f} s; timing anyway (expect noise)")


def our_repository(path: Path, restic_repo: Path) -> None:
    """A fresh repository of ours whose key file has restic's scrypt cost (the same per-open work)."""
    from multicloud.clouds import open_store
    from multicloud.engine.restic import KdfParams, Repository

    key_file = json.loads(next((restic_repo / "keys").iterdir()).read_text())
    Repository.create(open_store(f"file://{path}"), PASSWORD, KdfParams(key_file["N"], key_file["r"], key_file["p"]))


def mirror_to_folder(url: str, folder: Path) -> Path:
    """Copy a repository's objects into a folder through ObjectStore (restic 0.14 cannot reach Azurite)."""
    from deployments import cloudstack
    from multicloud.clouds import open_store

    shutil.rmtree(folder, ignore_errors=True)
    source, target = open_store(url, profile=cloudstack.local_profile()), open_store(f"file://{folder}")
    for meta in source.list():
        with source.open(meta.key) as stream:
            target.write(meta.key, stream, size=meta.size)
    return folder


def check_ours_with_restic(repo: Path) -> None:
    out = restic(repo, "check", "--read-data")
    text = out["stdout"] + out["stderr"]
    if "no errors were found" not in text or any(w in text.lower() for w in ("error:", "hint:")):
        raise RuntimeError(f"restic check --read-data on our repository:\n{text[-3000:]}")


def run_local(args, data: DataSet, cases: list[str]) -> dict[str, dict[str, dict]]:
    work, logs = STATE / "work", STATE / "logs"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    logs.mkdir(parents=True, exist_ok=True)
    repos = {"restic": work / "restic-repo", "ours": work / "ours-repo"}
    restic(repos["restic"], "init", "--repository-version", "2", "-q")
    our_repository(repos["ours"], repos["restic"])
    src = str(data.src)
    results: dict[str, dict[str, dict]] = {}

    def backup(case: str, parent: bool) -> None:
        results[case] = {}
        settle()
        log(f"{case}: restic")
        r = restic(repos["restic"], "backup", "--host", HOST, "--compression", "auto", src, timed=True,
                   logfile=logs / f"{case}-restic.log")
        results[case]["restic"] = {k: r[k] for k in ("seconds", "peak_rss_mib", "cpu_seconds")}
        settle()
        log(f"{case}: ours")
        results[case]["ours"] = run_child("ours-backup", logs / f"{case}-ours.log", "--repo", str(repos["ours"]),
                                          "--src", src, *(["--parent"] if parent else []))
        for tool, r in results[case].items():
            log(f"{case}: {tool} {r['seconds']:.2f} s, peak RSS {r['peak_rss_mib']:.0f} MiB")

    backup("backup", parent=False)
    if "incremental" in cases or "restore" in cases:
        files, size = data.churn()
        log(f"churn: {files} files, {size / MIB:.1f} MiB rewritten or added")
        backup("incremental", parent=True)
        ours = results["incremental"]["ours"]
        expected_unchanged = len(data.files) - len(data.churned())
        if ours["files_unchanged"] != expected_unchanged:
            raise RuntimeError(f"our incremental reused {ours['files_unchanged']} files' content, expected "
                               f"{expected_unchanged}")
        log(f"incremental: ours read {ours['bytes_read'] / MIB:.1f} MiB, {ours['files_unchanged']:,} files unchanged")
        if "incremental" not in cases:
            del results["incremental"]
    log("checking our repository with restic check --read-data")
    check_ours_with_restic(repos["ours"])
    index = run_child("ours-index", logs / "index.log", "--repo", str(repos["ours"]))
    results["_index"] = index
    if "restore" in cases:
        source = tree_digest(data.src)
        results["restore"] = {}
        for tool in ("restic", "ours"):
            target = work / f"restore-{tool}"
            settle()
            log(f"restore: {tool}")
            if tool == "restic":
                snapshot = json.loads(restic(repos["restic"], "snapshots", "--json", "latest")["stdout"])[0]["id"]
                r = restic(repos["restic"], "restore", snapshot, "--target", str(target), timed=True,
                           logfile=logs / "restore-restic.log")
                r = {k: r[k] for k in ("seconds", "peak_rss_mib", "cpu_seconds")}
            else:
                r = run_child("ours-restore", logs / "restore-ours.log", "--repo", str(repos["ours"]),
                              "--target", str(target))
            check_restore(source, target / src.lstrip("/"), tool)
            log(f"restore: {tool} {r['seconds']:.2f} s, peak RSS {r['peak_rss_mib']:.0f} MiB (byte compare ok)")
            results["restore"][tool] = r
            shutil.rmtree(target)
    stored = {tool: sum(f.stat().st_size for f in (repo / "data").rglob("*") if f.is_file())
              for tool, repo in repos.items()}
    results["_stored"] = stored
    if not args.keep:
        shutil.rmtree(work, ignore_errors=True)
    return results


def run_cloud(args) -> dict[str, dict]:
    """Our S3 -> Azure backup and the replicate flow, on the same objects, on the local clouds."""
    import secrets

    from deployments import cloudstack
    from replication import Buckets, azure_service, prefect_env, s3_client, start_prefect_server

    logs = STATE / "logs"
    with contextlib.ExitStack() as cleanup:  # undone in reverse: the server, the buckets, the clouds
        started = cloudstack.up()
        if started:
            cleanup.callback(cloudstack.down, started)
        buckets = Buckets()
        cleanup.callback(buckets.remove_all)
        cleanup.callback(start_prefect_server().stop)
        rid = secrets.token_hex(3)
        bucket = f"bench-bk-{rid}-src"
        buckets.create("aws", bucket)
        s3 = s3_client()
        data = DataSet(0.01)
        for i in range(max(1, args.cloud_mib // 8)):  # 8 MiB and 64 KiB per round
            s3.put_object(Bucket=bucket, Key=f"random/{i:04d}.bin", Body=data.content(f"r{i}.bin", 4 * MIB))
            s3.put_object(Bucket=bucket, Key=f"text/{i:04d}.log", Body=data.content(f"t{i}.log", 4 * MIB))
            for j in range(16):
                s3.put_object(Bucket=bucket, Key=f"small/{i:04d}-{j:02d}.txt", Body=data.content(f"s{i}-{j}.log", 4096))
        size = sum(o["Size"] for p in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket)
                   for o in p.get("Contents", ()))
        log(f"cloud: seeded s3://{bucket} with {size / MIB:.0f} MiB")
        results = {}
        for tool in ("replicate", "ours"):
            container = f"bench-bk-{rid}-{tool}"
            buckets.create("azure", container)
            if tool == "ours":
                from multicloud.clouds import open_store
                from multicloud.engine.restic import KdfParams, Repository

                Repository.create(open_store(f"az://{container}/repo", profile=cloudstack.local_profile()),
                                  PASSWORD, KdfParams())
            settle()
            log(f"cloud: {tool}")
            r = run_child("ours-cloud" if tool == "ours" else "replicate", logs / f"cloud-{tool}.log",
                          "--bucket", bucket, "--container", container, env=prefect_env())
            r["mb_s"] = size / 1e6 / r["seconds"]
            if tool == "replicate":
                got = sum(b.size for b in azure_service().get_container_client(container).list_blobs()
                          if not b.name.startswith(".multicloud-state/"))  # the target's manifest
                if got != size:
                    raise RuntimeError(f"replicate copied {got} of {size} bytes")
            elif r["bytes"] != size:
                raise RuntimeError(f"our backup read {r['bytes']} of {size} bytes")
            else:
                check_ours_with_restic(mirror_to_folder(f"az://{container}/repo", STATE / "work" / "cloud-mirror"))
            log(f"cloud: {tool} {r['seconds']:.2f} s ({r['mb_s']:.0f} MB/s), peak RSS {r['peak_rss_mib']:.0f} MiB")
            results[tool] = r
        return results


def report(results: dict, data: DataSet) -> None:
    print(f"data set: {data.size() / MIB:,.0f} MiB in {len(data.files):,} files ({data.src})")
    print(f"{'case':12} {'tool':10} {'seconds':>8} {'x restic':>9} {'MB/s':>7} {'CPU s':>7} {'peak RSS MiB':>13}")
    for case in ("backup", "incremental", "restore", "cloud"):
        if case not in results:
            continue
        base = results[case].get("restic", results[case].get("replicate"))["seconds"]
        for tool, r in results[case].items():
            mbs = r.get("mb_s") or (data.size() / 1e6 / r["seconds"] if case in ("backup", "restore") else 0)
            print(f"{case:12} {tool:10} {r['seconds']:8.2f} {r['seconds'] / base:9.2f} {mbs:7.0f} "
                  f"{r.get('cpu_seconds', 0):7.2f} {r['peak_rss_mib']:13.0f}")
    if "_stored" in results:
        s = results["_stored"]
        print(f"stored in packs: ours {s['ours'] / MIB:,.0f} MiB, restic {s['restic'] / MIB:,.0f} MiB")
    if "_index" in results:
        ix = results["_index"]
        per = ix["bytes_per_blob"]
        print(f"index in memory: {ix['blobs']:,} blobs, {per:.0f} bytes per blob; one 24 GiB machine (16 GiB for "
              f"the index) holds about {(16 << 30) / per / 1e6:,.0f} million blobs")
    if "cloud" in results:
        c = results["cloud"]
        print(f"cloud S3 -> Azure: ours {c['ours']['mb_s']:.0f} MB/s, replicate {c['replicate']['mb_s']:.0f} MB/s "
              f"(ours/replicate seconds {c['ours']['seconds'] / c['replicate']['seconds']:.2f})")
    parts = [f"{case}={results[case]['ours']['seconds'] / results[case]['restic']['seconds']:.2f}"
             for case in ("backup", "incremental", "restore") if case in results]
    peaks = [results[c]["ours"]["peak_rss_mib"] for c in ("backup", "incremental") if c in results]
    if peaks:
        parts.append(f"peak_rss_mib={max(peaks):.0f}")
    if parts:
        print("backups/restic time ratio: " + " ".join(parts))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scale", type=float, default=1.0, help="data set size factor (default 1.0: about 2 GiB)")
    parser.add_argument("--cases", default=",".join(CASES), help="comma-separated subset of " + ",".join(CASES))
    parser.add_argument("--cloud-mib", type=int, default=200, help="MiB of objects in the cloud case (default 200)")
    parser.add_argument("--keep", action="store_true", help="keep the repositories under .local/bench/backups/work")
    parser.add_argument("--child", choices=sorted(CHILDREN), help=argparse.SUPPRESS)
    for hidden in ("--repo", "--src", "--target", "--bucket", "--container"):
        parser.add_argument(hidden, help=argparse.SUPPRESS)
    parser.add_argument("--parent", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        before = os.times()
        out = CHILDREN[args.child](args)
        after = os.times()
        # CPU of the whole child after its imports (the timed part and the little before it).
        out["cpu_seconds"] = after.user + after.system - before.user - before.system
        out["peak_rss_mib"] = peak_rss_mib()
        print(RESULT_MARK + json.dumps(out), flush=True)
        return
    cases = [c.strip() for c in args.cases.split(",") if c.strip()]
    if not cases or set(cases) - set(CASES):
        parser.error(f"unknown case(s) {sorted(set(cases) - set(CASES))}; choose from {', '.join(CASES)}")
    if not os.access(RESTIC, os.X_OK) or not os.access(GNU_TIME, os.X_OK):
        raise SystemExit(f"needs {RESTIC} (apt-get install restic) and {GNU_TIME} (apt-get install time)")
    data = DataSet(args.scale)
    data.ensure()
    results: dict = {}
    try:
        if set(cases) & {"backup", "incremental", "restore"}:
            results.update(run_local(args, data, cases))
        if "cloud" in cases:
            results["cloud"] = run_cloud(args)
    finally:
        data.ensure()  # the next run starts from the original data set
    report(results, data)


if __name__ == "__main__":
    main()
