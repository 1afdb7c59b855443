"""Reading the Google Cloud billing export from extracts in a bucket (BigQuery `EXPORT DATA` to
Parquet, JSON lines or CSV) and the FOCUS view's extracts. Records become dotted column names
(`service.description`); repeated fields (labels, credits) stay lists, and CSV extracts, which
hold them as JSON text, are parsed back into lists."""

from __future__ import annotations

import json
from typing import Iterator

import pyarrow as pa
import pyarrow.compute as pc

from multicloud.engine.tabular import RawChunk, flatten, read_data_files
from multicloud.core.objects import ObjectStore

PAIRS = pa.list_(pa.struct([("key", pa.string()), ("value", pa.string())]))
CREDITS = pa.list_(pa.struct([("name", pa.string()), ("amount", pa.float64()), ("full_name", pa.string()),
                              ("id", pa.string()), ("type", pa.string())]))
REPEATED = {"labels": PAIRS, "system_labels": PAIRS, "project.labels": PAIRS, "credits": CREDITS}
# JSON lines: the repeated fields' types, so a block in which every row has `credits: []` does not
# make the next block's credits a type error.
JSON_SCHEMA = pa.schema([
    ("credits", CREDITS), ("labels", PAIRS), ("system_labels", PAIRS),
    ("project", pa.struct([("id", pa.string()), ("number", pa.string()), ("name", pa.string()), ("labels", PAIRS),
                           ("ancestry_numbers", pa.string())])),
    ("cost", pa.float64()), ("cost_at_list", pa.float64()),
])


def _parse_list(text: str | None):
    if text is None or not text.strip():
        return []
    try:
        value = json.loads(text)
    except ValueError:
        return None
    return value if isinstance(value, list) else None


def _lists(texts: list, type_: pa.DataType) -> pa.Array:
    """Each JSON text as a list of `type_`; a text that is not such a list gives null."""
    values = [_parse_list(t) for t in texts]
    try:
        return pa.array(values, type_)
    except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError):  # find the bad ones, one by one
        out = []
        for value in values:
            try:
                out.append(pa.array([value], type_).to_pylist()[0])
            except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError):
                out.append(None)
        return pa.array(out, type_)


def adapt(table: pa.Table) -> pa.Table:
    """Flattened records; repeated fields held as JSON text parsed back into lists. A row whose
    text is not a JSON list gets `_reader_error` (the mapping quarantines it): its credits, say,
    must not silently become none."""
    table = flatten(table)
    errors = None
    for name, type_ in REPEATED.items():
        if name not in table.column_names:
            continue
        col = table.column(name)
        if pa.types.is_string(col.type) or pa.types.is_large_string(col.type):
            encoded = col.combine_chunks().dictionary_encode()
            parsed = _lists(encoded.dictionary.to_pylist(), type_)
            values = parsed.take(encoded.indices)
            bad = pc.fill_null(pc.and_(pc.is_null(values), pc.is_valid(col.combine_chunks())), False)
            if pc.any(bad).as_py():
                message = pa.scalar(f"{name}: not a JSON list of {name} records")
                errors = pc.if_else(bad, message, errors if errors is not None else pa.nulls(len(bad), pa.string()))
            table = table.set_column(table.column_names.index(name), name, values)
        elif pa.types.is_null(col.type):
            table = table.set_column(table.column_names.index(name), name, pa.nulls(table.num_rows, type_))
    if errors is not None:
        table = table.append_column("_reader_error", errors)
    return table


def read_billing_export(store: ObjectStore) -> Iterator[RawChunk]:
    """Rows of every extract file of the standard or detailed billing export under the store."""
    yield from read_data_files(store, "gcp-billing-export", adapt=adapt, json_schema=JSON_SCHEMA)


def read_focus_export(store: ObjectStore) -> Iterator[RawChunk]:
    yield from read_data_files(store, "gcp-focus")
