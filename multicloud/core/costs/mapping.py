"""The engine that turns one chunk of a native billing export into FOCUS rows. A source is described
as data (`SourceSpec`: which raw columns are numbers, times and currencies, which rows it keeps, and
one expression per FOCUS column); this module evaluates such a description with Arrow compute,
sends every row it cannot parse to quarantine with its file, line and reason, and computes the
source's own control totals for reconciliation."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Callable, Mapping

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from multicloud.core.costs import focus
from multicloud.core.errors import InvalidInput

# --------------------------------------------------------------------------------------------
# Expressions: the vocabulary of the mapping tables.


@dataclass(frozen=True)
class Col:
    """A column of the prepared chunk (raw names, parsed in place, plus derived `_` columns)."""
    name: str


@dataclass(frozen=True)
class Const:
    value: object


@dataclass(frozen=True)
class Lookup:
    """`table[value of column]`; values not in the table give `default` (None: null)."""
    column: str
    table: Mapping[str, str]
    default: str | None = None


@dataclass(frozen=True)
class Coalesce:
    exprs: tuple


@dataclass(frozen=True)
class Add:
    a: object
    b: object


@dataclass(frozen=True)
class Sub:
    a: object
    b: object


@dataclass(frozen=True)
class Mul:
    a: object
    b: object


@dataclass(frozen=True)
class PlusDays:
    expr: object
    days: int


@dataclass(frozen=True)
class Case:
    """The first `(condition, expression)` whose condition holds, else `default`."""
    whens: tuple
    default: object = Const(None)


# Conditions
@dataclass(frozen=True)
class In:
    column: str
    values: tuple


@dataclass(frozen=True)
class Contains:
    column: str
    text: str


@dataclass(frozen=True)
class Present:
    """The column is neither null nor empty."""
    column: str


@dataclass(frozen=True)
class Negative:
    expr: object


@dataclass(frozen=True)
class Not:
    cond: object


@dataclass(frozen=True)
class All:
    conds: tuple


@dataclass(frozen=True)
class AnyOf:
    conds: tuple


# --------------------------------------------------------------------------------------------
# A source, as data.


@dataclass(frozen=True)
class SourceSpec:
    """One native export kind and its FOCUS mapping table.

    `required`: raw columns that must be present (a missing one is an error naming the file and
    column); `optional`: raw columns read when present, null otherwise. `decimals`, `timestamps`
    (column → accepted formats; "iso" means ISO 8601) and `currencies` are parsed before mapping;
    a value that does not parse sends its row to quarantine, as does a value of a `strict` column
    outside its set (null included) or of an `allowed` column outside its set (null allowed). `prepare` derives `_` columns the
    table needs (tags as JSON, credit sums); `keep` selects the rows this source turns into FOCUS
    rows (the others are represented by other rows, e.g. Azure's actual-cost usage by the
    amortized rows), `control` is the source's own billed amount per row, and `columns` maps every
    FOCUS column to an expression."""

    name: str
    provider: str
    required: tuple[str, ...]
    columns: Mapping[str, object]
    control: object
    optional: tuple[str, ...] = ()
    decimals: tuple[str, ...] = ()
    timestamps: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    currencies: tuple[str, ...] = ()
    strict: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    allowed: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    aliases: Mapping[str, str] = field(default_factory=dict)
    prepare: Callable[[pa.Table], pa.Table] | None = None
    keep: object | None = None
    extensions: Mapping[str, object] = field(default_factory=dict)

    def describe(self) -> list[tuple[str, str]]:
        """The mapping table as (FOCUS column, source expression) rows, for the README and UI."""
        return [(name, render(expr)) for name, expr in self.columns.items()]


class MappingError(InvalidInput):
    """A source file cannot be mapped at all (a required column is missing)."""


def render(expr) -> str:
    if isinstance(expr, Col):
        return expr.name
    if isinstance(expr, Const):
        return "null" if expr.value is None else repr(expr.value)
    if isinstance(expr, Lookup):
        return f"lookup({expr.column})"
    if isinstance(expr, Coalesce):
        return " ?? ".join(render(e) for e in expr.exprs)
    if isinstance(expr, (Add, Sub, Mul)):
        op = {Add: "+", Sub: "-", Mul: "×"}[type(expr)]
        return f"{render(expr.a)} {op} {render(expr.b)}"
    if isinstance(expr, PlusDays):
        return f"{render(expr.expr)} + {expr.days} day"
    if isinstance(expr, Case):
        parts = [f"{render_cond(c)} → {render(e)}" for c, e in expr.whens]
        return "; ".join(parts + [f"else {render(expr.default)}"])
    return repr(expr)


def render_cond(cond) -> str:
    if isinstance(cond, In):
        return f"{cond.column} in {list(cond.values)}"
    if isinstance(cond, Contains):
        return f"{cond.column} contains {cond.text!r}"
    if isinstance(cond, Present):
        return f"{cond.column} present"
    if isinstance(cond, Negative):
        return f"{render(cond.expr)} < 0"
    if isinstance(cond, Not):
        return f"not ({render_cond(cond.cond)})"
    if isinstance(cond, All):
        return " and ".join(render_cond(c) for c in cond.conds)
    if isinstance(cond, AnyOf):
        return " or ".join(f"({render_cond(c)})" for c in cond.conds)
    return repr(cond)


# --------------------------------------------------------------------------------------------
# Evaluation.

_NUMBER = r"^\s*[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?\s*$"
_ISO = r"^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?)?(Z|[+-]00:?00| UTC)?$"
_CURRENCY = r"^[A-Z]{3}$"
# A reader's note on a row it could not fully read (e.g. a repeated field that is not JSON).
READER_ERROR = "_reader_error"


def evaluate(expr, table: pa.Table):
    n = table.num_rows
    if isinstance(expr, Col):
        return table.column(expr.name)
    if isinstance(expr, Const):
        if expr.value is None:
            return pa.nulls(n)
        return pa.repeat(pa.scalar(expr.value), n) if n else pa.array([], type=pa.scalar(expr.value).type)
    if isinstance(expr, Lookup):
        return lookup(table.column(expr.column), expr.table, expr.default)
    if isinstance(expr, Coalesce):
        values = [evaluate(e, table) for e in expr.exprs]
        target = pa.null()
        for v in values:
            target = _common(target, v.type)
        return pc.coalesce(*[_as(v, target) for v in values])
    if isinstance(expr, (Add, Sub)):
        # One digit of headroom so that the result still fits decimal128(38, 18).
        narrow = pa.decimal128(37, 18)
        a = pc.cast(_dec(evaluate(expr.a, table)), narrow)
        b = pc.cast(_dec(evaluate(expr.b, table)), narrow)
        return (pc.add if isinstance(expr, Add) else pc.subtract)(a, b)
    if isinstance(expr, Mul):
        # 18 + 18 decimals do not fit 38 digits: multiply wide, then keep 18 decimals.
        a = pc.cast(_dec(evaluate(expr.a, table)), pa.decimal256(37, 18))
        product = pc.multiply(a, pc.cast(_dec(evaluate(expr.b, table)), pa.decimal256(38, 18)))
        return pc.cast(product, focus.DECIMAL, safe=False)
    if isinstance(expr, PlusDays):
        return pc.add(evaluate(expr.expr, table), pa.scalar(expr.days * 86_400_000_000, pa.duration("us")))
    if isinstance(expr, Case):
        result = evaluate(expr.default, table)
        for cond, value in reversed(expr.whens):
            value = evaluate(value, table)
            target = _common(value.type, result.type)
            result = pc.if_else(condition(cond, table), _as(value, target), _as(result, target))
        return result
    raise TypeError(f"not a mapping expression: {expr!r}")


def condition(cond, table: pa.Table):
    if isinstance(cond, In):
        return pc.fill_null(pc.is_in(table.column(cond.column), pa.array(cond.values)), False)
    if isinstance(cond, Contains):
        return pc.fill_null(pc.match_substring(table.column(cond.column), cond.text), False)
    if isinstance(cond, Present):
        col = table.column(cond.column)
        if pa.types.is_string(col.type) or pa.types.is_large_string(col.type):
            return pc.fill_null(pc.greater(pc.utf8_length(col), 0), False)
        return pc.is_valid(col)
    if isinstance(cond, Negative):
        return pc.fill_null(pc.less(_dec(evaluate(cond.expr, table)), pa.scalar(0, focus.DECIMAL)), False)
    if isinstance(cond, Not):
        return pc.invert(condition(cond.cond, table))
    if isinstance(cond, (All, AnyOf)):
        join = pc.and_ if isinstance(cond, All) else pc.or_
        result = condition(cond.conds[0], table)
        for c in cond.conds[1:]:
            result = join(result, condition(c, table))
        return result
    raise TypeError(f"not a mapping condition: {cond!r}")


def lookup(values, table: Mapping[str, str], default: str | None = None):
    """Maps each value through `table` (by its distinct values, so cost does not grow with rows)."""
    encoded = pc.dictionary_encode(values)
    chunks = encoded.chunks if isinstance(encoded, pa.ChunkedArray) else [encoded]
    out = []
    for chunk in chunks:
        mapped = pa.array([table.get(v, default) for v in chunk.dictionary.to_pylist()], pa.string())
        values = mapped.take(chunk.indices) if len(mapped) else pa.nulls(len(chunk), pa.string())
        out.append(pc.fill_null(values, default) if default is not None else values)  # absent values too
    return pa.chunked_array(out, pa.string())


def map_distinct(values, fn: Callable[[object], object], type_: pa.DataType = pa.string()):
    """`fn` applied to each distinct value of `values` (strings with few distinct values: tags,
    months, regions), broadcast back to every row."""
    encoded = pc.dictionary_encode(values)
    chunks = encoded.chunks if isinstance(encoded, pa.ChunkedArray) else [encoded]
    out = []
    for chunk in chunks:
        mapped = pa.array([fn(v) for v in chunk.dictionary.to_pylist()], type_)
        out.append(mapped.take(chunk.indices) if len(chunk.dictionary) else pa.nulls(len(chunk), type_))
    return pa.chunked_array(out, type_) if out else pa.chunked_array([], type_)


def _common(a: pa.DataType, b: pa.DataType) -> pa.DataType:
    """The type two branches of an expression share: decimals win over integers, anything over null."""
    if pa.types.is_null(a):
        return b
    if pa.types.is_null(b) or a.equals(b):
        return a
    if pa.types.is_decimal(a) or pa.types.is_decimal(b):
        return focus.DECIMAL
    return a


def _as(values, target: pa.DataType):
    if values.type.equals(target) or pa.types.is_null(target):
        return values
    if pa.types.is_decimal(target) and pa.types.is_decimal(values.type):
        # Sums and products of 18-decimal values carry more digits than the column keeps.
        return pc.cast(values, target, safe=False)
    return pc.cast(values, target)


def _dec(values):
    if pa.types.is_decimal(values.type):
        return values
    return pc.cast(values, focus.DECIMAL)


# --------------------------------------------------------------------------------------------
# Parsing with quarantine.


_LIMIT = 1e20  # decimal128(38, 18) holds 20 integer digits


def parse_decimal(values):
    """(decimal values, mask of values present but not numbers, or too large: 10^20 or more).
    Numbers with more than 18 decimals are cut to 18; floats are read from their shortest exact
    repr."""
    if pa.types.is_decimal(values.type):
        return pc.cast(values, focus.DECIMAL), None
    if pa.types.is_floating(values.type) or pa.types.is_integer(values.type):
        values = pc.cast(values, pa.float64()) if pa.types.is_integer(values.type) else values
        # NaN is how dataframe writers store a missing float: null, not bad.
        values = pc.if_else(pc.is_nan(values), pa.scalar(None, values.type), values)
        bad = pc.fill_null(pc.greater_equal(pc.abs(values), _LIMIT), False)
        clean = pc.if_else(bad, pa.scalar(None, values.type), values)
        return pc.cast(pc.cast(clean, pa.string()), focus.DECIMAL, safe=False), (bad if pc.any(bad).as_py() else None)
    if pa.types.is_null(values.type):
        return pa.nulls(len(values), focus.DECIMAL), None
    values = _string(values)
    longest = pc.max(pc.utf8_length(values)).as_py() or 0
    if longest <= 20 and not pc.any(pc.match_substring(values, "e", ignore_case=True)).as_py():
        try:
            # Fast path: plain numbers too short to overflow (the usual case).
            return pc.cast(values, focus.DECIMAL, safe=False), None
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            pass
    empty = pc.equal(pc.utf8_length(values), 0)
    values = pc.if_else(empty, pa.scalar(None, values.type), values)
    ok = pc.fill_null(pc.match_substring_regex(values, _NUMBER), True)
    clean = pc.if_else(ok, pc.utf8_trim_whitespace(values), pa.scalar(None, values.type))
    huge = pc.fill_null(pc.greater_equal(pc.abs(pc.cast(clean, pa.float64())), _LIMIT), False)
    bad = pc.or_(pc.invert(ok), huge)
    clean = pc.if_else(huge, pa.scalar(None, values.type), clean)
    return pc.cast(clean, focus.DECIMAL, safe=False), bad


def parse_timestamp(values, formats: tuple[str, ...]):
    """(UTC timestamps, mask of values present but in none of `formats`). Exports repeat the same
    few thousand hours and days, so each distinct text is parsed once."""
    if pa.types.is_string(values.type) or pa.types.is_large_string(values.type):
        encoded = pc.dictionary_encode(values)
        chunks = encoded.chunks if isinstance(encoded, pa.ChunkedArray) else [encoded]
        if sum(len(c.dictionary) for c in chunks) * 4 < len(values):
            parsed, bad = [], []
            for chunk in chunks:
                p, b = _parse_timestamp_values(chunk.dictionary, formats)
                parsed.append(p.take(chunk.indices))
                bad.append(pc.fill_null(b.take(chunk.indices), False) if b is not None else
                           pa.repeat(pa.scalar(False), len(chunk)))
            return pa.chunked_array(parsed, focus.TIMESTAMP), pa.chunked_array(bad, pa.bool_())
    return _parse_timestamp_values(values, formats)


def _parse_timestamp_values(values, formats: tuple[str, ...]):
    if pa.types.is_timestamp(values.type):
        if values.type.tz is None:
            values = pc.assume_timezone(values, "UTC")
        return pc.cast(values, focus.TIMESTAMP), None
    if pa.types.is_date(values.type):
        return pc.cast(pc.cast(values, pa.timestamp("us")), focus.TIMESTAMP), None
    if pa.types.is_null(values.type):
        return pa.nulls(len(values), focus.TIMESTAMP), None
    values = _string(values)
    empty = pc.equal(pc.utf8_length(values), 0)
    values = pc.if_else(empty, pa.scalar(None, values.type), values)
    parsed = []
    for fmt in formats:
        if fmt == "iso":
            # Zone suffix (UTC only) and fractional seconds off; then the forms ISO 8601 allows.
            ok = pc.fill_null(pc.match_substring_regex(values, _ISO), False)
            bare = pc.replace_substring_regex(values, r"(\.\d{1,9})?(Z|[+-]00:?00| UTC)?$", "")
            bare = pc.if_else(ok, bare, pa.scalar(None, values.type))
            for iso_fmt in ("%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M", "%Y-%m-%d"):
                naive = pc.strptime(bare, format=iso_fmt, unit="us", error_is_null=True)
                parsed.append(pc.cast(pc.assume_timezone(naive, "UTC"), focus.TIMESTAMP))
        else:
            naive = pc.strptime(values, format=fmt, unit="us", error_is_null=True)
            parsed.append(pc.cast(pc.assume_timezone(naive, "UTC"), focus.TIMESTAMP))
    result = pc.coalesce(*parsed) if len(parsed) > 1 else parsed[0]
    bad = pc.and_(pc.is_valid(values), pc.is_null(result))
    return result, bad


def parse_currency(values):
    values = _string(values)
    trimmed = pc.utf8_upper(pc.utf8_trim_whitespace(values))
    bad = pc.fill_null(pc.invert(pc.match_substring_regex(trimmed, _CURRENCY)), True)
    return pc.if_else(bad, pa.scalar(None, pa.string()), trimmed), bad


def _string(values):
    return values if pa.types.is_string(values.type) else pc.cast(values, pa.string())


# --------------------------------------------------------------------------------------------
# One chunk.


@dataclass
class ChunkResult:
    """What one chunk became: FOCUS rows, quarantined rows, control amounts per reconciliation
    key, and counts."""

    focus: pa.Table
    quarantine: list[dict]
    control: pa.Table
    read: int
    superseded: int


# The project's own `x_` columns, the same in every partition: lineage (source kind, file, line)
# and the provider extras people filter on.
EXTENSIONS = pa.schema([
    ("x_Source", pa.string()), ("x_SourceFile", pa.string()), ("x_SourceLine", pa.int64()),
    ("x_ChargeType", pa.string()), ("x_UsageType", pa.string()), ("x_ServiceCode", pa.string()),
    ("x_ResourceGroupName", pa.string()), ("x_ExportTime", focus.TIMESTAMP),
])
OUTPUT_SCHEMA = pa.schema(list(focus.SCHEMA) + list(EXTENSIONS))

CONTROL_KEYS = ("ProviderName", "BillingAccountId", "BillingPeriodStart", "BillingCurrency")


# FOCUS values every stored row must have: reconciliation keys, money, and the charge period.
REQUIRED_VALUES = ("BillingAccountId", "BillingPeriodStart", "BillingPeriodEnd", "BillingCurrency", "BilledCost",
                   "ChargePeriodStart", "ChargePeriodEnd")
CORE_VALUES = tuple(dict.fromkeys(CONTROL_KEYS + REQUIRED_VALUES))
CONTROL = "_control"  # the source's own amount, beside the core FOCUS values


def _or_all(masks):
    result = masks[0]
    for mask in masks[1:]:
        result = pc.or_(result, mask)
    return result


def _and_all(masks):
    result = masks[0]
    for mask in masks[1:]:
        result = pc.and_(result, mask)
    return result


def check_columns(spec: SourceSpec, present: list[str], file: str) -> None:
    """Raises MappingError naming the file and every required column it lacks."""
    missing = [c for c in spec.required if c not in present]
    if missing:
        raise MappingError(
            f"{file}: not a {spec.name} export: missing required column(s) {', '.join(map(repr, missing))}")


def normalize_chunk(spec: SourceSpec, table: pa.Table, file: str, first_line: int = 2) -> ChunkResult:
    """Maps one chunk of `spec`'s export (rows of `file` starting at line `first_line`) to FOCUS.

    Raises MappingError (naming file and column) when a required column is missing; a row whose
    values do not parse, or whose strict value is unknown, goes to quarantine with file, line and
    reason, and is never dropped without a trace."""
    renames = {a: c for a, c in spec.aliases.items() if a in table.column_names and c not in table.column_names}
    if renames:
        table = table.rename_columns([renames.get(c, c) for c in table.column_names])
    check_columns(spec, table.column_names, file)
    n = table.num_rows
    raw = table
    table = table.append_column("_pos", pa.array(np.arange(n, dtype=np.int64)))
    for name in spec.optional:
        if name not in table.column_names:
            table = table.append_column(name, pa.nulls(n, pa.string()))
    reasons: list[tuple[object, str, str]] = []

    def replace(name, values):
        nonlocal table
        table = table.set_column(table.column_names.index(name), name, values)

    for name in spec.decimals:
        values, bad = parse_decimal(table.column(name))
        replace(name, values)
        if bad is not None:
            reasons.append((bad, name, "not a number (or 10^20 or more)"))
    for name, formats in spec.timestamps.items():
        values, bad = parse_timestamp(table.column(name), formats)
        replace(name, values)
        if bad is not None:
            reasons.append((bad, name, "not a date/time in " + " or ".join(formats)))
    for name in spec.currencies:
        values, bad = parse_currency(table.column(name))
        replace(name, values)
        reasons.append((bad, name, "not a three-letter currency code"))
    if READER_ERROR in table.column_names:  # the reader could not read part of these rows
        reasons.append((pc.is_valid(table.column(READER_ERROR)), READER_ERROR, "unreadable"))
    for name, allowed in spec.strict.items():
        bad = pc.fill_null(pc.invert(pc.is_in(table.column(name), pa.array(allowed))), True)
        reasons.append((bad, name, "not one of " + ", ".join(allowed)))
    for name, allowed in spec.allowed.items():  # may be null, else one of these
        values = table.column(name)
        bad = pc.fill_null(pc.and_(pc.is_valid(values), pc.invert(pc.is_in(values, pa.array(allowed)))), False)
        reasons.append((bad, name, "not one of " + ", ".join(allowed)))
    if spec.prepare is not None:
        table = spec.prepare(table)
    # The columns that place, reconcile and check a row, computed once for every row and reused.
    core = {name: _as(evaluate(spec.columns[name], table), focus.BY_NAME[name].type) for name in CORE_VALUES}
    core[CONTROL] = (core["BilledCost"] if spec.control == spec.columns["BilledCost"]
                     else _as(evaluate(spec.control, table), focus.DECIMAL))
    # A row without what reconciles and places it (account, period, currency, billed cost, charge
    # period) cannot be stored or counted: quarantined, never a row of nulls.
    failed = pc.fill_null(_or_all([m for m, _, _ in reasons]), False) if reasons else None
    for name in REQUIRED_VALUES:
        missing = pc.is_null(core[name])
        if failed is not None:  # a value that did not parse is already named
            missing = pc.and_(missing, pc.invert(failed))
        if pc.any(missing).as_py():
            reasons.append((missing, name, "missing (from " + render(spec.columns[name]) + ")"))

    bad_any = None
    for mask, _, _ in reasons:
        mask = pc.fill_null(mask, False)
        bad_any = mask if bad_any is None else pc.or_(bad_any, mask)
    quarantine: list[dict] = []
    if bad_any is not None and pc.any(bad_any).as_py():
        quarantine = _quarantine_rows(raw, reasons, bad_any, file, first_line)
        good = pc.invert(bad_any)
    else:
        good = None

    kept = condition(spec.keep, table) if spec.keep is not None else None
    control = _control(spec, core, good, kept)
    rows = good if kept is None else kept if good is None else pc.and_(good, kept)
    superseded = 0
    if kept is not None:
        superseded = (pc.sum(good if good is not None else pa.repeat(pa.scalar(True), n)).as_py() or 0) - (
            pc.sum(rows).as_py() or 0)
    if rows is not None:
        table = table.filter(rows)
        core = {name: values.filter(rows) for name, values in core.items()}
    return ChunkResult(_focus_table(spec, table, file, first_line, core), quarantine, control, n, superseded)


def _focus_table(spec: SourceSpec, table: pa.Table, file: str, first_line: int, given: dict) -> pa.Table:
    """The FOCUS columns of `table`'s rows; those in `given` are already computed."""
    arrays, names = [], []
    for col in focus.COLUMNS:
        expr = spec.columns.get(col.name)
        if col.name in given:
            values = given[col.name]
        else:
            values = evaluate(expr, table) if expr is not None else pa.nulls(table.num_rows, col.type)
        arrays.append(_as(values, col.type) if not values.type.equals(col.type) else values)
        names.append(col.name)
    n = table.num_rows
    lineage = {"x_Source": Const(spec.name), "x_SourceFile": Const(file)}
    for field_ in EXTENSIONS:
        if field_.name == "x_SourceLine":
            values = pc.add(table.column("_pos"), pa.scalar(first_line, pa.int64()))
        else:
            expr = lineage.get(field_.name) or spec.extensions.get(field_.name)
            values = evaluate(expr, table) if expr is not None else pa.nulls(n, field_.type)
        arrays.append(_as(values, field_.type))
        names.append(field_.name)
    return pa.Table.from_arrays(arrays, schema=OUTPUT_SCHEMA)


UNREADABLE = "(unreadable)"


def _control(spec: SourceSpec, core: dict, good, kept) -> pa.Table:
    """Reconciliation inputs of one chunk, per key and `part`:

    - "source": the source's own amount (spec.control) of every row whose key and amount parse;
    - "quarantined": the BilledCost quarantined rows would have had (rows the source keeps);
    - "unreadable": rows whose money could not be read (counted; their amount is unknown).

    Quarantined rows whose key does not parse are counted under the key (provider, "(unreadable)",
    ...): their money cannot be put to an account. `core` holds the row's key columns, BilledCost
    and the control amount (`_control`)."""
    keys = [core[k] for k in CONTROL_KEYS]
    n = len(keys[0])
    amount, billed = core[CONTROL], core["BilledCost"]
    bad = pa.repeat(pa.scalar(False), n) if good is None else pc.invert(good)
    key_ok = _and_all([pc.is_valid(k) for k in keys])
    kept = kept if kept is not None else pa.repeat(pa.scalar(True), n)
    parts = []

    def part(name, mask, values, keys_=keys):
        frame = pa.Table.from_arrays(keys_ + [values], names=list(CONTROL_KEYS) + ["amount"]).filter(mask)
        if frame.num_rows:
            grouped = frame.group_by(list(CONTROL_KEYS)).aggregate([("amount", "sum"), ([], "count_all")]).rename_columns(list(CONTROL_KEYS) + ["amount_sum", "amount_count_all"])
            parts.append(grouped.append_column("part", pa.repeat(pa.scalar(name), grouped.num_rows)))

    part("source", pc.and_(key_ok, pc.is_valid(amount)), amount)
    if good is not None:
        bad_kept = pc.and_(bad, kept)
        part("quarantined", pc.and_(pc.and_(bad_kept, key_ok), pc.is_valid(billed)), billed)
        lost = pc.or_(pc.and_(bad, pc.is_null(amount)), pc.and_(bad_kept, pc.is_null(billed)))
        part("unreadable", pc.and_(key_ok, lost), pa.nulls(n, focus.DECIMAL))
        unkeyed = pc.and_(bad, pc.invert(key_ok))
        if pc.any(unkeyed).as_py():
            provider = pa.repeat(pa.scalar(spec.columns["ProviderName"].value), n)
            anon = [provider, pa.repeat(pa.scalar(UNREADABLE), n), pa.nulls(n, focus.TIMESTAMP),
                    pa.repeat(pa.scalar(UNREADABLE), n)]
            part("unreadable", unkeyed, pa.nulls(n, focus.DECIMAL), anon)
    if not parts:
        schema = pa.schema([(k, focus.BY_NAME[k].type) for k in CONTROL_KEYS] + [
            ("amount_sum", focus.DECIMAL), ("amount_count_all", pa.int64()), ("part", pa.string())])
        return schema.empty_table()
    return pa.concat_tables(parts, promote_options="permissive")


def _quarantine_rows(raw: pa.Table, reasons, bad_any, file: str, first_line: int) -> list[dict]:
    positions = pc.indices_nonzero(bad_any).to_pylist()
    masks = [(pc.fill_null(m, False), col, why) for m, col, why in reasons]
    picked = raw.take(positions).to_pylist()
    out = []
    for pos, row in zip(positions, picked):
        why = []
        for mask, col, text in masks:
            if mask[pos].as_py():
                why.append(f"{col}: {text}: {row.get(col)!r}")
        out.append({"file": file, "line": first_line + pos, "reason": "; ".join(why),
                    "row": json.dumps(row, default=str, ensure_ascii=False)})
    return out
