"""The AWS rightsizing inventory and CloudWatch metrics through boto3 against moto: instances, volumes,
Elastic IPs, snapshots and RDS as `Resource` records; metric data put with put_metric_data and read back
through the GetMetricData batching, whose request counts prove the 500-query and 1,440-point limits.
moto serves every listing in one page and ignores NextToken, so paging is proven against a local server
answering the real EC2, RDS and CloudWatch requests (multicloud/testing/fakes/fake_aws_paging.py).

The moto server is shared and never reset: each test works in a region of its own (eu-north-1) and on
resources it created (a run id in tags and names), and asserts on those."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from multicloud.clouds.aws.inventory import read_inventory, stopped_since
from multicloud.clouds.aws.metrics import read_metrics, time_chunks
from multicloud.clouds.aws.session import client
from multicloud.config import Connection
from multicloud.config.rightsizing import load_rule_sets
from multicloud.core.rightsizing import FINDING, INSUFFICIENT, Resource, evaluate, required_series
from multicloud.testing.fakes.fake_aws_paging import FakeAwsPaging

REGION = "eu-north-1"
NOW = datetime(2026, 11, 20, tzinfo=timezone.utc)  # metric points are put relative to this
RULES_DIR = Path(__file__).resolve().parents[2] / "deployments" / "rightsizing"


@pytest.fixture
def conn(local_profile) -> Connection:
    return local_profile.connection_for("aws").model_copy(update={"region": REGION})


@pytest.fixture
def run_id() -> str:
    return uuid.uuid4().hex[:10]


def tags(run_id: str, **extra) -> list[dict]:
    return [{"Key": "run", "Value": run_id}, *({"Key": k, "Value": v} for k, v in extra.items())]


def put_points(conn: Connection, namespace: str, name: str, dimension: str, value_id: str,
               points: list[tuple[datetime, float]]) -> int:
    """put_metric_data in chunks of 1,000 datums (the real limit per request); returns the requests made."""
    cw = client(conn, "cloudwatch")
    data = [{"MetricName": name, "Dimensions": [{"Name": dimension, "Value": value_id}], "Timestamp": t, "Value": v}
            for t, v in points]
    for i in range(0, len(data), 1000):
        cw.put_metric_data(Namespace=namespace, MetricData=data[i:i + 1000])
    return (len(data) + 999) // 1000


def test_inventory_finds_each_kind_with_its_attributes(conn, run_id):
    ec2, rds = client(conn, "ec2"), client(conn, "rds")
    running = ec2.run_instances(ImageId="ami-12345678", MinCount=1, MaxCount=1, InstanceType="m5.large",
                                TagSpecifications=[{"ResourceType": "instance", "Tags": tags(run_id, role="web")}])
    stopped = ec2.run_instances(ImageId="ami-12345678", MinCount=1, MaxCount=1, InstanceType="t3.micro",
                                TagSpecifications=[{"ResourceType": "instance",
                                                    "Tags": tags(run_id, **{"multicloud:keep": "true"})}])
    web, idle = running["Instances"][0]["InstanceId"], stopped["Instances"][0]["InstanceId"]
    ec2.stop_instances(InstanceIds=[idle])
    zone = f"{REGION}a"
    free = ec2.create_volume(AvailabilityZone=zone, Size=20, VolumeType="gp3",
                             TagSpecifications=[{"ResourceType": "volume", "Tags": tags(run_id)}])["VolumeId"]
    gone = ec2.create_volume(AvailabilityZone=zone, Size=5)["VolumeId"]
    kept_snap = ec2.create_snapshot(VolumeId=free, TagSpecifications=[{"ResourceType": "snapshot",
                                                                        "Tags": tags(run_id)}])["SnapshotId"]
    orphan = ec2.create_snapshot(VolumeId=gone)["SnapshotId"]
    ec2.delete_volume(VolumeId=gone)
    stray = ec2.allocate_address(Domain="vpc", TagSpecifications=[{"ResourceType": "elastic-ip",
                                                                   "Tags": tags(run_id)}])["AllocationId"]
    bound = ec2.allocate_address(Domain="vpc")["AllocationId"]
    ec2.associate_address(AllocationId=bound, InstanceId=web)
    db = f"db-{run_id}"
    rds.create_db_instance(DBInstanceIdentifier=db, DBInstanceClass="db.t3.micro", Engine="postgres",
                           AllocatedStorage=20, MasterUsername="admin", MasterUserPassword="not-a-secret-1",
                           Tags=tags(run_id))

    inv = read_inventory(conn)
    found = {r.id: r for r in inv.resources}

    vm = found[web]
    assert (vm.kind, vm.type, vm.state, vm.region, vm.architecture) == ("vm", "m5.large", "running", REGION, "x86_64")
    assert (vm.vcpus, vm.memory_mib, vm.attached_disks, vm.tags["role"]) == (2, 8192, 1, "web")
    assert vm.created is not None and vm.created.tzinfo is not None and vm.stopped_since is None
    assert found[idle].state == "stopped" and found[idle].stopped_since is not None
    assert found[free].attached is False and found[free].size_gb == 20 and found[free].type == "gp3"
    root = [r for r in inv.of_kind("disk") if r.attached_to == web]
    assert len(root) == 1 and root[0].attached is True
    assert gone not in found
    assert found[stray].associated is False and found[stray].attached_to == ""   # moto's InstanceId "" is absent
    assert found[bound].associated is True and found[bound].attached_to == web
    assert found[kept_snap].source_exists is True and found[kept_snap].attached_to == free
    assert found[orphan].source_exists is False and found[orphan].attached_to == gone
    assert (found[db].kind, found[db].type, found[db].size_gb, found[db].tags["run"]) == (
        "database", "db.t3.micro", 20, run_id)
    # one request per listing: moto serves every listing in one page (paging: see the fake below)
    assert inv.requests == {"describe_volumes": 1, "describe_instances": 1, "describe_instance_types": 1,
                            "describe_addresses": 1, "describe_snapshots": 1, "describe_db_instances": 1}

    rules = load_rule_sets(sorted(RULES_DIR.glob("*.yaml")))
    mine = [r for r in inv.resources if r.id in {web, idle, free, stray, bound, kept_snap, orphan, db}]
    outcomes = {(o.resource, o.rule): o.status for o in evaluate(rules, mine, {}, datetime.now(timezone.utc))}
    assert outcomes[(free, "unattached-disk")] == FINDING
    assert outcomes[(stray, "unassociated-ip")] == FINDING and outcomes[(bound, "unassociated-ip")] == "clear"
    assert outcomes[(orphan, "orphaned-snapshot")] == FINDING and outcomes[(kept_snap, "orphaned-snapshot")] == "clear"
    assert outcomes[(idle, "stopped-vm-with-disks")] == "excluded"          # multicloud:keep=true
    assert outcomes[(db, "ta-idle-rds")] == INSUFFICIENT                    # no metrics yet


def test_stop_time_is_read_from_the_state_reason():
    assert stopped_since("User initiated (2026-11-30 10:15:00 GMT)") == datetime(2026, 11, 30, 10, 15,
                                                                                 tzinfo=timezone.utc)
    assert stopped_since("") is None and stopped_since("Server.ScheduledStop") is None


def test_metrics_round_trip_and_an_idle_database_is_found(conn, run_id):
    db, busy = f"db-idle-{run_id}", f"db-busy-{run_id}"
    hours = [NOW - timedelta(hours=h + 1) for h in range(7 * 24)]
    put_points(conn, "AWS/RDS", "DatabaseConnections", "DBInstanceIdentifier", db, [(t, 0.0) for t in hours])
    put_points(conn, "AWS/RDS", "DatabaseConnections", "DBInstanceIdentifier", busy,
               [(t, 3.0 if i == 5 else 0.0) for i, t in enumerate(hours)])
    rules = [r for r in load_rule_sets(sorted(RULES_DIR.glob("*.yaml"))) if r.name == "ta-idle-rds"]
    resources = [Resource("aws", db, "database"), Resource("aws", busy, "database")]
    got = read_metrics(conn, resources, required_series(rules), NOW)
    assert got.requests == 1 and got.requests_by_resource == {db: 1, busy: 1}
    series = got.series[db][0]
    assert (series.metric, series.statistic, series.period_seconds, len(series.points)) == (
        "database_connections", "max", 3600, 7 * 24)
    assert series.points[0][0] == NOW - timedelta(days=7) and series.points[-1][0] == NOW - timedelta(hours=1)
    out = {o.resource: o for o in evaluate(rules, resources, got.series, NOW)}
    assert out[db].status == FINDING and out[db].evidence[0].observed == 0.0
    assert out[busy].status == "clear" and out[busy].evidence[0].observed == 3.0


def test_501_queries_take_two_requests(conn, run_id):
    vms = [Resource("aws", f"i-{run_id}{n:04d}", "vm") for n in range(501)]
    put_points(conn, "AWS/EC2", "CPUUtilization", "InstanceId", vms[500].id, [(NOW - timedelta(minutes=30), 7.0)])
    got = read_metrics(conn, vms, {("cpu_utilization", "average", 3600): 1}, NOW)
    assert got.requests == 2
    assert got.requests_by_resource[vms[0].id] == 1 and got.requests_by_resource[vms[500].id] == 1
    assert got.series[vms[500].id][0].points == ((NOW - timedelta(hours=1), 7.0),)
    assert got.series[vms[0].id][0].points == ()


def test_14_days_of_minute_points_take_one_request_per_1440_points(conn, run_id):
    vm = Resource("aws", f"i-minutes-{run_id}", "vm")
    minutes = [NOW - timedelta(minutes=m + 1) for m in range(14 * 1440)]
    assert put_points(conn, "AWS/EC2", "CPUUtilization", "InstanceId", vm.id,
                      [(t, float(i % 100)) for i, t in enumerate(minutes)]) == 21
    got = read_metrics(conn, [vm], {("cpu_utilization", "max", 60): 14}, NOW)
    assert got.requests == 14 and got.requests_by_resource[vm.id] == 14
    points = got.series[vm.id][0].points
    assert len(points) == 14 * 1440 and len({t for t, _ in points}) == 14 * 1440
    assert points[0] == (NOW - timedelta(days=14), float((14 * 1440 - 1) % 100))


def test_time_chunks_respect_1440_points_and_floor_now():
    spans = time_chunks(datetime(2026, 11, 20, 10, 7, 30, tzinfo=timezone.utc), 300, 14)
    assert spans[-1][1] == datetime(2026, 11, 20, 10, 5, tzinfo=timezone.utc)
    assert len(spans) == 3 and all((b - a) <= timedelta(seconds=300 * 1440) for a, b in spans)
    assert spans[0][0] == spans[-1][1] - timedelta(days=14)
    assert [b for _, b in spans[:-1]] == [a for a, _ in spans[1:]]


def test_metrics_without_an_aws_equivalent_are_reported(conn):
    got = read_metrics(conn, [Resource("aws", "i-none", "vm"), Resource("aws", "snap-1", "snapshot")],
                       {("network_out_utilization", "max", 1800): 7, ("cpu_utilization", "max", 1800): 7}, NOW)
    assert got.unsupported == {("vm", "network_out_utilization"), ("snapshot", "network_out_utilization"),
                               ("snapshot", "cpu_utilization")}
    assert got.requests == 1 and [s.metric for s in got.series["i-none"]] == ["cpu_utilization"]


# ---- paging, against a local server answering the real requests (moto serves one page) ---------------

@pytest.fixture
def fake_conn():
    def make(fake: FakeAwsPaging) -> Connection:
        return Connection(name="aws-paging", cloud="aws", endpoint=fake.url, region="us-east-1",
                          account="123456789012", credentials="emulator")
    return make


def test_every_paged_listing_follows_its_tokens(fake_conn):
    with FakeAwsPaging(instances=2345, volumes=1201, snapshots=2500, databases=250) as fake:
        inv = read_inventory(fake_conn(fake))
    assert inv.requests == {"describe_instances": 3, "describe_volumes": 3, "describe_snapshots": 3,
                            "describe_db_instances": 3, "describe_instance_types": 1, "describe_addresses": 1}
    ids = [r.id for r in inv.resources]
    assert len(ids) == len(set(ids)) == 2345 + 1201 + 2500 + 250
    assert [p.get("NextToken") for p in fake.actions("DescribeInstances")] == [None, "1000", "2000"]
    assert {p["MaxResults"] for p in fake.actions("DescribeInstances")} == {"1000"}
    assert [p.get("NextToken") for p in fake.actions("DescribeVolumes")] == [None, "500", "1000"]
    assert [p.get("Marker") for p in fake.actions("DescribeDBInstances")] == [None, "100", "200"]
    snaps = fake.actions("DescribeSnapshots")
    assert all(p["Owner.1"] == "self" and p["Filter.1.Name"] == "owner-id" and p["Filter.1.Value.1"] ==
               "123456789012" for p in snaps)
    vm = next(r for r in inv.resources if r.id == "i-02344")
    assert (vm.vcpus, vm.memory_mib, vm.architecture) == (2, 8192, "x86_64")
    snap = next(r for r in inv.resources if r.id == "snap-02499")
    assert snap.source_exists is False and snap.created == datetime(2026, 8, 1, tzinfo=timezone.utc)
    assert next(r for r in inv.resources if r.id == "snap-00010").source_exists is True


def test_get_metric_data_follows_next_token_within_a_request(fake_conn):
    with FakeAwsPaging(page_points=1000) as fake:
        vms = [Resource("aws", f"i-{n}", "vm") for n in range(3)]
        got = read_metrics(fake_conn(fake), vms, {("cpu_utilization", "max", 60): 1}, NOW)
    # 3 series of 1,440 points, at most 1,000 points per response: 5 pages of one batch
    assert got.requests == 5 and got.requests_by_resource == {"i-0": 5, "i-1": 5, "i-2": 5}
    calls = fake.actions("GetMetricData")
    assert [c.get("NextToken") for c in calls] == [None, "1000", "2000", "3000", "4000"]
    for n, vm in enumerate(vms):
        points = got.series[vm.id][0].points
        assert len(points) == 1440 and {v for _, v in points} == {float(n)}
        assert points[0][0] == NOW - timedelta(days=1) and points[-1][0] == NOW - timedelta(minutes=1)


def test_get_metric_data_batches_to_500_queries(fake_conn):
    with FakeAwsPaging() as fake:
        vms = [Resource("aws", f"i-{n}", "vm") for n in range(1001)]
        got = read_metrics(fake_conn(fake), vms, {("cpu_utilization", "average", 3600): 1}, NOW)
        calls = fake.actions("GetMetricData")
    assert got.requests == len(calls) == 3
    assert [len(c["MetricDataQueries"]) for c in calls] == [500, 500, 1]
    assert all(len({q["Id"] for q in c["MetricDataQueries"]}) == len(c["MetricDataQueries"]) for c in calls)
    assert set(got.requests_by_resource.values()) == {1} and len(got.requests_by_resource) == 1001
    assert [len(s.points) for s in got.series["i-1000"]] == [24]


def test_get_metric_data_splits_a_series_at_1440_points(fake_conn):
    with FakeAwsPaging() as fake:
        got = read_metrics(fake_conn(fake), [Resource("aws", "i-1", "vm")], {("cpu_utilization", "max", 300): 6}, NOW)
        calls = fake.actions("GetMetricData")
    # 6 days of 5-minute points are 1,728: two spans, 1,440 and 288 points
    assert got.requests == len(calls) == 2
    assert [(c["EndTime"] - c["StartTime"]) // 300 for c in calls] == [1440, 288]
    assert calls[0]["EndTime"] == calls[1]["StartTime"]
    points = got.series["i-1"][0].points
    assert len(points) == len({t for t, _ in points}) == 1728 and points[0][0] == NOW - timedelta(days=6)
