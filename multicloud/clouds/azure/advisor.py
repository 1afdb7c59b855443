"""Azure Advisor's cost recommendations as cloud-neutral `Advice`: VM right-size (SkuChange, with its
current and target SKU) and shutdown, and unassociated public IPs and unattached disks, read from
`GET /subscriptions/{sub}/providers/Microsoft.Advisor/recommendations?$filter=Category eq 'Cost'`
over nextLink pages. The request goes through azure-core's pipeline with the ARM settings the
inventory uses (`management.arm`: credential rule, timeouts, the retry policy that reports its waits),
so no Advisor SDK package is needed; the api-version is the one azure-mgmt-advisor 9.0.1 sends.
Resource ids are ARM ids, as the Azure inventory gives them (compare them case-insensitively)."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from functools import partial

from azure.core import PipelineClient
from azure.core.exceptions import HttpResponseError
from azure.core.pipeline.policies import BearerTokenCredentialPolicy, HeadersPolicy, UserAgentPolicy
from azure.core.pipeline.transport import RequestsTransport
from azure.core.rest import HttpRequest
from azure.mgmt.core.exceptions import ARMErrorFormat

from multicloud.clouds.azure.management import Arm, ArmRetry, WaitRecordingRetry, arm
from multicloud.config import Connection
from multicloud.core.rightsizing.advice import Advice, AdviceResult

API_VERSION = "2020-01-01"
DEFAULT_BASE = "https://management.azure.com"
SCOPE = "https://management.azure.com/.default"
SOURCE = "Azure Advisor"
_TARGET = "azure:advisor.recommendations.list"
# (impacted resource type, Advisor's recommendationType) -> (finding, action); "" matches any type.
KINDS = {("microsoft.compute/virtualmachines", "skuchange"): ("oversized", "resize"),
         ("microsoft.compute/virtualmachines", "shutdown"): ("idle", "stop"),
         ("microsoft.network/publicipaddresses", ""): ("waste", "release"),
         ("microsoft.compute/disks", ""): ("waste", "snapshot_and_delete")}


def read_advice(conn: Connection, subscription_id: str, *, base_url: str | None = None,
                retry: ArmRetry = ArmRetry()) -> AdviceResult:
    """Advisor's cost recommendations of the subscription. `base_url` overrides ARM's endpoint (a local
    fake with 'emulator' credentials). Raises the taxonomy error of the first request that fails after
    the retry policy's retries."""
    result = AdviceResult("azure")
    api = arm(conn, subscription_id, base_url, retry, result.throttle_waits)
    base = api.base_url or DEFAULT_BASE
    url = f"{base}/subscriptions/{subscription_id}/providers/Microsoft.Advisor/recommendations"
    params: dict | None = {"api-version": API_VERSION, "$filter": "Category eq 'Cost'"}
    with _pipeline(api, base) as pipe:
        while url:
            result.requests["recommendations.list"] += 1
            page = api.call(partial(_get, pipe, url, params), _TARGET)
            for item in page.get("value", []):
                found = _advice(item)
                if found:
                    result.advice.append(found)
                else:
                    result.left_out[_what(item)] += 1
            url, params = page.get("nextLink"), None  # followed verbatim, as the SDKs do
    return result


def _pipeline(api: Arm, base: str) -> PipelineClient:
    transport = RequestsTransport(connection_timeout=api.conn.connect_timeout_seconds,
                                  read_timeout=api.conn.timeout_seconds)
    policies = [HeadersPolicy({"Accept": "application/json"}), UserAgentPolicy("multicloud-ops-advisor"),
                WaitRecordingRetry(api.retry, api.waits), BearerTokenCredentialPolicy(api.credential, SCOPE)]
    return PipelineClient(base, policies=policies, transport=transport)


def _get(pipe: PipelineClient, url: str, params: dict | None, **options) -> dict:
    response = pipe.send_request(HttpRequest("GET", url, params=params), **options)
    if response.status_code >= 400:
        raise HttpResponseError(response=response, error_format=ARMErrorFormat)
    return response.json()


def _what(item: dict) -> str:
    props = item.get("properties") or {}
    kind = (props.get("extendedProperties") or {}).get("recommendationType") or props.get("recommendationTypeId", "")
    return f"{props.get('impactedField', '?')} {kind}".strip()


def _kind(props: dict) -> tuple[str, str] | None:
    if str(props.get("category", "")).lower() != "cost":
        return None
    field = str(props.get("impactedField", "")).lower()
    kind = str((props.get("extendedProperties") or {}).get("recommendationType", "")).lower()
    return KINDS.get((field, kind)) or KINDS.get((field, ""))


def _advice(item: dict) -> Advice | None:
    props = item.get("properties") or {}
    kind = _kind(props)
    if kind is None:
        return None
    extended = props.get("extendedProperties") or {}
    resource = (props.get("resourceMetadata") or {}).get("resourceId") or \
        item["id"].split("/providers/Microsoft.Advisor/", 1)[0]
    target = extended.get("targetSku", "") if kind[1] == "resize" else ""
    current = extended.get("currentSku")
    parts = ((props.get("shortDescription") or {}).get("problem", ""), f"current SKU {current}" if current else "",
             f"recommendation {item.get('name', '')}")
    return Advice("azure", resource, kind[0], kind[1], target, _monthly(extended),
                  extended.get("savingsCurrency") or "USD", SOURCE, "; ".join(x for x in parts if x))


def _monthly(extended: dict) -> Decimal | None:
    """Advisor writes its estimates as strings: savingsAmount per month, annualSavingsAmount per year."""
    try:
        if extended.get("savingsAmount") not in (None, ""):
            return Decimal(str(extended["savingsAmount"])).quantize(Decimal("0.01"))
        if extended.get("annualSavingsAmount") not in (None, ""):
            return (Decimal(str(extended["annualSavingsAmount"])) / 12).quantize(Decimal("0.01"))
    except InvalidOperation:
        return None
    return None
