"""What every provider's sample rows share: the money unit and its text, months and hours, the
tag vocabulary, the exact totals a chunk carries in its schema metadata, and spoiling cells for
bad-row tests. Pure: arrays and tables in, arrays and tables out."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from typing import Iterator

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

SCALE = 10 ** 10  # money unit: 1e-10 of the currency
CHUNK_ROWS = 200_000
UTC = timezone.utc

TEAMS = ["data", "web", "ml", "platform", "payments", ""]
ENVS = ["prod", "staging", "dev", ""]
COST_CENTERS = ["cc-100", "cc-200", "cc-300", ""]

BAD_VALUES = ("cost", "date", "currency")


# --------------------------------------------------------------------------------------------
# Money

def money(units: np.ndarray) -> pa.Array:
    """Integer ten-billionths as decimal strings with ten places ("0.0001234500")."""
    units = np.asarray(units, dtype=np.int64)
    words = np.empty((len(units), 2), dtype=np.int64)
    words[:, 0] = units
    words[:, 1] = np.where(units < 0, -1, 0)
    dec = pa.Array.from_buffers(pa.decimal128(38, 10), len(units), [None, pa.py_buffer(words.tobytes())])
    # Arrow writes zero as "0E-10"; exports write plain digits.
    return pc.if_else(pa.array(units == 0), "0.0000000000", pc.cast(dec, pa.string()))


def money_float(units: np.ndarray) -> pa.Array:
    return pa.array(np.asarray(units, dtype=np.int64) / SCALE, pa.float64())


def cost_units(rng, n, low=1e-4, high=8.0) -> np.ndarray:
    """Log-uniform costs between `low` and `high` (many small charges, a few large ones)."""
    return (np.exp(rng.uniform(np.log(low), np.log(high), n)) * SCALE).astype(np.int64)


def with_units(table: pa.Table, provider: str, accounts: list[str], index: np.ndarray, currencies: list[str],
               billed: np.ndarray, effective: np.ndarray) -> pa.Table:
    """Attach the chunk's exact billed and effective totals per account (integer units) as
    schema metadata, computed from the integers the strings were made from."""
    totals = {}
    for i, (account, currency) in enumerate(zip(accounts, currencies)):
        mine = index == i
        if mine.any():
            totals[f"{provider}|{account}|{currency}"] = [int(billed[mine].sum()), int(effective[mine].sum())]
    return table.replace_schema_metadata({"units": json.dumps(totals)})


def table_units(table: pa.Table) -> dict[tuple[str, str, str], tuple[int, int]]:
    """The totals `with_units` attached: (provider, account, currency) → (billed, effective) units."""
    meta = json.loads((table.schema.metadata or {}).get(b"units", b"{}"))
    return {tuple(key.split("|")): (billed, effective) for key, (billed, effective) in meta.items()}


# --------------------------------------------------------------------------------------------
# Months and hours

def period_bounds(period: str) -> tuple[datetime, datetime]:
    year, month = int(period[:4]), int(period[5:7])
    start = datetime(year, month, 1, tzinfo=UTC)
    end = datetime(year + (month == 12), month % 12 + 1, 1, tzinfo=UTC)
    return start, end


def month_seed(period: str) -> int:
    """Each month its own numbers, for one seed."""
    return int(period.replace("-", ""))


def usage_end(period: str, through: str | None) -> datetime:
    """End of the usage window: the period's end, or the day `through` (YYYY-MM-DD, exclusive),
    for an export of a month still in progress."""
    _, end = period_bounds(period)
    if through is None:
        return end
    return min(end, datetime.fromisoformat(through).replace(tzinfo=UTC))


def hours(rng, n, start: datetime, end: datetime, offset_hours: int = 0) -> np.ndarray:
    count = int((end - start).total_seconds() // 3600)
    base = np.datetime64(start.replace(tzinfo=None), "s") + np.timedelta64(offset_hours, "h")
    return base + rng.integers(0, count, n).astype("timedelta64[h]")


def chunk_sizes(rows: int, chunk_rows: int) -> Iterator[int]:
    """`rows` cut into chunks of at most `chunk_rows`."""
    left = rows
    while left > 0:
        n = min(chunk_rows, left)
        left -= n
        yield n


# --------------------------------------------------------------------------------------------
# Arrow columns

def fmt_dates(ts: np.ndarray, fmt: str) -> pa.Array:
    """datetime64 values as text in `fmt`, formatting each distinct value once."""
    values = pa.array(ts.astype("datetime64[s]"))
    encoded = pc.dictionary_encode(values)
    labels = pa.array([d.strftime(fmt) for d in encoded.dictionary.to_pylist()])
    return labels.take(encoded.indices)


def iso(ts: np.ndarray) -> pa.Array:
    """datetime64[s] → '2026-10-01T00:00:00Z'."""
    return fmt_dates(ts, "%Y-%m-%dT%H:%M:%SZ")


def timestamps(values: np.ndarray) -> pa.Array:
    """datetime64 values as UTC timestamps in microseconds, as Parquet exports type them."""
    return pa.array(values.astype("datetime64[us]"), pa.timestamp("us", tz="UTC"))


def repeat(value, n: int, type_: pa.DataType = pa.string()) -> pa.Array:
    """One value n times."""
    return pa.repeat(pa.scalar(value, type_), n)


def pick(rng, items, n, p=None):
    return np.asarray(items, dtype=object)[rng.choice(len(items), n, p=p)]


def ragged(keep: np.ndarray, *cells: np.ndarray) -> tuple[np.ndarray, ...]:
    """The parts of a list column from (n, k) cells, row by row, keeping those where `keep` is
    true: the int32 list offsets, then each of `cells` flattened to its kept values."""
    offsets = np.concatenate([[0], np.cumsum(keep.sum(axis=1))]).astype(np.int32)
    return (offsets, *(c[keep] for c in cells))


# --------------------------------------------------------------------------------------------
# Bad rows

def spoil(table: pa.Table, cells: dict[str, tuple[str, str]], which: bool | tuple[str, ...] = True
          ) -> tuple[pa.Table, list[tuple[int, str, str]]]:
    """Spoil one row per bad value named in `which` (True: all of BAD_VALUES), rows 1, 2, 3... of
    the table, with the (column, value) that `cells` gives for it. Returns the table and the
    spoiled (line, column, value), line counting a CSV header as 1."""
    wanted = BAD_VALUES if which is True else which
    chosen = [cells[name] for name in BAD_VALUES if name in wanted]
    spoiled = []
    for row, (column, value) in enumerate(chosen, start=1):
        values = table.column(column).to_pylist()
        values[row] = value
        table = table.set_column(table.column_names.index(column), column, pa.array(values, pa.string()))
        spoiled.append((row + 2, column, value))
    return table, spoiled


# --------------------------------------------------------------------------------------------
# Vocabularies

def vocabulary(text: str) -> list[tuple[str, ...]]:
    """Rows of a table written one row a line, cells separated by `|` (spaces around them dropped)."""
    return [tuple(cell.strip() for cell in line.split("|")) for line in text.strip().splitlines()]
