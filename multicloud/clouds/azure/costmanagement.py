"""Azure Cost Management Query API (`azure-mgmt-costmanagement`) read page by page into pandas
frames, costs as exact decimals parsed from the JSON numbers' own digits."""

from __future__ import annotations

import ipaddress
import json
import time
from datetime import date, datetime, time as dtime, timedelta, timezone
from decimal import ROUND_HALF_EVEN, Context, Decimal, InvalidOperation
from functools import partial
from typing import Any, Callable, Iterator, Sequence
from urllib.parse import parse_qsl, urlsplit

import pandas as pd
import pyarrow as pa
from multicloud.clouds.azure.storage import map_error as _azure_error
from multicloud.clouds.common import DEFAULT_RETRY
from multicloud.core.errors import InvalidInput, Throttled, Transient
from multicloud.core.retry import RetryPolicy, call_with_retry

MONEY = pa.decimal128(38, 18)
TIMESTAMP = pa.timestamp("us", tz="UTC")
METRICS = ("ActualCost", "AmortizedCost")
GRANULARITIES = ("Daily", "Monthly", "None")
COST_COLUMNS = ("Cost", "PreTaxCost")
DEFAULT_GROUP_BY = ("SubscriptionId", "ServiceName", "ResourceLocation", "ChargeType", "PricingModel")
#: Longest wait a throttled answer's Retry-After may impose between two attempts.
MAX_RETRY_AFTER_SECONDS = 120.0
_RETRY_AFTER_HEADERS = ("x-ms-ratelimit-microsoft.costmanagement-qpu-retry-after",
                        "x-ms-ratelimit-microsoft.costmanagement-entity-retry-after",
                        "x-ms-ratelimit-microsoft.costmanagement-tenant-retry-after", "Retry-After")
_QUANTUM = Decimal(1).scaleb(-18)
_DECIMAL38 = Context(prec=38, rounding=ROUND_HALF_EVEN)  # decimal128(38, 18): 20 + 18 digits
_LOOPBACK_NAMES = {"localhost"}


def query_costs(
    scope: str,
    start: date,
    end: date,
    *,
    metric: str = "ActualCost",
    granularity: str = "Daily",
    group_by: Sequence[str] = DEFAULT_GROUP_BY,
    cost_column: str = "Cost",
    credential: Any = None,
    base_url: str | None = None,
    timeout_seconds: float = 60.0,
    connect_timeout_seconds: float = 10.0,
    retry: RetryPolicy = DEFAULT_RETRY,
) -> Iterator[pd.DataFrame]:
    """One frame per Query API page (following `properties.nextLink`), pyarrow-backed.

    Queries `scope` (e.g. `/subscriptions/{id}`) for `metric` costs from `start` (inclusive) to
    `end` (exclusive), sent as timePeriod from `start`T00:00:00Z to the day before `end`
    T23:59:59Z since Azure's `to` is inclusive. Columns are the response's, in its order: the
    cost column (`Cost` or `PreTaxCost`, decimal128(38, 18)), `UsageDate` (Daily; its
    20261001 as timestamp[us, UTC]) or `BillingMonth` (Monthly, timestamp), one string column
    per `group_by` dimension, `Currency` (string); any other Number column is decimal, any other
    Datetime a timestamp. Granularity "None" sends no granularity: one total per group.

    `credential` is a TokenCredential (default: azure-identity's DefaultAzureCredential);
    `base_url` overrides Azure Resource Manager's, plain `http://` only on a loopback host and
    only with an explicit credential. Each request has the given timeouts; the SDK's retries are
    off, `retry` retries Throttled (waiting at least its Retry-After) and Transient errors.

    Arguments are checked when called: InvalidInput naming `scope`, `end`, `metric`,
    `granularity`, `group_by`, `cost_column`, `base_url` or `credential`. While iterating:
    NotFound (unknown scope), PermissionDenied (401/403), Throttled (429), Transient,
    InvalidInput (400: e.g. an unknown dimension, or a nextLink pointing elsewhere)."""
    scope_path = _scope(scope)
    time_period = _time_period(start, end)
    definition = _definition(metric, granularity, group_by, cost_column, time_period)
    options = _endpoint_options(base_url, credential)
    return _pages(scope_path, definition, credential, base_url, options,
                  (connect_timeout_seconds, timeout_seconds), retry)


# ---- argument checks --------------------------------------------------------------------------

def _scope(scope: str) -> str:
    path = scope.strip("/") if isinstance(scope, str) else ""
    if not path or any(c in path for c in "?#\\ ") or ".." in path.split("/") or "//" in path:
        raise InvalidInput(f"scope {scope!r} is not an ARM scope path such as /subscriptions/{{id}}", target="scope")
    return "/" + path


def _time_period(start: date, end: date) -> tuple[datetime, datetime]:
    for name, value in (("start", start), ("end", end)):
        if not isinstance(value, date):
            raise InvalidInput(f"{name} must be a date, not {type(value).__name__}", target=name)
        if isinstance(value, datetime) and value.time() != dtime.min:
            raise InvalidInput(f"{name} {value.isoformat()} has a time of day; the query takes whole days",
                               target=name)
    first = start.date() if isinstance(start, datetime) else start
    after = end.date() if isinstance(end, datetime) else end
    if after <= first:
        raise InvalidInput(f"end {after} is not after start {first} (end is exclusive)", target="end")
    return (datetime.combine(first, dtime.min, timezone.utc),
            datetime.combine(after - timedelta(days=1), dtime(23, 59, 59), timezone.utc))


def _definition(metric: str, granularity: str, group_by: Sequence[str], cost_column: str,
                period: tuple[datetime, datetime]):
    from azure.mgmt.costmanagement.models import (
        QueryAggregation, QueryDataset, QueryDefinition, QueryGrouping, QueryTimePeriod,
    )

    if metric not in METRICS:
        raise InvalidInput(f"metric {metric!r} is not one of {', '.join(METRICS)}", target="metric")
    if granularity not in GRANULARITIES:
        raise InvalidInput(f"granularity {granularity!r} is not one of {', '.join(GRANULARITIES)}",
                           target="granularity")
    if cost_column not in COST_COLUMNS:
        raise InvalidInput(f"cost_column {cost_column!r} is not one of {', '.join(COST_COLUMNS)}",
                           target="cost_column")
    names = (group_by,) if isinstance(group_by, str) else tuple(group_by or ())
    if any(not isinstance(n, str) or not n.isidentifier() for n in names):
        raise InvalidInput(f"group_by {list(names)!r} must be dimension names such as ServiceName",
                           target="group_by")
    if len({n.lower() for n in names}) != len(names):
        raise InvalidInput(f"group_by repeats a dimension: {list(names)}", target="group_by")
    dataset = QueryDataset(
        # No granularity at all is Azure's "None": one total per group over the whole period.
        granularity=None if granularity == "None" else granularity,
        aggregation={"totalCost": QueryAggregation(name=cost_column, function="Sum")},
        grouping=[QueryGrouping(type="Dimension", name=n) for n in names] or None,
    )
    return QueryDefinition(type=metric, timeframe="Custom",
                           time_period=QueryTimePeriod(from_property=period[0], to=period[1]), dataset=dataset)


def _endpoint_options(base_url: str | None, credential: Any) -> dict:
    """Per-call options for `base_url`. Bearer tokens go over plain HTTP only to this machine,
    and a real credential is never sent there by default."""
    if base_url is None:
        return {}
    parts = urlsplit(base_url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise InvalidInput(f"base_url {base_url!r} is not an http(s) URL", target="base_url")
    if parts.scheme == "https":
        return {}
    if not _loopback(parts.hostname):
        raise InvalidInput("a bearer token is never sent over plain HTTP: base_url must be https unless its host "
                           "is this machine", target="base_url")
    if credential is None:
        raise InvalidInput("a plain-HTTP base_url needs an explicit credential (a local server's token)",
                           target="credential")
    return {"enforce_https": False}


def _loopback(host: str) -> bool:
    if host.lower() in _LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


# ---- requests ---------------------------------------------------------------------------------

def _client(credential: Any, base_url: str | None, timeouts: tuple[float, float]):
    from azure.core.pipeline.transport import RequestsTransport
    from azure.mgmt.costmanagement import CostManagementClient

    if credential is None:
        from azure.identity import DefaultAzureCredential

        credential = DefaultAzureCredential()
    transport = RequestsTransport(connection_timeout=timeouts[0], read_timeout=timeouts[1])
    return CostManagementClient(credential, base_url=base_url.rstrip("/") if base_url else None,
                                transport=transport, retry_total=0)


def _pages(scope: str, definition, credential: Any, base_url: str | None, options: dict,
           timeouts: tuple[float, float], retry: RetryPolicy) -> Iterator[pd.DataFrame]:
    client = _client(credential, base_url, timeouts)
    try:
        params: dict[str, str] = {}
        while True:
            page = _call(partial(client.query.usage, scope, definition, params=params, stream=True, cls=_raw_json,
                                 **options), scope, retry)
            if page is None:  # 204: nothing for this scope
                return
            props = page.get("properties") or {}
            yield _frame(props.get("columns") or [], props.get("rows") or [], scope)
            next_link = props.get("nextLink")
            if not next_link:
                return
            # The client's resolved ARM endpoint (base_url, or the cloud's default).
            params = _next_params(next_link, client._config.base_url, scope)
    finally:
        client.close()


def _raw_json(pipeline_response, body, headers) -> dict | None:
    """The response body parsed with every JSON number's digits kept: the SDK's own models
    would turn costs into floats."""
    if body is None:
        return None
    data = b"".join(body)
    if not data:
        return None
    try:
        return json.loads(data, parse_float=Decimal)
    except ValueError as exc:  # e.g. cut off mid-body
        raise Transient(f"the query answer ({pipeline_response.http_response.status_code}) is not JSON: {exc}") \
            from None


def _next_params(next_link: str, base_url: str, scope: str) -> dict[str, str]:
    """The query parameters of `next_link` (its $skiptoken) for the next POST of the same body.
    The link must name the same host and query path: our bearer token goes nowhere else."""
    link, base = urlsplit(next_link), urlsplit(base_url)
    expected = f"{scope}/providers/Microsoft.CostManagement/query".lower()
    if (link.scheme, link.netloc.lower()) != (base.scheme, base.netloc.lower()) or \
            link.path.rstrip("/").lower() != expected:
        raise InvalidInput(f"the service's nextLink points elsewhere ({link.scheme}://{link.netloc}{link.path}) "
                           "than this query", target=scope)
    return {k: v for k, v in parse_qsl(link.query, keep_blank_values=True) if k.lower() != "api-version"}


def _call(fn: Callable[[], Any], target: str, retry: RetryPolicy) -> Any:
    """`fn` under `retry`, SDK errors mapped to the taxonomy (chained); a throttled attempt
    waits at least the service's Retry-After (at most MAX_RETRY_AFTER_SECONDS)."""
    asked = [0.0]

    def once() -> Any:
        try:
            return fn()
        except Exception as exc:
            mapped = _azure_error(exc, target)
            if mapped is exc:
                raise
            wait = _retry_after(exc) if isinstance(mapped, Throttled) else None
            if wait is not None:
                asked[0] = wait
                mapped = Throttled(f"{str(mapped).removesuffix(f' [{target}]')} (Retry-After {wait:g} s)",
                                   target=target)
                mapped.retry_after = wait
            raise mapped from exc

    def sleep(delay: float) -> None:
        time.sleep(max(delay, min(asked[0], MAX_RETRY_AFTER_SECONDS)))
        asked[0] = 0.0

    return call_with_retry(once, retry, sleep)


def _retry_after(exc: Exception) -> float | None:
    headers = getattr(getattr(exc, "response", None), "headers", None) or {}
    for name in _RETRY_AFTER_HEADERS:
        value = headers.get(name)
        if value is not None:
            try:
                return max(0.0, float(value))
            except ValueError:
                continue
    return None


# ---- frames -----------------------------------------------------------------------------------

def _frame(columns: list[dict], rows: list[list], scope: str) -> pd.DataFrame:
    names = [str(c.get("name")) for c in columns]
    if len(set(names)) != len(names):
        raise InvalidInput(f"the query answer repeats a column: {names}", target=scope)
    for i, row in enumerate(rows):
        if not isinstance(row, list) or len(row) != len(names):
            raise InvalidInput(f"row {i} of the query answer has {len(row) if isinstance(row, list) else 'no'} "
                               f"values for {len(names)} columns", target=scope)
    arrays = {}
    for j, (name, column) in enumerate(zip(names, columns)):
        values = [row[j] for row in rows]
        kind = str(column.get("type") or "").lower()
        if name == "UsageDate":
            arrays[name] = pa.array([_usage_date(v, scope) for v in values], TIMESTAMP)
        elif kind == "number":
            arrays[name] = pa.array([_money(v, name, scope) for v in values], MONEY)
        elif kind == "datetime":
            arrays[name] = pa.array([_datetime(v, name, scope) for v in values], TIMESTAMP)
        else:
            arrays[name] = pa.array([None if v is None else str(v) for v in values], pa.string())
    return pa.table(arrays).to_pandas(types_mapper=pd.ArrowDtype)


def _usage_date(value: Any, scope: str) -> datetime | None:
    """UsageDate comes as the number 20261001."""
    if value is None:
        return None
    try:
        return datetime.strptime(str(int(value)), "%Y%m%d").replace(tzinfo=timezone.utc)
    except (TypeError, ValueError, InvalidOperation):
        raise InvalidInput(f"UsageDate {value!r} is not a yyyymmdd number", target=scope) from None


def _datetime(value: Any, name: str, scope: str) -> datetime | None:
    if value is None:
        return None
    try:
        parsed = datetime.fromisoformat(str(value))
    except ValueError:
        raise InvalidInput(f"{name} {value!r} is not a date-time", target=scope) from None
    return parsed.replace(tzinfo=timezone.utc) if parsed.tzinfo is None else parsed.astimezone(timezone.utc)


def _money(value: Any, name: str, scope: str) -> Decimal | None:
    """A JSON number as parsed (Decimal or int) to scale 18, half-even past 18 places."""
    if value is None:
        return None
    try:
        if isinstance(value, (bool, float)):
            raise InvalidOperation  # never through binary floating point
        number = Decimal(value) if isinstance(value, (int, Decimal)) else Decimal(str(value).strip())
        if not number.is_finite():
            raise InvalidOperation
        return number.quantize(_QUANTUM, context=_DECIMAL38)
    except InvalidOperation:
        raise InvalidInput(f"{name} {value!r} is not a decimal of at most 20 integer digits", target=scope) from None
