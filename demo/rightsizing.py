"""The rightsizing scene of `make demo`: moto seeded with an idle and an oversized EC2 instance (14 days of
CloudWatch metrics), a free volume, a stray Elastic IP and an orphaned snapshot; one process started
(stopped by `demo down`) serving the same scenario for Azure and Google Cloud and every price, spot and
advice server the local scope names; a FOCUS dataset seeded with 30 days of costs of those resources;
then the rightsizing deployment run, its findings with savings, targets and the clouds' advice, the
arbitrage and commitments tables printed and its charts saved."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from datetime import datetime, timezone
from typing import Awaitable, Callable

from deployments import cloudstack
from deployments.paths import REPO_ROOT
from deployments.processes import ManagedProcess
from multicloud.clouds import create_bucket, ensure_bucket, open_store
from multicloud.config.rightsizing import RightsizingScope, load_scope
from multicloud.core.objects import StoreUrl
from multicloud.testing import rightsizing_market as market
from multicloud.testing import rightsizing_seed as seed

STATE = REPO_ROOT / ".local" / "demo"
SCOPE = REPO_ROOT / "deployments" / "rightsizing" / "scopes" / "local.yaml"
AWS_IDS, IDS = STATE / "rightsizing-aws-ids.json", STATE / "rightsizing-ids.json"
# The scope file names the default ports; MULTICLOUD_FAKE_<NAME>_PORT moves one (the run then gets the
# scope inline, with that URL).
PORTS = {name: int(os.environ.get(f"MULTICLOUD_FAKE_{name.upper()}_PORT", port)) for name, port in seed.PORTS.items()}
_SHOWN = (("rightsizing-findings", ("cloud", "resource", "rule", "monthly_effective_savings", "monthly_list_savings",
                                    "target_type", "advice")),
          ("rightsizing-advice", ("side", "cloud", "resource", "finding", "our_target", "cloud_target", "advice")),
          ("rightsizing-arbitrage", ("in use", "cloud", "type", "region", "on demand/h", "spot/h", "cheapest")),
          ("rightsizing-commitments", ("provider", "service", "region", "term_years", "hourly_commitment",
                                       "coverage", "utilisation", "break_even_months", "net_monthly_savings")))


def _url(name: str) -> str:
    return f"http://127.0.0.1:{PORTS[name]}"


def scope() -> RightsizingScope:
    """The local scope with every fake's URL on the port in use."""
    local = load_scope(SCOPE)
    aws = local.aws.model_copy(update={"pricing_endpoint": _url("pricing"), "spot_endpoint": _url("spot"),
                                       "advice_endpoint": _url("optimizer")})
    azure = local.azure.model_copy(update={"arm_base_url": _url("arm"), "prices_url": _url("prices")})
    gcp = local.gcp.model_copy(update={"compute_endpoint": _url("gce"), "monitoring_endpoint": _url("gce"),
                                       "billing_endpoint": _url("billing"), "recommender_endpoint": _url("recommender")})
    return local.model_copy(update={"aws": aws, "azure": azure, "gcp": gcp})


def fakes() -> ManagedProcess:
    """Every seeded fake the local scope names, one process (its seeding is as of its start)."""
    local = load_scope(SCOPE)
    ports = [arg for name, port in PORTS.items() for arg in (f"--{name}-port", str(port))]
    command = [sys.executable, "-m", "multicloud.testing.rightsizing_seed", *ports, "--run", _run_tag(local),
               "--subscription", local.azure.subscription_id, "--project", local.gcp.project,
               "--moto-url", cloudstack.local_profile().connection_for("aws").endpoint,
               "--aws-region", local.aws.regions[0], "--aws-ids-file", str(AWS_IDS), "--ids-file", str(IDS)]
    health = f"{_url('gce')}/compute/v1/projects/{local.gcp.project}/global/snapshots"
    return ManagedProcess("rightsizing-fakes", command, health, STATE, cwd=REPO_ROOT, port=PORTS["gce"])


def _run_tag(local: RightsizingScope) -> str:
    return local.select_tags[seed.RUN_TAG]


def seed_aws() -> None:
    """The AWS scenario in the scope's first region, after removing an earlier demo's; its ids are
    kept for the fakes' process (Compute Optimizer advises on them)."""
    local = load_scope(SCOPE)
    profile = cloudstack.local_profile()
    conn = profile.connection_for("aws").model_copy(update={"region": local.aws.regions[0]})
    removed = seed.remove_aws(conn, _run_tag(local))
    ids = seed.seed_aws(conn, _run_tag(local), datetime.now(timezone.utc))
    STATE.mkdir(parents=True, exist_ok=True)
    AWS_IDS.write_text(json.dumps(ids, indent=1))
    print(f"\nrightsizing: seeded {len(ids)} AWS resources in {conn.region} (removed {removed} of an earlier demo)")
    create_bucket(profile.connection_for("aws"), StoreUrl.parse(local.output).bucket)


def seed_focus() -> None:
    """30 days of hourly costs of every seeded resource (the ids the fakes' process wrote) and of a
    steady fleet per cloud, published into the scope's FOCUS dataset."""
    local, profile = load_scope(SCOPE), cloudstack.local_profile()
    ids = json.loads(IDS.read_text())
    ensure_bucket(local.focus_dataset, profile)
    regions = {**market.ARBITRAGE_REGIONS, "aws": local.aws.regions[0]}
    rows = market.seed_focus(open_store(local.focus_dataset, profile=profile), ids, regions,
                             datetime.now(timezone.utc))
    print(f"rightsizing: {rows} hourly FOCUS rows for {sum(map(len, ids.values()))} resources and a steady fleet "
          f"in {local.focus_dataset}")


def save_charts() -> None:
    """The latest run's charts and CSV from the output store to .local/demo/rightsizing/, to open."""
    store = open_store(load_scope(SCOPE).output, profile=cloudstack.local_profile())
    keys = sorted(m.key for m in store.list())
    if not keys:
        return
    run = keys[-1].split("/", 1)[0]
    target = STATE / "rightsizing"
    target.mkdir(parents=True, exist_ok=True)
    for key in (k for k in keys if k.startswith(run + "/") and k.endswith((".png", ".csv"))):
        with store.open(key) as src:
            (target / key.split("/", 1)[1]).write_bytes(src.read())
        print("  saved", target / key.split("/", 1)[1])


async def _latest_rows(key: str) -> list[dict]:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey
    from prefect.client.schemas.sorting import ArtifactSort

    async with get_client() as client:
        found = await client.read_artifacts(artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=[key])),
                                            sort=ArtifactSort.CREATED_DESC, limit=1)
    data = found[0].data if found else "[]"
    return json.loads(data) if isinstance(data, str) else data


def show_outcomes() -> None:
    """What a person looks at first: findings with savings, targets and advice; where the clouds
    disagree; each shape in use on every cloud; the commitments to buy (the run's own artifacts)."""
    for key, columns in _SHOWN:
        rows = asyncio.run(_latest_rows(key))
        print(f"\n{key} ({len(rows)} rows):")
        for row in rows[:40]:
            print("  " + " | ".join(_short(row.get(c, "")) for c in columns))


def _short(value) -> str:
    text = str(value)
    return text.rsplit("/", 1)[-1] if text.startswith(("/subscriptions/", "//compute")) else text


def run(run_and_report: Callable[[str, dict], Awaitable[None]], asyncio_run) -> None:
    """The scene; `run_and_report` runs a deployment and prints its artifacts (findings, summary)."""
    seed_aws()
    servers = fakes()
    servers.stop()  # a fresh process: its metrics end now
    IDS.unlink(missing_ok=True)
    servers.ensure()
    print("rightsizing fakes: " + ", ".join(f"{name} {_url(name)}" for name in PORTS))
    seed_focus()
    asyncio_run(run_and_report("rightsizing/rightsizing", {"scope_file": str(SCOPE.relative_to(REPO_ROOT)),
                                                           "scope": scope().model_dump(mode="json")}))
    show_outcomes()
    save_charts()
