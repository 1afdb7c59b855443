"""query_costs through the real azure-mgmt-costmanagement client against a local fake Cost
Management Query API (multicloud/testing/fakes/fake_costmanagement.py, on a free port): the body the SDK sends,
nextLink paging, frame shape and dtypes, exact decimals, the error taxonomy, argument checks."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

import pandas as pd
import pyarrow as pa
import pytest
from azure.core.exceptions import HttpResponseError

from multicloud.clouds.azure.costmanagement import query_costs
from multicloud.clouds.azure.dns import StaticTokenCredential
from multicloud.core.errors import InvalidInput, NotFound, PermissionDenied, Throttled, Transient
from multicloud.core.retry import NO_RETRY
from multicloud.testing.fakes.fake_costmanagement import FakeCostManagement

SUB = "00000000-0000-0000-0000-0000000000aa"
SCOPE = f"/subscriptions/{SUB}"
QUERY_PATH = f"{SCOPE}/providers/Microsoft.CostManagement/query"
TOKEN = "local-fake-token"
MONEY = pd.ArrowDtype(pa.decimal128(38, 18))
TIME = pd.ArrowDtype(pa.timestamp("us", tz="UTC"))
STRING = pd.ArrowDtype(pa.string())
# More digits than a float holds: parsed through float it would come back as 1234567.1234567890.
LONG = "1234567.123456789012345678"


def _record(day: int, service: str, location: str, cost: str, **extra) -> dict:
    return {"date": date(2026, 10, day), "SubscriptionId": SUB, "ServiceName": service, "ResourceLocation": location,
            "ChargeType": "Usage", "PricingModel": "OnDemand", "Cost": cost, **extra}


@pytest.fixture
def fake():
    with FakeCostManagement(page_size=2) as server:
        server.add_costs(SCOPE, [
            _record(1, "Virtual Machines", "eastus", "0.1"),
            _record(1, "Virtual Machines", "eastus", "0.2"),  # summed with the row above
            _record(1, "Storage", "westeurope", LONG, AmortizedCost="1"),
            _record(2, "Virtual Machines", "eastus", "-0.3", ChargeType="Refund"),
            _record(3, "Storage", "westeurope", "0.000000000000000001"),
            _record(4, "Storage", "westeurope", "1000"),  # on `end`: outside the period
        ])
        yield server


def _query(fake: FakeCostManagement, **kwargs):
    args = {"credential": StaticTokenCredential(TOKEN), "base_url": fake.url, "timeout_seconds": 5,
            "connect_timeout_seconds": 2, **kwargs}
    return query_costs(args.pop("scope", SCOPE), args.pop("start", date(2026, 10, 1)),
                       args.pop("end", date(2026, 10, 4)), **args)


def test_daily_costs_page_through_next_link_with_the_same_body(fake):
    frames = list(_query(fake, group_by=("ServiceName", "ResourceLocation")))

    assert [len(f) for f in frames] == [2, 2]
    first = frames[0]
    assert list(first.columns) == ["Cost", "UsageDate", "ServiceName", "ResourceLocation", "Currency"]
    assert dict(first.dtypes) == {"Cost": MONEY, "UsageDate": TIME, "ServiceName": STRING,
                                  "ResourceLocation": STRING, "Currency": STRING}
    rows = pd.concat(frames, ignore_index=True)
    assert rows["UsageDate"].tolist() == [pd.Timestamp(f"2026-10-0{d}", tz="UTC") for d in (1, 1, 2, 3)]
    assert rows["Cost"].tolist() == [Decimal(LONG), Decimal("0.3"), Decimal("-0.3"), Decimal("1E-18")]
    assert rows["Cost"].sum() == Decimal(LONG) + Decimal("1E-18")  # exact: no float anywhere
    assert set(rows["Currency"]) == {"USD"}

    posts = fake.queries()
    assert [p.path for p in posts] == [QUERY_PATH, QUERY_PATH]
    assert posts[0].body == {
        "type": "ActualCost", "timeframe": "Custom",
        "timePeriod": {"from": "2026-10-01T00:00:00Z", "to": "2026-10-03T23:59:59Z"},  # `end` exclusive
        "dataset": {"granularity": "Daily", "aggregation": {"totalCost": {"name": "Cost", "function": "Sum"}},
                    "grouping": [{"type": "Dimension", "name": "ServiceName"},
                                 {"type": "Dimension", "name": "ResourceLocation"}]}}
    assert posts[1].body == posts[0].body
    assert "$skiptoken" not in posts[0].query and len(posts[1].query["$skiptoken"]) == 1
    assert all(p.query["api-version"] == ["2025-03-01"] for p in posts)
    assert all(p.authorization == f"Bearer {TOKEN}" for p in posts)


def test_amortized_total_per_group_with_the_default_grouping(fake):
    fake.page_size = 100
    [frame] = _query(fake, metric="AmortizedCost", granularity="None", cost_column="PreTaxCost")

    assert list(frame.columns) == ["PreTaxCost", "SubscriptionId", "ServiceName", "ResourceLocation", "ChargeType",
                                   "PricingModel", "Currency"]
    assert frame["PreTaxCost"].dtype == MONEY
    by_service = dict(zip(frame["ServiceName"] + "/" + frame["ChargeType"], frame["PreTaxCost"]))
    assert by_service == {"Storage/Usage": Decimal("1.000000000000000001"), "Virtual Machines/Usage": Decimal("0.3"),
                          "Virtual Machines/Refund": Decimal("-0.3")}
    body = fake.queries()[0].body
    assert body["type"] == "AmortizedCost" and "granularity" not in body["dataset"]
    assert body["dataset"]["aggregation"] == {"totalCost": {"name": "PreTaxCost", "function": "Sum"}}
    assert [g["name"] for g in body["dataset"]["grouping"]] == ["SubscriptionId", "ServiceName", "ResourceLocation",
                                                                 "ChargeType", "PricingModel"]


def test_monthly_costs_carry_billing_month_as_a_timestamp(fake):
    [frame] = _query(fake, granularity="Monthly", group_by=())
    assert list(frame.columns) == ["Cost", "BillingMonth", "Currency"]
    assert frame["BillingMonth"].dtype == TIME
    assert frame["BillingMonth"].tolist() == [pd.Timestamp("2026-10-01", tz="UTC")]
    assert frame["Cost"].tolist() == [Decimal(LONG) + Decimal("1E-18")]


def test_a_scope_without_data_is_not_found_naming_it(fake):
    other = "/subscriptions/00000000-0000-0000-0000-0000000000bb"
    with pytest.raises(NotFound) as info:
        next(_query(fake, scope=other))
    assert info.value.target == other and isinstance(info.value.__cause__, HttpResponseError)


@pytest.mark.parametrize("status", [401, 403])
def test_refused_credentials_are_permission_denied_and_not_retried(fake, status):
    fake.fail_next(status)
    with pytest.raises(PermissionDenied) as info:
        next(_query(fake))
    assert info.value.target == SCOPE
    assert "InvalidAuthenticationToken" in str(info.value) or "RBACAccessDenied" in str(info.value)
    assert TOKEN not in str(info.value)
    assert len(fake.queries()) == 1


def test_throttling_waits_for_retry_after_then_succeeds(fake):
    fake.fail_next(429, retry_after=1)
    started = datetime.now()
    frames = list(_query(fake))
    assert (datetime.now() - started).total_seconds() >= 1  # the service's wait, not a shorter backoff
    assert sum(len(f) for f in frames) == 4
    assert len(fake.queries()) == 3  # one refused, then the two pages


def test_throttling_that_persists_is_throttled_with_the_wait_asked(fake):
    fake.fail_next(429, retry_after=7)
    with pytest.raises(Throttled, match="Retry-After 7 s") as info:
        next(_query(fake, retry=NO_RETRY))
    assert info.value.retry_after == 7 and info.value.retryable


def test_an_unknown_dimension_is_invalid_input(fake):
    with pytest.raises(InvalidInput, match="NoSuchDimension"):
        next(_query(fake, group_by=("NoSuchDimension",)))


def test_a_next_link_to_another_host_is_not_followed(fake):
    fake.link_base = "http://127.0.0.2:1"
    pages = _query(fake)
    next(pages)
    with pytest.raises(InvalidInput, match="nextLink points elsewhere"):
        next(pages)
    assert len(fake.requests) == 1


def test_every_request_has_the_read_timeout(fake):
    fake.delay_next(2.0)
    with pytest.raises(Transient):
        next(_query(fake, timeout_seconds=0.5, retry=NO_RETRY))


@pytest.mark.parametrize("kwargs, target", [
    ({"end": date(2026, 10, 1)}, "end"),
    ({"start": datetime(2026, 10, 1, 8)}, "start"),
    ({"metric": "Usage"}, "metric"),
    ({"granularity": "Hourly"}, "granularity"),
    ({"cost_column": "CostUSD"}, "cost_column"),
    ({"group_by": ("ServiceName", "servicename")}, "group_by"),
    ({"group_by": ("Service Name",)}, "group_by"),
    ({"scope": ""}, "scope"),
    ({"scope": "/subscriptions/x/../y"}, "scope"),
    ({"base_url": "http://management.example.com"}, "base_url"),
    ({"base_url": "ftp://127.0.0.1"}, "base_url"),
    ({"base_url": "http://127.0.0.1:1", "credential": None}, "credential"),
])
def test_bad_arguments_are_refused_when_called_naming_the_argument(kwargs, target):
    args = {"scope": SCOPE, "start": date(2026, 10, 1), "end": date(2026, 10, 2),
            "credential": StaticTokenCredential(TOKEN), "base_url": "http://127.0.0.1:1", **kwargs}
    with pytest.raises(InvalidInput) as info:
        query_costs(args.pop("scope"), args.pop("start"), args.pop("end"), **args)
    assert info.value.target == target


# ---- the costs flow's provider_totals kind ------------------------------------------------------

def _comparison_inputs(fake: FakeCostManagement):
    from multicloud.config.costs import CostManagementTotals
    from multicloud.config.profiles import Connection, Profile
    from multicloud.core.costs import reconcile

    key = ("Microsoft", "BP-1", "2026-10", "USD")
    october = Decimal(LONG) + Decimal("1000.000000000000000001")  # every record of the fixture: all in October
    source, stored = reconcile.Totals.empty(), reconcile.Totals.empty()
    source.add(key, october, 6)
    stored.add(key, october, 6)
    entry = CostManagementTotals(kind="azure-cost-management", billing_account="BP-1", scope=SCOPE,
                                 api_endpoint=fake.url)
    profile = Profile(name="t", connections=[Connection(name="az", cloud="azure", credentials="emulator",
                                                        timeout_seconds=5, connect_timeout_seconds=2)])
    return [entry], reconcile.reconcile(source, reconcile.Totals.empty(), stored), stored, profile


def test_provider_totals_agree_to_the_last_digit_or_are_unavailable_on_an_api_error(fake):
    from multicloud.engine import provider_totals

    entries, table, effective, profile = _comparison_inputs(fake)
    compared, failures = provider_totals.compare(entries, table, effective, profile)
    assert list(compared["status"]) == ["agrees"] and compared["difference"].tolist() == [Decimal(0)]
    assert failures == [] and fake.queries()[-1].body["timePeriod"] == {"from": "2026-10-01T00:00:00Z",
                                                                          "to": "2026-10-31T23:59:59Z"}
    fake.fail_next(403)
    compared, failures = provider_totals.compare(entries, table, effective, profile)
    assert list(compared["status"]) == ["unavailable"]
    assert len(failures) == 1 and "PermissionDenied" not in failures[0] and "RBACAccessDenied" in failures[0]


def test_a_programming_error_in_a_provider_comparison_is_not_unavailable(fake, monkeypatch):
    from multicloud.engine import provider_totals

    entries, table, effective, profile = _comparison_inputs(fake)

    def broken(entry, period, profile):
        return {"a key": "not a decimal"}["another key"]

    monkeypatch.setitem(provider_totals._READERS, "azure-cost-management", broken)
    with pytest.raises(KeyError):
        provider_totals.compare(entries, table, effective, profile)
