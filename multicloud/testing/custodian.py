"""Cloud Custodian (`c7n` 0.9.53) as an independent oracle for the AWS idle and waste findings: built
once into a virtual environment of its own (c7n pins boto3, PyYAML and urllib3 versions the project
does not use), run as `custodian run` against a given moto endpoint, its matches read back per policy.

    python -m multicloud.testing.custodian build     # prebuild the venv (Makefile: custodian-venv)
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Iterable

import yaml

from multicloud.clouds.aws.inventory import read_inventory
from multicloud.clouds.aws.metrics import read_metrics
from multicloud.config import Connection
from multicloud.config.rightsizing import load_rule_sets
from multicloud.core.rightsizing import FINDING, Outcome, evaluate, required_series

C7N_VERSION = "0.9.53"
REPO_ROOT = Path(__file__).resolve().parents[2]
VENV_VARIABLE = "MULTICLOUD_C7N_VENV"
HERE = Path(__file__).resolve().parent / "custodian_oracle"
POLICIES = HERE / "policies.yaml"
EQUIVALENT_RULES = HERE / "equivalent-rules.yaml"
# What names a resource in Custodian's resources.json, per Custodian resource type.
ID_FIELDS = {"ec2": "InstanceId", "ebs": "VolumeId", "network-addr": "AllocationId", "rds": "DBInstanceIdentifier",
             "ebs-snapshot": "SnapshotId"}
# Our rule (equivalent-rules.yaml) -> the Custodian policy (policies.yaml) it must agree with.
POLICY_OF_RULE = {"custodian-idle-ec2": "idle-ec2", "custodian-unattached-ebs": "unattached-ebs",
                  "custodian-unassociated-eip": "unassociated-eip", "custodian-idle-rds": "idle-rds"}
_CA_VARS = ("AWS_CA_BUNDLE", "REQUESTS_CA_BUNDLE", "SSL_CERT_FILE", "CURL_CA_BUNDLE")


class CustodianUnavailable(RuntimeError):
    """The Custodian venv could not be built (no package index, pip failed): the reason is the message."""


def venv_dir() -> Path:
    """`MULTICLOUD_C7N_VENV`, else `.local/venv-c7n` in the checkout."""
    return Path(os.environ.get(VENV_VARIABLE) or REPO_ROOT / ".local" / "venv-c7n")


def custodian_bin() -> Path:
    return venv_dir() / "bin" / "custodian"


def ensure_venv(timeout: float = 900) -> Path:
    """The `custodian` executable, building the venv first when it is missing or holds another
    version. A lock file keeps concurrent builders (parallel test runs) from racing; a failed build
    is removed so the next call starts clean. Raises CustodianUnavailable with pip's last output."""
    venv = venv_dir()
    marker = venv / ".c7n-version"
    if marker.exists() and marker.read_text().strip() == C7N_VERSION and custodian_bin().exists():
        return custodian_bin()
    venv.parent.mkdir(parents=True, exist_ok=True)
    with open(venv.parent / ".venv-c7n.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if marker.exists() and marker.read_text().strip() == C7N_VERSION and custodian_bin().exists():
            return custodian_bin()
        shutil.rmtree(venv, ignore_errors=True)
        try:
            _run([sys.executable, "-m", "venv", str(venv)], timeout)
            _run([str(venv / "bin" / "python"), "-m", "pip", "install", "-q", "--disable-pip-version-check",
                  f"c7n=={C7N_VERSION}"], timeout)
        except CustodianUnavailable:
            shutil.rmtree(venv, ignore_errors=True)
            raise
        marker.write_text(C7N_VERSION + "\n")
    return custodian_bin()


def _run(command: list[str], timeout: float) -> None:
    try:
        proc = subprocess.run(command, capture_output=True, text=True, timeout=timeout)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise CustodianUnavailable(f"{' '.join(command[:3])}: {exc}") from None
    if proc.returncode != 0:
        raise CustodianUnavailable(f"{' '.join(command)} exited {proc.returncode}: "
                                   f"{(proc.stderr or proc.stdout).strip()[-1500:]}")


@dataclass
class CustodianRun:
    """What one `custodian run` matched, per policy name (resource ids, sorted), how long the whole
    command took, and the API calls Custodian itself counted (c7n's api-stats, per policy summed)."""

    matches: dict[str, list[str]]
    seconds: float
    api_stats: Counter = field(default_factory=Counter)
    output: str = ""


def policy_resources(policy_file: Path) -> dict[str, str]:
    """Policy name -> Custodian resource type (`aws.ec2` and `ec2` alike give `ec2`)."""
    data = yaml.safe_load(Path(policy_file).read_text())
    return {p["name"]: p["resource"].removeprefix("aws.") for p in data["policies"]}


def run(policy_file: Path, endpoint: str, region: str = "us-east-1", timeout: float = 3600) -> CustodianRun:
    """`custodian run` of `policy_file` against `endpoint` (moto, or a proxy in front of it) with
    the cache off, so every run reads the cloud afresh. Raises AssertionError with Custodian's output
    when it fails, and KeyError naming a resource type whose id field is unknown here."""
    exe = ensure_venv()
    types = policy_resources(policy_file)
    env = {k: v for k, v in os.environ.items() if k not in _CA_VARS and not k.startswith("AWS_")}
    env.update({"AWS_ENDPOINT_URL": endpoint, "AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test",
                "AWS_DEFAULT_REGION": region, "AWS_EC2_METADATA_DISABLED": "true"})
    out = Path(tempfile.mkdtemp(prefix="custodian-out-"))
    try:
        started = time.perf_counter()
        proc = subprocess.run([str(exe), "run", "-s", str(out), "--region", region, "--cache-period", "0",
                               str(policy_file)], env=env, capture_output=True, text=True, timeout=timeout)
        seconds = time.perf_counter() - started
        if proc.returncode != 0:
            raise AssertionError(f"custodian run exited {proc.returncode}:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
        matches, stats = {}, Counter()
        for name, rtype in types.items():
            resources = json.loads((out / name / "resources.json").read_text())
            matches[name] = sorted(r[ID_FIELDS[rtype]] for r in resources)
            meta = out / name / "metadata.json"
            if meta.exists():
                stats.update(json.loads(meta.read_text()).get("api-stats", {}))
        return CustodianRun(matches, seconds, stats, proc.stderr)
    finally:
        shutil.rmtree(out, ignore_errors=True)


@dataclass
class OurRun:
    """What our inventory, metrics and rules found, keyed like Custodian's matches (policy name), the
    seconds taken and the API requests made (inventory pages and GetMetricData calls)."""

    matches: dict[str, list[str]]
    seconds: float
    requests: int
    outcomes: list[Outcome]


def run_ours(conn: Connection, now: datetime, rules_file: Path = EQUIVALENT_RULES) -> OurRun:
    """Our detection on `conn` with the rules equivalent to Custodian's: the inventory, then the
    metrics each kind's rules need for the resources of that kind (so no RDS CPU is read for an EC2
    rule), then `evaluate`."""
    started = time.perf_counter()
    rules = load_rule_sets([rules_file])
    inv = read_inventory(conn)
    series, requests = {}, sum(inv.requests.values())
    for kind in sorted({r.kind for r in rules}):
        needs = required_series([r for r in rules if r.kind == kind])
        if needs:
            got = read_metrics(conn, inv.of_kind(kind), needs, now)
            series.update(got.series)
            requests += got.requests
    outcomes = evaluate(rules, inv.resources, series, now)
    matches = {policy: sorted(o.resource for o in outcomes if o.rule == rule and o.status == FINDING)
               for rule, policy in POLICY_OF_RULE.items()}
    return OurRun(matches, time.perf_counter() - started, requests, outcomes)


def put_hourly(cw, namespace: str, datums: Iterable[tuple[str, str, str, datetime, float]],
               per_call: int = 1000) -> int:
    """put_metric_data of (metric name, dimension name, dimension value, timestamp, value) datums,
    `per_call` (at most CloudWatch's 1,000) to a request; returns the requests made."""
    batch, calls = [], 0
    for name, dim, value_id, t, v in datums:
        batch.append({"MetricName": name, "Dimensions": [{"Name": dim, "Value": value_id}], "Timestamp": t,
                      "Value": v})
        if len(batch) == per_call:
            cw.put_metric_data(Namespace=namespace, MetricData=batch)
            batch, calls = [], calls + 1
    if batch:
        cw.put_metric_data(Namespace=namespace, MetricData=batch)
        calls += 1
    return calls


def main(argv: list[str]) -> int:
    if argv[:1] != ["build"]:
        print("usage: python -m multicloud.testing.custodian build", file=sys.stderr)
        return 2
    try:
        print(ensure_venv())
    except CustodianUnavailable as exc:
        print(f"Custodian venv not built: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
