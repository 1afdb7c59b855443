"""Cost Explorer GetCostAndUsage through boto3 against moto: NextPageToken paging, frame shape and
dtypes, exact decimals, argument checks, and (against a small local server answering Cost
Explorer's JSON errors) the error taxonomy.

moto answers `get_cost_and_usage` from a queue filled over `/moto-api/static/ce/cost-and-usage-results`:
each request body it has not seen takes the next queued result and keeps it, so a page request
(same body plus NextPageToken) takes the next one. Bodies are remembered for the server's life,
so every test filters on a tag value of its own: its bodies are new even on a reused server."""

from __future__ import annotations

import json
import uuid
from datetime import date, datetime
from decimal import Decimal

import pandas as pd
import pyarrow as pa
import pytest
import requests
from botocore.exceptions import ClientError, ParamValidationError

from multicloud.clouds.aws.costexplorer import cost_and_usage, monthly_totals
from multicloud.config import Connection
from multicloud.core.errors import InvalidInput, PermissionDenied
from multicloud.testing.fakes.localserver import LocalServer, QuietHandler, read_request, send_json
from tests.support import drain_cost_explorer_queue

MONEY = pd.ArrowDtype(pa.decimal128(38, 18))
TIME = pd.ArrowDtype(pa.timestamp("us", tz="UTC"))
STRING = pd.ArrowDtype(pa.string())


@pytest.fixture
def conn(local_profile) -> Connection:
    return local_profile.connection_for("aws")


def _own_filter() -> dict:
    return {"Tags": {"Key": "multicloud-test", "Values": [uuid.uuid4().hex]}}


def _queue(conn: Connection, *results: dict) -> None:
    drain_cost_explorer_queue(conn)
    resp = requests.post(f"{conn.endpoint}/moto-api/static/ce/cost-and-usage-results",
                         json={"results": list(results)}, timeout=10)
    assert resp.status_code == 201


def _usd(amount: str) -> dict:
    return {"Amount": amount, "Unit": "USD"}


def _day(day: str, groups: list[tuple[list[str], str, str]], estimated: bool = False) -> dict:
    """One ResultsByTime entry of `groups` as (keys, UnblendedCost, AmortizedCost)."""
    end = (date.fromisoformat(day) + pd.Timedelta(days=1)).isoformat()
    return {"TimePeriod": {"Start": day, "End": end}, "Total": {}, "Estimated": estimated,
            "Groups": [{"Keys": keys, "Metrics": {"UnblendedCost": _usd(u), "AmortizedCost": _usd(a)}}
                       for keys, u, a in groups]}


def _page(results: list[dict], token: str | None = None) -> dict:
    page = {"GroupDefinitions": [{"Type": "DIMENSION", "Key": "LINKED_ACCOUNT"},
                                 {"Type": "DIMENSION", "Key": "SERVICE"}],
            "ResultsByTime": results, "DimensionValueAttributes": []}
    if token:
        page["NextPageToken"] = token
    return page


def test_pages_follow_next_page_token_one_frame_each(conn):
    _queue(conn,
           _page([_day("2026-10-01", [(["111111111111", "Amazon EC2"], "0.1", "0.1"),
                                      (["111111111111", "Amazon S3"], "1.0000000001", "0.9")])], token="page-2"),
           _page([_day("2026-10-01", [(["222222222222", "Amazon EC2"], "0.2", "0.25")]),
                  _day("2026-10-02", [])], token="page-3"),
           _page([_day("2026-10-02", [(["222222222222", "Amazon EC2"], "-0.3", "0")], estimated=True)]))

    frames = list(cost_and_usage(conn, date(2026, 10, 1), date(2026, 10, 3), filter=_own_filter()))

    assert [len(f) for f in frames] == [2, 1, 1]  # a period without groups has no row
    first = frames[0]
    assert list(first.columns) == ["TimePeriodStart", "TimePeriodEnd", "LINKED_ACCOUNT", "SERVICE",
                                   "UnblendedCost", "UnblendedCostUnit", "AmortizedCost", "AmortizedCostUnit",
                                   "Estimated"]
    assert dict(first.dtypes) == {
        "TimePeriodStart": TIME, "TimePeriodEnd": TIME, "LINKED_ACCOUNT": STRING, "SERVICE": STRING,
        "UnblendedCost": MONEY, "UnblendedCostUnit": STRING, "AmortizedCost": MONEY, "AmortizedCostUnit": STRING,
        "Estimated": pd.ArrowDtype(pa.bool_())}
    assert first["SERVICE"].tolist() == ["Amazon EC2", "Amazon S3"]
    assert first["UnblendedCost"].tolist() == [Decimal("0.1"), Decimal("1.0000000001")]
    assert first["TimePeriodStart"].iloc[0] == pd.Timestamp("2026-10-01", tz="UTC")
    assert first["TimePeriodEnd"].iloc[0] == pd.Timestamp("2026-10-02", tz="UTC")
    assert set(first["UnblendedCostUnit"]) == {"USD"}
    assert frames[2]["Estimated"].tolist() == [True]

    everything = pd.concat(frames, ignore_index=True)
    ec2 = everything[everything["SERVICE"] == "Amazon EC2"]
    assert ec2["UnblendedCost"].iloc[:2].sum() == Decimal("0.3")  # 0.1 + 0.2, exactly
    assert ec2["UnblendedCost"].sum() == Decimal("0")
    assert everything["AmortizedCost"].sum() == Decimal("1.25")


def test_total_without_group_by_and_monthly_control_totals(conn):
    total = {"ResultsByTime": [
        {"TimePeriod": {"Start": "2026-09-01", "End": "2026-10-01"}, "Groups": [], "Estimated": False,
         "Total": {"UnblendedCost": _usd("1234.5678901234")}},
        {"TimePeriod": {"Start": "2026-10-01", "End": "2026-10-15"}, "Groups": [], "Estimated": True,
         "Total": {"UnblendedCost": _usd("17")}}], "DimensionValueAttributes": []}
    _queue(conn, total)

    frame = monthly_totals(conn, date(2026, 9, 1), date(2026, 10, 15), filter=_own_filter())

    assert list(frame.columns) == ["TimePeriodStart", "TimePeriodEnd", "UnblendedCost", "UnblendedCostUnit",
                                   "Estimated"]
    assert frame["UnblendedCost"].tolist() == [Decimal("1234.5678901234"), Decimal(17)]
    assert frame["UnblendedCost"].dtype == MONEY
    assert frame["Estimated"].tolist() == [False, True]
    assert frame["TimePeriodEnd"].tolist() == [pd.Timestamp("2026-10-01", tz="UTC"),
                                               pd.Timestamp("2026-10-15", tz="UTC")]


def test_tag_group_by_hourly_and_amounts_as_the_api_spells_them(conn):
    hour = {"TimePeriod": {"Start": "2026-10-01T05:00:00Z", "End": "2026-10-01T06:00:00Z"}, "Total": {},
            "Estimated": True, "Groups": [
                {"Keys": ["team$platform"], "Metrics": {"NetUnblendedCost": _usd("1.0E-7")}},
                {"Keys": ["team$"], "Metrics": {"NetUnblendedCost": _usd("0.0000000000000000015")}},
                {"Keys": ["team$data"], "Metrics": {"NetUnblendedCost": _usd("12345678901234567890.123456789012345678")}},
                {"Keys": ["team$ops"], "Metrics": {}}]}  # a metric the page lacks stays empty, never 0
    _queue(conn, {"ResultsByTime": [hour], "DimensionValueAttributes": []})

    [frame] = cost_and_usage(conn, datetime(2026, 10, 1, 5), datetime(2026, 10, 1, 6), granularity="HOURLY",
                             metrics=["NetUnblendedCost"], group_by=[("TAG", "team")], filter=_own_filter())

    assert list(frame.columns) == ["TimePeriodStart", "TimePeriodEnd", "TAG:team", "NetUnblendedCost",
                                   "NetUnblendedCostUnit", "Estimated"]
    assert frame["TAG:team"].tolist() == ["platform", "", "data", "ops"]
    amounts = frame["NetUnblendedCost"].tolist()
    assert amounts[:3] == [Decimal("0.0000001"), Decimal("0.000000000000000002"),  # 18 places, half-even
                           Decimal("12345678901234567890.123456789012345678")]
    assert pd.isna(amounts[3]) and pd.isna(frame["NetUnblendedCostUnit"].iloc[3])
    assert frame["TimePeriodStart"].iloc[0] == pd.Timestamp("2026-10-01 05:00", tz="UTC")


def test_an_empty_answer_is_one_empty_frame_with_the_columns(conn):
    [frame] = cost_and_usage(conn, date(2026, 10, 1), date(2026, 10, 2), filter=_own_filter())
    assert frame.empty and frame["UnblendedCost"].dtype == MONEY and "SERVICE" in frame.columns


@pytest.mark.parametrize("kwargs, target", [
    ({"end": date(2026, 10, 1)}, "end"),
    ({"end": date(2026, 9, 30)}, "end"),
    ({"granularity": "WEEKLY"}, "granularity"),
    ({"granularity": "daily"}, "granularity"),
    ({"metrics": ()}, "metrics"),
    ({"metrics": ("UnblendedCost", "Cost")}, "metrics"),
    ({"metrics": ("UnblendedCost", "UnblendedCost")}, "metrics"),
    ({"group_by": (("DIMENSION", "SERVICE"),) * 3}, "group_by"),
    ({"group_by": (("DIMENSION", "SERVICE"), ("DIMENSION", "SERVICE"))}, "group_by"),
    ({"group_by": (("LABEL", "team"),)}, "group_by"),
    ({"group_by": ("SERVICE",)}, "group_by"),
    ({"start": datetime(2026, 10, 1, 12)}, "start"),
    ({"start": "2026-10-01"}, "start"),
    ({"filter": "Service = EC2"}, "filter"),
])
def test_bad_arguments_are_refused_when_called_naming_the_argument(kwargs, target):
    # No connection is needed: nothing is sent, the call itself raises.
    args = {"start": date(2026, 10, 1), "end": date(2026, 10, 2), **kwargs}
    with pytest.raises(InvalidInput) as info:
        cost_and_usage(Connection(name="unused", cloud="aws"), **args)
    assert info.value.target == target and target in str(info.value)


def test_a_filter_the_sdk_refuses_is_invalid_input_with_the_sdk_error_chained(conn):
    pages = cost_and_usage(conn, date(2026, 10, 1), date(2026, 10, 2), filter={"Service": ["EC2"]})
    with pytest.raises(InvalidInput, match="Cost Explorer refused the request's parameters") as info:
        next(pages)
    assert isinstance(info.value.__cause__, ParamValidationError)


# ---- errors from the service --------------------------------------------------------------------

class _CostExplorerErrors(LocalServer):
    """Answers each Cost Explorer request with the next (status, JSON body) in `answers`; binds
    a free port (`.port` once started)."""

    name = "fake-cost-explorer-errors"

    def __init__(self, answers: list[tuple[int, dict]]):
        self.answers, self.targets = list(answers), []

    def _handler(self):
        fake = self

        class Handler(QuietHandler):
            def do_POST(self):
                read_request(self)
                fake.targets.append(self.headers.get("X-Amz-Target"))
                status, body = fake.answers.pop(0)
                send_json(self, status, json.dumps(body).encode(), content_type="application/x-amz-json-1.1")

        return Handler

    def conn(self) -> Connection:
        return Connection(name=f"ce-faults-{uuid.uuid4().hex[:8]}", cloud="aws", endpoint=f"http://127.0.0.1:{self.port}",
                          region="us-east-1", credentials="emulator", timeout_seconds=5, connect_timeout_seconds=2)


def test_throttling_is_retried_and_access_denied_is_permission_denied():
    ok = {"ResultsByTime": [{"TimePeriod": {"Start": "2026-10-01", "End": "2026-10-02"}, "Groups": [],
                             "Total": {"UnblendedCost": _usd("5")}, "Estimated": False}]}
    throttled = (400, {"__type": "LimitExceededException", "Message": "Rate exceeded"})
    with _CostExplorerErrors([throttled, (200, ok)]) as fake:
        [frame] = cost_and_usage(fake.conn(), date(2026, 10, 1), date(2026, 10, 2), metrics=["UnblendedCost"],
                                 group_by=())
    assert frame["UnblendedCost"].tolist() == [Decimal(5)]
    assert fake.targets == ["AWSInsightsIndexService.GetCostAndUsage"] * 2

    denied = (400, {"__type": "AccessDeniedException",
                    "Message": "User: arn:aws:iam::123456789012:user/ops is not authorized to perform: ce:GetCostAndUsage"})
    with _CostExplorerErrors([denied]) as fake:
        with pytest.raises(PermissionDenied, match="Cost Explorer AccessDeniedException") as info:
            next(cost_and_usage(fake.conn(), date(2026, 10, 1), date(2026, 10, 2)))
    assert isinstance(info.value.__cause__, ClientError)
    assert len(fake.targets) == 1  # not retried


def test_a_stale_page_token_is_invalid_input():
    stale = (400, {"__type": "RequestChangedException", "Message": "The page token no longer matches the request"})
    with _CostExplorerErrors([stale]) as fake:
        with pytest.raises(InvalidInput, match="RequestChangedException"):
            next(cost_and_usage(fake.conn(), date(2026, 10, 1), date(2026, 10, 2)))
