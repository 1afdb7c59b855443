"""Prefect tasks of the failover runbook. Each reads the current state before it acts, so a
repeat is harmless, and in practice mode makes no mutating call at all."""

from __future__ import annotations

import threading
from contextlib import contextmanager
from datetime import datetime, timezone
from typing import Iterator
from uuid import UUID

import httpx

from prefect import get_run_logger, task
from prefect.cache_policies import NO_CACHE

from multicloud.clouds import open_store
from multicloud.clouds.aws.route53 import WeightedRecord
from multicloud.clouds.aws.writeswitch import BucketPolicySwitch, RdsSwitch
from multicloud.engine.transfer import SyncOptions, sync_pass
from multicloud.clouds.web.http import HttpSwitch, probe
from multicloud.config import FailoverPlan, load_profile
from multicloud.core.errors import InvalidInput
from multicloud.core.failover import shift_weights
from multicloud.core.replication import lag_seconds
from tasks.storage import retry_transient

_RETRY = dict(retries=2, retry_delay_seconds=[1, 3], retry_jitter_factor=0.5, retry_condition_fn=retry_transient,
              cache_policy=NO_CACHE)


class StepFailed(RuntimeError):
    """A runbook step found the world not as it must be; its message says what."""


def _switch(plan: FailoverPlan, site: str, profile: str | None):
    cfg = plan.site(site).write_switch
    if cfg is None:
        raise StepFailed(f"site {site!r} has no write_switch configured")
    if cfg.kind == "http":
        return HttpSwitch(cfg)
    conn = load_profile(profile).connection_for("aws", cfg.connection)
    return RdsSwitch(conn, cfg) if cfg.kind == "rds" else BucketPolicySwitch(conn, cfg)


def _dns(plan: FailoverPlan, profile: str | None):
    """The plan's weighted DNS, behind one interface: weights(), values(), set_weights(), keyed by site."""
    dns, p = plan.dns, load_profile(profile)
    if dns.kind == "route53":
        return WeightedRecord(p.connection_for("aws", dns.connection), dns.zone, dns.record, dns.type)
    sites = {s.name: s.dns_value for s in plan.sites}
    if dns.kind == "azure-traffic-manager":
        from multicloud.clouds.azure.dns import TrafficManagerWeights

        return TrafficManagerWeights(p.connection_for("azure", dns.connection), dns, sites)
    from multicloud.clouds.gcp.dns import CloudDnsWeights

    return CloudDnsWeights(p.connection_for("gcp", dns.connection), dns, sites)


def _probe_site(plan: FailoverPlan, site: str) -> list[dict]:
    return [probe(u, plan.probe_timeout_seconds, plan.probe_attempts).__dict__ for u in plan.site(site).health_urls]


@task(task_run_name="preflight-{plan.name}", timeout_seconds=300, **_RETRY)
def preflight(plan: FailoverPlan, from_site: str, to_site: str, profile: str | None) -> dict:
    """Target health and replication lag against the RPO budget; touches nothing."""
    now = datetime.now(timezone.utc)
    probes = _probe_site(plan, to_site)
    p = load_profile(profile)
    lags = {}
    for ds in plan.datasets:
        pending = sync_pass(open_store(ds.urls[from_site], p), open_store(ds.urls[to_site], p),
                            SyncOptions(include=tuple(ds.include), exclude=tuple(ds.exclude)), dry_run=True)
        lags[ds.name] = {"pending": pending.pending, "lag_seconds": lag_seconds(pending.oldest_pending, now)}
    weights = _dns(plan, profile).weights()
    problems = [f"{pr['url']} answered {pr['status'] or pr['error']}" for pr in probes if not pr["ok"]]
    problems += [f"dataset {n}: lag {v['lag_seconds']:.0f} s over the RPO budget {plan.rpo_seconds:.0f} s"
                 for n, v in lags.items() if v["lag_seconds"] > plan.rpo_seconds]
    if from_site not in weights or to_site not in weights:
        problems.append(f"DNS {plan.dns.record} has no weighted record for {from_site!r} or {to_site!r}")
    return {"ok": not problems, "problems": problems, "target_probes": probes, "lag": lags, "weights": weights}


@task(task_run_name="read-only-{site}", timeout_seconds=120, **_RETRY)
def make_read_only(plan: FailoverPlan, site: str, profile: str | None, practice: bool) -> dict:
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
def restore_read_write(plan: FailoverPlan, site: str, profile: str | None) -> dict:
    """Compensation: let `site` take writes again, verified."""
    switch = _switch(plan, site, profile)
    before = switch.mode()
    if before != "read-write":
        switch.set_read_write()
    after = switch.mode()
    if after != "read-write":
        raise StepFailed(f"{site} reports mode {after!r} after being set read-write")
    return {"before": before, "after": after}


@task(task_run_name="final-sync-{plan.name}", timeout_seconds=3600, **_RETRY)
def final_sync(plan: FailoverPlan, from_site: str, to_site: str, profile: str | None, practice: bool,
               max_rounds: int = 5) -> dict:
    """Replicate every data set until a pass finds nothing left; the achieved RPO is the age of
    the oldest change still missing on the target (0 when nothing is)."""
    logger = get_run_logger()
    now = datetime.now(timezone.utc)
    p = load_profile(profile)
    out = {}
    worst = 0.0
    for ds in plan.datasets:
        src, dst = open_store(ds.urls[from_site], p), open_store(ds.urls[to_site], p)
        rounds, copied, first_lag = 0, 0, None
        while True:
            rounds += 1
            res = sync_pass(src, dst, SyncOptions(include=tuple(ds.include), exclude=tuple(ds.exclude)), dry_run=practice)
            first_lag = lag_seconds(res.oldest_pending, now) if first_lag is None else first_lag
            copied += res.copied
            if res.failures:
                raise StepFailed(f"dataset {ds.name}: {len(res.failures)} object(s) failed, e.g. "
                                 f"{res.failures[0].key}: {res.failures[0].error}")
            if practice or res.pending == 0 or rounds >= max_rounds:
                break
        left = sync_pass(src, dst, SyncOptions(include=tuple(ds.include), exclude=tuple(ds.exclude)), dry_run=True)
        rpo = lag_seconds(left.oldest_pending, now) if left.pending else 0.0
        if practice:
            rpo = first_lag
        worst = max(worst, rpo)
        out[ds.name] = {"rounds": rounds, "copied": copied, "left": left.pending, "lag_at_start": first_lag,
                        "rpo_seconds": rpo}
        logger.info("dataset %s: copied %d in %d round(s), %d left", ds.name, copied, rounds, left.pending)
        if left.pending and not practice:
            raise StepFailed(f"dataset {ds.name}: {left.pending} object(s) still differ after {rounds} rounds")
    return {"datasets": out, "rpo_seconds": worst}


@task(task_run_name="dns-switch-{plan.name}", timeout_seconds=300, **_RETRY)
def switch_dns(plan: FailoverPlan, from_site: str, profile: str | None, practice: bool) -> dict:
    """Move `from_site`'s weight to the healthy sites, verified by reading the records back."""
    record = _dns(plan, profile)
    before = record.weights()
    if before.get(from_site, 0) == 0:
        return {"before": before, "after": before, "changed": False}
    healthy = [s.name for s in plan.sites if s.name != from_site and all(p["ok"] for p in _probe_site(plan, s.name))]
    target = shift_weights(before, from_site, healthy)
    if practice:
        return {"before": before, "would_set": target}
    record.set_weights(target)
    after = record.weights()
    if after != target:
        raise StepFailed(f"DNS weights read back {after}, expected {target}")
    return {"before": before, "after": after, "changed": True}


@task(task_run_name="validate-{plan.name}", timeout_seconds=300, **_RETRY)
def validate(plan: FailoverPlan, from_site: str, profile: str | None, practice: bool) -> dict:
    """Probe the service at every site the records now send traffic to."""
    record = _dns(plan, profile)
    weights, values = record.weights(), record.values()
    serving = [sid for sid, w in weights.items() if w > 0]
    if practice:
        serving = [s for s in serving if s != from_site] or serving
    elif from_site in serving:
        raise StepFailed(f"{from_site} still has weight {weights[from_site]}")
    by_value = {s.dns_value: s.name for s in plan.sites}
    probes = {}
    for sid in serving:
        sites = {by_value.get(v) for v in values.get(sid, [])} - {None}
        for site in sites:
            probes[site] = _probe_site(plan, site)
    bad = [p for ps in probes.values() for p in ps if not p["ok"]]
    if not probes or bad:
        raise StepFailed(f"service not healthy through the new records: {bad or 'no site behind them'}")
    return {"serving": serving, "probes": probes}


class SlotTaken(RuntimeError):
    """Another failover holds the single-flight limit."""


@contextmanager
def single_flight(name: str, lease_seconds: float = 60, stale_lease: str | None = None) -> Iterator[str]:
    """Hold the one slot of the global concurrency limit `name` for the block, renewing the lease
    (a crashed holder frees it when the lease runs out, on a server running its services).
    `stale_lease`: a lease this failover held in a run known to be dead; released first.
    Raises SlotTaken, or InvalidInput when the limit does not exist (run deployments.bootstrap)."""
    from prefect.client.orchestration import get_client

    def take(client) -> str | None:
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

    with get_client(sync_client=True) as client:
        lease = take(client)
        if lease is None and stale_lease:
            client.release_concurrency_slots_with_lease(UUID(stale_lease))
            lease = take(client)
        if lease is None:
            raise SlotTaken(f"another failover holds {name!r}")
        stop = threading.Event()

        def renew() -> None:
            with get_client(sync_client=True) as renewer:
                while not stop.wait(lease_seconds / 3):
                    try:
                        renewer.renew_concurrency_lease(UUID(lease), lease_seconds)
                    except Exception:  # the next renewal may get through; the lease outlives one miss
                        continue

        thread = threading.Thread(target=renew, daemon=True)
        thread.start()
        try:
            yield lease
        finally:
            stop.set()
            client.release_concurrency_slots_with_lease(UUID(lease))
