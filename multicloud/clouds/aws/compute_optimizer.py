"""AWS Compute Optimizer's own advice as cloud-neutral `Advice`: over-provisioned EC2 instances
(GetEC2InstanceRecommendations, the top-ranked option as the target) and idle EC2 instances, idle RDS
instances and unattached or idle EBS volumes (GetIdleRecommendations), following nextToken pages (boto3
has no paginator for either). Resource ids are those of the AWS inventory: instance id, volume id, DB
instance identifier. Throttled requests are retried with bounded backoff and every wait reported."""

from __future__ import annotations

import re
import time
from decimal import Decimal
from typing import Iterator

from botocore.exceptions import BotoCoreError, ClientError

from multicloud.clouds.aws.errors import map_error
from multicloud.clouds.aws.session import client
from multicloud.config import Connection
from multicloud.core.errors import PermissionDenied
from multicloud.core.retry import RetryPolicy, call_with_retry
from multicloud.core.rightsizing.advice import Advice, AdviceResult

SOURCE = "AWS Compute Optimizer"
PAGE_SIZES = {"get_ec2_instance_recommendations": 1000, "get_idle_recommendations": 100}  # the API maxima
DEFAULT_RETRY = RetryPolicy(attempts=5, base_seconds=0.5, cap_seconds=20.0)
# Idle resource type -> (finding, action) in our vocabulary; the others are kinds we do not inventory.
IDLE_KINDS = {("EC2Instance", "Idle"): ("idle", "stop"), ("RDSDBInstance", "Idle"): ("idle", "stop"),
              ("EBSVolume", "Unattached"): ("waste", "snapshot_and_delete"), ("EBSVolume", "Idle"): ("idle", "review")}
_ARN_ID = re.compile(r"[/:]([^/:]+)$")


def read_advice(conn: Connection, *, idle: bool = True, page_sizes: dict[str, int] | None = None,
                retry: RetryPolicy = DEFAULT_RETRY) -> AdviceResult:
    """Compute Optimizer's over-provisioned and (with `idle`) idle recommendations in `conn`'s region.
    An account not opted in raises PermissionDenied saying so; other failures the taxonomy error of the
    request that failed after the retries."""
    sizes = {**PAGE_SIZES, **(page_sizes or {})}
    result = AdviceResult("aws")
    co = client(conn, "compute-optimizer")
    overprovisioned = [{"name": "Finding", "values": ["Overprovisioned"]}]
    for rec in _pages(co, "get_ec2_instance_recommendations", "instanceRecommendations", result, retry,
                      filters=overprovisioned, maxResults=sizes["get_ec2_instance_recommendations"]):
        result.advice.append(_resize(rec))
    if idle:
        types = [{"name": "ResourceType", "values": sorted({t for t, _ in IDLE_KINDS})}]
        for rec in _pages(co, "get_idle_recommendations", "idleRecommendations", result, retry, filters=types,
                          maxResults=sizes["get_idle_recommendations"]):
            found = _idle(rec)
            if found:
                result.advice.append(found)
            else:
                result.left_out[f"{rec.get('resourceType')} {rec.get('finding')}"] += 1
    return result


def _pages(api, operation: str, key: str, result: AdviceResult, retry: RetryPolicy, **params) -> Iterator[dict]:
    token = None
    while True:
        request = {**params, "nextToken": token} if token else params
        page = _call(api, operation, result, retry, request)
        result.errors += [f"{e.get('identifier', '')}: {e.get('code', '')} {e.get('message', '')}".strip()
                          for e in page.get("errors", [])]
        yield from page.get(key, [])
        token = page.get("nextToken")
        if not token:
            return


def _call(api, operation: str, result: AdviceResult, retry: RetryPolicy, request: dict) -> dict:
    def once() -> dict:
        result.requests[operation] += 1
        try:
            return getattr(api, operation)(**request)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "OptInRequiredException":
                raise PermissionDenied("Compute Optimizer: the account is not opted in (opt in with "
                                       "update_enrollment_status, then wait for its first analysis)",
                                       target=f"compute-optimizer:{operation}") from exc
            raise map_error(exc, target=f"compute-optimizer:{operation}", service="Compute Optimizer") from exc
        except BotoCoreError as exc:
            raise map_error(exc, target=f"compute-optimizer:{operation}", service="Compute Optimizer") from exc

    def wait(seconds: float) -> None:
        result.throttle_waits.append(seconds)
        time.sleep(seconds)

    return call_with_retry(once, retry, wait)


def resource_id(arn: str) -> str:
    """The inventory's id in an ARN: i-… of instance/i-…, vol-… of volume/vol-…, the name of db:NAME."""
    found = _ARN_ID.search(arn or "")
    return found.group(1) if found else arn


def _money(saving: dict | None) -> tuple[Decimal | None, str]:
    monthly = (saving or {}).get("estimatedMonthlySavings") or {}
    if monthly.get("value") is None:
        return None, monthly.get("currency") or "USD"
    # the API's doubles carry binary noise; cents are what it means
    return Decimal(str(monthly["value"])).quantize(Decimal("0.01")), monthly.get("currency") or "USD"


def _resize(rec: dict) -> Advice:
    options = sorted(rec.get("recommendationOptions", []), key=lambda o: o.get("rank", 99))
    best = options[0] if options else {}
    # after discounts (Savings Plans, reservations) when the account's preferences ask for it
    savings, currency = _money(best.get("savingsOpportunityAfterDiscounts") or best.get("savingsOpportunity"))
    used = ", ".join(f"{m['name']} {m.get('statistic', '')} {m['value']:g}" for m in rec.get("utilizationMetrics", []))
    detail = (f"{rec.get('finding')} ({', '.join(rec.get('findingReasonCodes', []))}); {rec.get('currentInstanceType')}"
              f" over {rec.get('lookBackPeriodInDays', 0):g} days: {used}")
    return Advice("aws", resource_id(rec["instanceArn"]), "oversized", "resize", best.get("instanceType", ""),
                  savings, currency, f"{SOURCE} EC2 instance recommendation", detail)


def _idle(rec: dict) -> Advice | None:
    kind = IDLE_KINDS.get((rec.get("resourceType", ""), rec.get("finding", "")))
    if kind is None:
        return None
    savings, currency = _money(rec.get("savingsOpportunityAfterDiscounts") or rec.get("savingsOpportunity"))
    return Advice("aws", resource_id(rec.get("resourceArn", "")) or rec.get("resourceId", ""), kind[0], kind[1], "",
                  savings, currency, f"{SOURCE} idle recommendation",
                  rec.get("findingDescription") or f"{rec.get('resourceType')} {rec.get('finding')}")
