"""The Cloud Billing Catalog through the real google-cloud-billing REST client against a local
fake API (tests/integration/fake_cloud_billing.py): paging, frame shape and dtypes, exact prices,
service lookup by name, the error taxonomy, argument checks."""

from __future__ import annotations

from decimal import Decimal

import pandas as pd
import pyarrow as pa
import pytest
from google.api_core import exceptions as gapi

from multicloud.clouds.gcp.catalog import list_services, list_skus
from multicloud.core.errors import InvalidInput, NotFound, PermissionDenied, Throttled
from multicloud.core.retry import NO_RETRY
from multicloud.testing.fakes.fake_cloud_billing import FakeCloudBilling, sku

COMPUTE, STORAGE, BIGQUERY = "6F81-5844-456A", "95FF-2EF5-5EA1", "24E6-581D-38E5"
MONEY = pd.ArrowDtype(pa.decimal128(38, 18))
STRING = pd.ArrowDtype(pa.string())


def _compute_skus(count: int) -> list[dict]:
    return [sku(COMPUTE, "Compute Engine", f"0000-0000-{i:04d}", f"N2 Instance Core {i}", [(0, "0.031611")],
                regions=("us-central1", "europe-west1")) for i in range(count)]


@pytest.fixture
def api():
    with FakeCloudBilling(page_size=3) as fake:
        fake.add_service(COMPUTE, "Compute Engine", _compute_skus(7) + [
            sku(COMPUTE, "Compute Engine", "CAFE-0000-0001", "Egress to the internet",
                [(0, "0"), (1024, "0.12"), (10240, "0.085")], unit="GiBy", unit_description="gibibyte",
                regions=("global",), family="Network", group="PremiumInternetEgress")])
        fake.add_service(STORAGE, "Cloud Storage", [
            sku(STORAGE, "Cloud Storage", "E5F0-6A5D-7BAD", "Standard Storage US Regional", [(0, "0.012345")],
                unit="GiBy.mo", unit_description="gibibyte month", family="Storage", group="RegionalStorage"),
            sku(STORAGE, "Cloud Storage", "1111-2222-3333", "Big price",
                [(0.5, "123456789012.999999999")], family="Storage"),
        ])
        fake.add_service(BIGQUERY, "BigQuery")
        yield fake


def _skus(api, service: str, **kwargs):
    return list_skus(service, endpoint=api.url, timeout_seconds=5, **kwargs)


def test_skus_page_by_page_with_exact_first_tier_prices(api):
    frames = list(_skus(api, COMPUTE))

    assert [len(f) for f in frames] == [3, 3, 2]
    assert list(frames[0].columns) == [
        "sku_id", "description", "service_id", "service_name", "resource_family", "resource_group", "usage_type",
        "service_regions", "usage_unit", "usage_unit_description", "unit_price", "tier_start_amount", "tier_count",
        "currency", "effective_time"]
    skus = pd.concat(frames, ignore_index=True)
    assert skus["unit_price"].dtype == MONEY and skus["tier_start_amount"].dtype == MONEY
    assert skus["sku_id"].dtype == STRING and skus["tier_count"].dtype == pd.ArrowDtype(pa.int32())
    assert skus["effective_time"].dtype == pd.ArrowDtype(pa.timestamp("us", tz="UTC"))
    assert skus["sku_id"].is_unique and len(skus) == 8

    core = skus.iloc[0]
    assert (core.service_id, core.service_name, core.resource_family, core.usage_type) == (
        COMPUTE, "Compute Engine", "Compute", "OnDemand")
    assert core.service_regions == "us-central1,europe-west1"
    assert (core.usage_unit, core.usage_unit_description, core.currency) == ("h", "hour", "USD")
    assert core.unit_price == Decimal("0.031611")
    assert core.effective_time == pd.Timestamp("2026-10-01", tz="UTC")
    assert skus["unit_price"].iloc[:7].sum() == Decimal("0.221277")  # 7 x 0.031611, exactly

    egress = skus.set_index("sku_id").loc["CAFE-0000-0001"]
    assert (egress.unit_price, egress.tier_start_amount, egress.tier_count) == (Decimal(0), Decimal(0), 3)
    assert egress.service_regions == "global"

    calls = [r for r in api.requests if r.path.endswith("/skus")]
    assert [r.path for r in calls] == [f"/v1/services/{COMPUTE}/skus"] * 3
    assert "pageToken" not in calls[0].query and all("pageToken" in c.query for c in calls[1:])
    assert all(c.query["currencyCode"] == ["USD"] and c.query["pageSize"] == ["5000"] for c in calls)
    assert all("authorization" not in c.headers for c in calls)  # anonymous over plain HTTP


def test_units_and_nanos_make_an_exact_decimal(api):
    [frame] = _skus(api, STORAGE)
    prices = dict(zip(frame["sku_id"], frame["unit_price"]))
    assert prices == {"E5F0-6A5D-7BAD": Decimal("0.012345"),  # units "0", nanos 12345000
                      "1111-2222-3333": Decimal("123456789012.999999999")}
    assert frame.set_index("sku_id").loc["1111-2222-3333", "tier_start_amount"] == Decimal("0.5")


def test_a_service_by_display_name_and_another_currency(api):
    [frame] = _skus(api, "cloud storage", currency="EUR", page_size=10)
    assert frame["currency"].tolist() == ["EUR", "EUR"]
    assert frame["unit_price"].tolist() == [Decimal("0.0111105"), Decimal("111111110111.699999999")]
    assert frame["service_id"].tolist() == [STORAGE, STORAGE]
    last = api.requests[-1]
    assert last.path == f"/v1/services/{STORAGE}/skus" and last.query["currencyCode"] == ["EUR"]


def test_a_service_without_skus_is_one_empty_frame(api):
    [frame] = _skus(api, f"services/{BIGQUERY}")
    assert frame.empty and frame["unit_price"].dtype == MONEY


def test_services_page_by_page(api):
    frames = list(list_services(endpoint=api.url, page_size=2, timeout_seconds=5))
    assert [len(f) for f in frames] == [2, 1]
    services = pd.concat(frames, ignore_index=True)
    assert list(services.columns) == ["service_id", "display_name", "business_entity_name", "name"]
    assert services["display_name"].tolist() == ["Compute Engine", "Cloud Storage", "BigQuery"]
    assert services["name"].iloc[0] == f"services/{COMPUTE}" and services["service_id"].dtype == STRING


@pytest.mark.parametrize("service", ["0000-0000-0000", "No Such Service"])
def test_an_unknown_service_is_not_found_naming_it(api, service):
    with pytest.raises(NotFound) as info:
        next(_skus(api, service))
    assert info.value.target == service and service in str(info.value)


def test_forbidden_is_permission_denied_with_the_sdk_error_chained(api):
    api.fail_next(403)
    with pytest.raises(PermissionDenied, match="The caller does not have permission") as info:
        next(_skus(api, COMPUTE))
    assert isinstance(info.value.__cause__, gapi.Forbidden)
    assert len(api.requests) == 1  # not retried


def test_throttling_is_retried_then_reported(api):
    api.fail_next(429)
    assert len(next(_skus(api, COMPUTE))) == 3
    assert len(api.requests) == 2

    api.fail_next(429)
    with pytest.raises(Throttled):
        next(_skus(api, COMPUTE, retry=NO_RETRY))


@pytest.mark.parametrize("kwargs, target", [
    ({"service": ""}, "service"),
    ({"currency": "usd"}, "currency"),
    ({"page_size": 0}, "page_size"),
    ({"page_size": 5001}, "page_size"),
    ({"endpoint": "http://billing.example.com"}, "endpoint"),
    ({"endpoint": "ftp://127.0.0.1"}, "endpoint"),
])
def test_bad_arguments_are_refused_when_called_naming_the_argument(kwargs, target):
    args = {"service": COMPUTE, "endpoint": "http://127.0.0.1:1", **kwargs}
    with pytest.raises(InvalidInput) as info:
        list_skus(args.pop("service"), **args)
    assert info.value.target == target


def test_real_credentials_are_never_sent_over_plain_http():
    from google.oauth2.credentials import Credentials

    with pytest.raises(InvalidInput) as info:
        list_skus(COMPUTE, endpoint="http://127.0.0.1:1", credentials=Credentials(token="secret-token"))
    assert info.value.target == "credentials" and "secret-token" not in str(info.value)
