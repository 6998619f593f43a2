from pathlib import Path

import pandas as pd

from clinic.data import CLINICS, ID, SEGMENT, TARGET, feature_columns, make_dataset, write_dataset

DATA = Path(__file__).parents[1] / "data"


def test_committed_files_are_what_make_dataset_writes(tmp_path):
    for written in write_dataset(tmp_path):
        assert written.read_text() == (DATA / written.name).read_text()


def test_every_clinic_has_patients_of_both_classes():
    train, holdout = make_dataset()
    for frame in (train, holdout):
        counts = frame.groupby([SEGMENT, TARGET]).size()
        assert len(counts) == 2 * len(CLINICS)


def test_patients_are_in_exactly_one_split():
    train, holdout = make_dataset()
    assert not set(train[ID]) & set(holdout[ID])
    assert len(train) + len(holdout) == 569


def test_features_are_numeric_and_complete():
    frame = pd.read_csv(DATA / "train.csv")
    features = frame[feature_columns(frame)]
    assert features.shape[1] == 30
    assert features.notna().all().all()
    assert all(pd.api.types.is_float_dtype(t) for t in features.dtypes)
