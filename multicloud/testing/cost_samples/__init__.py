"""Sample billing exports of every kind, at any size, for tests, the demo and the benchmark:
several accounts, services, regions and tags, credits, commitments, taxes, a restated month, and
optionally a few bad rows. Deterministic for a seed; generated chunk by chunk (memory does not
grow with rows); money is made as integer ten-billionths so the expected totals are exact and
independent of the code under test.

The builders (`aws`, `azure`, `gcp`, `focus`, on `common`) return tables and text; `writer` lays
them out in each provider's layout under a directory."""

from multicloud.testing.cost_samples.aws import (
    AWS_ACCOUNTS, AWS_CUR_CSV_COLUMNS, AWS_PAYERS, AWS_REGIONS, AWS_SERVICES, aws_cur_tables,
)
from multicloud.testing.cost_samples.azure import (
    AZ_ACCOUNTS, AZ_METERS, AZ_REGIONS, AZ_SUBS, AZURE_EA_COLUMNS, AZURE_MCA_COLUMNS, azure_tables,
)
from multicloud.testing.cost_samples.common import (
    BAD_VALUES, CHUNK_ROWS, COST_CENTERS, ENVS, SCALE, TEAMS, UTC, cost_units, fmt_dates, hours, iso, money,
    money_float, period_bounds, pick, usage_end,
)
from multicloud.testing.cost_samples.focus import focus_tables
from multicloud.testing.cost_samples.gcp import GCP_ACCOUNTS, GCP_PROJECTS, GCP_REGIONS, GCP_SERVICES, gcp_tables
from multicloud.testing.cost_samples.writer import KINDS, SampleExport, mixed, write_export

__all__ = [
    "AWS_ACCOUNTS", "AWS_CUR_CSV_COLUMNS", "AWS_PAYERS", "AWS_REGIONS", "AWS_SERVICES", "AZ_ACCOUNTS", "AZ_METERS",
    "AZ_REGIONS", "AZ_SUBS", "AZURE_EA_COLUMNS", "AZURE_MCA_COLUMNS", "BAD_VALUES", "CHUNK_ROWS", "COST_CENTERS",
    "ENVS", "GCP_ACCOUNTS", "GCP_PROJECTS", "GCP_REGIONS", "GCP_SERVICES", "KINDS", "SCALE", "TEAMS", "UTC",
    "SampleExport", "aws_cur_tables", "azure_tables", "cost_units", "fmt_dates", "focus_tables", "gcp_tables", "hours",
    "iso", "mixed", "money", "money_float", "period_bounds", "pick", "usage_end", "write_export",
]
