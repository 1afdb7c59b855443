"""A local stand-in for the paged AWS listings moto serves in one page: EC2 DescribeInstances,
DescribeVolumes, DescribeSnapshots, DescribeInstanceTypes, DescribeAddresses (query protocol, XML,
MaxResults/NextToken), RDS DescribeDBInstances (MaxRecords/Marker) and CloudWatch GetMetricData
(JSON 1.0, which botocore 1.44 sends to a custom endpoint, with NextToken once a response holds
`page_points` points).
Binds 127.0.0.1 on a free port; every request is recorded in `requests` (action, parameters)."""

from __future__ import annotations

import json
import threading
from urllib.parse import parse_qs

from multicloud.testing.fakes.localserver import LocalServer, QuietHandler, read_request, send_json

_EC2 = "http://ec2.amazonaws.com/doc/2016-11-15/"
_RDS = "http://rds.amazonaws.com/doc/2014-10-31/"


class FakeAwsPaging(LocalServer):
    """`instances`, `volumes`, `snapshots`, `databases`, `instance_types`: how many of each to serve
    (ids i-00000…).
    GetMetricData answers every query with one point per period of the span, value = the query's
    index in the request; responses stop at `page_points` points and continue after a NextToken."""

    name = "fake-aws-paging"

    def __init__(self, instances: int = 0, volumes: int = 0, snapshots: int = 0, databases: int = 0,
                 page_points: int = 100_800, instance_types: int = 0, port: int = 0, host: str = "127.0.0.1"):
        self.host, self.port = host, port
        self.counts = {"instances": instances, "volumes": volumes, "snapshots": snapshots, "databases": databases,
                       "instance_types": instance_types}
        self.page_points = page_points
        self.requests: list[tuple[str, dict]] = []
        self._lock = threading.Lock()

    def _record(self, action: str, params: dict) -> None:
        with self._lock:
            self.requests.append((action, params))

    def actions(self, action: str) -> list[dict]:
        return [p for a, p in self.requests if a == action]

    def _handler(self):
        fake = self

        class Handler(QuietHandler):
            def do_POST(self):
                _, _, raw, body = read_request(self)
                if self.headers.get("X-Amz-Target") == "GraniteServiceVersion20100801.GetMetricData":
                    fake._record("GetMetricData", body)
                    send_json(self, 200, json.dumps(fake.metric_data(body)).encode(),
                              content_type="application/x-amz-json-1.0")
                    return
                form = {k: v[0] for k, v in parse_qs(raw.decode()).items()}
                action = form.get("Action", "")
                fake._record(action, form)
                body = fake.answer(action, form)
                status = 200 if body else 400
                send_json(self, status, (body or _error(action)).encode(), content_type="text/xml")

        return Handler

    # ---- EC2 and RDS ----------------------------------------------------------------------------

    def answer(self, action: str, form: dict) -> str | None:
        listing = {"DescribeInstances": ("instances", "reservationSet", _reservation),
                   "DescribeVolumes": ("volumes", "volumeSet", _volume),
                   "DescribeSnapshots": ("snapshots", "snapshotSet", _snapshot)}
        if action in listing:
            what, tag, item = listing[action]
            start, end, token = _page(self.counts[what], form.get("NextToken"), form.get("MaxResults"))
            items = "".join(item(n) for n in range(start, end))
            return _ec2(action, f"<{tag}>{items}</{tag}>" + (f"<nextToken>{token}</nextToken>" if token else ""))
        if action == "DescribeInstanceTypes":
            return self._instance_types(action, form)
        if action == "DescribeAddresses":
            return _ec2(action, "<addressesSet/>")
        if action == "DescribeDBInstances":
            start, end, token = _page(self.counts["databases"], form.get("Marker"), form.get("MaxRecords"))
            items = "".join(f"<DBInstance><DBInstanceIdentifier>db-{n:05d}</DBInstanceIdentifier><DBInstanceClass>"
                            f"db.t3.micro</DBInstanceClass><DBInstanceStatus>available</DBInstanceStatus></DBInstance>"
                            for n in range(start, end))
            marker = f"<Marker>{token}</Marker>" if token else ""
            return (f'<DescribeDBInstancesResponse xmlns="{_RDS}"><DescribeDBInstancesResult><DBInstances>{items}'
                    f"</DBInstances>{marker}</DescribeDBInstancesResult><ResponseMetadata><RequestId>r</RequestId>"
                    f"</ResponseMetadata></DescribeDBInstancesResponse>")
        return None

    def _instance_types(self, action: str, form: dict) -> str:
        """The named types (2 vCPUs, 8 GiB each), or without names `instance_types` of them (x0000.large…,
        n+1 vCPUs, arm64 for odd n) paged by MaxResults and NextToken."""
        names = [v for k, v in sorted(form.items()) if k.startswith("InstanceType.")]
        token = ""
        if names:
            specs = [(n, 2, "x86_64") for n in names]
        else:
            start, end, token = _page(self.counts["instance_types"], form.get("NextToken"), form.get("MaxResults"))
            specs = [(f"x{n:04d}.large", n + 1, "arm64" if n % 2 else "x86_64") for n in range(start, end)]
        items = "".join(f"<item><instanceType>{n}</instanceType><vCpuInfo><defaultVCpus>{v}</defaultVCpus></vCpuInfo>"
                        f"<memoryInfo><sizeInMiB>{4096 * v}</sizeInMiB></memoryInfo><processorInfo>"
                        f"<supportedArchitectures><item>{a}</item></supportedArchitectures></processorInfo></item>"
                        for n, v, a in specs)
        return _ec2(action, f"<instanceTypeSet>{items}</instanceTypeSet>"
                    + (f"<nextToken>{token}</nextToken>" if token else ""))

    # ---- CloudWatch -------------------------------------------------------------------------------

    def metric_data(self, params: dict) -> dict:
        start, end = int(params["StartTime"]), int(params["EndTime"])  # epoch seconds in JSON 1.0
        offset = int(params.get("NextToken") or 0)  # points already served across the whole request
        results, served, seen = [], 0, 0
        for n, query in enumerate(params["MetricDataQueries"]):
            period = query["MetricStat"]["Period"]
            times = list(range(start, end - period + 1, period))
            skip = min(max(offset - seen, 0), len(times))
            seen += len(times)
            take = times[skip:skip + max(self.page_points - served, 0)]
            served += len(take)
            results.append({"Id": query["Id"], "Label": query["Id"], "Timestamps": take,
                            "Values": [float(n)] * len(take), "StatusCode": "Complete"})
        out = {"MetricDataResults": results, "Messages": []}
        if offset + served < seen:
            out["NextToken"] = str(offset + served)
        return out


def _page(total: int, token: str | None, size: str | None) -> tuple[int, int, str]:
    start = int(token or 0)
    end = min(start + int(size or 1000), total)
    return start, end, str(end) if end < total else ""


def _ec2(action: str, inner: str) -> str:
    return f'<{action}Response xmlns="{_EC2}"><requestId>r</requestId>{inner}</{action}Response>'


def _error(action: str) -> str:
    return (f"<Response><Errors><Error><Code>InvalidAction</Code><Message>{action} is not served here</Message>"
            "</Error></Errors><RequestID>r</RequestID></Response>")


def _reservation(n: int) -> str:
    return (f"<item><reservationId>r-{n:05d}</reservationId><instancesSet><item><instanceId>i-{n:05d}</instanceId>"
            "<instanceType>m5.large</instanceType><instanceState><code>16</code><name>running</name></instanceState>"
            "<launchTime>2026-11-01T00:00:00.000Z</launchTime><architecture>x86_64</architecture>"
            "</item></instancesSet></item>")


def _volume(n: int) -> str:
    return (f"<item><volumeId>vol-{n:05d}</volumeId><size>8</size><volumeType>gp3</volumeType><status>available"
            "</status><createTime>2026-11-01T00:00:00.000Z</createTime><attachmentSet/></item>")


def _snapshot(n: int) -> str:
    return (f"<item><snapshotId>snap-{n:05d}</snapshotId><volumeId>vol-{n:05d}</volumeId><status>completed</status>"
            "<startTime>2026-08-01T00:00:00.000Z</startTime><volumeSize>8</volumeSize></item>")
