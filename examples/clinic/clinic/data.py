"""The dataset: scikit-learn's breast-cancer data, spread deterministically over four clinics.

Nothing is downloaded: the data ships with scikit-learn. The same seed
always gives the same files, so data/*.csv can be rebuilt and compared.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.datasets import load_breast_cancer
from sklearn.model_selection import train_test_split

SEED = 20240601
CLINICS = ("north", "south", "east", "west")
CLINIC_SHARES = (0.4, 0.25, 0.2, 0.15)
TARGET = "malignant"
ID = "patient_id"
SEGMENT = "clinic"


def feature_columns(frame: pd.DataFrame) -> list[str]:
    return [c for c in frame.columns if c not in (ID, SEGMENT, TARGET)]


def make_dataset() -> tuple[pd.DataFrame, pd.DataFrame]:
    """(train, holdout): one row per patient, snake_case features, a clinic and the target."""
    raw = load_breast_cancer(as_frame=True)
    features = raw.data.rename(columns=lambda name: name.replace(" ", "_"))
    rng = np.random.default_rng(SEED)
    frame = pd.concat(
        [
            pd.DataFrame({ID: [f"P{i:04d}" for i in range(len(features))]}),
            pd.DataFrame({SEGMENT: rng.choice(CLINICS, size=len(features), p=CLINIC_SHARES)}),
            features,
            # scikit-learn codes malignant as 0; the positive class here is the one we look for
            pd.DataFrame({TARGET: (raw.target == 0).astype(int)}),
        ],
        axis=1,
    )
    train, holdout = train_test_split(
        frame, test_size=0.25, random_state=SEED, stratify=frame[[SEGMENT, TARGET]]
    )
    return train.sort_values(ID), holdout.sort_values(ID)


def write_dataset(folder: str | Path) -> list[Path]:
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, frame in zip(("train", "holdout"), make_dataset(), strict=True):
        path = folder / f"{name}.csv"
        frame.to_csv(path, index=False)
        paths.append(path)
    return paths


def load(path: str | Path) -> pd.DataFrame:
    return pd.read_csv(path)
