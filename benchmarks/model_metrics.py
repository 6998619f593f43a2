"""Model metrics on a 1,000,000-row holdout: dsci against calling sklearn.metrics directly.

Paired runs (alternating which goes first); medians and their ratio. Target:
dsci within 1.5x of the direct calls, and each plot under 1 s. Run from the
repository root:

    .venv/bin/python -m benchmarks.model_metrics [--rows 1000000] [--runs 7] [--write FILE]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
from sklearn import metrics as skm

from benchmarks._common import machine, publish
from ci.model import metrics, plots
from ci.model.loading import Predictions

TARGET_RATIO, TARGET_PLOT = 1.5, 1.0


def binary_holdout(rows: int) -> tuple[np.ndarray, Predictions]:
    rng = np.random.default_rng(42)
    y = rng.integers(0, 2, rows)
    scores = np.clip(0.35 * y + rng.normal(0.33, 0.2, rows), 0, 1)
    proba = np.column_stack([1 - scores, scores])
    return y, Predictions((scores >= 0.5).astype(int), proba, np.array([0, 1]))


def regression_holdout(rows: int) -> tuple[np.ndarray, Predictions]:
    rng = np.random.default_rng(7)
    y = rng.gamma(2.0, 10.0, rows) + 1
    return y, Predictions(y + rng.normal(0, 3, rows))


def direct_binary(y: np.ndarray, p: Predictions) -> dict[str, float]:
    """The same fourteen metrics, each a plain sklearn.metrics call."""
    labels, scores = p.labels, p.scores[:, 1]
    return {
        "accuracy": skm.accuracy_score(y, labels),
        "balanced_accuracy": skm.balanced_accuracy_score(y, labels),
        "precision": skm.precision_score(y, labels),
        "recall": skm.recall_score(y, labels),
        "f1": skm.f1_score(y, labels),
        "precision_macro": skm.precision_score(y, labels, average="macro"),
        "precision_weighted": skm.precision_score(y, labels, average="weighted"),
        "recall_macro": skm.recall_score(y, labels, average="macro"),
        "recall_weighted": skm.recall_score(y, labels, average="weighted"),
        "f1_macro": skm.f1_score(y, labels, average="macro"),
        "f1_weighted": skm.f1_score(y, labels, average="weighted"),
        "roc_auc": skm.roc_auc_score(y, scores),
        "log_loss": skm.log_loss(y, p.scores),
        "brier": skm.brier_score_loss(y, scores),
    }


def direct_regression(y: np.ndarray, p: Predictions) -> dict[str, float]:
    return {
        "rmse": skm.root_mean_squared_error(y, p.labels),
        "mae": skm.mean_absolute_error(y, p.labels),
        "r2": skm.r2_score(y, p.labels),
        "mape": skm.mean_absolute_percentage_error(y, p.labels),
    }


def timed(function, *args) -> tuple[float, object]:
    start = time.perf_counter()
    result = function(*args)
    return time.perf_counter() - start, result


def compare(task: str, y: np.ndarray, p: Predictions, direct, runs: int) -> dict[str, float]:
    chosen = metrics.choose(task, [], p.scores is not None)
    pairs = []
    for i in range(runs):
        order = [("dsci", lambda: metrics.compute(chosen, y, p).overall), ("direct", lambda: direct(y, p))]
        if i % 2:
            order.reverse()
        pairs.append({name: timed(run)[0] for name, run in order})
    ours, theirs = metrics.compute(chosen, y, p).overall, direct(y, p)
    for name, value in theirs.items():  # the same numbers, or the comparison means nothing
        assert abs(ours[name] - value) <= 1e-9 * max(1.0, abs(value)), (name, ours[name], value)
    dsci = statistics.median(p["dsci"] for p in pairs)
    sklearn = statistics.median(p["direct"] for p in pairs)
    return {"dsci": dsci, "direct": sklearn, "ratio": dsci / sklearn, "metrics": len(theirs)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=7, help="paired runs (at least 5)")
    parser.add_argument("--write", type=Path, help="write the results as Markdown to this file")
    options = parser.parse_args()
    runs = max(options.runs, 5)
    y, p = binary_holdout(options.rows)
    yr, pr = regression_holdout(options.rows)
    binary = compare("binary", y, p, direct_binary, runs)
    regression = compare("regression", yr, pr, direct_regression, runs)
    plot_times = {}
    with tempfile.TemporaryDirectory() as out:
        for name, function, args in (
            ("ROC curve", plots.roc_curve, (y, p)),
            ("confusion matrix", plots.confusion_matrix, (y, p)),
            ("predicted vs actual", plots.predicted_vs_actual, (yr, pr)),
        ):
            times = [timed(function, *args, Path(out, f"{i}.png"))[0] for i in range(3)]
            plot_times[name] = statistics.median(times)
    meets = binary["ratio"] <= TARGET_RATIO and regression["ratio"] <= TARGET_RATIO
    meets = meets and max(plot_times.values()) < TARGET_PLOT
    rows = f"{options.rows:,}"
    command = (
        f"python -m benchmarks.model_metrics --rows {options.rows} --runs {runs} --write {options.write}"
    )
    table = "".join(
        f"| {task} | {r['metrics']} | {r['dsci']:.3f} s | {r['direct']:.3f} s | {r['ratio']:.2f}x |\n"
        for task, r in (("binary", binary), ("regression", regression))
    )
    pictures = "".join(f"| {name} | {seconds:.3f} s |\n" for name, seconds in plot_times.items())
    report = f"""# Model metrics and plots

Command: `.venv/bin/{command}`

Machine: {machine()}

Metrics on a {rows}-row holdout, median of {runs} paired runs; both sides compute
the same metrics and the script checks they agree to 1e-9.

| task | metrics | dsci (`ci.model.metrics.compute`) | direct `sklearn.metrics` calls | ratio |
| --- | --- | --- | --- | --- |
{table}
Plots on the same {rows} rows (median of 3, PNG written):

| plot | time |
| --- | --- |
{pictures}
Targets: metrics within {TARGET_RATIO}x of sklearn.metrics, each plot under {TARGET_PLOT:g} s.
Result: {"meets" if meets else "misses"} the targets.
"""
    publish(report, options.write)


if __name__ == "__main__":
    main()
