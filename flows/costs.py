"""Cost aggregation: every configured billing export (AWS, Azure, Google Cloud) to one FOCUS 1.2
dataset, reconciled to the cent against each source's own totals, then reported with charts.
A period ingested again replaces its partition: a restated month never doubles."""

from __future__ import annotations

from datetime import date, datetime, timezone

from prefect import flow
from prefect.runtime import flow_run

from multicloud.config import CostsConfig, load_profile
from multicloud.config.costs import resolve_costs_config
from multicloud.core.costs.decisions import ReconciliationFailed, run_label
from multicloud.engine.cost_ingest import run_summary
from tasks.metrics import publish_metrics
from tasks.costs import (
    build_reports, collect_ingests, compare_provider_totals, decide_publication, discard_staged, ingest_source,
    publish_dataset, reconcile_totals,
)

__all__ = ["ReconciliationFailed", "costs"]


@flow(name="costs", log_prints=True)
def costs(config_file: str | None = None, config: CostsConfig | None = None, profile: str | None = None,
          as_of: date | None = None) -> dict:
    """Ingest → reconcile → decide → publish (or discard) → compare → report. `config` inline, or
    `config_file` (YAML); `as_of` is the day reports look back from (default: today, UTC)."""
    config = resolve_costs_config(config, config_file)
    connections = load_profile(profile)
    now = datetime.now(timezone.utc)
    run = run_label(now, flow_run.get_id())
    # Each source is staged in the dataset by its own task, on whichever worker runs it.
    ingests = [ingest_source.submit(source, config.dataset, run, connections, config.tag_keys)
               for source in config.sources]
    results = collect_ingests(ingests, config.dataset, connections)
    try:
        reconciliation = reconcile_totals(results)
        decision = decide_publication(config, reconciliation, results, connections)
    except Exception:  # nothing is named by a pointer yet: what was staged goes, and the error stands
        discard_staged(config.dataset, results, connections)
        raise
    if decision.publish:
        published = publish_dataset(config.dataset, results, run, connections)
    else:
        published = discard_staged(config.dataset, results, connections)
    compared = compare_provider_totals(config, reconciliation, results, connections) if config.provider_totals else None
    metrics = build_reports(config, results, reconciliation, run, as_of or now.date(), connections, decision)
    publish_metrics([metrics], connections)
    decision.raise_if_failed()
    return run_summary(run, results, published, reconciliation, compared)


if __name__ == "__main__":
    import sys

    print(costs(config_file=sys.argv[1] if len(sys.argv) > 1 else "deployments/costs/costs.yaml"))
