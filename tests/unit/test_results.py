from ci.core.errors import CONFIG_ERROR, SECURITY_ERROR
from ci.core.results import Check, Run, StageResult, Status


def stage(name, *statuses, **kwargs):
    return StageResult(name, [Check(f"c{i}", s) for i, s in enumerate(statuses)], **kwargs)


def test_stage_status_follows_its_worst_check():
    assert stage("a", Status.PASSED).status is Status.PASSED
    assert stage("a", Status.PASSED, Status.WARNED).status is Status.WARNED
    assert stage("a", Status.WARNED, Status.FAILED, Status.SKIPPED).status is Status.FAILED


def test_a_stage_that_checked_nothing_is_skipped_and_says_so_never_passed():
    empty = stage("a")
    assert empty.status is Status.SKIPPED and empty.skipped == "nothing was checked"
    assert stage("a", skipped="no datasets").skipped == "no datasets"
    assert stage("a", error="boom").status is Status.FAILED


def test_a_stage_stopped_by_an_error_failed_with_the_errors_code():
    result = stage("a", Status.PASSED, error="no ruff", error_code=CONFIG_ERROR)
    assert result.status is Status.FAILED
    assert result.exit_code == CONFIG_ERROR


def test_skipped_stage_exits_zero():
    result = stage("a", skipped="not in --only")
    assert result.status is Status.SKIPPED and result.exit_code == 0


def test_warnings_do_not_fail_a_run():
    assert Run([stage("a", Status.WARNED)]).exit_code == 0


def test_run_exit_code_is_the_gravest():
    run = Run([stage("a", Status.FAILED), stage("b", error="bad signature", error_code=SECURITY_ERROR)])
    assert run.exit_code == SECURITY_ERROR
    assert run.status is Status.FAILED


def test_tally_counts_checks_and_errors():
    run = Run([stage("a", Status.PASSED, Status.WARNED, Status.SKIPPED), stage("b", error="x", error_code=2)])
    assert run.tally() == "2 passed, 1 failed, 1 skipped"


def test_round_trip_through_dict():
    original = StageResult(
        "test",
        [Check("t", Status.FAILED, "boom", value=0.5, threshold=0.8, file="a.py", line=3)],
        artifacts=["build/ci/pytest.xml"],
        duration=1.5,
    )
    data = original.to_dict()
    assert data["status"] == "failed" and data["checks"][0]["status"] == "failed"
    assert StageResult.from_dict(data) == original
