"""Traces of a replication run: a worker-like process with OTEL_EXPORTER_OTLP_ENDPOINT set runs the
flow against the real Prefect server and the emulated clouds, and exports over OTLP/HTTP to a
local receiver that decodes the protobuf requests. Without the variable nothing is loaded."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from pathlib import Path

from multicloud.clouds import create_bucket, open_store
from multicloud.testing.fakes.otlp_receiver import OtlpReceiver
from tests.support import unique_name

ROOT = Path(__file__).resolve().parents[2]
RUN = """
import sys
from flows.replicate import replicate
from multicloud.config import ReplicationRule
replicate(rule=ReplicationRule(name="traced", source=sys.argv[1], targets=sys.argv[2:]), profile="local")
"""


def run_python(code: str, *args: str, **env: str) -> subprocess.CompletedProcess:
    environ = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}
    environ.update(PYTHONPATH=str(ROOT), **env)
    return subprocess.run([sys.executable, "-c", code, *args], env=environ, cwd=ROOT, capture_output=True,
                          text=True, timeout=300)


def test_one_replication_run_exports_a_connected_span_tree(prefect_api, local_profile):
    source, target, s3_target = unique_name("otel"), unique_name("otel"), unique_name("otel")
    for cloud, name in (("aws", source), ("azure", target), ("aws", s3_target)):
        create_bucket(local_profile.connection_for(cloud), name)
    store = open_store(f"s3://{source}/", local_profile)
    for i in range(3):
        store.write(f"k{i}", io.BytesIO(b"abc"), size=3)

    with OtlpReceiver() as receiver:
        done = run_python(RUN, f"s3://{source}/", f"az://{target}/", f"s3://{s3_target}/", PREFECT_API_URL=prefect_api,
                          OTEL_EXPORTER_OTLP_ENDPOINT=receiver.url)
        spans = receiver.received()  # the process exported everything before it exited
    assert done.returncode == 0, done.stderr[-2000:]

    (flow,) = [s for s in spans if s.attributes.get("prefect.run.type") == "flow"]
    tree = [s for s in spans if s.trace_id == flow.trace_id]
    ids = {s.span_id for s in tree}
    assert flow.parent_id == "" and all(s.parent_id in ids for s in tree if s is not flow)  # connected, one root
    assert {s.service for s in tree} == {"multicloud-ops"}
    assert {k: flow.attributes.get(k) for k in ("multicloud.operation", "multicloud.rule", "cloud.provider",
                                                "cloud.region", "multicloud.outcome")} == {
        "multicloud.operation": "replicate", "multicloud.rule": "traced", "cloud.provider": "aws",
        "cloud.region": "us-east-1", "multicloud.outcome": "completed"}
    tasks = [s for s in tree if s.attributes.get("prefect.run.type") == "task"]
    assert {"plan_shard", "copy_objects", "commit_manifests", "report_run"} <= {
        s.attributes["multicloud.operation"] for s in tasks}
    assert all(s.parent_id == flow.span_id and s.attributes["multicloud.outcome"] == "completed" for s in tasks)
    commits = {s.attributes["multicloud.target"]: s for s in tree
               if s.attributes.get("multicloud.operation") == "commit_manifests"}
    azure, aws = commits[f"az://{target}/"], commits[f"s3://{s3_target}/"]
    assert azure.attributes["cloud.provider"] == "azure" and "cloud.region" not in azure.attributes
    assert aws.attributes["cloud.provider"] == "aws" and aws.attributes["cloud.region"] == "us-east-1"
    # SDK calls are child spans of the task that made them: Azure's requests transport, and botocore.
    children = {(s.parent_id, s.attributes.get("rpc.system") or "http") for s in tree if "http.status_code" in s.attributes}
    assert (azure.span_id, "http") in children and (aws.span_id, "aws-api") in children


def test_without_the_variable_tracing_loads_nothing_and_flows_import():
    done = run_python("import sys, tasks, flows.replicate; print('opentelemetry.sdk' in sys.modules)")
    assert done.returncode == 0 and done.stdout.strip() == "False", done.stderr[-2000:]
