"""Which samples each pipeline's result gives, how a run folds into the stored document, the RPO
objectives, and the text exposition of them (prometheus_client's own format)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from decimal import Decimal

from multicloud.core import metrics as m
from multicloud.core.rightsizing.evaluate import Outcome, Resource
from multicloud.core.rightsizing.findings import Finding
from multicloud.engine.metrics import exposition
from tests.support import parse_metrics

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=timezone.utc)


def values(doc: m.StoredMetrics) -> dict[str, float]:
    return {s.family + "{" + ",".join(f'{k}="{v}"' for k, v in s.labels) + "}": s.value for s in doc.samples}


def row(target: str, copied: int, failed: int = 0, lag: float = 1.5) -> dict:
    return {"target": target, "copied": copied, "bytes": copied * 100, "failed": failed, "lag_seconds": lag,
            "listing_errors": 0}


def test_replication_counters_add_up_and_the_last_success_stays_through_a_failed_run() -> None:
    first = m.fold(None, m.replication_metrics("r", [row("az://a/", 3)], T0))
    second = m.fold(first, m.replication_metrics("r", [row("az://a/", 2, failed=1, lag=90)], T0 + timedelta(hours=1)))

    got = values(second)
    assert got['multicloud_replication_objects_copied_total{rule="r",target="az://a/"}'] == 5
    assert got['multicloud_replication_bytes_copied_total{rule="r",target="az://a/"}'] == 500
    assert got['multicloud_replication_failures_total{rule="r",target="az://a/"}'] == 1
    assert got['multicloud_replication_lag_seconds{rule="r",target="az://a/"}'] == 90  # a gauge: the last run's
    assert got['multicloud_replication_last_run_success{rule="r"}'] == 0
    assert got['multicloud_replication_last_run_timestamp_seconds{rule="r"}'] == (T0 + timedelta(hours=1)).timestamp()
    assert got['multicloud_replication_last_success_timestamp_seconds{rule="r"}'] == T0.timestamp()


def test_a_target_no_longer_in_the_rule_keeps_its_counters_but_not_its_lag() -> None:
    first = m.fold(None, m.replication_metrics("r", [row("az://a/", 3), row("gs://b/", 4)], T0))
    second = m.fold(first, m.replication_metrics("r", [row("az://a/", 1)], T0))
    got = values(second)
    assert got['multicloud_replication_objects_copied_total{rule="r",target="gs://b/"}'] == 4
    assert 'multicloud_replication_lag_seconds{rule="r",target="gs://b/"}' not in got


def backup(status: str = "published", ratio: str = "2.00") -> dict:
    return {"plan": "p", "snapshot": "ab" * 32, "failure": None if status == "published" else "no snapshot",
            "repositories": [{"repository": "az://r/", "status": status, "new bytes": 1000, "dedup ratio": ratio}]}


def test_backup_snapshot_time_is_kept_when_a_later_backup_fails() -> None:
    first = m.fold(None, m.backup_metrics(backup(), T0))
    second = m.fold(first, m.backup_metrics(backup("failed", "-"), T0 + timedelta(hours=4)))
    got = values(second)
    assert got['multicloud_backup_newest_snapshot_timestamp_seconds{plan="p"}'] == T0.timestamp()
    assert got['multicloud_backup_last_run_success{plan="p"}'] == 0
    assert got['multicloud_backup_new_bytes_total{plan="p"}'] == 2000
    assert 'multicloud_backup_dedup_ratio{plan="p"}' not in got  # "-": nothing new, no ratio


def test_drill_gives_the_verified_snapshot_time_and_a_failed_drill_keeps_it() -> None:
    fresh = {"plan": "p", "time": "2026-03-01T10:00:00.250+01:00", "age hours": 3.0, "state": "fresh"}
    failed = {"plan": "p", "time": "", "age hours": None, "state": "stale: no verified snapshot"}
    first = m.fold(None, m.drill_metrics(fresh, {"result": "ok", "restore seconds": 0.5}, T0))
    second = m.fold(first, m.drill_metrics(failed, {"result": "drill failed", "restore seconds": None}, T0))
    got = values(second)
    assert got['multicloud_backup_newest_verified_snapshot_timestamp_seconds{plan="p"}'] == datetime(
        2026, 3, 1, 9, 0, 0, 250000, tzinfo=timezone.utc).timestamp()
    assert got['multicloud_backup_newest_verified_snapshot_age_seconds{plan="p"}'] == 3 * 3600
    assert got['multicloud_backup_drill_success{plan="p"}'] == 0
    assert 'multicloud_backup_drill_restore_seconds{plan="p"}' not in got


def test_costs_month_to_date_per_provider_and_one_status_series_per_key_and_status() -> None:
    month = [{"currency": "USD", "group": "All", "month_to_date": Decimal("30.00"), "forecast": Decimal("90")},
             {"currency": "USD", "group": "AWS", "month_to_date": Decimal("10.01"), "forecast": Decimal("31.00")},
             {"currency": "EUR", "group": "Microsoft", "month_to_date": "20.00", "forecast": "60.00"}]
    keys = [{"provider": "AWS", "billing_account": "1", "billing_period": "2026-03", "currency": "USD",
             "status": "mismatch"}]
    report = m.costs_metrics("s3://focus/", month, keys, T0)
    got = values(m.fold(None, report))
    assert not report.succeeded
    assert got['multicloud_costs_month_to_date{currency="USD",provider="AWS"}'] == 10.01
    assert got['multicloud_costs_forecast{currency="EUR",provider="Microsoft"}'] == 60
    assert not any('provider="All"' in k for k in got)  # PromQL sums providers; "All" would count twice
    key = 'billing_account="1",billing_period="2026-03",currency="USD",provider="AWS"'
    assert {s: got[f"multicloud_costs_reconciliation_status{{{key},status=\"{s}\"}}"]
            for s in m.RECONCILIATION_STATUSES} == {"ok": 0, "mismatch": 1, "unproven": 0}


def test_rightsizing_savings_per_cloud_kind_and_currency() -> None:
    def finding(cloud: str, kind: str, effective, listed=None) -> Finding:
        outcome = Outcome("rule", "id", cloud, kind, "finding", "why", "idle", "stop", "ours")
        return Finding(outcome, Resource(cloud, "id", kind), monthly_effective_savings=effective,
                       monthly_list_savings=listed)

    findings = [finding("aws", "vm", Decimal("10.5")), finding("AWS", "vm", None, Decimal("2")),
                finding("gcp", "disk", None)]
    got = values(m.fold(None, m.rightsizing_metrics("weekly", findings, T0)))
    assert got['multicloud_rightsizing_monthly_savings{cloud="aws",currency="USD",kind="vm"}'] == 12.5
    assert got['multicloud_rightsizing_monthly_savings{cloud="gcp",currency="USD",kind="disk"}'] == 0
    assert got['multicloud_rightsizing_findings{cloud="aws",kind="vm"}'] == 2


def test_failover_rto_and_rpo_and_a_stopped_run_has_no_rto() -> None:
    done = {"plan": "p", "practice": False, "completed": True, "rto_seconds": 21.5, "rpo_seconds": 0.0,
            "direction": "failover", "failover_id": "f1"}
    stopped = {**done, "completed": False, "rto_seconds": None, "rpo_seconds": None, "practice": True}
    got = values(m.fold(None, m.failover_metrics(done, T0)))
    assert got['multicloud_failover_rto_seconds{plan="p"}'] == 21.5
    assert got['multicloud_failover_rpo_seconds{plan="p"}'] == 0
    later = values(m.fold(m.fold(None, m.failover_metrics(done, T0)), m.failover_metrics(stopped, T0)))
    assert 'multicloud_failover_rto_seconds{plan="p"}' not in later
    assert later['multicloud_failover_last_run_practice{plan="p"}'] == 1
    assert later['multicloud_failover_last_success_timestamp_seconds{plan="p"}'] == T0.timestamp()


def test_rpo_objectives_match_a_rule_target_to_a_plan_data_set() -> None:
    protected = [m.ProtectedData("p1", 600, "s3://orders/", "az://orders"), m.ProtectedData("p2", 60, "s3://x", "gs://y")]
    rules = [("orders", "s3://orders", ["az://orders/", "gs://orders/"]), ("other", "s3://z/", ["gs://y/"])]
    assert m.rpo_objectives(rules, protected) == [
        m.sample("multicloud_replication_rpo_seconds", 600, rule="orders", target="az://orders/", plan="p1")]


def test_the_stored_document_round_trips_and_drops_unknown_families() -> None:
    doc = m.fold(None, m.replication_metrics("r", [row("az://a/", 3)], T0))
    data = doc.to_json()
    data["samples"].append(["multicloud_gone_metric", {"rule": "r"}, 1.0])
    assert m.StoredMetrics.from_json(data) == doc
    assert m.store_key("replication", "a/b c") == "replication/a_b_c.json"


def test_exposition_names_types_and_escapes_label_values() -> None:
    doc = m.fold(None, m.replication_metrics('odd"rule', [row("az://a/", 3)], T0))
    text = exposition(doc.samples).decode()
    assert "# TYPE multicloud_replication_objects_copied_total counter" in text
    assert "# TYPE multicloud_replication_lag_seconds gauge" in text
    assert parse_metrics(text)['multicloud_replication_objects_copied_total{rule="odd\\"rule",target="az://a/"}'] == 3
    for family in m.FAMILIES.values():  # Prometheus conventions: counters end in _total, units are base units
        assert family.name.startswith("multicloud_")
        assert family.name.endswith("_total") == (family.kind == "counter")
        assert not any(bad in family.name for bad in ("_hours", "_minutes", "_milliseconds", "_kb", "_mb"))
