"""Prometheus metrics of every pipeline as values: the metric families, which samples a run's result
gives (and why), how a run's report folds into the one stored before it (counters add up, the last
success and the newest snapshot stay), and the RPO objective of each replicated target. Pure."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Iterable, Literal, Mapping, Sequence

from multicloud.core.backups.retention import SnapshotTime

Kind = Literal["gauge", "counter"]
Labels = tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class Family:
    """One metric family. `keep`: a series the latest run did not report keeps its stored value
    (the newest snapshot of a plan whose drill failed is still the newest one verified)."""

    name: str
    kind: Kind
    help: str
    labels: tuple[str, ...]
    keep: bool = False


@dataclass(frozen=True)
class Sample:
    family: str
    labels: Labels
    value: float


def sample(family: str, value: float, **labels: str) -> Sample:
    return Sample(family, tuple(sorted((k, str(v)) for k, v in labels.items())), float(value))


# ---- the families --------------------------------------------------------------------------------

#: Each pipeline, the label naming one of its units (rule, plan, ...), and its metric prefix.
PIPELINES: dict[str, tuple[str, ...]] = {
    "replication": ("rule",), "backup": ("plan",), "backup_drill": ("plan",), "costs": ("dataset",),
    "rightsizing": ("config",), "failover": ("plan",),
}


def _run_families(pipeline: str, labels: tuple[str, ...]) -> list[Family]:
    prefix = f"multicloud_{pipeline}"
    return [
        Family(f"{prefix}_last_run_timestamp_seconds", "gauge",
               f"When the last {pipeline} run that reported its metrics ended (Unix time).", labels),
        Family(f"{prefix}_last_run_success", "gauge",
               f"1 when the last {pipeline} run completed without failure, else 0.", labels),
        Family(f"{prefix}_last_success_timestamp_seconds", "gauge",
               f"When the last {pipeline} run without failure ended (Unix time).", labels, keep=True),
    ]


RT = ("rule", "target")
_FAMILIES = [f for p, labels in PIPELINES.items() for f in _run_families(p, labels)] + [
    Family("multicloud_replication_lag_seconds", "gauge",
           "Age of the oldest source change not yet on the target when the last run listed both sides.", RT),
    Family("multicloud_replication_objects_copied_total", "counter", "Objects copied to the target.", RT),
    Family("multicloud_replication_bytes_copied_total", "counter", "Bytes copied to the target.", RT),
    Family("multicloud_replication_failures_total", "counter", "Objects that failed to copy to the target.", RT),
    Family("multicloud_replication_rpo_seconds", "gauge",
           "The RPO of the failover plan whose data set this target holds (from the plans file).",
           ("rule", "target", "plan")),
    Family("multicloud_backup_newest_snapshot_timestamp_seconds", "gauge",
           "When the plan's newest snapshot reached every repository (Unix time).", ("plan",), keep=True),
    Family("multicloud_backup_new_bytes", "gauge", "New bytes (before compression) the last backup stored.",
           ("plan",)),
    Family("multicloud_backup_new_bytes_total", "counter", "New bytes (before compression) stored by backups.",
           ("plan",)),
    Family("multicloud_backup_dedup_ratio", "gauge",
           "Bytes in the last snapshot per new byte stored (higher: more deduplicated).", ("plan",)),
    Family("multicloud_backup_newest_verified_snapshot_timestamp_seconds", "gauge",
           "Time of the newest snapshot a drill restored and verified (Unix time).", ("plan",), keep=True),
    Family("multicloud_backup_newest_verified_snapshot_age_seconds", "gauge",
           "Age of the newest verified snapshot when the last drill ran.", ("plan",), keep=True),
    Family("multicloud_backup_drill_success", "gauge", "1 when the last drill of the plan verified its sample.",
           ("plan",)),
    Family("multicloud_backup_drill_restore_seconds", "gauge", "How long the last drill's restore took.",
           ("plan",)),
    Family("multicloud_costs_month_to_date", "gauge", "Effective cost of the month so far, in `currency`.",
           ("provider", "currency")),
    Family("multicloud_costs_forecast", "gauge",
           "Forecast of the month's effective cost: month to date plus the recent daily rate times the days left.",
           ("provider", "currency")),
    Family("multicloud_costs_reconciliation_status", "gauge",
           "1 for the key's status in the last reconciliation (ok, mismatch, unproven), 0 for the others.",
           ("provider", "billing_account", "billing_period", "currency", "status")),
    Family("multicloud_rightsizing_monthly_savings", "gauge",
           "Monthly savings the last rightsizing run found, in `currency`.", ("cloud", "kind", "currency")),
    Family("multicloud_rightsizing_findings", "gauge", "Findings of the last rightsizing run.", ("cloud", "kind")),
    Family("multicloud_failover_rto_seconds", "gauge",
           "Recovery time of the plan's last failover: trigger to validated.", ("plan",)),
    Family("multicloud_failover_rpo_seconds", "gauge",
           "Recovery point of the plan's last failover: age of the oldest change left behind.", ("plan",)),
    Family("multicloud_failover_last_run_practice", "gauge", "1 when the plan's last failover was a practice run.",
           ("plan",)),
]
FAMILIES: dict[str, Family] = {f.name: f for f in _FAMILIES}
RECONCILIATION_STATUSES = ("ok", "mismatch", "unproven")


# ---- a run's report ---------------------------------------------------------------------------

@dataclass(frozen=True)
class MetricsReport:
    """What one run of one pipeline unit publishes: its samples, when it ended, whether it succeeded,
    and which result the samples came from (`why`)."""

    pipeline: str
    unit: str
    finished_at: datetime
    succeeded: bool
    samples: tuple[Sample, ...]
    why: str

    def run_samples(self) -> list[Sample]:
        prefix, label = f"multicloud_{self.pipeline}", PIPELINES[self.pipeline][0]
        stamp = self.finished_at.timestamp()
        out = [sample(f"{prefix}_last_run_timestamp_seconds", stamp, **{label: self.unit}),
               sample(f"{prefix}_last_run_success", int(self.succeeded), **{label: self.unit})]
        if self.succeeded:
            out.append(sample(f"{prefix}_last_success_timestamp_seconds", stamp, **{label: self.unit}))
        return out


@dataclass(frozen=True)
class StoredMetrics:
    """The document stored for one pipeline unit: every series it currently has."""

    pipeline: str
    unit: str
    finished_at: str
    why: str
    samples: tuple[Sample, ...] = field(default_factory=tuple)

    def to_json(self) -> dict:
        return {"pipeline": self.pipeline, "unit": self.unit, "finished_at": self.finished_at, "why": self.why,
                "samples": [[s.family, dict(s.labels), s.value] for s in self.samples]}

    @classmethod
    def from_json(cls, data: Mapping) -> "StoredMetrics":
        samples = tuple(sample(name, value, **labels) for name, labels, value in data["samples"]
                        if name in FAMILIES)  # a family since removed is dropped, not served
        return cls(data["pipeline"], data["unit"], data["finished_at"], data.get("why", ""), samples)


def fold(previous: StoredMetrics | None, report: MetricsReport) -> StoredMetrics:
    """The document after `report`: a counter adds the run's value to the stored one; a series of a
    `keep` family the run did not report stays; every other series is the run's."""
    before = {(s.family, s.labels): s.value for s in (previous.samples if previous else ())}
    now: dict[tuple[str, Labels], float] = {}
    for s in [*report.samples, *report.run_samples()]:
        add = before.get((s.family, s.labels), 0.0) if FAMILIES[s.family].kind == "counter" else 0.0
        now[(s.family, s.labels)] = now.get((s.family, s.labels), add) + s.value
    for (name, labels), value in before.items():
        if (name, labels) not in now and (FAMILIES[name].keep or FAMILIES[name].kind == "counter"):
            now[(name, labels)] = value
    samples = tuple(Sample(n, labels, v) for (n, labels), v in sorted(now.items()))
    return StoredMetrics(report.pipeline, report.unit, report.finished_at.isoformat(), report.why, samples)


def store_key(pipeline: str, unit: str) -> str:
    """Where a unit's document lives in the metrics store (one writer per unit: each pipeline's own
    concurrency limit keeps two runs of one unit apart)."""
    safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in unit)
    return f"{pipeline}/{safe}.json"


def families_of(documents: Iterable[StoredMetrics]) -> dict[str, list[Sample]]:
    """Every family with its samples across the documents, in family order (exposition order)."""
    found: dict[str, list[Sample]] = defaultdict(list)
    for doc in documents:
        for s in doc.samples:
            found[s.family].append(s)
    return {name: sorted(found[name], key=lambda s: s.labels) for name in FAMILIES if name in found}


# ---- which samples each pipeline's result gives -------------------------------------------------

def replication_metrics(rule: str, rows: Sequence[Mapping], finished_at: datetime) -> MetricsReport:
    """From the replication run's target rows (`core.replication.target_row`): per target the lag
    found when listing, what it copied and what failed; the run succeeded when nothing failed."""
    out = []
    for r in rows:
        t = {"rule": rule, "target": r["target"]}
        out += [sample("multicloud_replication_lag_seconds", r["lag_seconds"], **t),
                sample("multicloud_replication_objects_copied_total", r["copied"], **t),
                sample("multicloud_replication_bytes_copied_total", r["bytes"], **t),
                sample("multicloud_replication_failures_total", r["failed"], **t)]
    failed = sum(r["failed"] + r.get("listing_errors", 0) for r in rows)
    return MetricsReport("replication", rule, finished_at, failed == 0, tuple(out),
                         f"replication {rule}: {len(rows)} target row(s), {failed} failure(s)")


def backup_metrics(result: Mapping, finished_at: datetime) -> MetricsReport:
    """From one plan's backup result (`tasks.backups.report_backup`): new bytes and the dedup ratio
    of the snapshot, and its time when every repository got it."""
    plan, rows = result["plan"], result["repositories"]
    published = bool(rows) and all(r["status"] == "published" for r in rows)
    out = []
    if rows:
        out += [sample("multicloud_backup_new_bytes", rows[0]["new bytes"], plan=plan),
                sample("multicloud_backup_new_bytes_total", rows[0]["new bytes"], plan=plan)]
        if rows[0]["dedup ratio"] not in (None, "-"):  # "-": nothing new, no ratio
            out.append(sample("multicloud_backup_dedup_ratio", float(rows[0]["dedup ratio"]), plan=plan))
    if published:
        out.append(sample("multicloud_backup_newest_snapshot_timestamp_seconds", finished_at.timestamp(), plan=plan))
    ok = published and not result.get("failure")
    return MetricsReport("backup", plan, finished_at, ok, tuple(out),
                         f"backup {plan}: snapshot {result.get('snapshot') or 'none'}, "
                         f"{sum(r['status'] == 'published' for r in rows)} of {len(rows)} repositories")


def drill_metrics(freshness: Mapping, drill: Mapping, finished_at: datetime) -> MetricsReport:
    """From one plan's freshness row (`core.backups.check.freshness_row`) and drill row
    (`tasks.backup_checks.DrillResult.row`): the drill's result and restore time, and the newest
    verified snapshot's time and age."""
    plan = freshness["plan"]
    ok = drill.get("result") == "ok"
    out = [sample("multicloud_backup_drill_success", int(ok), plan=plan)]
    if drill.get("restore seconds") is not None:
        out.append(sample("multicloud_backup_drill_restore_seconds", drill["restore seconds"], plan=plan))
    if freshness.get("time") and freshness.get("age hours") is not None:
        verified_at = SnapshotTime.parse(freshness["time"]).epoch_ns / 10**9  # int / int: correctly rounded
        out += [sample("multicloud_backup_newest_verified_snapshot_timestamp_seconds", verified_at, plan=plan),
                sample("multicloud_backup_newest_verified_snapshot_age_seconds", freshness["age hours"] * 3600,
                       plan=plan)]
    return MetricsReport("backup_drill", plan, finished_at, ok, tuple(out),
                         f"drill {plan}: {drill.get('result')}; freshness {freshness.get('state')}")


def costs_metrics(dataset: str, month_to_date: Sequence[Mapping], reconciliation: Sequence[Mapping],
                  finished_at: datetime) -> MetricsReport:
    """From the costs run's month-to-date rows (`core.costs.aggregate.month_to_date`; the per-currency
    "All" rows are left out, PromQL sums providers) and its reconciliation rows: one status series
    per key and status; the run succeeded when every key is ok."""
    out = []
    for r in month_to_date:
        if r["group"] != "All":
            where = {"provider": r["group"], "currency": r["currency"]}
            out += [sample("multicloud_costs_month_to_date", _number(r["month_to_date"]), **where),
                    sample("multicloud_costs_forecast", _number(r["forecast"]), **where)]
    bad = 0
    for r in reconciliation:
        key = {k: r[k] for k in ("provider", "billing_account", "billing_period", "currency")}
        bad += r["status"] != "ok"
        out += [sample("multicloud_costs_reconciliation_status", int(r["status"] == s), **key, status=s)
                for s in sorted({*RECONCILIATION_STATUSES, r["status"]})]
    return MetricsReport("costs", dataset, finished_at, bad == 0, tuple(out),
                         f"costs {dataset}: {len(month_to_date)} month-to-date row(s), {len(reconciliation)} key(s), "
                         f"{bad} not ok")


def rightsizing_metrics(config: str, findings: Iterable, finished_at: datetime, success: bool = True) -> MetricsReport:
    """From the rightsizing run's priced findings (`core.rightsizing.findings.Finding`): savings and
    count per cloud and resource kind (savings per currency); `success` False when a target, market
    or advice read failed (the run is incomplete)."""
    money: dict[tuple[str, str, str], Decimal] = defaultdict(Decimal)
    counts: dict[tuple[str, str], int] = defaultdict(int)
    for f in findings:
        cloud, kind = f.resource.cloud.lower(), f.resource.kind
        money[(cloud, kind, f.currency)] += f.savings
        counts[(cloud, kind)] += 1
    out = [sample("multicloud_rightsizing_monthly_savings", _number(v), cloud=c, kind=k, currency=cur)
           for (c, k, cur), v in sorted(money.items())]
    out += [sample("multicloud_rightsizing_findings", n, cloud=c, kind=k) for (c, k), n in sorted(counts.items())]
    return MetricsReport("rightsizing", config, finished_at, success, tuple(out),
                         f"rightsizing {config}: {sum(counts.values())} finding(s)")


def failover_metrics(summary: Mapping, finished_at: datetime) -> MetricsReport:
    """From the failover run's summary (`tasks.failover.publish_report`): RTO and RPO, when known."""
    plan = summary["plan"]
    out = [sample("multicloud_failover_last_run_practice", int(bool(summary["practice"])), plan=plan)]
    for name in ("rto_seconds", "rpo_seconds"):
        if summary.get(name) is not None:
            out.append(sample(f"multicloud_failover_{name}", summary[name], plan=plan))
    return MetricsReport("failover", plan, finished_at, bool(summary["completed"]), tuple(out),
                         f"{summary['direction']} {plan} ({summary['failover_id']}): "
                         f"{'completed' if summary['completed'] else 'stopped'}")


def _number(value) -> float:
    return float(Decimal(str(value)))


# ---- objectives from configuration -------------------------------------------------------------

@dataclass(frozen=True)
class ProtectedData:
    """A failover plan's data set: where it lives at the primary and the secondary."""

    plan: str
    rpo_seconds: float
    primary_url: str
    secondary_url: str


def rpo_objectives(rules: Iterable[tuple[str, str, Sequence[str]]], protected: Iterable[ProtectedData]
                   ) -> list[Sample]:
    """The RPO of each replication (rule, target) that copies a failover plan's data set from its
    primary to its secondary: `rules` are (name, source, targets); URLs match without trailing '/'."""
    def norm(url: str) -> str:
        return url.rstrip("/")

    out = []
    for name, source, targets in rules:
        for target in targets:
            for p in protected:
                if (norm(source), norm(target)) == (norm(p.primary_url), norm(p.secondary_url)):
                    out.append(sample("multicloud_replication_rpo_seconds", p.rpo_seconds, rule=name,
                                      target=target, plan=p.plan))
    return out
