"""Cost aggregation: every configured billing export (AWS, Azure, Google Cloud) to one FOCUS 1.2
dataset, reconciled to the cent against each source's own totals, then reported with charts.
A period ingested again replaces its partition: a restated month never doubles."""

from __future__ import annotations

from datetime import date, datetime, timezone

from prefect import flow, get_run_logger
from prefect.artifacts import create_progress_artifact, update_progress_artifact
from prefect.futures import as_completed
from prefect.runtime import flow_run

from multicloud.engine import dataset as ds
from multicloud.config import CostsConfig, load_costs_config
from multicloud.core.errors import InvalidInput
from tasks.costs import (
    build_reports, compare_provider_totals, ingest_source, publish_dataset, reconcile_totals, upload_quarantine,
)


class ReconciliationFailed(Exception):
    """Stored FOCUS totals differ from a source's own total."""


@flow(name="costs", log_prints=True)
def costs(config_file: str | None = None, config: CostsConfig | None = None, profile: str | None = None,
          as_of: date | None = None) -> dict:
    """Ingest → reconcile → publish → report. `config` inline, or `config_file` (YAML); `as_of`
    is the day reports look back from (default: today, UTC)."""
    logger = get_run_logger()
    if config is None:
        if not config_file:
            raise InvalidInput("give `config` or `config_file`", target="parameters")
        config = load_costs_config(config_file)
    as_of = as_of or datetime.now(timezone.utc).date()
    run = f"{datetime.now(timezone.utc):%Y%m%dT%H%M%S}-{(flow_run.get_id() or 'local')[:8]}"
    spool = ds.new_spool_dir()
    try:
        futures = [ingest_source.submit(source, str(spool), source.name, profile) for source in config.sources]
        progress = create_progress_artifact(0.0, description=f"costs: sources ingested of {len(futures)}")
        for done, _ in enumerate(as_completed(futures), start=1):
            update_progress_artifact(progress, 100.0 * done / len(futures))
        results = [f.result() for f in futures]
        table = reconcile_totals(results, str(spool))
        quarantined = sum(r.rows_quarantined for r in results)
        quarantine_urls = upload_quarantine(config.dataset, results, run, profile) if quarantined else []
        # Money that appeared or vanished on the way: nothing is published. Money the source itself
        # holds unreadably (quarantined rows): the readable rows are published, and the run fails.
        mismatched = table[table["status"] == "mismatch"]
        unproven = table[table["status"] == "unproven"]
        refused = None
        if len(mismatched) == 0 and not (config.fail_on_quarantine and quarantined):
            try:
                published = publish_dataset(config.dataset, str(spool), run, profile)
            except InvalidInput as exc:  # sources overlap, or a stored source is missing: nothing uploaded
                refused, published = exc, []
                logger.error("dataset not updated: %s", exc)
        else:
            published = []
            logger.error("dataset not updated: %s", "reconciliation failed" if len(mismatched) else "rows were quarantined")
        provider = compare_provider_totals(config, table, profile) if config.provider_totals else None
        build_reports(config, results, table, str(spool), run, as_of, profile, quarantine_urls)
        if refused is not None:
            raise refused
        if len(mismatched):
            keys = ", ".join(f"{r.provider}/{r.billing_account}/{r.billing_period}/{r.currency} "
                             f"(difference {r.difference:f})" for r in mismatched.itertuples())
            raise ReconciliationFailed(f"{len(mismatched)} total(s) do not match their source: {keys}")
        if len(unproven):
            keys = ", ".join(f"{r.provider}/{r.billing_account}/{r.billing_period}/{r.currency} "
                             f"({r.unreadable_rows} row(s))" for r in unproven.itertuples())
            raise ReconciliationFailed(f"totals cannot be proven: rows with unreadable money were quarantined "
                                       f"for {keys}; see {', '.join(quarantine_urls)}")
        if config.fail_on_quarantine and quarantined:
            raise InvalidInput(f"{quarantined} row(s) quarantined: {', '.join(quarantine_urls)}", target="sources")
        return {"run": run, "rows": sum(r.rows_written for r in results), "quarantined": quarantined,
                "partitions": [f"{p.provider}/{p.period}" for p in published],
                "reconciled": len(table),
                "provider_totals": {} if provider is None else dict(zip(
                    (f"{r.provider}/{r.billing_account}/{r.billing_period}" for r in provider.itertuples()),
                    provider["status"]))}
    finally:
        ds.remove_spool(spool)


if __name__ == "__main__":
    import sys

    print(costs(config_file=sys.argv[1] if len(sys.argv) > 1 else "deployments/costs/costs.yaml"))
