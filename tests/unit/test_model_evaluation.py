import json
import pickle
import re

import joblib
import msgspec
import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression

from ci.core.errors import CheckFailed, ConfigError, EnvError, SecurityError
from ci.core.process import Completed
from ci.core.results import Status
from ci.core.settings import Model
from ci.model import baseline, evaluation, loading


@pytest.fixture
def frame():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(300, 3))
    y = (x[:, 0] + 0.5 * x[:, 1] + rng.normal(scale=0.5, size=300) > 0).astype(int)
    data = pd.DataFrame(x, columns=["a", "b", "c"])
    return data.assign(id=range(300), site=np.where(np.arange(300) % 3, "north", "south"), label=y)


@pytest.fixture
def project(project, frame):
    frame.to_csv(project / "holdout.csv", index=False)
    model = LogisticRegression().fit(frame[["a", "b", "c"]], frame["label"])
    joblib.dump(model, project / "model.joblib")
    return project


def settings(**overrides):
    baseline = {k.removeprefix("baseline_"): v for k, v in overrides.items() if k.startswith("baseline_")}
    fields = {k: v for k, v in overrides.items() if not k.startswith("baseline_")}
    return msgspec.convert(
        {
            "path": "model.joblib", "holdout": "holdout.csv", "target": "label", "drop": ["id"],
            "segment_by": "site", "baseline": {"rev": "", **baseline}, **fields,
        },
        Model,
    )  # fmt: skip


def no_commands(argv, *, quiet=True):
    raise AssertionError(f"no command expected, got {argv}")


def evaluate(project, mode=None, update_baseline=False, **overrides):
    return evaluation.evaluate(
        settings(**overrides),
        run=no_commands,
        root=project,
        report_dir=project / "build",
        mode=mode,
        update_baseline=update_baseline,
    )


def test_passing_gates_pass_and_record_every_number(project):
    result = evaluate(project, gates={"roc_auc": {"min": 0.8}, "accuracy": {"min": 0.7, "segments": False}})
    assert result.status is Status.PASSED
    names = [c.name for c in result.checks]
    assert names == ["roc_auc", "roc_auc [north]", "roc_auc [south]", "accuracy"]
    record = json.loads((project / "build" / "metrics.json").read_text())
    assert record["verdict"] == "pass" and set(record["segments"]) == {"north", "south"}
    assert record["gates"][0]["gate"]["min"] == 0.8
    assert (project / "build" / "model" / "roc_curve.png").stat().st_size > 1000
    assert "| roc_auc |" in result.summary and "![roc curve](model/roc_curve.png)" in result.summary


def test_threshold_above_the_score_fails_with_the_numbers(project):
    result = evaluate(project, gates={"roc_auc": {"min": 0.9999, "segments": False}})
    (check,) = result.checks
    assert result.status is Status.FAILED and check.details["verdict"] == "fail"
    assert "is below the minimum 0.9999" in check.message
    assert "Verdict: **fail**" in result.summary and "❌ fail" in result.summary


def test_dry_run_reports_the_same_verdict_without_failing(project):
    result = evaluate(project, mode="dry-run", gates={"roc_auc": {"min": 0.9999, "segments": False}})
    assert result.status is Status.WARNED and result.checks[0].details["verdict"] == "fail"
    assert "(dry-run)" in result.summary


def test_worse_than_the_baseline_is_not_better(project):
    (project / "baseline.json").write_text(json.dumps({"metrics": {"roc_auc": 0.9999}}))
    result = evaluate(
        project, baseline_path="baseline.json", gates={"roc_auc": {"min_change": -0.001, "segments": False}}
    )
    assert result.checks[0].details["verdict"] == "not-better" and result.status is Status.FAILED
    assert "Baseline: baseline.json." in result.summary


def test_update_baseline_writes_the_current_metrics(project):
    evaluate(project, update_baseline=True, baseline_path="metrics/baseline.json")
    written = json.loads((project / "metrics" / "baseline.json").read_text())
    assert set(written) == {"metrics", "segments"} and 0.5 < written["metrics"]["roc_auc"] <= 1


def test_a_flat_baseline_file_is_read_too(project):
    (project / "b.json").write_text('{"roc_auc": 0.5}')
    found = baseline.read("b.json", "", "main", run=no_commands, root=project)
    assert found.value("roc_auc", None) == 0.5 and found.value("roc_auc", "north") is None


def test_baseline_that_is_not_json_is_a_config_error(project):
    (project / "b.json").write_text("roc_auc: 0.5")
    with pytest.raises(ConfigError, match=r"^baseline b.json: not valid JSON: Expecting value"):
        baseline.read("b.json", "", "main", run=no_commands, root=project)


def test_single_class_holdout_fails_the_roc_auc_gate_and_says_why(project, frame):
    frame[frame.label == 1].to_csv(project / "holdout.csv", index=False)
    result = evaluate(project, gates={"roc_auc": {"min": 0.5, "segments": False}})
    (check,) = result.checks
    assert check.status is Status.FAILED and check.value is None
    assert check.message == "verdict fail; ROC AUC is undefined: the data has only one class (1)"
    assert "| roc_auc |  | undefined |" in result.summary


def test_missing_model_file_says_how_to_make_one(project):
    with pytest.raises(ConfigError) as caught:
        evaluate(project, path="models/none.joblib")
    assert str(caught.value) == (
        "ci.model.path: models/none.joblib: no such model file; train the model first "
        "(ci.model.train runs a command for that) or fix the path"
    )


def test_corrupt_model_file_is_refused(project):
    (project / "model.joblib").write_bytes(b"not a pickle at all")
    with pytest.raises(ConfigError, match=r"^model.joblib: cannot be loaded with joblib: "):
        evaluate(project)


def test_a_file_that_is_not_a_model_is_refused(project):
    with open(project / "model.pkl", "wb") as f:
        pickle.dump({"weights": [1, 2]}, f)
    with pytest.raises(ConfigError) as caught:
        evaluate(project, path="model.pkl")
    assert str(caught.value) == "model.pkl: is not a model: a dict has no predict method"


def test_holdout_without_the_target_names_the_closest_column(project):
    with pytest.raises(ConfigError) as caught:
        evaluate(project, target="lable")
    assert str(caught.value) == 'holdout.csv has no column "lable" (ci.model.target); did you mean "label"?'


def test_labels_the_model_never_saw_fail_the_check(project, frame):
    frame.assign(label=frame.label.replace(1, 7)).to_csv(project / "holdout.csv", index=False)
    with pytest.raises(
        CheckFailed, match=re.escape("holdout.csv has labels the model never saw: 7; the model knows 0, 1")
    ):
        evaluate(project)


def test_features_the_model_does_not_know_are_a_config_error(project):
    with pytest.raises(ConfigError, match=r"^model.joblib could not score holdout.csv: "):
        evaluate(project, drop=[])  # id becomes a feature the model was not fitted with


def test_wrong_task_is_named(project):
    with pytest.raises(
        ConfigError, match=re.escape("ci.model.task is regression, but model.joblib is a classifier")
    ):
        evaluate(project, task="regression")


@pytest.mark.tool("skops")
def test_skops_file_with_untrusted_types_is_a_security_error_until_trusted(project, frame, monkeypatch):
    import skops.io as skops_io

    (project / "custom.py").write_text(
        "from sklearn.linear_model import LogisticRegression\n\n\nclass Mine(LogisticRegression):\n    pass\n"
    )
    monkeypatch.syspath_prepend(str(project))
    from custom import Mine

    skops_io.dump(Mine().fit(frame[["a", "b", "c"]], frame["label"]), project / "model.skops")
    with pytest.raises(SecurityError) as caught:
        evaluate(project, path="model.skops")
    assert str(caught.value) == (
        "model.skops holds types skops does not trust: custom.Mine; "
        "add them to ci.model.trusted if you trust this file"
    )
    assert evaluate(project, path="model.skops", trusted=["custom.Mine"]).status is Status.WARNED  # no gates


def test_hook_returns_predictions(project):
    (project / "scoring.py").write_text(
        "import pandas as pd\n"
        "def proba(frame):\n"
        "    p = (frame['a'] > 0).astype(float)\n"
        "    return pd.DataFrame({0: 1 - p, 1: p})\n"
    )
    result = evaluate(project, format="hook", hook="scoring:proba", method="predict_proba", path="")
    assert "| roc_auc |" in result.summary
    (gates,) = result.checks
    assert (gates.name, gates.status) == ("gates", Status.WARNED)  # metrics, but nothing judged them
    assert gates.message.endswith("declare ci.model.gates so a worse model fails")


def test_stage_is_skipped_without_a_model(project):
    result = evaluate(project, path="")
    assert result.status is Status.SKIPPED and result.skipped == "no model configured (ci.model.path)"


def test_failed_training_command_fails_the_stage(project):
    def run(argv, *, quiet=True, env=None):
        return Completed(tuple(argv), 2)

    result = evaluation.evaluate(
        settings(train="invoke train"), run=run, root=project, report_dir=project / "build"
    )
    assert result.checks[0].message == "`invoke train` (ci.model.train) exited with 2"


def test_onnx_export_matches_python_within_float32(project):
    result = evaluation.export_onnx(
        settings(), root=project, report_dir=project / "build", double=False, tolerance=1e-5
    )
    assert result.status is Status.PASSED
    labels, scores = result.checks
    assert labels.value == 0 and 0 < scores.value < 1e-5
    java = (project / "build" / "model" / "JAVA.md").read_text()
    assert "OrtSession" in java and "0. `a`" in java


def test_onnx_parity_fails_when_tolerance_is_below_the_float32_difference(project):
    result = evaluation.export_onnx(
        settings(), root=project, report_dir=project / "build", double=False, tolerance=1e-12
    )
    scores = result.checks[1]
    assert scores.status is Status.FAILED and scores.value > 1e-12
    assert scores.details["worst"][0]["max_abs_diff"] == scores.value


def test_onnx_double_precision_reaches_float64(project):
    result = evaluation.export_onnx(
        settings(), root=project, report_dir=project / "build", double=True, tolerance=1e-12
    )
    assert result.status is Status.PASSED


def git(answers):
    """A runner answering git commands by their arguments."""

    def run(argv, *, quiet=True, env=None):
        for key, answer in answers.items():
            if " ".join(argv[1:]).startswith(key):
                return answer
        return Completed(tuple(argv), 1)

    return run


def test_baseline_is_read_at_the_merge_base_with_main(project):
    run = git(
        {
            "rev-parse --git-dir": Completed((), 0, ".git"),
            "rev-parse --is-shallow-repository": Completed((), 0, "false\n"),
            "rev-parse --verify --quiet refs/remotes/origin/main": Completed((), 1),
            "rev-parse --verify --quiet refs/heads/main": Completed((), 0, "abc\n"),
            "merge-base HEAD refs/heads/main": Completed((), 0, "1234567890abcdef\n"),
            "show 1234567890abcdef:./b.json": Completed((), 0, '{"metrics": {"roc_auc": 0.9}}'),
        }
    )
    found = baseline.read("b.json", "merge-base", "main", run=run, root=project)
    assert found.value("roc_auc", None) == 0.9 and found.source == "b.json at 1234567"


def test_shallow_clone_without_the_merge_base_prints_the_fetch_to_run(project):
    run = git(
        {
            "rev-parse --git-dir": Completed((), 0, ".git"),
            "rev-parse --is-shallow-repository": Completed((), 0, "true\n"),
            "rev-parse --verify --quiet refs/remotes/origin/main": Completed((), 0, "abc\n"),
            "merge-base": Completed((), 1),
        }
    )
    with pytest.raises(EnvError) as caught:
        baseline.read("b.json", "merge-base", "main", run=run, root=project)
    assert str(caught.value) == (
        "cannot find where HEAD left main: the clone is shallow; run `git fetch --unshallow origin main`"
    )


def test_missing_main_branch_prints_the_fetch_to_run(project):
    run = git({"rev-parse --git-dir": Completed((), 0), "rev-parse --is-shallow": Completed((), 0, "false")})
    with pytest.raises(EnvError, match=r"run `git fetch origin main:refs/remotes/origin/main`$"):
        baseline.read("b.json", "merge-base", "main", run=run, root=project)


def test_missing_revision_prints_the_fetch_to_run(project):
    run = git({"rev-parse --git-dir": Completed((), 0), "rev-parse --is-shallow": Completed((), 0, "false")})
    with pytest.raises(EnvError) as caught:
        baseline.read("b.json", "v1.2", "main", run=run, root=project)
    assert (
        str(caught.value)
        == "ci.model.baseline.rev: revision v1.2 is not in this clone; run `git fetch origin v1.2`"
    )


def test_no_baseline_file_at_the_revision_is_no_baseline_yet(project):
    run = git(
        {
            "rev-parse --git-dir": Completed((), 0),
            "rev-parse --is-shallow": Completed((), 0, "false"),
            "rev-parse --verify --quiet v1^{commit}": Completed((), 0, "feedbeefcafe\n"),
        }
    )
    found = baseline.read("b.json", "v1", "main", run=run, root=project)
    assert found.metrics == {} and found.source == "no baseline yet: b.json is not in feedbee"


def test_outside_git_a_revision_is_a_config_error(project):
    with pytest.raises(
        ConfigError, match=re.escape('set ci.model.baseline.rev to "" to read the baseline file as it is')
    ):
        baseline.read("b.json", "merge-base", "main", run=git({}), root=project)


def test_load_model_by_suffix_and_unknown_suffix(project):
    assert loading.load_model("model.joblib", "auto", root=project).estimator is not None
    (project / "model.bin").write_bytes(b"")
    with pytest.raises(ConfigError, match=re.escape("cannot tell how to load model.bin from its suffix")):
        loading.load_model("model.bin", "auto", root=project)


def test_an_onnx_file_is_judged_like_the_model_it_came_from(project):
    result = evaluation.export_onnx(
        settings(), root=project, report_dir=project / "build", double=False, tolerance=1e-5
    )
    onnx_file = next(a for a in result.artifacts if a.endswith(".onnx"))
    from_python = evaluate(project, gates={"accuracy": {"min": 0.5, "segments": False}})
    from_onnx = evaluate(project, path=str(onnx_file), gates={"accuracy": {"min": 0.5, "segments": False}})
    assert from_onnx.status is Status.PASSED
    assert from_onnx.checks[0].value == from_python.checks[0].value


def test_regression_gets_regression_metrics_and_a_predicted_vs_actual_plot(project, frame):
    from sklearn.linear_model import LinearRegression

    frame = frame.assign(label=frame.a * 3 + frame.b)
    frame.to_csv(project / "holdout.csv", index=False)
    joblib.dump(LinearRegression().fit(frame[["a", "b", "c"]], frame.label), project / "model.joblib")
    result = evaluate(project, task="regression", gates={"rmse": {"max": 0.01}, "r2": {"min": 0.99}})
    assert result.status is Status.PASSED
    assert (project / "build" / "model" / "predicted_vs_actual.png").exists()


def test_multiclass_models_are_judged_per_class(project, frame):
    frame = frame.assign(label=np.digitize(frame.a, [-0.5, 0.5]))
    frame.to_csv(project / "holdout.csv", index=False)
    joblib.dump(LogisticRegression().fit(frame[["a", "b", "c"]], frame.label), project / "model.joblib")
    result = evaluate(project, task="multiclass", gates={"f1_macro": {"min": 0.8}})
    assert result.status is Status.PASSED
    assert (project / "build" / "model" / "roc_curve.png").exists()
    with pytest.raises(ConfigError, match="has 3 classes; set it to multiclass"):
        evaluate(project, task="binary")
