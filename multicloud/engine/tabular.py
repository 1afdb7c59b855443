"""Reading tabular files (CSV, gzip'd CSV, Parquet, JSON lines) out of any ObjectStore chunk by
chunk, as pandas frames with Arrow dtypes, each chunk knowing the file and line it came from.
Memory stays at a few chunks whatever the file's size."""

from __future__ import annotations

import csv
import io
import os
import shutil
import tempfile
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator

import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.json as pajson
import pyarrow.parquet as pq

from multicloud.core.errors import InvalidInput
from multicloud.core.objects import ObjectStore

BLOCK_BYTES = 8 << 20
BATCH_ROWS = 100_000


@dataclass
class RawChunk:
    """Rows of one export file as read, before any mapping. `first_line` is the file line of the
    first row (CSV counts the header as line 1; Parquet and JSON lines count rows from 1)."""

    frame: pd.DataFrame
    file: str
    first_line: int
    kind: str = ""

    def table(self) -> pa.Table:
        return pa.Table.from_pandas(self.frame, preserve_index=False)


def to_frame(table: pa.Table) -> pd.DataFrame:
    return table.to_pandas(types_mapper=pd.ArrowDtype, split_blocks=True, self_destruct=False)


def file_format(key: str) -> str:
    """"csv", "csv.gz", "parquet" or "jsonl", from the key's ending; InvalidInput otherwise."""
    name = key.lower()
    for suffix, fmt in ((".csv.gz", "csv.gz"), (".csv.gzip", "csv.gz"), (".csv", "csv"), (".parquet", "parquet"),
                        (".jsonl", "jsonl"), (".json.gz", "jsonl.gz"), (".jsonl.gz", "jsonl.gz"), (".ndjson", "jsonl")):
        if name.endswith(suffix):
            return fmt
    raise InvalidInput("not a CSV, Parquet or JSON lines file (by its name)", target=key)


def read_table_chunks(store: ObjectStore, key: str, *, rename: Callable[[str], str] | None = None,
                      fmt: str | None = None, json_schema: pa.Schema | None = None) -> Iterator[tuple[pa.Table, int]]:
    """(Arrow table, first line) chunks of one file. CSV columns are all read as text (so that a
    bad value is the row's problem, not the file's); `rename` maps header names; `json_schema`
    fixes the types of fields JSON lines may leave empty in a whole block (lists, records)."""
    fmt = fmt or file_format(key)
    if fmt in ("csv", "csv.gz"):
        yield from _csv_chunks(store, key, fmt == "csv.gz", rename)
    elif fmt == "parquet":
        yield from _parquet_chunks(store, key, rename)
    else:
        yield from _jsonl_chunks(store, key, fmt.endswith(".gz"), rename, json_schema)


class _Replay(io.RawIOBase):
    """A stream that first gives back bytes already read, then the rest of the source."""

    def __init__(self, head: bytes, rest):
        self.head, self.rest = head, rest

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        if self.head:
            n = min(len(buffer), len(self.head))
            buffer[:n] = self.head[:n]
            self.head = self.head[n:]
            return n
        data = self.rest.read(len(buffer))
        buffer[:len(data)] = data
        return len(data)


def _csv_chunks(store, key, gzipped, rename) -> Iterator[tuple[pa.Table, int]]:
    with store.open(key) as raw:
        # Arrow's own gzip decoder: about 1.5x Python's, and it runs without the GIL.
        if gzipped:
            plain = io.BufferedReader(_Replay(b"", raw), buffer_size=4 << 20)
            stream = pa.input_stream(pa.PythonFile(plain, mode="r"), compression="gzip")
        else:
            stream = raw
        head = b""
        while b"\n" not in head:
            data = stream.read(65536)
            if not data:
                break
            head += data
        if not head.strip():
            return
        header_line = head.split(b"\n", 1)[0].decode("utf-8-sig").rstrip("\r")
        names = next(csv.reader([header_line]))
        if len(set(names)) != len(names):
            dupes = sorted({n for n in names if names.count(n) > 1})
            raise InvalidInput(f"duplicate column name(s) {dupes}", target=key)
        final = [rename(n) if rename else n for n in names]
        if len(set(final)) != len(final):  # e.g. tag keys that differ only in case
            clash = {}
            for original, new in zip(names, final):
                clash.setdefault(new, []).append(original)
            pairs = "; ".join(f"{' and '.join(map(repr, o))} both become {n!r}" for n, o in clash.items() if len(o) > 1)
            raise InvalidInput(f"column names collide: {pairs}", target=key)
        if head.startswith(b"\xef\xbb\xbf"):
            head = head[3:]
        reader = pacsv.open_csv(
            io.BufferedReader(_Replay(head, stream), buffer_size=4 << 20),
            read_options=pacsv.ReadOptions(column_names=final, skip_rows=1, block_size=BLOCK_BYTES),
            # Blank lines stay rows (of nulls, which quarantine names), so line numbers stay true.
            parse_options=pacsv.ParseOptions(newlines_in_values=False, ignore_empty_lines=False),
            convert_options=pacsv.ConvertOptions(column_types={n: pa.string() for n in final},
                                                 null_values=[""], strings_can_be_null=True,
                                                 quoted_strings_can_be_null=True),  # "n/a" is a bad value, not a null
        )
        line, pending, rows = 2, [], 0
        try:
            # The reader's batches are one block (~10k rows) each; per-chunk work is cheaper on
            # fewer, larger chunks.
            for batch in reader:
                if batch.num_rows:
                    pending.append(batch)
                    rows += batch.num_rows
                if rows >= BATCH_ROWS:
                    yield pa.Table.from_batches(pending).combine_chunks(), line
                    line, pending, rows = line + rows, [], 0
        except pa.ArrowInvalid as exc:
            raise InvalidInput(f"malformed CSV after line {line + rows}: {exc}", target=key) from exc
        if pending:
            yield pa.Table.from_batches(pending).combine_chunks(), line


@contextmanager
def local_copy(store: ObjectStore, key: str):
    """A local path with the object's bytes: the file itself for a local store, else a temporary
    copy removed afterwards (Parquet needs random access)."""
    path = getattr(store, "local_path", None)
    if path is not None:
        yield path(key)
        return
    fd, tmp = tempfile.mkstemp(suffix=Path(key).suffix)
    try:
        with os.fdopen(fd, "wb") as out, store.open(key) as src:
            shutil.copyfileobj(src, out, 4 << 20)
        yield Path(tmp)
    finally:
        os.unlink(tmp)


def _parquet_chunks(store, key, rename) -> Iterator[tuple[pa.Table, int]]:
    with local_copy(store, key) as path:
        try:
            parquet = pq.ParquetFile(path)
        except pa.ArrowInvalid as exc:
            raise InvalidInput(f"not a Parquet file: {exc}", target=key) from exc
        row = 1
        for batch in parquet.iter_batches(batch_size=BATCH_ROWS):
            table = pa.Table.from_batches([batch])
            if rename:
                table = table.rename_columns([rename(n) for n in table.column_names])
            yield table, row
            row += batch.num_rows


def _jsonl_chunks(store, key, gzipped, rename, schema=None) -> Iterator[tuple[pa.Table, int]]:
    with local_copy(store, key) as path:
        source = pa.CompressedInputStream(pa.OSFile(str(path)), "gzip") if gzipped else str(path)
        parse = pajson.ParseOptions(explicit_schema=schema, unexpected_field_behavior="infer") if schema else None
        try:
            reader = pajson.open_json(source, read_options=pajson.ReadOptions(block_size=BLOCK_BYTES),
                                      parse_options=parse)
            row = 1
            for batch in reader:
                table = pa.Table.from_batches([batch])
                if rename:
                    table = table.rename_columns([rename(n) for n in table.column_names])
                yield table, row
                row += batch.num_rows
        except pa.ArrowInvalid as exc:
            raise InvalidInput(f"malformed JSON lines: {exc}", target=key) from exc


def flatten(table: pa.Table) -> pa.Table:
    """Struct columns to dotted names (`service.description`), all levels; lists stay lists."""
    while any(pa.types.is_struct(f.type) for f in table.schema):
        table = table.flatten()
    return table


def data_keys(store: ObjectStore, prefix: str = "") -> list[str]:
    """Keys under `prefix` this module can read, in key order."""
    keys = []
    for meta in store.list(prefix):
        try:
            file_format(meta.key)
        except InvalidInput:
            continue
        keys.append(meta.key)
    return keys


def read_data_files(store: ObjectStore, kind: str, rename=None, keys: list[str] | None = None,
                    adapt: Callable[[pa.Table], pa.Table] | None = None,
                    json_schema: pa.Schema | None = None) -> Iterator[RawChunk]:
    """Rows of every data file under the store (or of `keys`). Raises NotFound when there is none."""
    keys = data_keys(store) if keys is None else keys
    if not keys:
        from multicloud.core.errors import NotFound
        raise NotFound("no data files (.csv, .csv.gz, .parquet, .jsonl) under the source",
                       target=getattr(store, "url", ""))
    for key in keys:
        for table, first in read_table_chunks(store, key, rename=rename, json_schema=json_schema):
            yield RawChunk(to_frame(adapt(table) if adapt else table), key, first, kind)
