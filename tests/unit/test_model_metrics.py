import numpy as np
import pytest
from sklearn import metrics as skm

from ci.core.errors import CheckFailed, ConfigError
from ci.model import metrics
from ci.model.loading import Predictions


@pytest.fixture
def binary():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 500)
    scores = np.clip(y * 0.6 + rng.normal(0.2, 0.25, 500), 0, 1)
    proba = np.column_stack([1 - scores, scores])
    return y, Predictions((scores > 0.5).astype(int), proba, np.array([0, 1]))


def test_binary_metrics_equal_scikit_learns(binary):
    y, p = binary
    chosen = metrics.choose("binary", [], has_scores=True)
    values = metrics.compute(chosen, y, p).overall
    assert values["accuracy"] == skm.accuracy_score(y, p.labels)
    assert values["f1"] == skm.f1_score(y, p.labels)
    assert values["recall_weighted"] == skm.recall_score(y, p.labels, average="weighted")
    assert values["roc_auc"] == skm.roc_auc_score(y, p.scores[:, 1])
    assert values["log_loss"] == pytest.approx(skm.log_loss(y, p.scores))
    assert values["brier"] == pytest.approx(skm.brier_score_loss(y, p.scores[:, 1]))


def test_multiclass_metrics_use_every_class():
    y = np.array(["a", "b", "c", "a", "b", "c"])
    proba = np.array(
        [[0.8, 0.1, 0.1], [0.2, 0.7, 0.1], [0.1, 0.2, 0.7], [0.4, 0.5, 0.1], [0.1, 0.8, 0.1], [0.3, 0.3, 0.4]]
    )
    classes = np.array(["a", "b", "c"])
    p = Predictions(classes[proba.argmax(axis=1)], proba, classes)
    values = metrics.compute(metrics.choose("multiclass", [], True), y, p).overall
    assert "f1" not in values and values["f1_macro"] == skm.f1_score(y, p.labels, average="macro")
    assert values["roc_auc"] == skm.roc_auc_score(y, proba, multi_class="ovr", labels=classes)


def test_regression_metrics():
    y = np.array([1.0, 2.0, 3.0, 4.0])
    p = Predictions(np.array([1.1, 1.9, 3.2, 3.7]))
    values = metrics.compute(metrics.choose("regression", [], False), y, p).overall
    assert set(values) == {"rmse", "mae", "r2", "mape"}
    assert values["rmse"] == pytest.approx(skm.root_mean_squared_error(y, p.labels))


def test_single_class_makes_roc_auc_undefined_and_says_why(binary):
    _, p = binary
    y = np.ones(500, dtype=int)
    scores = metrics.compute(metrics.choose("binary", ["roc_auc"], True), y, p)
    assert scores.overall["roc_auc"] is None
    assert scores.why[("roc_auc", None)] == "ROC AUC is undefined: the data has only one class (1)"


def test_segments_get_their_own_metrics(binary):
    y, p = binary
    segments = np.where(np.arange(500) < 200, "north", "south")
    scores = metrics.compute(metrics.choose("binary", ["accuracy"], True), y, p, segments)
    assert set(scores.segments) == {"north", "south"}
    assert scores.segments["north"]["accuracy"] == skm.accuracy_score(y[:200], p.labels[:200])


def test_unknown_metric_names_the_closest():
    with pytest.raises(ConfigError) as caught:
        metrics.choose("binary", ["roc_uac"], True)
    assert str(caught.value).startswith(
        "ci.model.metrics: unknown metric 'roc_uac' for a binary task; did you mean roc_auc?"
    )


def test_metric_needing_probabilities_without_them_says_what_to_set():
    with pytest.raises(ConfigError) as caught:
        metrics.choose("binary", ["roc_auc"], has_scores=False)
    assert str(caught.value) == (
        "ci.model.metrics: roc_auc needs class probabilities; set ci.model.method to predict_proba"
    )


def test_without_probabilities_only_label_metrics_are_computed():
    names = {m.name for m in metrics.choose("binary", [], has_scores=False)}
    assert "roc_auc" not in names and "accuracy" in names


def test_labels_the_model_never_saw_fail(binary):
    _, p = binary
    with pytest.raises(CheckFailed) as caught:
        metrics.check_labels(np.array([0, 1, 2, 2]), p, "data/holdout.csv")
    assert str(caught.value) == "data/holdout.csv has labels the model never saw: 2; the model knows 0, 1"
