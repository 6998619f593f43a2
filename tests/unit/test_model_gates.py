import pytest

from ci.core.errors import ConfigError
from ci.core.results import Status
from ci.core.settings import Gate as GateSettings
from ci.model import gates
from ci.model.gates import Gate, judge


def test_absolute_minimum_fails_below_it():
    j = judge(Gate("roc_auc", min=0.95), 0.93, None)
    assert j.verdict == "fail" and j.reasons == ["0.93 is below the minimum 0.95"]
    assert judge(Gate("roc_auc", min=0.95), 0.95, None).verdict == "pass"


def test_maximum_for_a_lower_is_better_metric():
    assert judge(Gate("log_loss", max=0.2), 0.25, None).verdict == "fail"


def test_worse_than_baseline_is_not_better():
    j = judge(Gate("roc_auc", min=0.9, min_change=-0.01), 0.95, 0.98)
    assert j.verdict == "not-better"
    assert j.delta == pytest.approx(-0.03) and j.improvement == pytest.approx(-0.03)
    assert "at least -0.01 asked" in j.reasons[0]


def test_change_direction_follows_the_metric():
    j = judge(Gate("log_loss", min_change=0), 0.10, 0.12)  # lower log loss is an improvement
    assert j.verdict == "pass" and j.improvement == pytest.approx(0.02)
    assert judge(Gate("log_loss", min_change=0), 0.13, 0.12).verdict == "not-better"


def test_relative_change():
    j = judge(Gate("accuracy", min_relative_change=0.01), 0.90, 0.895)
    assert j.verdict == "not-better" and j.relative_improvement == pytest.approx(0.005 / 0.895)
    assert judge(Gate("accuracy", min_relative_change=0.01), 0.91, 0.895).verdict == "pass"


def test_absolute_failure_outranks_not_better():
    assert judge(Gate("roc_auc", min=0.99, min_change=0), 0.9, 0.95).verdict == "fail"


def test_no_baseline_checks_absolute_thresholds_only_and_says_so():
    j = judge(Gate("roc_auc", min=0.9, min_change=0), 0.95, None)
    assert j.verdict == "pass" and j.reasons == ["no baseline: the change was not checked"]


def test_undefined_metric_fails_with_the_reason():
    j = judge(
        Gate("roc_auc", min=0.9),
        None,
        0.95,
        undefined="ROC AUC is undefined: the data has only one class (1)",
    )
    assert j.verdict == "fail" and j.reasons == ["ROC AUC is undefined: the data has only one class (1)"]


@pytest.mark.parametrize(("mode", "status"), [("enforce", Status.FAILED), ("dry-run", Status.WARNED)])
def test_mode_decides_what_a_failed_verdict_does(mode, status):
    gate = Gate("roc_auc", min=0.99, mode=mode)
    check = gates.to_check(judge(gate, 0.95, None), gate)
    assert check.status is status
    assert check.details["verdict"] == "fail" and check.value == 0.95 and check.threshold == "≥ 0.99"


def test_disabled_gate_is_skipped():
    gate = Gate("roc_auc", min=0.99, mode="disabled")
    assert gates.to_check(judge(gate, 0.5, None), gate).status is Status.SKIPPED


def test_gates_from_settings_apply_the_modes():
    configured = {"roc_auc": GateSettings(min=0.9), "accuracy": GateSettings(min=0.8, mode="dry-run")}
    built = {
        g.metric: g for g in gates.gates_from_settings(configured, ["roc_auc", "accuracy"], "enforce", None)
    }
    assert built["roc_auc"].mode == "enforce" and built["accuracy"].mode == "dry-run"
    overridden = gates.gates_from_settings(configured, ["roc_auc", "accuracy"], "enforce", "dry-run")
    assert {g.mode for g in overridden} == {"dry-run"}


def test_gate_on_an_unknown_metric_suggests_the_closest():
    with pytest.raises(ConfigError) as caught:
        gates.gates_from_settings(
            {"roc_uac": GateSettings(min=0.9)}, ["roc_auc", "accuracy"], "enforce", None
        )
    assert str(caught.value) == "ci.model.gates.roc_uac: roc_uac is not a metric; did you mean roc_auc?"


def test_gate_on_a_metric_not_computed_says_so():
    with pytest.raises(
        ConfigError, match=r"^ci.model.gates.rmse: rmse is not computed \(see ci.model.metrics\)"
    ):
        gates.gates_from_settings({"rmse": GateSettings(max=1)}, ["roc_auc"], "enforce", None)


def test_overall_verdict_is_the_worst():
    assert gates.overall_verdict([]) == "pass"
    pass_, worse = judge(Gate("accuracy"), 0.9, None), judge(Gate("accuracy", min_change=0), 0.8, 0.9)
    assert gates.overall_verdict([pass_, worse]) == "not-better"
