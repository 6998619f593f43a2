"""A dataset's declared checks, run with polars: one fused pass for the row-level checks.

Every row-level check becomes a per-row "failing" expression; their counts,
with the row count and the newest timestamps, are aggregated in one lazy,
streaming query that reads only the columns the checks name. Failing rows
are sampled afterwards, only for checks that failed. Drift and the PII scan
read what they need on their own.
"""

from __future__ import annotations

import contextlib
import glob
import math
import os
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ci.core.errors import CheckFailed, ConfigError, EnvError
from ci.core.results import Check, Status, group
from ci.core.text import closest, display, first_line, show
from ci.data import DATA_EXTRA, drift, pii
from ci.data import declarations as declared
from ci.data.declarations import duration_seconds

ROW_LEVEL = ("not_null", "null_fraction", "unique", "range", "allowed", "regex", "length", "expression")


def polars() -> Any:
    try:
        import polars as pl
    except ImportError:
        raise EnvError(f"polars is not installed; install it with `{DATA_EXTRA}`") from None
    return pl


@dataclass
class Dataset:
    name: str
    files: list[Path]
    format: str
    frame: Any  # polars LazyFrame
    schema: Any  # polars Schema
    sensitive: set[str] = field(default_factory=set)

    @property
    def shown(self) -> str:
        return (
            display(self.files[0])
            if len(self.files) == 1
            else f"{display(self.files[0])} (+{len(self.files) - 1})"
        )


def open_dataset(spec: declared.Dataset, key: str, root: Path, path: str | None = None) -> Dataset:
    """Scan the file (or glob) lazily: ConfigError when there is none, CheckFailed when unreadable."""
    pl = polars()
    path = path or spec.path
    pattern = str(root / path)
    files = sorted(Path(f) for f in glob.glob(pattern)) if glob.has_magic(pattern) else [Path(pattern)]
    files = [f for f in files if f.is_file()]
    if not files:
        raise ConfigError(f"{key}: {path}: no such file; fix the path or create the data first")
    fmt = spec.format
    if fmt == "auto":
        suffix = files[0].suffix.lower()
        fmt = {".csv": "csv", ".parquet": "parquet", ".pq": "parquet"}.get(suffix, "")
        if not fmt:
            raise ConfigError(
                f"{key}: cannot tell the format of {path} from its suffix; set format: csv or parquet"
            )
    sources = [str(f) for f in files]
    try:
        frame = pl.scan_csv(sources, infer_schema_length=10_000) if fmt == "csv" else pl.scan_parquet(sources)
        schema = frame.collect_schema()
    except Exception as error:  # polars raises several kinds for a file it cannot read
        raise CheckFailed(f"{display(files[0])}: cannot be read as {fmt}: {first_line(error)}") from None
    return Dataset(spec.name, files, fmt, frame, schema, set(spec.sensitive))


def family(dtype: Any) -> str:
    """The DTYPES name of a polars dtype: int, float, str, bool, date, datetime, categorical."""
    pl = polars()
    if dtype.is_integer():
        return "int"
    if dtype.is_float():
        return "float"
    if dtype == pl.Boolean:
        return "bool"
    if dtype == pl.Date:
        return "date"
    if isinstance(dtype, pl.Datetime):
        return "datetime"
    if dtype in (pl.Categorical, pl.Enum) or isinstance(dtype, (pl.Categorical, pl.Enum)):
        return "categorical"
    return "str" if dtype == pl.String else str(dtype)


@dataclass
class Plan:
    """How one row-level check is counted: rows that fail, rows that count, columns to show."""

    failing: Any  # per row: true where the row fails; it also picks the sample rows
    checked: Any  # per row: the rows that count; None: every row
    columns: list[str]
    counted: Any = None  # an aggregate counting the failures itself, where summing `failing` costs more
    separate: bool = False  # counted in passes of its own, over only its columns


KEYS_PER_PASS = 4_000_000  # a uniqueness pass holds at most about this many keys in memory
# polars reads a CSV file in chunks of 32 MiB, several ahead of the parsers: about 300 MiB held on
# 2 cores. Chunks of 4 MiB read as fast and hold a sixth of that (benchmarks/data_checks.py).
CSV_CHUNK_BYTES = 4 * 2**20


@contextlib.contextmanager
def csv_chunks(data: Dataset) -> Iterator[None]:
    """Small read chunks for a CSV file while a query runs; a POLARS_CSV_CHUNK_SIZE of one's own wins."""
    if data.format != "csv" or "POLARS_CSV_CHUNK_SIZE" in os.environ:
        yield
        return
    os.environ["POLARS_CSV_CHUNK_SIZE"] = str(CSV_CHUNK_BYTES)  # read by polars when a scan starts
    try:
        yield
    finally:
        os.environ.pop("POLARS_CSV_CHUNK_SIZE", None)


def check_name(check: declared.Check) -> str:
    if check.name:
        return check.name
    if check.kind == "schema":
        return "schema"
    target = getattr(check, "column", "") or ", ".join(getattr(check, "columns", []))
    return f"{check.kind} {target}".strip()


def run_checks(spec: declared.Dataset, key: str, *, root: Path, samples: int) -> tuple[list[Check], str]:
    """Every check of one dataset: the checks, and the Markdown of their samples."""
    pl = polars()
    data = open_dataset(spec, key, root)
    checks = spec.checks
    for index, check in enumerate(checks):
        for column in _columns(check):
            _require_column(data, column, f"{key}.checks[{index}]")
    plans = {i: _plan(c, data, f"{key}.checks[{i}]") for i, c in enumerate(checks) if c.kind in ROW_LEVEL}
    aggregates = [pl.len().alias("rows")]
    if data.format == "csv":  # polars finds a row with too many fields only when it parses every column
        aggregates.append(pl.all().null_count().name.prefix("parsed:"))
    for i, plan in plans.items():
        if plan.separate:
            continue
        checked = pl.len() if plan.checked is None else plan.checked.sum()
        failing = plan.failing.fill_null(True).sum() if plan.counted is None else plan.counted
        aggregates += [failing.alias(f"{i}:failing"), checked.alias(f"{i}:checked")]
    for i, check in enumerate(checks):
        if isinstance(check, declared.Freshness):
            column = check.column
            if family(data.schema[column]) not in ("date", "datetime") and not _reads_as_time(
                data, column, "datetime"
            ):
                kind = family(data.schema[column])
                raise ConfigError(
                    f"{key}.checks[{i}]: freshness needs a date or datetime column; {column} is {kind}"
                )
            aggregates.append(_as_time(data, column).max().alias(f"{i}:newest"))
    try:
        with csv_chunks(data):
            counts = data.frame.select(aggregates).collect(engine="streaming").row(0, named=True)
    except Exception as error:
        raise CheckFailed(f"{data.shown}: cannot be read as {data.format}: {first_line(error)}") from None
    for i, plan in plans.items():
        if plan.separate:
            counts[f"{i}:failing"], counts[f"{i}:checked"] = _duplicates(data, plan, counts["rows"])
    results, samples_md = [], []
    for i, check in enumerate(checks):
        outcome = _judge(i, check, data, counts, plans.get(i), spec, key, root)
        results.append(outcome)
        if outcome.status is not Status.PASSED and i in plans and samples:
            rows = _samples(data, plans[i], samples)
            outcome.details["samples"] = rows
            samples_md.append(_sample_table(f"{data.name}: {outcome.name}", rows))
    return results, "\n\n".join(samples_md)


def _columns(check: declared.Check) -> list[str]:
    if isinstance(check, declared.Schema):
        return []  # the schema check reports missing columns itself
    if isinstance(check, (declared.NotNull, declared.Unique)):
        return list(check.columns)
    return [check.column] if hasattr(check, "column") else []


def _require_column(data: Dataset, column: str, key: str) -> None:
    if column not in data.schema:
        close = closest(column, list(data.schema))
        hint = (
            f"; did you mean {show(close)}?" if close else f"; columns: {', '.join(list(data.schema)[:20])}"
        )
        raise ConfigError(f"{key}: {data.shown} has no column {show(column)}{hint}")


def _missing(data: Dataset, column: str) -> Any:
    """Null, or NaN in a float column: what a data scientist calls a missing value."""
    pl = polars()
    expr = pl.col(column).is_null()
    return expr | pl.col(column).is_nan() if data.schema[column].is_float() else expr


def _text(data: Dataset, column: str) -> Any:
    pl = polars()
    return pl.col(column) if data.schema[column] == pl.String else pl.col(column).cast(pl.String)


def _as_time(data: Dataset, column: str) -> Any:
    pl = polars()
    if family(data.schema[column]) in ("date", "datetime"):
        return pl.col(column)
    return pl.col(column).cast(pl.String).str.to_datetime(strict=False)


def _plan(check: Any, data: Dataset, key: str) -> Plan:
    pl = polars()
    kind, column = check.kind, getattr(check, "column", None)
    everything = None
    if kind == "not_null":
        return Plan(pl.any_horizontal([_missing(data, c) for c in check.columns]), everything, check.columns)
    if kind == "null_fraction":
        return Plan(_missing(data, column), everything, [column])
    if kind == "unique":
        # Rows beyond the first of each key fail; as in SQL, a key with a null clashes with nothing.
        columns = check.columns
        keyed = pl.col(columns[0]) if len(columns) == 1 else pl.struct(columns)
        complete = pl.all_horizontal([pl.col(c).is_not_null() for c in columns])
        counted = complete.sum() - keyed.filter(complete).n_unique()
        # A columnar file rereads just the key cheaply: count it in passes that bound the memory.
        return Plan(keyed.is_duplicated() & complete, complete, columns, counted, data.format == "parquet")
    present = ~_missing(data, column) if column else pl.lit(True)
    if kind == "range":
        inclusive, value = check.inclusive, pl.col(column)
        ok = pl.lit(True)
        if check.min is not None:
            ok = ok & (value >= check.min if inclusive else value > check.min)
        if check.max is not None:
            ok = ok & (value <= check.max if inclusive else value < check.max)
        return Plan(present & ~ok, present, [column])
    if kind == "allowed":
        values = [str(v) for v in check.values]
        return Plan(present & ~_text(data, column).is_in(values), present, [column])
    if kind == "regex":
        try:
            pl.select(pl.lit("").str.contains(check.pattern))
        except Exception as error:
            raise ConfigError(f"{key}.pattern: not a valid regular expression: {first_line(error)}") from None
        return Plan(present & ~_text(data, column).str.contains(check.pattern), present, [column])
    if kind == "length":
        length, ok = _text(data, column).str.len_chars(), pl.lit(True)
        if check.min is not None:
            ok = ok & (length >= check.min)
        if check.max is not None:
            ok = ok & (length <= check.max)
        return Plan(present & ~ok, present, [column])
    # expression: rows for which the user's SQL expression is true pass
    try:
        expr = pl.sql_expr(check.expr)
        data.frame.select(expr).collect_schema()  # names a column the data lacks: say so now
    except Exception as error:
        raise ConfigError(f"{key}.expr: {show(check.expr)}: {first_line(error)}") from None
    return Plan(~expr.fill_null(False), everything, expr.meta.root_names())


def _judge(
    i: int, check: Any, data: Dataset, counts: Mapping[str, Any], plan: Plan | None, spec: declared.Dataset,
    key: str, root: Path,
) -> Check:  # fmt: skip
    kind, name = check.kind, check_name(check)
    details: dict[str, Any] = {"dataset": data.name, "type": kind, "severity": check.severity}
    if plan is not None:
        checked, failing = counts[f"{i}:checked"], counts[f"{i}:failing"]
        fraction = failing / checked if checked else 0.0
        limit = check.max if kind == "null_fraction" else check.tolerance
        details.update(rows_checked=checked, failing_rows=failing, fraction=fraction)
        message = f"{failing} of {checked} rows fail ({fraction:.2%}; {limit:.2%} allowed)"
        return _check(name, data, check, fraction <= limit, message, fraction, limit, details)
    if kind == "row_count":
        rows = counts["rows"]
        low, high = check.min, check.max
        ok = (low is None or rows >= low) and (high is None or rows <= high)
        bounds = f"{'' if low is None else f'{low:g}'}..{'' if high is None else f'{high:g}'}"
        return _check(name, data, check, ok, f"{rows} rows; {bounds} expected", rows, bounds, details)
    if kind == "freshness":
        newest = counts[f"{i}:newest"]
        if newest is None:
            return _check(name, data, check, False, "no timestamps to judge", None, check.max_age, details)
        moment = newest if isinstance(newest, datetime) else datetime(newest.year, newest.month, newest.day)
        now = datetime.now(UTC) if moment.tzinfo else datetime.now(UTC).replace(tzinfo=None)
        age = (now - moment).total_seconds()
        ok = age <= duration_seconds(check.max_age)
        details.update(newest=moment.isoformat(), age_seconds=age)
        message = f"newest {moment.isoformat()}, {age / 3600:.1f} h old; at most {check.max_age} allowed"
        return _check(name, data, check, ok, message, moment.isoformat(), check.max_age, details)
    if kind == "schema":
        problems = _schema_problems(check, data)
        details["problems"] = problems
        message = "; ".join(problems) or f"{len(check.columns)} columns as declared"
        return _check(name, data, check, not problems, message, len(problems), 0, details)
    if kind == "drift":
        return _drift(name, check, data, spec, key, root, details)
    findings = pii.scan_frame(data.frame, data.shown, skip=spec.pii_allowed)
    details["findings"] = [f.__dict__ for f in findings]
    message = "; ".join(f.describe() for f in findings) or "no personal data found"
    return _check(name, data, check, not findings, message, sum(f.count for f in findings), 0, details)


def _check(
    name: str, data: Dataset, check: declared.Check, ok: bool, message: str, value: Any, threshold: Any,
    details: dict[str, Any],
) -> Check:  # fmt: skip
    status = Status.PASSED if ok else Status.WARNED if check.severity == "warn" else Status.FAILED
    details["verdict"] = "pass" if ok else "fail"
    return Check(
        name, status, message, value=value, threshold=threshold, group=group("data", data.name),
        file=display(data.files[0]), details=details,
    )  # fmt: skip


def _schema_problems(check: declared.Schema, data: Dataset) -> list[str]:
    problems = []
    for column, expected in check.columns.items():
        if column not in data.schema:
            if check.missing_columns == "fail":
                problems.append(f"missing column {column}")
        elif family(data.schema[column]) != expected and not _reads_as_time(data, column, expected):
            problems.append(f"{column} is {family(data.schema[column])}, not {expected}")
    if check.extra_columns == "fail":
        extra = [c for c in data.schema if c not in check.columns]
        if extra:
            problems.append(f"columns not declared: {', '.join(extra)}")
    return problems


def _reads_as_time(data: Dataset, column: str, expected: str) -> bool:
    """A CSV keeps timestamps as text (parsing every date column costs more than the checks): accept
    a text column declared date or datetime when its first thousand values all read as one."""
    pl = polars()
    if data.format != "csv" or expected not in ("date", "datetime") or family(data.schema[column]) != "str":
        return False
    head = data.frame.select(pl.col(column)).head(1000).drop_nulls().collect().get_column(column)
    try:
        return head.str.to_datetime(strict=False).null_count() == 0
    except pl.exceptions.ComputeError:  # no date format fits the text
        return False


def _drift(
    name: str, check: declared.Drift, data: Dataset, spec: declared.Dataset, key: str, root: Path,
    details: dict[str, Any],
) -> Check:  # fmt: skip
    if not spec.reference:
        raise ConfigError(f"{key}: the drift check {name!r} needs a reference dataset: set reference")
    reference = open_dataset(spec, f"{key}.reference", root, spec.reference)
    column = check.column
    _require_column(reference, column, f"{key}.reference")
    numeric = family(data.schema[column]) in ("int", "float")
    method = check.method or ("psi" if numeric else "chi2")
    if method == "ks" and not numeric:
        raise ConfigError(f"{key}: ks needs a numeric column; {column} is {family(data.schema[column])}")
    threshold = drift.DEFAULT_THRESHOLD[method] if check.threshold is None else check.threshold
    current, base = (_column_values(d, column, numeric) for d in (data, reference))
    if method == "psi" and numeric:
        value = drift.psi_numeric(current, base, check.bins)
    elif method == "psi":
        value = drift.psi_categorical(current, base)
    elif method == "ks":
        value = drift.ks(current, base)
    else:
        value = drift.chi2_pvalue(current, base)
    ok = value >= threshold if method == "chi2" else value <= threshold
    relation = "p-value" if method == "chi2" else "statistic"
    bound = "at least" if method == "chi2" else "at most"
    details.update(method=method, statistic=value, reference=spec.reference)
    message = f"{method} {relation} {value:.4g} against {spec.reference}; {bound} {threshold:g} allowed"
    return _check(name, data, check, ok, message, value, threshold, details)


def _column_values(data: Dataset, column: str, numeric: bool) -> Any:
    pl = polars()
    values = data.frame.select(pl.col(column)).collect(engine="streaming").get_column(column)
    if numeric:
        return (
            values.drop_nulls().drop_nans().to_numpy()
            if values.dtype.is_float()
            else values.drop_nulls().to_numpy()
        )
    return dict(values.cast(pl.String).value_counts().iter_rows())


def _duplicates(data: Dataset, plan: Plan, rows: int) -> tuple[int, int]:
    """(duplicate rows, rows with a complete key), over hash partitions of at most KEYS_PER_PASS keys."""
    pl = polars()
    parts = max(1, math.ceil(rows / KEYS_PER_PASS))
    keys = data.frame.select(plan.columns).filter(plan.checked)
    duplicates = checked = 0
    for part in range(parts):
        chunk = keys if parts == 1 else keys.filter(pl.struct(plan.columns).hash(seed=7) % parts == part)
        frame = chunk.collect(engine="streaming")
        # One key column: its Series' distinct values, a third of the memory of the frame's distinct rows.
        distinct = frame.to_series().n_unique() if frame.width == 1 else frame.n_unique()
        duplicates += frame.height - distinct
        checked += frame.height
    return duplicates, checked


def _samples(data: Dataset, plan: Plan, limit: int) -> list[dict[str, Any]]:
    rows = (
        data.frame.filter(plan.failing.fill_null(True)).select(plan.columns).head(limit).collect().to_dicts()
    )
    return [
        {c: pii.mask(v) if c in data.sensitive and v is not None else v for c, v in row.items()}
        for row in rows
    ]


def _sample_table(title: str, rows: Sequence[Mapping[str, Any]]) -> str:
    if not rows:
        return ""
    columns = list(rows[0])
    lines = [
        f"Failing rows of **{title}**:",
        "",
        "| " + " | ".join(columns) + " |",
        "|" + " --- |" * len(columns),
    ]
    lines += ["| " + " | ".join(str(row[c]).replace("|", "\\|") for c in columns) + " |" for row in rows]
    return "\n".join(lines)
