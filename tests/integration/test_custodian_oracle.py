"""Cloud Custodian 0.9.53 as an independent oracle: on one moto of its own (no other test's resources,
no default AMIs), seeded with idle and busy instances (with and without metrics), free and attached
volumes, free and associated Elastic IPs and RDS instances with connection metrics, our inventory,
metrics and equivalent rules must find exactly the resource ids Custodian finds for idle EC2 (14-day
window average CPU), unattached EBS, unassociated EIP and idle RDS (7-day maximum connections).

Custodian runs from its own venv (multicloud.testing.custodian builds it under .local/ once); the
test is skipped, saying why, only when that venv cannot be built (no package index)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from multicloud.clouds.aws.session import client
from multicloud.testing import custodian
from multicloud.testing.fakes.faulty_proxy import FaultyProxy
from multicloud.testing.moto_server import MotoServer

REGION = "us-east-1"
HOURS_EC2 = range(2, 13 * 24)   # hours before now: well inside both tools' 14-day windows
HOURS_RDS = range(2, 6 * 24)    # inside the 7-day windows


@pytest.fixture(scope="module")
def custodian_exe():
    try:
        return custodian.ensure_venv()
    except custodian.CustodianUnavailable as exc:
        pytest.skip(f"Cloud Custodian {custodian.C7N_VERSION} venv could not be built: {exc}")


@pytest.fixture(scope="module")
def moto():
    with MotoServer() as server:
        yield server


def _instance(ec2, itype: str = "t3.micro") -> str:
    return ec2.run_instances(ImageId="ami-12345678", MinCount=1, MaxCount=1, InstanceType=itype)["Instances"][0][
        "InstanceId"]


@pytest.fixture(scope="module")
def seeded(moto):
    """The resources, their metrics, and which ids each detector must find."""
    conn = moto.connection(REGION)
    ec2, rds, cw = client(conn, "ec2"), client(conn, "rds"), client(conn, "cloudwatch")
    hour = datetime.now(timezone.utc).replace(minute=0, second=0, microsecond=0)
    cpu = {  # instance -> CPU % per hour before now
        "idle": lambda h: 3.0,
        "spiky-but-idle-on-average": lambda h: 100.0 if h == 30 else 1.0,   # average 1.3 %, maximum 100 %
        "at-threshold": lambda h: 10.0,                                    # not below 10
        "just-below": lambda h: 9.9,
        "busy": lambda h: 55.0,
        "idle-but-stopped": lambda h: 2.0,
    }
    ids = {name: _instance(ec2) for name in [*cpu, "no-data"]}
    ec2.stop_instances(InstanceIds=[ids["idle-but-stopped"]])
    custodian.put_hourly(cw, "AWS/EC2", (("CPUUtilization", "InstanceId", ids[name], hour - timedelta(hours=h), f(h))
                                         for name, f in cpu.items() for h in HOURS_EC2))

    zone = f"{REGION}a"
    free = [ec2.create_volume(AvailabilityZone=zone, Size=8)["VolumeId"] for _ in range(2)]
    used = ec2.create_volume(AvailabilityZone=zone, Size=8)["VolumeId"]
    ec2.attach_volume(VolumeId=used, InstanceId=ids["busy"], Device="/dev/sdf")
    stray = [ec2.allocate_address(Domain="vpc")["AllocationId"] for _ in range(2)]
    bound = ec2.allocate_address(Domain="vpc")["AllocationId"]
    ec2.associate_address(AllocationId=bound, InstanceId=ids["busy"])

    connections = {"db-idle": lambda h: 0.0, "db-busy": lambda h: 2.0 if h == 50 else 0.0,
                   "db-idle-2": lambda h: 0.0}
    for db in [*connections, "db-no-data"]:
        rds.create_db_instance(DBInstanceIdentifier=db, DBInstanceClass="db.t3.micro", Engine="postgres",
                               AllocatedStorage=20, MasterUsername="admin", MasterUserPassword="not-a-secret-1")
    custodian.put_hourly(cw, "AWS/RDS", (("DatabaseConnections", "DBInstanceIdentifier", db,
                                          hour - timedelta(hours=h), f(h))
                                         for db, f in connections.items() for h in HOURS_RDS))
    expected = {
        "idle-ec2": sorted(ids[n] for n in ("idle", "spiky-but-idle-on-average", "just-below")),
        "unattached-ebs": sorted(free),
        "unassociated-eip": sorted(stray),
        "idle-rds": ["db-idle", "db-idle-2"],
    }
    assert bound not in expected["unassociated-eip"] and used not in expected["unattached-ebs"]
    return conn, expected


def test_ours_and_custodian_find_the_same_ids(moto, seeded, custodian_exe):
    conn, expected = seeded
    with FaultyProxy(moto.port) as proxy:
        theirs = custodian.run(custodian.POLICIES, proxy.url, REGION)
        their_calls = dict(proxy.operations)
        proxy.operations.clear()
        ours = custodian.run_ours(conn.model_copy(update={"endpoint": proxy.url}), datetime.now(timezone.utc))
        our_calls = dict(proxy.operations)

    for policy in custodian.POLICY_OF_RULE.values():
        assert theirs.matches[policy], f"Custodian found nothing for {policy}: the oracle would prove nothing"
        assert ours.matches[policy] == theirs.matches[policy], policy
    assert theirs.matches == expected

    # Custodian: one GetMetricStatistics per resource its metrics filters judge (6 running instances, 4
    # databases), as its own api-stats count them too (they leave out its start-up GetCallerIdentity).
    # Ours: one batched GetMetricData per kind (7 instances, 4 databases: far below 500 queries a call).
    assert their_calls["GetMetricStatistics"] == 10
    assert sum(theirs.api_stats.values()) == sum(their_calls.values()) - their_calls.get("GetCallerIdentity", 0)
    assert our_calls["GetMetricData"] == 2 and sum(our_calls.values()) == ours.requests
    # instances without data are skipped by both, reported by us as skipped (never silently dropped)
    statuses = {(o.rule, o.status) for o in ours.outcomes}
    assert ("custodian-idle-ec2", "skipped") in statuses and ("custodian-idle-rds", "skipped") in statuses
