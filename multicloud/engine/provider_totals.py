"""Totals from the providers' own spend APIs (AWS Cost Explorer, Azure Cost Management Query) for
the periods a costs run reconciled, compared with the run's totals: a second opinion beside each
export's own total. An API that does not answer is `unavailable`, never a programming error."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pandas as pd
from azure.core.exceptions import AzureError
from botocore.exceptions import BotoCoreError, ClientError

from multicloud.config import Profile
from multicloud.config.costs import CostExplorerTotals, CostManagementTotals
from multicloud.core.costs import reconcile
from multicloud.core.errors import InvalidInput, StoreError

#: What a spend API's failure can be: the taxonomy, or an SDK error its mapping left as it was.
API_ERRORS = (StoreError, ClientError, BotoCoreError, AzureError)
PROVIDER = {"aws-cost-explorer": "AWS", "azure-cost-management": "Microsoft"}


def month(period: str) -> tuple[date, date]:
    """A billing period's first day and the first day after it."""
    start = date.fromisoformat(f"{period}-01")
    return start, (start + timedelta(days=32)).replace(day=1)


def cost_explorer_totals(entry: CostExplorerTotals, period: str, profile: Profile) -> dict[tuple, Decimal]:
    from multicloud.clouds.aws.costexplorer import monthly_totals

    frame = monthly_totals(profile.connection_for("aws", entry.connection), *month(period), metric=entry.metric)
    totals: dict[tuple, Decimal] = {}
    for row in frame.to_dict("records"):
        key = ("AWS", entry.billing_account, period, row[f"{entry.metric}Unit"])
        totals[key] = totals.get(key, Decimal(0)) + Decimal(row[entry.metric])
    return totals


def cost_management_totals(entry: CostManagementTotals, period: str, profile: Profile) -> dict[tuple, Decimal]:
    from multicloud.clouds.azure.costmanagement import query_costs

    conn = profile.connection_for("azure", entry.connection)
    totals: dict[tuple, Decimal] = {}
    for frame in query_costs(entry.scope, *month(period), metric=entry.metric, granularity="None", group_by=(),
                             credential=_arm_credential(conn), base_url=entry.api_endpoint,
                             timeout_seconds=conn.timeout_seconds,
                             connect_timeout_seconds=conn.connect_timeout_seconds):
        for cost, currency in zip(frame["Cost"], frame["Currency"]):
            key = ("Microsoft", entry.billing_account, period, currency)
            totals[key] = totals.get(key, Decimal(0)) + Decimal(cost)
    return totals


def _arm_credential(conn):
    """'emulator': the fixed token a local fake ARM server accepts; 'default': None, so the
    reader uses azure-identity's DefaultAzureCredential."""
    if conn.credentials == "emulator":
        from multicloud.clouds.azure.dns import StaticTokenCredential

        return StaticTokenCredential()
    if conn.credentials == "default":
        return None
    raise InvalidInput(f"credentials {conn.credentials!r} cannot open Azure Resource Manager: use 'default' "
                       "(or 'emulator' for a local fake)", target=conn.name)


_READERS = {"aws-cost-explorer": cost_explorer_totals, "azure-cost-management": cost_management_totals}


def compare(entries: list, reconciliation: pd.DataFrame, effective: reconcile.Totals,
            profile: Profile) -> tuple[pd.DataFrame, list[str]]:
    """For each configured API, its total of every period reconciled for its billing account,
    beside the run's own (Σ BilledCost, or Σ EffectiveCost for an amortized metric). Returns the
    comparison (`core.costs.reconcile.compare_with_provider`) and one line per API failure."""
    tables, failures = [], []
    for entry in entries:
        provider = PROVIDER[entry.kind]
        totals: dict[tuple, Decimal] = {}
        unavailable: set[tuple] = set()
        for period in reconcile.periods_of(reconciliation, provider, entry.billing_account):
            try:
                totals.update(_READERS[entry.kind](entry, period, profile))
            except API_ERRORS as exc:  # a second opinion: its failure is reported, not fatal
                failures.append(f"{entry.kind} total for {entry.billing_account} {period} unavailable: {exc}")
                unavailable.add((provider, entry.billing_account, period))
        expected = effective.amounts if entry.metric == "AmortizedCost" else None
        tables.append(reconcile.compare_with_provider(reconciliation, totals, unavailable, expected, entry.metric))
    return reconcile.concat_comparisons(tables), failures
