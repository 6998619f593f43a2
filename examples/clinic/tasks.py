"""The clinic project's tasks: `invoke --list` shows them, `invoke ci.all` runs the pipeline."""

import os

import ci
from invoke import Collection, task


@task
def data(c, folder="data"):
    """Rebuild data/train.csv and data/holdout.csv from scikit-learn's breast-cancer set."""
    from clinic.data import write_dataset

    for path in write_dataset(folder):
        print(f"wrote {path}")


@task
def train(c, out=None):
    """Train the model on data/train.csv and report its holdout metrics.

    Under dsci, a tenant's (a clinic's) own rows and model path come from DSCI_DATA_TRAIN,
    DSCI_HOLDOUT and DSCI_MODEL_PATH."""
    from clinic.model import train as fit_and_save

    train_csv = os.environ.get("DSCI_DATA_TRAIN") or "data/train.csv"
    holdout_csv = os.environ.get("DSCI_HOLDOUT") or "data/holdout.csv"
    out = out or os.environ.get("DSCI_MODEL_PATH") or "models/model.joblib"
    metrics = fit_and_save(train_csv, holdout_csv, out)
    print(f"wrote {out}: {metrics}")


ns = Collection(data, train, ci.namespace(__file__))
