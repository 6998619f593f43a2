"""ci.model and ci.model.export on the example, through the real CLI, real git and onnxruntime."""

import json
import re

import junitparser
import pytest

from tests.integration.conftest import git

pytestmark = pytest.mark.tool("invoke", "git", "sklearn", "pandas", "matplotlib", "skl2onnx", "onnxruntime")


def read_json(path):
    return json.loads(path.read_text())


def table_row(summary, metric):
    """A row of the gate table as (baseline, current, delta, threshold, verdict): the numbers as floats.

    The model is retrained in the test, and another CPU gives other last bits: numbers within 1e-4."""
    line = next(line for line in summary.splitlines() if line.startswith(f"| {metric} |"))
    baseline, current, delta, threshold, verdict = (cell.strip() for cell in line.strip("|").split("|")[1:])
    return float(baseline), float(current), float(delta), threshold, verdict


def set_gate(example, old, new):
    settings = example / "invoke.yaml"
    settings.write_text(settings.read_text().replace(old, new))


def test_model_passes_with_real_thresholds_against_the_committed_baseline(example, invoke):
    done = invoke(example, "ci.model")
    assert done.returncode == 0, done.stdout + done.stderr
    metrics = read_json(example / "build" / "ci" / "metrics.json")
    assert metrics["verdict"] == "pass" and metrics["metrics"]["roc_auc"] > 0.95
    assert metrics["baseline"].startswith("metrics/baseline.json at ")
    summary = (example / "build" / "ci" / "summary.md").read_text()
    assert "| metric | baseline | current | delta | threshold | verdict |" in summary
    assert table_row(summary, "roc_auc") == (
        pytest.approx(0.9881, abs=1e-4), pytest.approx(0.9881, abs=1e-4), pytest.approx(0, abs=1e-4),
        "≥ 0.95; change ≥ -0.01", "✅ pass",
    )  # fmt: skip
    for picture in ("roc_curve.png", "confusion_matrix.png"):
        assert (example / "build" / "ci" / "model" / picture).stat().st_size > 1000


def test_threshold_above_the_score_fails_all_with_verdict_and_numbers(example, invoke):
    set_gate(example, "roc_auc: {min: 0.95,", "roc_auc: {min: 0.999,")
    done = invoke(example, "ci.all")
    assert done.returncode == 1
    assert read_json(example / "build" / "ci" / "metrics.json")["verdict"] == "fail"
    summary = (example / "build" / "ci" / "summary.md").read_text()
    assert "Verdict: **fail**" in summary
    assert table_row(summary, "roc_auc") == (
        pytest.approx(0.9881, abs=1e-4), pytest.approx(0.9881, abs=1e-4), pytest.approx(0, abs=1e-4),
        "≥ 0.999; change ≥ -0.01", "❌ fail",
    )  # fmt: skip
    xml = junitparser.JUnitXml.fromfile(str(example / "build" / "ci" / "junit.xml"))
    model = next(suite for suite in xml if suite.name == "model")
    failed = [case.name for case in model if not case.is_passed]
    assert failed[0] == "roc_auc" and all(name.startswith("roc_auc [") for name in failed[1:])
    roc_auc = next(c for c in model if c.name == "roc_auc")
    assert re.search(r"0\.988\d+ is below the minimum 0\.999", roc_auc.result[0].message)


def test_a_worse_model_than_main_is_not_better(example, invoke):
    git(example, "switch", "--quiet", "--create", "stronger-regularisation")
    code = example / "clinic" / "model.py"
    code.write_text(code.read_text().replace("LogisticRegression(C=0.5,", "LogisticRegression(C=0.05,"))
    git(example, "commit", "--quiet", "--all", "--message", "regularise harder")
    done = invoke(example, "ci.model")
    assert done.returncode == 1
    metrics = read_json(example / "build" / "ci" / "metrics.json")
    assert metrics["verdict"] == "not-better"
    east = next(g for g in metrics["gates"] if g["metric"] == "roc_auc" and g["segment"] == "east")
    assert east["verdict"] == "not-better" and east["baseline"] == pytest.approx(0.9886, abs=1e-4)
    assert east["current"] >= 0.95 and east["improvement"] < -0.01
    assert table_row((example / "build" / "ci" / "summary.md").read_text(), "roc_auc [east]") == (
        pytest.approx(0.9886, abs=1e-4), pytest.approx(0.9716, abs=1e-4), pytest.approx(-0.0170, abs=1e-4),
        "≥ 0.95; change ≥ -0.01", "⚠️ not-better",
    )  # fmt: skip


def test_dry_run_exits_0_with_the_same_report(example, invoke):
    set_gate(example, "roc_auc: {min: 0.95,", "roc_auc: {min: 0.999,")
    done = invoke(example, "ci.model", "--mode", "dry-run")
    assert done.returncode == 0, done.stderr
    assert read_json(example / "build" / "ci" / "metrics.json")["verdict"] == "fail"
    summary = (example / "build" / "ci" / "summary.md").read_text()
    assert "❌ fail (dry-run)" in summary


def test_onnx_export_passes_and_fails_below_the_float32_difference(example, invoke):
    invoke(example, "train")
    assert invoke(example, "ci.model.export").returncode == 0
    assert (example / "build" / "ci" / "model" / "model.onnx").stat().st_size > 1000
    assert "OrtSession" in (example / "build" / "ci" / "model" / "JAVA.md").read_text()
    done = invoke(example, "ci.model.export", "--tolerance", "1e-12")
    assert done.returncode == 1
    scores = next(
        c
        for c in read_json(example / "build" / "ci" / "report.json")["stages"][-1]["checks"]
        if c["name"] == "onnx scores"
    )
    assert scores["status"] == "failed" and 1e-12 < scores["value"] < 1e-5


def test_shallow_clone_says_which_fetch_finds_the_baseline(example, invoke, tmp_path):
    git(example, "switch", "--quiet", "--create", "feature")
    (example / "NOTES.md").write_text("work in progress\n")
    git(example, "add", "NOTES.md")
    git(example, "commit", "--quiet", "--message", "feature work")
    clone = tmp_path / "shallow"
    git(tmp_path, "clone", "--quiet", "--depth", "1", "--branch", "feature", f"file://{example}", str(clone))
    done = invoke(clone, "ci.model")
    assert done.returncode == 3
    assert done.stderr.strip().endswith("run `git fetch origin main:refs/remotes/origin/main`")
    git(clone, "fetch", "--quiet", "--depth", "1", "origin", "main:refs/remotes/origin/main")
    done = invoke(clone, "ci.model")
    assert done.returncode == 3
    assert done.stderr.strip() == (
        "error: cannot find where HEAD left main: the clone is shallow; "
        "run `git fetch --unshallow origin main`"
    )
    git(clone, "fetch", "--quiet", "--unshallow", "origin", "main")
    assert invoke(clone, "ci.model").returncode == 0


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        (  # no training to make it (a training command writes where DSCI_MODEL_PATH says)
            "train: invoke train\n    path: models/model.joblib",
            "path: models/missing.joblib",
            "error: ci.model.path: models/missing.joblib: no such model file",
        ),
        (
            "target: malignant",
            "target: malignnat",
            'error: data/holdout.csv has no column "malignnat" (ci.model.target); did you mean "malignant"?',
        ),
        (
            "recall: {min: 0.85",
            "recal: {min: 0.85",
            "error: ci.model.gates.recal: recal is not a metric; did you mean recall?",
        ),
        (
            "roc_auc: {min: 0.95,",
            "roc_auc: {min: high,",
            'error: invoke.yaml:{line}: ci.model.gates.roc_auc.min must be a number or null, got "high"',
        ),
    ],
)
def test_bad_model_settings_exit_2_with_one_line(example, invoke, old, new, expected):
    set_gate(example, old, new)
    lines = (example / "invoke.yaml").read_text().splitlines()
    line = next(number for number, text in enumerate(lines, start=1) if new in text)
    done = invoke(example, "ci.model")
    assert done.returncode == 2, done.stdout
    assert "Traceback" not in done.stderr
    assert done.stderr.strip().splitlines()[-1].startswith(expected.format(line=line))


def test_baseline_that_is_not_json_exits_2(example, invoke):
    (example / "metrics" / "baseline.json").write_text("roc_auc = 0.9\n")
    git(example, "commit", "--quiet", "--all", "--message", "a broken baseline")
    done = invoke(example, "ci.model")
    assert done.returncode == 2
    assert done.stderr.strip().startswith("error: baseline metrics/baseline.json at ")
    assert "not valid JSON" in done.stderr


def test_corrupt_model_file_exits_2(example, invoke):
    set_gate(example, "train: invoke train", 'train: ""')
    (example / "models").mkdir()
    (example / "models" / "model.joblib").write_bytes(b"\x00 not a model")
    done = invoke(example, "ci.model")
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert done.stderr.strip().startswith("error: models/model.joblib: cannot be loaded with joblib: ")


def test_labels_the_model_never_saw_exit_1(example, invoke):
    assert invoke(example, "train").returncode == 0
    set_gate(example, "train: invoke train", 'train: ""')
    holdout = example / "data" / "holdout.csv"
    header, first, *rest = holdout.read_text().splitlines()
    holdout.write_text("\n".join([header, first.rsplit(",", 1)[0] + ",2", *rest]) + "\n")
    done = invoke(example, "ci.model")
    assert done.returncode == 1
    assert done.stderr.strip() == (
        "error: data/holdout.csv has labels the model never saw: 2; the model knows 0, 1"
    )
