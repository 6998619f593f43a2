"""Plots of a model's holdout results as PNG: ROC curve, confusion matrix, predicted vs actual."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

from ci.core import files
from ci.model.loading import Predictions, need

MAX_POINTS = 20_000  # a scatter of more points says no more and takes longer


def _figure(width: float = 5, height: float = 4.5) -> Any:
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    figure = need("matplotlib.figure").Figure(figsize=(width, height), dpi=100, layout="constrained")
    FigureCanvasAgg(figure)
    return figure


def _save(figure: Any, path: Path) -> Path:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    return files.write_bytes(path, buffer.getvalue())


def roc_curve(y: Any, p: Predictions, path: Path) -> Path:
    np = need("numpy")
    metrics = need("sklearn.metrics")
    figure = _figure()
    axes = figure.add_subplot()
    if len(p.classes) == 2:
        pairs = [(p.classes[1], p.scores[:, 1])]
    else:
        pairs = list(zip(p.classes, p.scores.T, strict=True))
    drawn = 0
    for label, scores in pairs:
        truth = np.asarray(y) == label
        if truth.all() or not truth.any():
            continue
        fpr, tpr, _ = metrics.roc_curve(truth, scores)
        axes.plot(fpr, tpr, label=f"{label} (AUC {metrics.auc(fpr, tpr):.3f})")
        drawn += 1
    axes.plot([0, 1], [0, 1], linestyle="--", color="grey", linewidth=1)
    axes.set(xlabel="false positive rate", ylabel="true positive rate", title="ROC curve")
    if drawn:
        axes.legend(loc="lower right")
    else:
        axes.text(0.5, 0.5, "undefined: the data has only one class", ha="center")
    return _save(figure, path)


def confusion_matrix(y: Any, p: Predictions, path: Path) -> Path:
    np = need("numpy")
    classes = p.classes if p.classes is not None else np.unique(np.concatenate([y, p.labels]))
    matrix = need("sklearn.metrics").confusion_matrix(y, p.labels, labels=classes)
    figure = _figure()
    axes = figure.add_subplot()
    axes.imshow(matrix, cmap="Blues")
    ticks = range(len(classes))
    axes.set(xticks=ticks, yticks=ticks, xticklabels=classes, yticklabels=classes)
    axes.set(xlabel="predicted", ylabel="actual", title="confusion matrix")
    for (row, column), count in np.ndenumerate(matrix):
        dark = count > matrix.max() / 2
        axes.text(column, row, str(count), ha="center", va="center", color="white" if dark else "black")
    return _save(figure, path)


def predicted_vs_actual(y: Any, p: Predictions, path: Path) -> Path:
    np = need("numpy")
    y, predicted = np.asarray(y, dtype=float), np.asarray(p.labels, dtype=float)
    if len(y) > MAX_POINTS:  # a fixed, evenly spread sample: the same data gives the same picture
        keep = np.linspace(0, len(y) - 1, MAX_POINTS).astype(int)
        y, predicted = y[keep], predicted[keep]
    figure = _figure()
    axes = figure.add_subplot()
    axes.scatter(y, predicted, s=4, alpha=0.4)
    low, high = float(min(y.min(), predicted.min())), float(max(y.max(), predicted.max()))
    axes.plot([low, high], [low, high], linestyle="--", color="grey", linewidth=1)
    axes.set(xlabel="actual", ylabel="predicted", title="predicted vs actual")
    return _save(figure, path)
