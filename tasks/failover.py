"""Prefect tasks of the failover runbook, and the single-flight slot it runs under. Each task reads
the current state before it acts, so a repeat is harmless, and in practice mode makes no mutating
call at all; the decisions are in multicloud.core.failover."""

from __future__ import annotations

import logging
import threading
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Callable, Iterator
from uuid import UUID

import httpx
from prefect import get_run_logger, task
from prefect.artifacts import create_markdown_artifact, create_table_artifact
from prefect.cache_policies import NO_CACHE

from multicloud.clouds import open_store
from multicloud.clouds.aws.dns import WeightedRecord
from multicloud.clouds.aws.writeswitch import BucketPolicySwitch, RdsSwitch
from multicloud.clouds.web.http import HttpSwitch, probe
from multicloud.config import Dataset, FailoverPlan, Profile
from multicloud.core import failover as fo
from multicloud.core.errors import InvalidInput
from multicloud.core.replication import lag_seconds
from multicloud.engine.transfer import SyncOptions, sync_pass
from tasks.storage import retry_transient

_RETRY = dict(retries=2, retry_delay_seconds=[1, 3], retry_jitter_factor=0.5, retry_condition_fn=retry_transient,
              cache_policy=NO_CACHE)


class StepFailed(RuntimeError):
    """A runbook step found the world not as it must be; its message says what."""


def _now() -> datetime:
    return datetime.now(timezone.utc)


def _switch(plan: FailoverPlan, site: str, profile: Profile):
    cfg = plan.site(site).write_switch
    if cfg is None:
        raise StepFailed(f"site {site!r} has no write_switch configured")
    if cfg.kind == "http":
        return HttpSwitch(cfg)
    conn = profile.connection_for("aws", cfg.connection)
    return RdsSwitch(conn, cfg) if cfg.kind == "rds" else BucketPolicySwitch(conn, cfg)


def _dns(plan: FailoverPlan, profile: Profile):
    """The plan's weighted DNS, behind one interface: weights(), values(), set_weights(), keyed by site."""
    dns = plan.dns
    if dns.kind == "route53":
        return WeightedRecord(profile.connection_for("aws", dns.connection), dns.zone, dns.record, dns.type)
    sites = {s.name: s.dns_value for s in plan.sites}
    if dns.kind == "azure-traffic-manager":
        from multicloud.clouds.azure.dns import TrafficManagerWeights

        return TrafficManagerWeights(profile.connection_for("azure", dns.connection), dns, sites)
    from multicloud.clouds.gcp.dns import CloudDnsWeights

    return CloudDnsWeights(profile.connection_for("gcp", dns.connection), dns, sites)


def _probe_site(plan: FailoverPlan, site: str) -> list[dict]:
    return [probe(u, plan.probe_timeout_seconds, plan.probe_attempts).__dict__ for u in plan.site(site).health_urls]


def _sync_options(ds: Dataset) -> SyncOptions:
    return SyncOptions(compare=ds.compare, include=tuple(ds.include), exclude=tuple(ds.exclude),
                       ignore_target_prefix=ds.tombstone_prefix or None)


def _stores(ds: Dataset, from_site: str, to_site: str, profile: Profile):
    return open_store(ds.urls[from_site], profile), open_store(ds.urls[to_site], profile)


@task(task_run_name="preflight-{plan.name}", timeout_seconds=300, **_RETRY)
def preflight(plan: FailoverPlan, from_site: str, to_site: str, profile: Profile) -> dict:
    """Target health and replication lag against the RPO budget; touches nothing."""
    now = _now()
    probes = _probe_site(plan, to_site)
    lags = {}
    for ds in plan.datasets:
        pending = sync_pass(*_stores(ds, from_site, to_site, profile), _sync_options(ds), dry_run=True)
        lags[ds.name] = {"pending": pending.pending, "lag_seconds": lag_seconds(pending.oldest_pending, now)}
    weights = _dns(plan, profile).weights()
    problems = fo.preflight_problems(probes, lags, weights, from_site, to_site, plan.rpo_seconds, plan.dns.record)
    return {"ok": not problems, "problems": problems, "target_probes": probes, "lag": lags, "weights": weights}


@task(task_run_name="read-only-{site}", timeout_seconds=120, **_RETRY)
def make_read_only(plan: FailoverPlan, site: str, profile: Profile, practice: bool) -> dict:
    """Stop writes at `site`, verified by reading the mode back."""
    switch = _switch(plan, site, profile)
    before = switch.mode()
    if practice:
        return {"before": before, "would": "nothing" if before == "read-only" else "set read-only"}
    if before != "read-only":
        switch.set_read_only()
    after = switch.mode()
    if after != "read-only":
        raise StepFailed(f"{site} reports mode {after!r} after being set read-only")
    return {"before": before, "after": after, "changed": before != "read-only"}


@task(task_run_name="read-write-{site}", timeout_seconds=120, **_RETRY)
def restore_read_write(plan: FailoverPlan, site: str, profile: Profile) -> dict:
    """Compensation: let `site` take writes again, verified."""
    switch = _switch(plan, site, profile)
    before = switch.mode()
    if before != "read-write":
        switch.set_read_write()
    after = switch.mode()
    if after != "read-write":
        raise StepFailed(f"{site} reports mode {after!r} after being set read-write")
    return {"before": before, "after": after}


def _sync_dataset(ds: Dataset, from_site: str, to_site: str, profile: Profile, practice: bool, now: datetime,
                  max_rounds: int) -> dict:
    src, dst = _stores(ds, from_site, to_site, profile)
    options, rounds, copied, first = _sync_options(ds), 0, 0, None
    while True:
        res = sync_pass(src, dst, options, dry_run=practice)
        rounds, copied, first = rounds + 1, copied + res.copied, first or res
        problem = fo.final_sync_problem(ds.name, [(f.key, f.error) for f in res.failures[:5]], 0, rounds, practice,
                                        res.failed)
        if problem:
            raise StepFailed(problem)
        after = fo.sync_next(rounds, res.pending, practice, max_rounds)
        if after != "again":
            break
    left = sync_pass(src, dst, options, dry_run=True) if after == "verify" else res
    problem = fo.final_sync_problem(ds.name, [], left.pending, rounds, practice)
    if problem:
        raise StepFailed(problem)
    return {"rounds": rounds, "copied": copied, "left": left.pending,
            "lag_at_start": lag_seconds(first.oldest_pending, now),
            "rpo_seconds": fo.final_sync_rpo(first.oldest_pending, left.pending, left.oldest_pending, practice, now)}


@task(task_run_name="final-sync-{plan.name}", timeout_seconds=3600, **_RETRY)
def final_sync(plan: FailoverPlan, from_site: str, to_site: str, profile: Profile, practice: bool,
               max_rounds: int = 5) -> dict:
    """Replicate every data set until a pass finds nothing left; the achieved RPO is the age of
    the oldest change still missing on the target (0 when nothing is)."""
    logger = get_run_logger()
    now = _now()
    out = {}
    for ds in plan.datasets:
        out[ds.name] = _sync_dataset(ds, from_site, to_site, profile, practice, now, max_rounds)
        logger.info("dataset %s: copied %d in %d round(s), %d left", ds.name, out[ds.name]["copied"],
                    out[ds.name]["rounds"], out[ds.name]["left"])
    return {"datasets": out, "rpo_seconds": max((d["rpo_seconds"] for d in out.values()), default=0.0)}


@task(task_run_name="dns-switch-{plan.name}", timeout_seconds=300, **_RETRY)
def switch_dns(plan: FailoverPlan, from_site: str, profile: Profile, practice: bool) -> dict:
    """Move `from_site`'s weight to the healthy sites, verified by reading the records back."""
    record = _dns(plan, profile)
    before = record.weights()
    if before.get(from_site, 0) == 0:
        return {"before": before, "after": before, "changed": False}
    healthy = fo.healthy_sites({s.name: _probe_site(plan, s.name) for s in plan.sites if s.name != from_site},
                               from_site)
    target = fo.dns_target(before, from_site, healthy)
    if practice:
        return {"before": before, "would_set": target}
    record.set_weights(target)
    after = record.weights()
    if after != target:
        raise StepFailed(f"DNS weights read back {after}, expected {target}")
    return {"before": before, "after": after, "changed": True}


@task(task_run_name="validate-{plan.name}", timeout_seconds=300, **_RETRY)
def validate(plan: FailoverPlan, from_site: str, profile: Profile, practice: bool) -> dict:
    """Probe the service at every site the records now send traffic to."""
    record = _dns(plan, profile)
    serving = fo.serving_sites(record.weights(), record.values(), {s.dns_value: s.name for s in plan.sites},
                               from_site, practice)
    if serving.problem:
        raise StepFailed(serving.problem)
    probes = {site: _probe_site(plan, site) for site in serving.sites}
    problem = fo.validation_problem(probes)
    if problem:
        raise StepFailed(problem)
    return {"serving": serving.records, "probes": probes}


@task(task_run_name="report-{plan.name}", cache_policy=NO_CACHE)
def publish_report(plan: FailoverPlan, failover_id: str, direction: str, practice: bool, mode: fo.Mode,
                   entries: list[fo.JournalEntry], triggered_at: datetime) -> dict:
    """The steps table and the timeline artifacts; returns the run's summary."""
    numbers = fo.report_numbers(entries, triggered_at)
    rows = fo.step_rows(entries)
    create_table_artifact(key=f"failover-{plan.name}-steps", table=rows,
                          description=f"{direction} {plan.name} ({failover_id}): per-step outcome and duration")
    rto = numbers.rto_seconds
    create_markdown_artifact(
        key=f"failover-{plan.name}-timeline",
        markdown=fo.timeline_markdown(plan.name, failover_id, direction, practice, entries, numbers,
                                      plan.rto_seconds, plan.rpo_seconds, fo.runbook(mode)),
        description=f"{direction} {plan.name}: RTO {rto if rto is None else round(rto, 1)} s")
    return {"failover_id": failover_id, "plan": plan.name, "direction": direction, "practice": practice,
            "rto_seconds": rto, "rpo_seconds": numbers.rpo_seconds, "steps": rows, "completed": numbers.completed}


@task(task_run_name="refused-{plan_name}", cache_policy=NO_CACHE)
def publish_refusal(plan_name: str, reason: str) -> None:
    create_markdown_artifact(key="failover-refused", markdown=f"# Failover refused\n\n{reason}\n", description=reason)


# ---- single flight ------------------------------------------------------------------------------

class SlotTaken(RuntimeError):
    """Another failover holds the single-flight limit."""


@dataclass
class Lease:
    """The single-flight slot held by this run. `lost` says why it no longer holds (None while it
    does); `failed_renewals` counts renewals that did not get through."""

    id: str
    failed_renewals: int = 0
    lost: str | None = None


def _take(client, name: str, lease_seconds: float) -> str | None:
    try:
        resp = client.increment_concurrency_slots_with_lease([name], 1, "concurrency", lease_seconds)
    except httpx.HTTPStatusError as exc:
        if exc.response.status_code == 423:
            return None
        raise
    body = resp.json()
    if not any(lim.get("name") == name for lim in body.get("limits", [])):
        raise InvalidInput("the single-flight concurrency limit does not exist; run deployments.bootstrap",
                           target=name)
    return body["lease_id"]


def _renew_until(stop: threading.Event, renewer, lease: Lease, lease_seconds: float, every: float,
                 logger, on_lost: Callable[[Lease], None]) -> None:
    """Renew every `every` s until `stop`; on each failure log it and count it; once the lease counts
    as lost (fo.lease_verdict), mark it, report it through `on_lost` and stop renewing."""
    renewed_at = _now()
    with renewer as client:
        while not stop.wait(every):
            try:
                client.renew_concurrency_lease(UUID(lease.id), lease_seconds)
                renewed_at = _now()
                continue
            except httpx.HTTPStatusError as exc:
                status, error = exc.response.status_code, f"HTTP {exc.response.status_code}"
            except httpx.TransportError as exc:
                status, error = None, fo.error_text(exc)
            lease.failed_renewals += 1
            logger.warning("single-flight lease renewal %d failed: %s", lease.failed_renewals, error)
            lease.lost = fo.lease_verdict(renewed_at, _now(), lease_seconds, status, lease.failed_renewals)
            if lease.lost:
                logger.error("%s; the runbook stops before its next mutating step", lease.lost)
                on_lost(lease)
                return


def _renewer(stop: threading.Event, client, lease: Lease, lease_seconds: float, every: float, logger,
             on_lost: Callable[[Lease], None]) -> None:
    """The renewer thread: should it die of anything unforeseen, the lease is no longer renewed, so
    it counts as lost at once (and the error still surfaces through threading's excepthook)."""
    try:
        _renew_until(stop, client, lease, lease_seconds, every, logger, on_lost)
    except BaseException as exc:
        lease.lost = f"the single-flight lease renewer stopped: {fo.error_text(exc)}"
        raise


@contextmanager
def single_flight(name: str, lease_seconds: float = 60, stale_lease: str | None = None,
                  renew_every: float | None = None, api_url: str | None = None, logger=None,
                  on_lost: Callable[[Lease], None] = lambda lease: None) -> Iterator[Lease]:
    """Hold the one slot of the global concurrency limit `name` for the block, renewing the lease
    every `renew_every` s (a third of it by default) through the Prefect API at `api_url` (the
    current setting by default); a crashed holder frees the slot when the lease runs out, on a
    server running its services. `stale_lease`: a lease this failover held in a run known to be
    dead; released first. Raises SlotTaken, or InvalidInput when the limit does not exist (run
    deployments.bootstrap)."""
    from prefect.client.orchestration import SyncPrefectClient, get_client
    from prefect.settings import PREFECT_API_AUTH_STRING, PREFECT_API_KEY, PREFECT_API_URL

    # Settings are read here, in the caller's context: the renewer's thread does not see it.
    url = api_url or PREFECT_API_URL.value()
    # Without an API URL the run talks to an ephemeral in-process server: only get_client reaches it.
    renewer_client = (SyncPrefectClient(url, auth_string=PREFECT_API_AUTH_STRING.value(),
                                        api_key=PREFECT_API_KEY.value()) if url else get_client(sync_client=True))
    logger = logger or logging.getLogger(__name__)
    with get_client(sync_client=True) as client:
        lease_id = _take(client, name, lease_seconds)
        if lease_id is None and stale_lease:
            client.release_concurrency_slots_with_lease(UUID(stale_lease))
            lease_id = _take(client, name, lease_seconds)
        if lease_id is None:
            raise SlotTaken(f"another failover holds {name!r}")
        lease, stop = Lease(lease_id), threading.Event()
        renewer = threading.Thread(target=_renewer, daemon=True, args=(
            stop, renewer_client, lease, lease_seconds, renew_every or lease_seconds / 3, logger, on_lost))
        renewer.start()
        try:
            yield lease
        finally:
            stop.set()
            renewer.join(timeout=10)
            client.release_concurrency_slots_with_lease(UUID(lease.id))  # a lease the server lost: a no-op
