"""Seven data checks on 5,000,000 rows x 12 columns: dsci, hand-written polars, pandera, great_expectations.

Paired runs in one process each (a fresh interpreter per run, so peak RSS is
the run's own), median of at least 3; wall time, peak RSS, rows/s, ratios.
Run from the repository root (pandera and great_expectations are needed for
their columns only; a missing one is reported, not faked):

    .venv/bin/python -m benchmarks.data_checks [--rows 5000000] [--runs 3] [--write FILE]
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

COUNTRIES = ["DE", "FR", "NL", "BE", "AT", "CH", "DK", "SE"]
SEGMENTS = ["retail", "sme", "corporate", "private"]
NOW = datetime(2026, 11, 1)

# The seven checks of the comparison, as a dsci dataset declares them.
CHECKS: list[dict[str, Any]] = [
    {"type": "not_null", "columns": ["id", "age", "country"]},
    {"type": "range", "column": "age", "min": 18, "max": 90},
    {"type": "range", "column": "rating", "min": 1, "max": 5},
    {"type": "allowed", "column": "country", "values": COUNTRIES},
    {"type": "unique", "columns": ["id"]},
    {"type": "row_count", "min": 1000, "max": 50_000_000},
    {"type": "null_fraction", "column": "score", "max": 0.05},
]


def generate(rows: int, *, seed: int = 7, bad: bool = False) -> Any:
    """A polars DataFrame of ``rows`` rows x 12 columns; ``bad`` breaks each of the seven checks.

    The bad version has, at fixed places, 5 nulls in each of id, age and
    country, 7 ages of 150, 3 ratings of 9, 11 unknown countries, 13 rows
    that repeat the id of another (26 rows share an id), 10% nulls in score,
    and one row more than ``rows`` (so a row count bounded at ``rows`` fails).
    """
    import numpy as np
    import polars as pl

    rng = np.random.default_rng(seed)
    score = rng.normal(600, 80, rows)
    score[rng.random(rows) < 0.02] = np.nan  # floats with NaNs, as real data has
    frame = pl.DataFrame(
        {
            "id": np.arange(1, rows + 1, dtype=np.int64),
            "user": [f"U{i:07d}" for i in rng.integers(0, 10_000_000, rows)],
            "age": rng.integers(18, 91, rows),
            "score": score,
            "amount": np.round(rng.gamma(2.0, 50.0, rows), 2),
            "rating": rng.integers(1, 6, rows),
            "country": rng.choice(COUNTRIES, rows),
            "segment": pl.Series(rng.choice(SEGMENTS, rows)).cast(pl.Categorical),
            "flag": rng.random(rows) < 0.3,
            "ts": [NOW - timedelta(seconds=int(s)) for s in rng.integers(0, 30 * 86400, rows)],
            "latency": np.where(rng.random(rows) < 0.01, np.nan, rng.exponential(120.0, rows)),
            "code": rng.choice(["A1", "B2", "C3", "D4"], rows),
        }
    )
    if not bad:
        return frame
    index = np.arange(rows)
    frame = frame.with_columns(
        pl.when(pl.Series(np.isin(index, [3, 4, 5, 6, 7]))).then(None).otherwise(pl.col("id")).alias("id"),
        pl.when(pl.Series(np.isin(index, [10, 11, 12, 13, 14])))
        .then(None)
        .otherwise(pl.col("age"))
        .alias("age"),
        pl.when(pl.Series(np.isin(index, [20, 21, 22, 23, 24])))
        .then(None)
        .otherwise(pl.col("country"))
        .alias("country"),
    )
    frame = frame.with_columns(
        pl.when(pl.Series(np.isin(index, np.arange(100, 107))))
        .then(150)
        .otherwise(pl.col("age"))
        .alias("age"),
        pl.when(pl.Series(np.isin(index, [200, 201, 202])))
        .then(9)
        .otherwise(pl.col("rating"))
        .alias("rating"),
        pl.when(pl.Series(np.isin(index, np.arange(300, 311))))
        .then(pl.lit("XX"))
        .otherwise(pl.col("country"))
        .alias("country"),
        pl.when(pl.Series(np.isin(index, np.arange(400, 413))))
        .then(pl.col("id") - 350)  # the ids of rows 50 to 62, again
        .otherwise(pl.col("id"))
        .alias("id"),
        pl.when(pl.Series(index % 10 == 0)).then(None).otherwise(pl.col("score")).alias("score"),
    )
    return pl.concat([frame, frame.tail(1).with_columns(pl.lit(rows + 10).cast(pl.Int64).alias("id"))])
