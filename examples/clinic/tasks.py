"""The clinic project's tasks: `invoke --list` shows them, `invoke ci.all` runs the pipeline."""

import ci
from invoke import Collection, task


@task
def data(c, folder="data"):
    """Rebuild data/train.csv and data/holdout.csv from scikit-learn's breast-cancer set."""
    from clinic.data import write_dataset

    for path in write_dataset(folder):
        print(f"wrote {path}")


@task
def train(c, out="models/model.joblib"):
    """Train the model on data/train.csv and report its holdout metrics."""
    from clinic.model import train as fit_and_save

    metrics = fit_and_save("data/train.csv", "data/holdout.csv", out)
    print(f"wrote {out}: {metrics}")


ns = Collection(data, train, ci.namespace(__file__))
