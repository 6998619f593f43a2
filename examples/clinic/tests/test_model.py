import json
from pathlib import Path

import pandas as pd
import pytest

from clinic import model
from clinic.data import feature_columns

DATA = Path(__file__).parents[1] / "data"


@pytest.fixture(scope="module")
def frames():
    return pd.read_csv(DATA / "train.csv"), pd.read_csv(DATA / "holdout.csv")


@pytest.fixture(scope="module")
def fitted(frames):
    return model.fit(frames[0])


def test_model_separates_malignant_from_benign(fitted, frames):
    metrics = model.evaluate(fitted, frames[1])
    assert metrics["roc_auc"] > 0.95
    assert metrics["accuracy"] > 0.9


def test_probabilities_are_probabilities(fitted, frames):
    holdout = frames[1]
    scores = fitted.predict_proba(holdout[feature_columns(holdout)])
    assert ((scores >= 0) & (scores <= 1)).all()
    assert scores.sum(axis=1) == pytest.approx(1.0)


def test_saved_model_predicts_like_the_fitted_one(fitted, frames, tmp_path):
    holdout = frames[1][feature_columns(frames[1])]
    loaded = model.load(model.save(fitted, tmp_path / "model.joblib"))
    assert (loaded.predict_proba(holdout) == fitted.predict_proba(holdout)).all()


def test_train_writes_model_and_metrics(tmp_path):
    out = tmp_path / "models" / "model.joblib"
    metrics = model.train(DATA / "train.csv", DATA / "holdout.csv", out)
    assert out.exists()
    assert json.loads(out.with_suffix(".metrics.json").read_text()) == metrics
