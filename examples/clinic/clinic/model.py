"""The model: scaled features into a logistic regression, saved with joblib."""

from __future__ import annotations

import json
from pathlib import Path

import joblib
import pandas as pd
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, roc_auc_score
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import StandardScaler

from clinic.data import TARGET, feature_columns


def build() -> Pipeline:
    return make_pipeline(StandardScaler(), LogisticRegression(C=0.5, max_iter=1000))


def fit(train: pd.DataFrame) -> Pipeline:
    model = build()
    model.fit(train[feature_columns(train)], train[TARGET])
    return model


def evaluate(model: Pipeline, holdout: pd.DataFrame) -> dict[str, float]:
    features, target = holdout[feature_columns(holdout)], holdout[TARGET]
    scores = model.predict_proba(features)[:, 1]
    return {
        "accuracy": round(float(accuracy_score(target, model.predict(features))), 4),
        "roc_auc": round(float(roc_auc_score(target, scores)), 4),
    }


def save(model: Pipeline, path: str | Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    joblib.dump(model, path)
    return path


def load(path: str | Path) -> Pipeline:
    return joblib.load(path)


def train(train_csv: str | Path, holdout_csv: str | Path, out: str | Path) -> dict[str, float]:
    """Fit on the training file, save the model, return and store its holdout metrics."""
    model = fit(pd.read_csv(train_csv))
    save(model, out)
    metrics = evaluate(model, pd.read_csv(holdout_csv))
    Path(out).with_suffix(".metrics.json").write_text(json.dumps(metrics, indent=2) + "\n")
    return metrics
