"""The costs flow end to end: exports in the three emulated clouds, a real Prefect server, the
FOCUS dataset in S3. Reconciliation, partitions, restatements, quarantine, reports."""

from __future__ import annotations

import asyncio
import io
import json
import re
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pacsv
import pytest
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey
from prefect.client.schemas.sorting import ArtifactSort

from flows.costs import costs
from multicloud.clouds import create_bucket, open_store
from multicloud.engine import dataset as ds
from multicloud.config import CostsConfig, CostSource
from multicloud.core.costs import focus
from multicloud.core.costs.decisions import ReconciliationFailed
from multicloud.testing import cost_samples as samples
from multicloud.testing.fakes.fake_costmanagement import FakeCostManagement
from tests.support import PNG_SIGNATURE, drain_cost_explorer_queue, http_get, unique_name, upload

AS_OF = date(2026, 10, 31)


@pytest.fixture(scope="module")
def buckets(local_profile):
    names = {"s3": unique_name("costs"), "az": unique_name("costs"), "gs": unique_name("costs")}
    for scheme, cloud in (("s3", "aws"), ("az", "azure"), ("gs", "gcp")):
        create_bucket(local_profile.connection_for(cloud), names[scheme])
    return names


def seed(kind: str, scheme: str, bucket: str, tmp: Path, profile, **options) -> tuple[str, samples.SampleExport]:
    local = tmp / unique_name("e")
    export = samples.write_export(kind, options.pop("rows", 3_000), local, chunk_rows=1_000, **options)
    url = f"{scheme}://{bucket}/{unique_name('src')}"
    upload(local, url, profile)
    return url, export


def source(name: str, kind: str, url: str) -> CostSource:
    if kind == "azure-cost-details":
        return CostSource(name=name, kind=kind, url=f"{url}/actual", amortized_url=f"{url}/amortized")
    return CostSource(name=name, kind=kind, url=url)


async def artifact(key: str):
    async with get_client() as client:
        found = await client.read_artifacts(artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=[key])),
                                            sort=ArtifactSort.CREATED_DESC, limit=1)
        return found[0] if found else None


def partition_rows(store, provider: str, period: str = "2026-10") -> pa.Table:
    return pa.concat_tables(list(ds.read_partition(store, provider, period)))


def test_three_clouds_to_one_reconciled_focus_dataset_with_reports(buckets, local_profile, tmp_path):
    aws_url, aws = seed("aws-cur", "s3", buckets["s3"], tmp_path, local_profile)
    az_url, az = seed("azure-ea", "az", buckets["az"], tmp_path, local_profile)
    gcp_url, gcp = seed("gcp-standard", "gs", buckets["gs"], tmp_path, local_profile)
    dataset = f"s3://{buckets['s3']}/{unique_name('focus')}"
    config = CostsConfig(sources=[source("aws", "aws-cur", aws_url), source("azure", "azure-cost-details", az_url),
                                  source("gcp", "gcp-billing-export", gcp_url)],
                         dataset=dataset, tag_keys=["team"])
    result = costs(config=config, profile="local", as_of=AS_OF)
    assert sorted(result["partitions"]) == ["aws/2026-10", "azure/2026-10", "gcp/2026-10"]
    assert result["quarantined"] == 0
    store = open_store(dataset, profile=local_profile)
    rows = {p: partition_rows(store, p) for p in ("aws", "azure", "gcp")}
    assert rows["aws"].num_rows == aws.rows and rows["gcp"].num_rows == gcp.rows
    for provider, export in (("aws", aws), ("azure", az), ("gcp", gcp)):
        table = rows[provider]
        assert focus.validate(table.select([c.name for c in focus.COLUMNS])) == []
        billed = {}
        for r in table.group_by(["ProviderName", "BillingAccountId", "BillingCurrency"]).aggregate(
                [("BilledCost", "sum")]).to_pylist():
            billed[(r["ProviderName"], r["BillingAccountId"], "2026-10", r["BillingCurrency"])] = r["BilledCost_sum"]
        assert billed == export.billed  # stored, read back, to the last digit

    reconciliation = asyncio.run(artifact("costs-reconciliation"))
    recon_rows = json.loads(reconciliation.data)
    assert len(recon_rows) == 6 and {r["status"] for r in recon_rows} == {"ok"}
    assert {r["currency"] for r in recon_rows} == {"USD", "EUR"}
    summary = asyncio.run(artifact("costs-summary")).data
    assert "**Reconciled**" in summary and "## Anomalies" in summary and "Month to date" in summary
    links = dict(line[3:].rstrip(")").split("](") for line in summary.splitlines() if line.startswith("- ["))
    # Every file link opens in a browser as it is (presigned S3 GET, no credentials): charts are PNGs.
    charts = ("daily-cost-by-provider-USD.png", "daily-cost-by-provider-EUR.png", "top-10-services-USD.png",
              "top-10-services-EUR.png")  # one pair per currency (the Azure EA sample bills one account in EUR)
    for name in charts:
        body, content_type = http_get(links[name])
        assert body[:8] == PNG_SIGNATURE and content_type == "image/png"
    shown = asyncio.run(artifact("costs-charts")).data
    assert [f"![{name}]({links[name]})" in shown for name in charts] == [True] * 4
    image = asyncio.run(artifact("costs-charts-daily-cost-by-provider-usd"))
    assert image.type == "image" and http_get(image.data)[0][:8] == PNG_SIGNATURE
    daily = pacsv.read_csv(io.BytesIO(http_get(links["daily-cost.csv"])[0]))
    total = sum(Decimal(str(v)) for v in daily.column("BilledCost").to_pylist())
    assert total == sum(aws.billed.values()) + sum(az.billed.values()) + sum(gcp.billed.values())
    tags = json.loads(asyncio.run(artifact("costs-by-tag-team")).data)
    assert "payments" in {r["tag_value"] for r in tags}
    cents = re.compile(r"^-?\d+\.\d{2}$")  # money in row tables at cents; the CSV keeps every digit
    assert all(cents.match(r["BilledCost"]) and cents.match(r["EffectiveCost"]) for r in tags)
    mtd = json.loads(asyncio.run(artifact("costs-month-to-date")).data)
    assert mtd and all(cents.match(str(r[c])) for r in mtd for c in ("month_to_date", "daily_run_rate", "forecast"))
    assert all(cents.match(r["source_total"]) for r in recon_rows)
    assert {r["difference"] for r in recon_rows} == {"0"}  # exact, not rounded
    assert "Dataset published: every total reconciled." in summary


def test_a_restated_month_replaces_its_partition_without_duplicates(buckets, local_profile, tmp_path):
    local = tmp_path / "cur"
    samples.write_export("aws-cur", 2_000, local, seed=9)
    url = f"s3://{buckets['s3']}/{unique_name('src')}"
    upload(local, url, local_profile)
    dataset = f"s3://{buckets['s3']}/{unique_name('focus')}"
    config = CostsConfig(sources=[source("aws", "aws-cur", url)], dataset=dataset)
    costs(config=config, profile="local", as_of=AS_OF)
    store = open_store(dataset, profile=local_profile)
    first = ds.current(store, "aws", "2026-10")

    restated = samples.write_export("aws-cur", 2_500, local, seed=9, restated=True)
    upload(local, url, local_profile)
    costs(config=config, profile="local", as_of=AS_OF)
    second = ds.current(store, "aws", "2026-10")
    assert second["run"] != first["run"]
    table = partition_rows(store, "aws")
    assert table.num_rows == 2_500
    billed = sum(r["BilledCost_sum"] for r in table.group_by("BillingAccountId").aggregate([("BilledCost", "sum")]).to_pylist())
    assert billed == sum(restated.billed.values())
    keys = {m.key for m in store.list("provider=aws/")}
    assert not any(first["run"] in k for k in keys)  # the replaced run's files are gone


def test_money_lost_between_exports_fails_the_run_and_publishes_nothing(buckets, local_profile, tmp_path):
    local = tmp_path / "az"
    samples.write_export("azure-mca", 1_000, local, seed=4)
    # The amortized export disagrees with the actual one on an on-demand row: money appeared.
    amortized = next(local.rglob("amortized/**/*.csv"))
    table = pacsv.read_csv(amortized, convert_options=pacsv.ConvertOptions(
        column_types={n: pa.string() for n in samples.AZURE_MCA_COLUMNS}))
    costs_ = table.column("costInBillingCurrency").to_pylist()
    models = table.column("pricingModel").to_pylist()
    row = models.index("OnDemand")
    costs_[row] = str(Decimal(costs_[row]) + Decimal("0.25"))
    table = table.set_column(table.column_names.index("costInBillingCurrency"), "costInBillingCurrency", pa.array(costs_))
    pacsv.write_csv(table, amortized)
    url = f"az://{buckets['az']}/{unique_name('src')}"
    upload(local, url, local_profile)
    dataset = f"s3://{buckets['s3']}/{unique_name('focus')}"
    config = CostsConfig(sources=[source("azure", "azure-cost-details", url)], dataset=dataset)
    with pytest.raises(ReconciliationFailed, match=r"difference -0\.25"):
        costs(config=config, profile="local", as_of=AS_OF)
    assert ds.partitions(open_store(dataset, profile=local_profile)) == []
    assert list(open_store(dataset, profile=local_profile).list("provider=")) == []  # what it staged is removed
    recon = json.loads(asyncio.run(artifact("costs-reconciliation")).data)
    assert "mismatch" in {r["status"] for r in recon}
    assert "**Reconciliation failed**" in asyncio.run(artifact("costs-summary")).data


def test_quarantined_rows_are_counted_uploaded_and_reconciled(buckets, local_profile, tmp_path):
    url, export = seed("aws-cur", "s3", buckets["s3"], tmp_path, local_profile, rows=1_500, bad_rows=("date",))
    dataset = f"s3://{buckets['s3']}/{unique_name('focus')}"
    result = costs(config=CostsConfig(sources=[source("aws", "aws-cur", url)], dataset=dataset), profile="local",
                   as_of=AS_OF)
    assert result["quarantined"] == 1 and result["rows"] == 1_499
    store = open_store(dataset, profile=local_profile)
    [meta] = list(store.list("quarantine/"))
    with store.open(meta.key) as f:
        [entry] = [json.loads(line) for line in f.read().decode().splitlines()]
    (key, line, column, value), = export.bad_rows
    assert entry["file"] == key and entry["line"] == line and "line_item_usage_start_date" in entry["reason"]
    recon = json.loads(asyncio.run(artifact("costs-reconciliation")).data)
    assert {r["status"] for r in recon} == {"ok"}
    assert sum(Decimal(r["quarantined_total"]) for r in recon) > 0
    assert "(quarantine)" in asyncio.run(artifact("costs-summary")).data


def test_unreadable_money_publishes_the_readable_rows_and_fails_loudly(buckets, local_profile, tmp_path):
    url, export = seed("aws-cur", "s3", buckets["s3"], tmp_path, local_profile, rows=1_000, bad_rows=("cost",))
    dataset = f"s3://{buckets['s3']}/{unique_name('focus')}"
    with pytest.raises(ReconciliationFailed, match="cannot be proven"):
        costs(config=CostsConfig(sources=[source("aws", "aws-cur", url)], dataset=dataset), profile="local", as_of=AS_OF)
    assert partition_rows(open_store(dataset, profile=local_profile), "aws").num_rows == 999


def test_bad_config_names_the_field(tmp_path):
    path = tmp_path / "costs.yaml"
    path.write_text("sources:\n  - name: a\n    kind: aws-cur\n    url: s3://b/p\n    periods: ['2026-13']\ndataset: s3://d\n")
    from multicloud.core.errors import InvalidInput
    with pytest.raises(InvalidInput, match="2026-13"):
        costs(config_file=str(path))


def _queue_monthly_total(profile, period: str, amount: str) -> None:
    """What Cost Explorer (moto) answers to the next MONTHLY UnblendedCost request it has not seen."""
    import requests

    start = date.fromisoformat(f"{period}-01")
    end = (start.replace(day=28) + timedelta(days=4)).replace(day=1)
    result = {"ResultsByTime": [{"TimePeriod": {"Start": str(start), "End": str(end)}, "Estimated": False, "Groups": [],
                                 "Total": {"UnblendedCost": {"Amount": amount, "Unit": "USD"}}}],
              "DimensionValueAttributes": []}
    drain_cost_explorer_queue(profile.connection_for("aws"))
    endpoint = profile.connection_for("aws").endpoint
    resp = requests.post(f"{endpoint}/moto-api/static/ce/cost-and-usage-results", json={"results": [result]}, timeout=10)
    assert resp.status_code == 201


@pytest.mark.parametrize("period,offset,status", [("2024-03", "0", "agrees"), ("2024-04", "1.00", "differs")])
def test_totals_are_compared_with_the_providers_own_spend_api(period, offset, status, buckets, local_profile, tmp_path):
    # Each period is its own Cost Explorer request; the samples are deterministic, so a moto that
    # already answered it (a reused local stack) answers with the same total.
    url, export = seed("aws-cur", "s3", buckets["s3"], tmp_path, local_profile, rows=1_000, period=period, seed=11)
    payer = "111122223333"
    total = export.billed[("AWS", payer, period, "USD")] + Decimal(offset)
    _queue_monthly_total(local_profile, period, f"{total:f}")
    config = CostsConfig(sources=[source("aws", "aws-cur", url)], dataset=f"s3://{buckets['s3']}/{unique_name('focus')}",
                         provider_totals=[{"kind": "aws-cost-explorer", "billing_account": payer}])
    result = costs(config=config, profile="local", as_of=date.fromisoformat(f"{period}-28"))
    assert result["provider_totals"] == {f"AWS/{payer}/{period}": status}  # a difference warns, it does not fail
    rows = json.loads(asyncio.run(artifact("costs-provider-totals")).data)
    assert [(r["billing_period"], r["status"]) for r in rows] == [(period, status)]


def test_two_sources_billing_the_same_account_are_refused_before_anything_is_stored(buckets, local_profile, tmp_path):
    url, _ = seed("aws-cur", "s3", buckets["s3"], tmp_path, local_profile, rows=500)
    dataset = f"s3://{buckets['s3']}/{unique_name('focus')}"
    config = CostsConfig(sources=[source("cur-a", "aws-cur", url), source("cur-b", "aws-cur", url)], dataset=dataset)
    from multicloud.core.errors import InvalidInput
    with pytest.raises(InvalidInput, match="both bill account '111122223333'"):
        costs(config=config, profile="local", as_of=AS_OF)
    assert list(open_store(dataset, profile=local_profile).list("provider=")) == []  # both staged, both removed


def test_a_partition_is_not_replaced_by_a_run_that_lacks_one_of_its_sources(buckets, local_profile, tmp_path):
    url, _ = seed("aws-cur", "s3", buckets["s3"], tmp_path, local_profile, rows=500)
    dataset = f"s3://{buckets['s3']}/{unique_name('focus')}"
    costs(config=CostsConfig(sources=[source("cur-a", "aws-cur", url)], dataset=dataset), profile="local", as_of=AS_OF)
    store = open_store(dataset, profile=local_profile)
    before = ds.current(store, "aws", "2026-10")
    assert before["sources"] == {"cur-a": ["111122223333", "444455556666"]}
    from multicloud.core.errors import InvalidInput
    with pytest.raises(InvalidInput, match=r"source\(s\) \['cur-a'\]"):
        costs(config=CostsConfig(sources=[source("cur-renamed", "aws-cur", url)], dataset=dataset), profile="local",
              as_of=AS_OF)
    assert ds.current(store, "aws", "2026-10") == before
    assert sorted(m.key.rsplit("/", 1)[1] for m in store.list("provider=aws/")) == sorted(
        [k.rsplit("/", 1)[1] for k in before["files"]] + [before["daily"].rsplit("/", 1)[1], "_current.json"])


def test_the_summary_reports_focus_checks_per_source(buckets, local_profile, tmp_path):
    url, _ = seed("aws-cur", "s3", buckets["s3"], tmp_path, local_profile, rows=300)
    costs(config=CostsConfig(sources=[source("aws", "aws-cur", url)], dataset=f"s3://{buckets['s3']}/{unique_name('f')}"),
          profile="local", as_of=AS_OF)
    summary = asyncio.run(artifact("costs-summary")).data
    assert "| FOCUS check failures |" in summary and "| none |" in summary


@pytest.fixture(scope="module")
def cost_management():
    with FakeCostManagement(page_size=1) as fake:
        yield fake


@pytest.mark.parametrize("metric,offset,fault,status", [
    ("ActualCost", "0", None, "agrees"), ("ActualCost", "1.00", None, "differs"),
    ("AmortizedCost", "0", None, "agrees"), ("ActualCost", "0", 403, "unavailable"),
])
def test_azure_totals_are_compared_with_cost_management_query(metric, offset, fault, status, cost_management, buckets,
                                                              local_profile, tmp_path):
    url, export = seed("azure-mca", "az", buckets["az"], tmp_path, local_profile, rows=1_000, seed=4)
    account = "BP-8611537"
    [(key, total)] = [(k, v) for k, v in (export.amortized if metric == "AmortizedCost" else export.billed).items()
                      if k[1] == account]
    scope = f"/providers/Microsoft.Billing/billingAccounts/{unique_name('ba')}/billingProfiles/{account}"
    # Two records in the month (the API's total is a sum it made) and one after it (left out).
    half = (total / 2).quantize(Decimal("0.000000001"))
    cost_management.add_costs(scope, [
        {"date": date(2026, 10, 3), "Cost": "0", "AmortizedCost": "0", "Currency": key[3]} | {
            "Cost" if metric == "ActualCost" else "AmortizedCost": str(half)},
        {"date": date(2026, 10, 20), "Cost": "0", "AmortizedCost": "0", "Currency": key[3]} | {
            "Cost" if metric == "ActualCost" else "AmortizedCost": str(total - half + Decimal(offset))},
        {"date": date(2026, 11, 1), "Cost": "999", "AmortizedCost": "999", "Currency": key[3]},  # the next month
    ])
    if fault:
        cost_management.fail_next(fault)
    asked = len(cost_management.queries())
    config = CostsConfig(sources=[source("azure", "azure-cost-details", url)],
                         dataset=f"s3://{buckets['s3']}/{unique_name('focus')}",
                         provider_totals=[{"kind": "azure-cost-management", "billing_account": account, "scope": scope,
                                           "metric": metric, "api_endpoint": cost_management.url}])
    result = costs(config=config, profile="local", as_of=AS_OF)
    assert result["provider_totals"] == {f"Microsoft/{account}/2026-10": status}  # a difference warns, not fails
    [row] = json.loads(asyncio.run(artifact("costs-provider-totals")).data)
    assert (row["currency"], row["metric"], row["status"]) == (key[3], metric, status)
    assert row["compared"] == ("Σ EffectiveCost (stored)" if metric == "AmortizedCost" else "Σ BilledCost (source)")
    assert row["run_total"] == f"{total.quantize(Decimal('0.01'))}"
    if status != "unavailable":
        assert Decimal(row["difference"]) == -Decimal(offset)  # exact, not rounded
        assert row["provider_total"] == f"{(total + Decimal(offset)).quantize(Decimal('0.01'))}"
    [query] = cost_management.queries()[asked:]
    assert query.body["type"] == metric and "granularity" not in query.body["dataset"]
    assert query.body["timePeriod"] == {"from": "2026-10-01T00:00:00Z", "to": "2026-10-31T23:59:59Z"}


def test_a_failed_ingest_leaves_nothing_staged_by_the_others(buckets, local_profile, tmp_path):
    url, _ = seed("aws-cur", "s3", buckets["s3"], tmp_path, local_profile, rows=300)
    missing = f"s3://{buckets['s3']}/{unique_name('nothing-here')}"
    dataset = f"s3://{buckets['s3']}/{unique_name('focus')}"
    config = CostsConfig(sources=[source("aws", "aws-cur", url), source("gone", "aws-cur", missing)], dataset=dataset)
    from multicloud.core.errors import NotFound
    with pytest.raises(NotFound):
        costs(config=config, profile="local", as_of=AS_OF)
    assert list(open_store(dataset, profile=local_profile).list("")) == []
