"""The comparisons behind ci.parity: predictions, libraries, the stored record, the summary."""

import json

import msgspec
import pytest

from ci import parity
from ci.core.errors import CheckFailed, ConfigError
from ci.core.files import sha256_file
from ci.core.results import Status
from ci.core.settings import Parity, Retrained
from ci.parity import Scored, compare, container, judge, library_drift


def classifier(labels, positive):
    return Scored(labels, [[1 - p, p] for p in positive], [0, 1])


def test_identical_predictions_are_the_same():
    dev = classifier([0, 1, 1], [0.1, 0.9, 0.7])
    found = compare(dev, classifier([0, 1, 1], [0.1, 0.9, 0.7]), rtol=0, atol=0)
    assert found.same and found.max_abs == 0 and found.worst == []


def test_flips_are_counted_and_listed_first_then_the_largest_differences():
    dev = classifier([0, 1, 1, 0], [0.1, 0.9, 0.51, 0.3])
    image = classifier([0, 1, 0, 0], [0.1, 0.9 + 1e-16 * 4, 0.49, 0.3 + 1e-9])
    found = compare(dev, image, rtol=0, atol=0, worst=3)
    assert (found.flips, found.outside) == (1, 3)
    assert [w["row"] for w in found.worst] == [2, 3, 1]
    assert found.worst[0] == {
        "row": 2, "development": 1, "image": 0, "difference": pytest.approx(0.02),
        "class": 0, "development_score": pytest.approx(0.49), "image_score": pytest.approx(0.51),
    }  # fmt: skip
    assert found.max_abs == pytest.approx(0.02)


def test_tolerances_are_absolute_plus_relative_to_development():
    dev = Scored([100.0, 1.0])  # a regressor: the values are the scores
    image = Scored([100.001, 1.0])
    assert not compare(dev, image, rtol=0, atol=1e-4).same
    assert compare(dev, image, rtol=2e-5, atol=0).same  # 1e-3 <= 2e-5 * 100
    assert not compare(dev, image, rtol=5e-6, atol=0).same
    assert compare(dev, image, rtol=0, atol=1e-3 + 1e-12).same


def test_nan_on_both_sides_is_equal_and_on_one_side_is_infinitely_far():
    assert compare(Scored([float("nan"), 1.0]), Scored([float("nan"), 1.0]), 0, 0).same
    found = compare(Scored([float("nan"), 1.0]), Scored([2.0, 1.0]), 0, 1e9)
    assert found.outside == 1 and found.max_abs == float("inf")


def test_different_row_counts_or_classes_fail_outright():
    with pytest.raises(CheckFailed, match="development scored 2 golden rows, the image 1"):
        compare(Scored([1, 2]), Scored([1]), 0, 0)
    with pytest.raises(CheckFailed, match=r"classes differ: \[0, 1\] in development, \[1, 2\] in the image"):
        compare(classifier([0], [0.5]), Scored([1], [[0.5, 0.5]], [1, 2]), 0, 0)


def test_labels_without_scores_compare_labels_only():
    found = compare(Scored(["a", "b"], None, ["a", "b"]), Scored(["a", "a"], None, ["a", "b"]), 0, 0)
    assert (found.flips, found.outside, found.max_abs) == (1, 0, 0.0)


def test_library_drift_lists_other_versions_and_packages_development_lacks():
    lock = ["numpy==2.4.6", "scikit-learn==1.9.1", "pip==26.3", "pytest==9.0.0"]
    installed = {"numpy": "2.3.5", "scikit_learn": "1.9.1", "pip": "23.0.1", "setuptools": "66.1.1",
                 "extra-lib": "1.0", "clinic": "0.1.0"}  # fmt: skip
    differences, compared = library_drift(lock, installed, project="clinic")
    assert differences == [
        {"package": "extra-lib", "development": None, "image": "1.0"},
        {"package": "numpy", "development": "2.4.6", "image": "2.3.5"},
    ]
    assert compared == 3  # pip and setuptools are the venv's tooling; clinic runs from source here
    assert parity.describe_drift(differences) == (
        "extra-lib not installed in development, 1.0 in the image; "
        "numpy 2.4.6 in development, 2.3.5 in the image"
    )


def test_a_patch_release_is_noted_another_minor_or_platform_warns():
    here = {"python": "3.11.7", "platform": "Linux-x86_64-with-glibc2.36"}
    same = judge.runtime_check("img", here, dict(here))
    patch = judge.runtime_check("img", here, {**here, "python": "3.11.2"})
    minor = judge.runtime_check("img", here, {**here, "python": "3.12.1"})
    libc = judge.runtime_check("img", here, {**here, "platform": "Linux-x86_64-with-glibc2.31"})
    assert (same.status, patch.status, minor.status, libc.status) == (
        Status.PASSED, Status.PASSED, Status.WARNED, Status.WARNED,
    )  # fmt: skip
    assert patch.message == "python 3.11.7 in development, 3.11.2 in the image"


def write_record(folder, **changes):
    golden = folder / "golden.csv"
    golden.write_text("a,b\n1,2\n")
    scored = Scored([1], [[0.25, 0.75]], [0, 1])
    record = {
        "golden": {"path": "golden.csv", "sha256": sha256_file(golden)[0], "rows": 1},
        "model": {"path": "m.joblib", "sha256": "0" * 64},
        **scored.to_json(),
        "sha256": scored.sha256(),
        **changes,
    }
    parity.record_path(golden).write_text(json.dumps(record))
    return golden


def test_a_matching_record_is_read(project):
    golden = write_record(project)
    assert parity.read_record(golden)["probabilities"] == [[0.25, 0.75]]
    assert parity.record_path(golden).name == "golden.predictions.json"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"sha256": "f" * 64}, "golden.predictions.json: its predictions do not match their sha256"),
        ({"model": {}}, "golden.predictions.json: not a predictions record ('sha256')"),
        ({"golden": {"sha256": "e" * 64}}, "golden.csv changed since its predictions were recorded"),
    ],
)
def test_a_record_that_does_not_match_is_refused(project, change, message):
    golden = write_record(project, **change)
    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace(")", r"\)")) as caught:
        parity.read_record(golden)
    assert caught.value.message.endswith("re-record with `invoke ci.parity --record`")


def test_a_record_that_is_not_json_is_refused(project):
    golden = write_record(project)
    parity.record_path(golden).write_text("{")
    with pytest.raises(ConfigError, match=r"golden\.predictions\.json: not a predictions record"):
        parity.read_record(golden)


def test_the_caret_lines_of_a_traceback_are_not_a_container_s_last_words():
    log = b"Traceback\n  File x\n    open(p)\n    ^^^^^^^\nFileNotFoundError: nope\n"
    assert container.last_lines(log) == ["File x", "open(p)", "FileNotFoundError: nope"]


PARITY = Parity(rtol=0.0, atol=0.0, retrained=Retrained(atol=1e-9, rtol=0.0, beyond="warn"))


def recorded(scored, model_sha="a" * 64):
    return {**scored.to_json(), "model": {"sha256": model_sha}, "recorded": "2026-11-30T10:00:00Z"}


def ulps(values, count):
    """Each value moved by ``count`` units in the last place, as another CPU's BLAS gives them."""
    import numpy as np

    moved = np.asarray(values, dtype=float)
    for _ in range(count):
        moved = np.nextafter(moved, np.inf)
    return moved.tolist()


def test_a_model_retrained_on_another_cpu_reproduces_the_record_within_its_tolerance():
    here = classifier([0, 1, 1], [0.1, 0.9, 0.7])
    there = Scored(here.predictions, ulps(here.probabilities, 4), here.classes)  # the record's machine
    check = judge.against_record(recorded(there), here, "b" * 64, PARITY, worst=5)
    assert check.status is Status.PASSED
    assert check.message.startswith("retrained since the record of 2026-11-30T10:00:00Z; reproduces")
    assert 0 < check.value < 1e-15 and check.threshold == 1e-9


def test_the_same_model_must_reproduce_the_record_to_the_bit():
    here = classifier([0, 1, 1], [0.1, 0.9, 0.7])
    there = Scored(here.predictions, ulps(here.probabilities, 1), here.classes)
    check = judge.against_record(recorded(there, "b" * 64), here, "b" * 64, PARITY, worst=5)
    assert check.status is Status.FAILED
    assert "no longer predicts what this same model did" in check.message


@pytest.mark.parametrize(("beyond", "status"), [("warn", Status.WARNED), ("fail", Status.FAILED)])
def test_a_retrained_model_beyond_the_tolerance_names_rows_and_sizes(beyond, status):
    here = classifier([0, 1, 1], [0.1, 0.9, 0.7])
    there = classifier([0, 1, 0], [0.1, 0.9, 0.4])
    settings = msgspec.structs.replace(PARITY, retrained=Retrained(beyond=beyond))
    check = judge.against_record(recorded(there), here, "b" * 64, settings, worst=5)
    assert check.status is status
    assert "1 label flips in 3 rows, 1 rows outside the tolerance" in check.message
    assert "most: row 2 (0.3)" in check.message
    assert check.message.endswith("if the change is meant, re-record with `invoke ci.parity --record`")


def test_a_retrained_model_with_other_classes_is_beyond_the_tolerance():
    here = classifier([0, 1], [0.1, 0.9])
    there = Scored([0, 2], [[0.9, 0.1], [0.1, 0.9]], [0, 2])
    check = judge.against_record(recorded(there), here, "b" * 64, PARITY, worst=5)
    assert check.status is Status.WARNED and "the model's classes differ" in check.message
