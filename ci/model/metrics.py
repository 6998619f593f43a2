"""The metrics of each task, computed with scikit-learn, overall and per segment."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from ci.core.errors import CheckFailed, ConfigError
from ci.core.text import closest
from ci.model.loading import Predictions, need


class Undefined(Exception):
    """A metric that has no value on this data (ROC AUC of a single class): the message says why."""


@dataclass(frozen=True)
class Metric:
    name: str
    tasks: tuple[str, ...]
    greater_is_better: bool
    needs_scores: bool
    compute: Callable[[Any, Predictions], float]


def _labels(function: str, **kwargs: Any) -> Callable[[Any, Predictions], float]:
    def compute(y: Any, p: Predictions) -> float:
        return getattr(need("sklearn.metrics"), function)(y, p.labels, **kwargs)

    return compute


def _averaged(function: str, average: str) -> Callable[[Any, Predictions], float]:
    def compute(y: Any, p: Predictions) -> float:
        metric = getattr(need("sklearn.metrics"), function)
        if average == "binary":
            return metric(y, p.labels, average="binary", pos_label=_positive(p), zero_division=0)
        return metric(y, p.labels, average=average, zero_division=0)

    return compute


def _positive(p: Predictions) -> Any:
    """The positive class of a binary task: the second of the model's classes, as scikit-learn has it."""
    return p.classes[1] if p.classes is not None and len(p.classes) == 2 else 1


def _roc_auc(y: Any, p: Predictions) -> float:
    np = need("numpy")
    present = np.unique(y)
    if len(present) < 2:
        raise Undefined(f"ROC AUC is undefined: the data has only one class ({present[0]})")
    metrics = need("sklearn.metrics")
    if p.scores.shape[1] == 2:
        return metrics.roc_auc_score(y == _positive(p), p.scores[:, 1])
    return metrics.roc_auc_score(y, p.scores, multi_class="ovr", labels=p.classes)


def _log_loss(y: Any, p: Predictions) -> float:
    return need("sklearn.metrics").log_loss(y, p.scores, labels=p.classes)


def _brier(y: Any, p: Predictions) -> float:
    np = need("numpy")
    truth = (np.asarray(y)[:, None] == np.asarray(p.classes)[None, :]).astype(float)
    if p.scores.shape[1] == 2:  # scikit-learn's binary Brier score: the positive class only
        return float(np.mean((p.scores[:, 1] - truth[:, 1]) ** 2))
    return float(np.mean(np.sum((p.scores - truth) ** 2, axis=1)))


_CLASSIFICATION = ("binary", "multiclass")
METRICS: dict[str, Metric] = {
    m.name: m
    for m in (
        Metric("accuracy", _CLASSIFICATION, True, False, _labels("accuracy_score")),
        Metric("balanced_accuracy", _CLASSIFICATION, True, False, _labels("balanced_accuracy_score")),
        Metric("precision", ("binary",), True, False, _averaged("precision_score", "binary")),
        Metric("recall", ("binary",), True, False, _averaged("recall_score", "binary")),
        Metric("f1", ("binary",), True, False, _averaged("f1_score", "binary")),
        Metric("precision_macro", _CLASSIFICATION, True, False, _averaged("precision_score", "macro")),
        Metric("precision_weighted", _CLASSIFICATION, True, False, _averaged("precision_score", "weighted")),
        Metric("recall_macro", _CLASSIFICATION, True, False, _averaged("recall_score", "macro")),
        Metric("recall_weighted", _CLASSIFICATION, True, False, _averaged("recall_score", "weighted")),
        Metric("f1_macro", _CLASSIFICATION, True, False, _averaged("f1_score", "macro")),
        Metric("f1_weighted", _CLASSIFICATION, True, False, _averaged("f1_score", "weighted")),
        Metric("roc_auc", _CLASSIFICATION, True, True, _roc_auc),
        Metric("log_loss", _CLASSIFICATION, False, True, _log_loss),
        Metric("brier", _CLASSIFICATION, False, True, _brier),
        Metric("rmse", ("regression",), False, False, _labels("root_mean_squared_error")),
        Metric("mae", ("regression",), False, False, _labels("mean_absolute_error")),
        Metric("r2", ("regression",), True, False, _labels("r2_score")),
        Metric("mape", ("regression",), False, False, _labels("mean_absolute_percentage_error")),
    )
}


def choose(task: str, names: Sequence[str], has_scores: bool, key: str = "ci.model.metrics") -> list[Metric]:
    """The metrics to compute: those named (checked against the task), or every one the task has."""
    of_task = [m for m in METRICS.values() if task in m.tasks]
    if not names:
        return [m for m in of_task if has_scores or not m.needs_scores]
    chosen = []
    for name in names:
        metric = METRICS.get(name)
        if metric is None or task not in metric.tasks:
            close = closest(name, [m.name for m in of_task])
            hint = f"did you mean {close}? " if close else ""
            raise ConfigError(
                f"{key}: unknown metric {name!r} for a {task} task; {hint}"
                f"metrics: {', '.join(m.name for m in of_task)}"
            )
        if metric.needs_scores and not has_scores:
            raise ConfigError(
                f"{key}: {name} needs class probabilities; set ci.model.method to predict_proba"
            )
        chosen.append(metric)
    return chosen


@dataclass
class Scores:
    """Metric values, overall and per segment; None where a metric is undefined (see ``why``)."""

    overall: dict[str, float | None]
    segments: dict[str, dict[str, float | None]]
    why: dict[tuple[str, str | None], str]  # (metric, segment) -> why it is undefined

    def to_json(self) -> dict[str, Any]:
        return {"metrics": self.overall, "segments": self.segments}


def check_labels(y: Any, p: Predictions, source: str) -> None:
    """Fail on holdout labels the model never saw: every metric would be wrong."""
    if p.classes is None:
        return
    np = need("numpy")
    unseen = sorted(set(np.unique(y).tolist()) - set(np.asarray(p.classes).tolist()), key=str)
    if unseen:
        raise CheckFailed(
            f"{source} has labels the model never saw: {', '.join(map(str, unseen))}; "
            f"the model knows {', '.join(map(str, np.asarray(p.classes).tolist()))}"
        )


def _defined(metric: Metric, y: Any, p: Predictions) -> float:
    """The metric's value; Undefined, with scikit-learn's warning as the reason, for NaN."""
    import math
    import warnings

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        value = float(metric.compute(y, p))
    if math.isnan(value):
        reason = str(caught[-1].message) if caught else "the result is not a number"
        raise Undefined(f"{metric.name} is undefined: {reason}")
    return value


def compute(chosen: Sequence[Metric], y: Any, p: Predictions, segments: Any = None) -> Scores:
    np = need("numpy")
    why: dict[tuple[str, str | None], str] = {}

    def values(y_part: Any, p_part: Predictions, segment: str | None) -> dict[str, float | None]:
        result: dict[str, float | None] = {}
        for metric in chosen:
            try:
                result[metric.name] = _defined(metric, y_part, p_part)
            except Undefined as undefined:
                result[metric.name] = None
                why[(metric.name, segment)] = str(undefined)
        return result

    y = np.asarray(y)
    overall = values(y, p, None)
    by_segment = {}
    if segments is not None:
        segments = np.asarray(segments)
        for value in sorted(np.unique(segments).tolist(), key=str):
            mask = segments == value
            part = Predictions(p.labels[mask], None if p.scores is None else p.scores[mask], p.classes)
            by_segment[str(value)] = values(y[mask], part, str(value))
    return Scores(overall, by_segment, why)
