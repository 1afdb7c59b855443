"""The closed loop with the real Prometheus and Alertmanager: the primary stand-in's health stops,
SiteDown fires, Alertmanager delivers it to the receiver (once with the right token, once with a
wrong one), the Prefect automation starts exactly one failover run, and it completes; Prometheus
serves a metric of every pipeline."""

from __future__ import annotations

import io
import time
import uuid
from datetime import datetime, timezone
from decimal import Decimal

import pytest

from multicloud.clouds import open_store
from multicloud.config import load_plans
from multicloud.core import metrics as m
from multicloud.core.rightsizing.evaluate import Outcome, Resource
from multicloud.core.rightsizing.findings import Finding
from multicloud.engine.metrics import publish
from deployments.loop import PLAN, ClosedLoop, LoopSettings, fail_primary, missing_tools, runs_of_loop_deployment
from tests.support import unique_name

SETTINGS = LoopSettings()


@pytest.fixture
def loop(prefect_api, local_profile, tmp_path, monkeypatch):
    missing = missing_tools()
    if missing:
        pytest.skip(f"NOT RUN: the closed loop needs the Debian package(s) {', '.join(missing)} "
                    "(`make tools` installs them as root: apt-get install -y prometheus prometheus-alertmanager)")
    with ClosedLoop(tmp_path, prefect_api, local_profile, unique_name("loop"), {"MULTICLOUD_PROFILE": "local"},
                    SETTINGS) as running:
        monkeypatch.setenv("MULTICLOUD_METRICS_URL", running.metrics_url)
        yield running


def publish_other_pipelines(loop: ClosedLoop, now: datetime) -> None:
    """Backup, drill, costs and rightsizing reports of the shape their flows give, through the store."""
    store = open_store(loop.metrics_url, loop.profile)
    backup = {"plan": "orders", "snapshot": "ab" * 32, "failure": None,
              "repositories": [{"repository": "az://b/", "status": "published", "new bytes": 4096,
                                "dedup ratio": "2.50"}]}
    freshness = {"plan": "orders", "time": "2026-03-01T10:00:00.5+01:00", "age hours": 2.0, "state": "fresh"}
    month = [{"currency": "USD", "group": "AWS", "month_to_date": Decimal("12.34"), "forecast": Decimal("40.00")}]
    keys = [{"provider": "AWS", "billing_account": "1", "billing_period": "2026-03", "currency": "USD",
             "status": "ok"}]
    finding = Finding(Outcome("idle-vm", "i-1", "aws", "vm", "finding", "idle", "idle", "stop", "ours"),
                      Resource("aws", "i-1", "vm"), monthly_effective_savings=Decimal("9.50"))
    for report in (m.backup_metrics(backup, now), m.drill_metrics(freshness, {"result": "ok", "restore seconds": 1.5}, now),
                   m.costs_metrics("s3://focus/", month, keys, now), m.rightsizing_metrics("loop", [finding], now)):
        publish(store, report)


def test_site_down_starts_exactly_one_failover_that_completes(loop: ClosedLoop) -> None:
    from flows.replicate import replicate

    plan = load_plans(loop.plans_file).plan(PLAN, str(loop.plans_file))
    source = open_store(plan.datasets[0].urls["primary"], loop.profile)
    for i in range(5):
        source.write(f"order-{i}", io.BytesIO(b"o" * 10), size=10)
    rule = f"{loop.tag}-orders"
    replicate(rules_file=str(loop.plans_rules()), rule_name=rule, profile="local")
    publish_other_pipelines(loop, datetime.now(timezone.utc))
    passed = fail_primary(loop)
    alert = loop.wait_for('ALERTS{alertname="SiteDown", alertstate="firing"}')

    run = passed.run
    assert run.state.is_completed(), run.state
    assert passed.site_down_to_validated_seconds is not None
    print(f"\nsite down -> validated failover: {passed.site_down_to_validated_seconds:.1f} s (scrape and "
          f"evaluation every {SETTINGS.evaluation_interval}, SiteDown for {SETTINGS.site_down_for}, "
          f"group_wait {SETTINGS.group_wait})")
    assert alert[0]["metric"]["site"] == "primary"
    assert loop.sites["primary"].state["mode"] == "read-only"

    # Alertmanager also sent the notification with a wrong token: refused, and nothing more started.
    rejected = loop.wait_for('multicloud_alerts_rejected_total{reason="unauthorized"} > 0')
    assert float(rejected[0]["value"][1]) >= 1
    time.sleep(6)  # past group_interval: a repeat delivery would have come by now
    assert [r.id for r in runs_of_loop_deployment()] == [run.id]
    assert float(loop.wait_for("multicloud_alerts_triggered_total")[0]["value"][1]) == 1

    # One metric of every pipeline, scraped by Prometheus from the exporter.
    rto = loop.wait_for(f'multicloud_failover_rto_seconds{{plan="{PLAN}"}}')
    assert float(rto[0]["value"][1]) > 0
    copied = loop.wait_for(f'multicloud_replication_objects_copied_total{{rule="{rule}"}}')
    assert float(copied[0]["value"][1]) == 5
    rpo = loop.wait_for(f'multicloud_replication_rpo_seconds{{rule="{rule}"}}')
    assert rpo[0]["metric"]["plan"] == PLAN and float(rpo[0]["value"][1]) == plan.rpo_seconds
    for query, value in (('multicloud_backup_dedup_ratio{plan="orders"}', 2.5),
                         ('multicloud_backup_newest_verified_snapshot_age_seconds{plan="orders"}', 7200),
                         ('multicloud_costs_month_to_date{provider="AWS", currency="USD"}', 12.34),
                         ('multicloud_rightsizing_monthly_savings{cloud="aws", kind="vm"}', 9.5)):
        assert float(loop.wait_for(query)[0]["value"][1]) == value, query
    assert loop.wait_for(f'multicloud_failover_last_run_timestamp_seconds{{plan="{PLAN}"}}')
    assert uuid.UUID(passed.failover_id)
