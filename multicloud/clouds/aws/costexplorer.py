"""AWS Cost Explorer `GetCostAndUsage` read page by page into pandas frames with exact decimal
money, as an option beside the CUR exports (each request costs $0.01)."""

from __future__ import annotations

from datetime import date, datetime, timezone
from decimal import ROUND_HALF_EVEN, Context, Decimal, InvalidOperation
from typing import Any, Iterator, Sequence

import pandas as pd
import pyarrow as pa
from botocore.exceptions import ClientError

from multicloud.clouds.aws.errors import map_error as _aws_error
from multicloud.clouds.aws.session import client
from multicloud.clouds.common import retried
from multicloud.config import Connection
from multicloud.core.errors import InvalidInput, PermissionDenied, StoreError, Throttled, Transient

MONEY = pa.decimal128(38, 18)
TIMESTAMP = pa.timestamp("us", tz="UTC")
GRANULARITIES = ("DAILY", "MONTHLY", "HOURLY")
METRICS = ("AmortizedCost", "BlendedCost", "NetAmortizedCost", "NetUnblendedCost", "NormalizedUsageAmount",
           "UnblendedCost", "UsageQuantity")
GROUP_TYPES = ("DIMENSION", "TAG", "COST_CATEGORY")
MAX_GROUP_BY = 2
_TARGET = "ce:GetCostAndUsage"
_QUANTUM = Decimal(1).scaleb(-18)
_DECIMAL38 = Context(prec=38, rounding=ROUND_HALF_EVEN)  # decimal128(38, 18): 20 + 18 digits

# Cost Explorer's own error codes; every other code goes through the shared AWS mapping.
_CE_CODES = {
    "LimitExceededException": Throttled, "ThrottlingException": Throttled,
    "AccessDeniedException": PermissionDenied, "UnrecognizedClientException": PermissionDenied,
    "ServiceUnavailableException": Transient,
    # Bad period, expired bill, stale or foreign page token: the request itself must change.
    "DataUnavailableException": InvalidInput, "BillExpirationException": InvalidInput,
    "InvalidNextTokenException": InvalidInput, "RequestChangedException": InvalidInput,
    "UnresolvableUsageUnitException": InvalidInput, "ValidationException": InvalidInput,
}


def cost_and_usage(
    conn: Connection,
    start: date,
    end: date,
    granularity: str = "DAILY",
    metrics: Sequence[str] = ("UnblendedCost", "AmortizedCost"),
    group_by: Sequence[tuple[str, str]] = (("DIMENSION", "LINKED_ACCOUNT"), ("DIMENSION", "SERVICE")),
    filter: dict | None = None,  # noqa: A002 - the API's own name
) -> Iterator[pd.DataFrame]:
    """One frame per `GetCostAndUsage` page (NextPageToken), pyarrow-backed.

    Columns: `TimePeriodStart`, `TimePeriodEnd` (timestamp[us, UTC]; End exclusive), one string
    column per group-by key (`LINKED_ACCOUNT`, `SERVICE`; `TAG:team` and `COST_CATEGORY:name`
    for the others, their values without the API's `key$` prefix), then per metric `<Metric>`
    (decimal128(38, 18) from the API's string) and `<Metric>Unit` (string), and `Estimated`
    (bool). Without group-by each row is a time period's `Total`; with group-by each row is a
    group, and a period without groups has no row. `start` is inclusive, `end` exclusive; for
    HOURLY both may be datetimes (naive ones are UTC).

    Arguments are checked when called, before any request: InvalidInput naming `end`,
    `granularity`, `metrics`, `group_by` or `filter`. While iterating: InvalidInput (refused
    request or unusable amount), PermissionDenied, Throttled and Transient (after retries)."""
    period = _period(start, end, granularity)
    metric_names = _metrics(metrics)
    groups = _group_by(group_by)
    if filter is not None and not isinstance(filter, dict):
        raise InvalidInput(f"filter must be a Cost Explorer Expression dict, not {type(filter).__name__}",
                           target="filter")
    request: dict[str, Any] = {"TimePeriod": period, "Granularity": granularity, "Metrics": list(metric_names)}
    if filter is not None:
        request["Filter"] = filter
    if groups:
        request["GroupBy"] = [{"Type": t, "Key": k} for t, k in groups]
    return _pages(conn, request, metric_names, groups)


def monthly_totals(conn: Connection, start: date, end: date, metric: str = "UnblendedCost",
                   filter: dict | None = None) -> pd.DataFrame:  # noqa: A002
    """The payer's total per calendar month (MONTHLY, no group-by) as one frame, a control
    total for reconciliation: `TimePeriodStart`, `TimePeriodEnd`, `<metric>`, `<metric>Unit`,
    `Estimated`. Raises as `cost_and_usage`."""
    frames = list(cost_and_usage(conn, start, end, granularity="MONTHLY", metrics=(metric,), group_by=(),
                                 filter=filter))
    return pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0]


# ---- requests ---------------------------------------------------------------------------------

def _pages(conn: Connection, request: dict, metrics: tuple[str, ...],
           groups: tuple[tuple[str, str], ...]) -> Iterator[pd.DataFrame]:
    ce = client(conn, "ce")
    token: str | None = None
    while True:
        kwargs = dict(request, NextPageToken=token) if token else request
        page = retried(lambda: ce.get_cost_and_usage(**kwargs), _map_error)
        yield _frame(page.get("ResultsByTime") or [], metrics, groups)
        token = page.get("NextPageToken")
        if not token:
            return


def _map_error(exc: Exception) -> Exception:
    """The taxonomy error for a Cost Explorer call, said as Cost Explorer's; else `exc`."""
    if isinstance(exc, ClientError):
        err = exc.response.get("Error", {})
        code = str(err.get("Code", ""))
        cls = _CE_CODES.get(code)
        if cls is not None:
            return cls(f"Cost Explorer {code}: {err.get('Message') or 'request refused'}", target=_TARGET)
    mapped = _aws_error(exc, _TARGET)
    if mapped is exc or not isinstance(mapped, StoreError):
        return mapped
    # The shared mapping speaks of S3; name the service actually called.
    detail = str(mapped).removesuffix(f" [{_TARGET}]").removeprefix("S3 ")
    return type(mapped)(f"Cost Explorer {detail}", target=_TARGET)


# ---- argument checks --------------------------------------------------------------------------

def _period(start: date, end: date, granularity: str) -> dict[str, str]:
    if granularity not in GRANULARITIES:
        raise InvalidInput(f"granularity {granularity!r} is not one of {', '.join(GRANULARITIES)}",
                           target="granularity")
    for name, value in (("start", start), ("end", end)):
        if not isinstance(value, date):
            raise InvalidInput(f"{name} must be a date, not {type(value).__name__}", target=name)
    if granularity == "HOURLY":
        first, last = _utc(start), _utc(end)
        if last <= first:
            raise InvalidInput(f"end {last.isoformat()} is not after start {first.isoformat()}", target="end")
        return {"Start": first.strftime("%Y-%m-%dT%H:%M:%SZ"), "End": last.strftime("%Y-%m-%dT%H:%M:%SZ")}
    for name, value in (("start", start), ("end", end)):
        if isinstance(value, datetime) and value.time() != datetime.min.time():
            raise InvalidInput(f"{name} {value.isoformat()} has a time of day; {granularity} takes whole days",
                               target=name)
    first_day, last_day = _day(start), _day(end)
    if last_day <= first_day:
        raise InvalidInput(f"end {last_day} is not after start {first_day} (end is exclusive)", target="end")
    return {"Start": first_day.isoformat(), "End": last_day.isoformat()}


def _day(value: date) -> date:
    return value.date() if isinstance(value, datetime) else value


def _utc(value: date) -> datetime:
    if not isinstance(value, datetime):
        return datetime(value.year, value.month, value.day, tzinfo=timezone.utc)
    return value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value.astimezone(timezone.utc)


def _metrics(metrics: Sequence[str]) -> tuple[str, ...]:
    names = (metrics,) if isinstance(metrics, str) else tuple(metrics)
    if not names:
        raise InvalidInput("at least one metric is needed", target="metrics")
    unknown = [m for m in names if m not in METRICS]
    if unknown:
        raise InvalidInput(f"unknown metric(s) {', '.join(map(repr, unknown))}; known: {', '.join(METRICS)}",
                           target="metrics")
    if len(set(names)) != len(names):
        raise InvalidInput(f"metrics repeat a name: {list(names)}", target="metrics")
    return names


def _group_by(group_by: Sequence[tuple[str, str]]) -> tuple[tuple[str, str], ...]:
    groups = tuple(group_by or ())
    if len(groups) > MAX_GROUP_BY:
        raise InvalidInput(f"{len(groups)} group-by keys; Cost Explorer takes at most {MAX_GROUP_BY}",
                           target="group_by")
    out = []
    for item in groups:
        if not (isinstance(item, (tuple, list)) and len(item) == 2 and all(isinstance(x, str) for x in item)):
            raise InvalidInput(f"group-by {item!r} is not a (type, key) pair", target="group_by")
        gtype, key = item
        if gtype not in GROUP_TYPES:
            raise InvalidInput(f"group-by type {gtype!r} is not one of {', '.join(GROUP_TYPES)}", target="group_by")
        if not key:
            raise InvalidInput(f"group-by {gtype} has an empty key", target="group_by")
        out.append((gtype, key))
    if len({_column(g) for g in out}) != len(out):
        raise InvalidInput(f"group-by repeats a key: {out}", target="group_by")
    return tuple(out)


def _column(group: tuple[str, str]) -> str:
    gtype, key = group
    return key if gtype == "DIMENSION" else f"{gtype}:{key}"


# ---- frames -----------------------------------------------------------------------------------

def _frame(results: list[dict], metrics: tuple[str, ...], groups: tuple[tuple[str, str], ...]) -> pd.DataFrame:
    starts, ends, estimated = [], [], []
    keys: list[list[str | None]] = [[] for _ in groups]
    amounts: dict[str, list[Decimal | None]] = {m: [] for m in metrics}
    units: dict[str, list[str | None]] = {m: [] for m in metrics}

    def add(period: dict, is_estimated: bool, values: dict, group_keys: list[str]) -> None:
        starts.append(_timestamp(period.get("Start"), "TimePeriod.Start"))
        ends.append(_timestamp(period.get("End"), "TimePeriod.End"))
        estimated.append(bool(is_estimated))
        for i, (gtype, key) in enumerate(groups):
            value = group_keys[i] if i < len(group_keys) else None
            if value is not None and gtype != "DIMENSION" and value.startswith(f"{key}$"):
                value = value[len(key) + 1:]  # TAG and COST_CATEGORY values come as "key$value"
            keys[i].append(value)
        for m in metrics:
            metric = values.get(m) or {}
            amounts[m].append(_money(metric.get("Amount"), m))
            units[m].append(metric.get("Unit"))

    for result in results:
        period = result.get("TimePeriod") or {}
        if groups:
            for group in result.get("Groups") or []:
                add(period, result.get("Estimated", False), group.get("Metrics") or {}, list(group.get("Keys") or []))
        else:
            add(period, result.get("Estimated", False), result.get("Total") or {}, [])

    columns: dict[str, pa.Array] = {
        "TimePeriodStart": pa.array(starts, TIMESTAMP), "TimePeriodEnd": pa.array(ends, TIMESTAMP),
    }
    for group, values in zip(groups, keys):
        columns[_column(group)] = pa.array(values, pa.string())
    for m in metrics:
        columns[m] = pa.array(amounts[m], MONEY)
        columns[f"{m}Unit"] = pa.array(units[m], pa.string())
    columns["Estimated"] = pa.array(estimated, pa.bool_())
    return pa.table(columns).to_pandas(types_mapper=pd.ArrowDtype)


def _timestamp(text: str | None, field: str) -> datetime:
    """DAILY/MONTHLY periods come as 2026-10-01, HOURLY ones as 2026-10-01T00:00:00Z."""
    try:
        value = datetime.fromisoformat(str(text))
    except ValueError:
        raise InvalidInput(f"Cost Explorer answered {field} {text!r}, not a date", target=_TARGET) from None
    return value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value.astimezone(timezone.utc)


def _money(text: str | None, field: str) -> Decimal | None:
    """The API's amount string as a decimal of scale 18 (rounded half-even past 18 places)."""
    if text is None:
        return None
    try:
        value = Decimal(str(text))
        if not value.is_finite():
            raise InvalidOperation
        return value.quantize(_QUANTUM, context=_DECIMAL38)
    except InvalidOperation:
        raise InvalidInput(f"Cost Explorer answered {field} amount {text!r}, not a decimal of at most 20 "
                           "integer digits", target=_TARGET) from None
