import json
import sys

import pytest

from ci import quality
from ci.core.errors import ConfigError, EnvError
from ci.core.process import Completed
from ci.core.results import Status

PYTEST_XML = """<?xml version="1.0" encoding="utf-8"?>
<testsuites><testsuite name="pytest" tests="3">
<testcase classname="tests.test_model" name="test_ok" file="tests/test_model.py" line="4" time="0.01"/>
<testcase classname="tests.test_model" name="test_auc" file="tests/test_model.py" line="9" time="0.02">
<failure message="assert 0.5 &gt; 0.9">def test_auc():
&gt;       assert 0.5 &gt; 0.9
E       assert 0.5 &gt; 0.9

tests/test_model.py:12: AssertionError</failure></testcase>
<testcase classname="tests.test_model" name="test_gpu" file="tests/test_model.py" line="14" time="0">
<skipped message="no GPU here"/></testcase>
</testsuite></testsuites>
"""
PASSING_XML = PYTEST_XML.replace("<failure", "<system-out").replace("</failure", "</system-out")


class FakeRunner:
    """Answers commands by their subcommand, and records what it was asked."""

    def __init__(self, **answers):
        self.answers = answers
        self.calls = []

    def __call__(self, argv, *, quiet=True):
        self.calls.append((list(argv), quiet))
        key = argv[3] if argv[2] in ("ruff", "coverage") else argv[2]
        answer = self.answers.get(key, Completed(tuple(argv), 0))
        return answer(argv) if callable(answer) else answer


def ruff_json(*findings):
    return json.dumps(
        [
            {"code": code, "message": msg, "filename": f"/repo/{file}", "location": {"row": row, "column": 1}}
            for code, msg, file, row in findings
        ]
    )


def test_lint_turns_each_ruff_finding_into_a_failed_check_with_file_and_line():
    run = FakeRunner(
        check=Completed((), 1, ruff_json(("F401", "`os` unused", "a.py", 3), (None, "bad", "b.py", 1)))
    )
    result = quality.lint(["a.py", "b.py"], check_format=False, run=run, root=quality.Path("/repo"))
    assert result.status is Status.FAILED
    assert [(c.name, c.file, c.line, c.message) for c in result.checks] == [
        ("F401", "a.py", 3, "`os` unused"),
        ("syntax-error", "b.py", 1, "bad"),
    ]
    assert run.calls == [
        (
            [
                sys.executable,
                "-m",
                "ruff",
                "check",
                *quality.NOT_NOTEBOOKS,
                "--output-format",
                "json",
                "a.py",
                "b.py",
            ],
            True,
        )
    ]


def test_lint_passes_clean_code_and_checks_formatting():
    run = FakeRunner(check=Completed((), 0, "[]"), format=Completed((), 0, ""))
    result = quality.lint(["."], check_format=True, run=run, root=quality.Path("/repo"))
    assert result.status is Status.PASSED
    assert [c.name for c in result.checks] == ["ruff check", "ruff format"]
    assert run.calls[1][0][3:] == ["format", "--check", *quality.NOT_NOTEBOOKS, "."]


def test_lint_fails_each_file_that_would_be_reformatted():
    unformatted = "Would reformat: a.py\nWould reformat: pkg/b.py\n2 files would be reformatted\n"
    run = FakeRunner(check=Completed((), 0, "[]"), format=Completed((), 1, unformatted))
    result = quality.lint(["."], check_format=True, run=run, root=quality.Path("/repo"))
    failed = [c.file for c in result.checks if c.status is Status.FAILED]
    assert failed == ["a.py", "pkg/b.py"]


def test_ruff_that_cannot_run_is_a_config_error_with_its_message():
    run = FakeRunner(check=Completed((), 2, "", "error: Failed to parse pyproject.toml: bad key\n"))
    with pytest.raises(ConfigError) as caught:
        quality.lint(["."], check_format=False, run=run, root=quality.Path("/repo"))
    assert str(caught.value) == (
        "ruff could not run: error: Failed to parse pyproject.toml: bad key; "
        "check ci.lint.paths and your ruff settings"
    )


def test_missing_tool_is_an_environment_error_naming_the_install(monkeypatch):
    monkeypatch.setattr(quality, "python_module", quality.python_module)
    monkeypatch.setattr("importlib.util.find_spec", lambda name: None)
    with pytest.raises(EnvError, match=r"^ruff is not installed in .*; install it with `pip install ruff`$"):
        quality.lint(["."], check_format=False, run=FakeRunner(), root=quality.Path("."))


def coverage_json(percent):
    def write(argv):
        out = argv[argv.index("-o") + 1]
        quality.Path(out).write_text(json.dumps({"totals": {"percent_covered": percent}}))
        return Completed(tuple(argv), 0)

    return write


def pytest_run(exit_code=1, xml=PYTEST_XML, stdout=""):
    def run(argv):
        data = next(a for a in argv if a.startswith("--data-file=")).split("=", 1)[1]
        junit = next(a for a in argv if a.startswith("--junitxml=")).split("=", 1)[1]
        quality.Path(data).write_text("coverage data")
        if xml is not None:
            quality.Path(junit).write_text(xml)
        return Completed(tuple(argv), exit_code, stdout)

    return run


@pytest.fixture
def test_stage(project):
    (project / "build").mkdir()

    def run_stage(runner, min_coverage=80.0, args=(), paths=("tests",)):
        return quality.test(
            list(paths),
            args=list(args),
            min_coverage=min_coverage,
            coverage_source=["clinic"],
            report_dir=project / "build",
            run=runner,
            root=project,
        )

    return run_stage


def test_each_test_is_a_check_and_a_failure_points_at_the_failing_line(test_stage):
    result = test_stage(FakeRunner(run=pytest_run(), json=coverage_json(91.25)))
    by_name = {c.name: c for c in result.checks}
    assert by_name["test_ok"].status is Status.PASSED
    failed = by_name["test_auc"]
    assert (failed.status, failed.file, failed.line, failed.group) == (
        Status.FAILED,
        "tests/test_model.py",
        12,
        "tests.test_model",
    )
    assert failed.message == "assert 0.5 > 0.9" and "AssertionError" in failed.output
    assert by_name["test_gpu"].status is Status.SKIPPED and by_name["test_gpu"].message == "no GPU here"
    assert by_name["coverage"].status is Status.PASSED and by_name["coverage"].value == 91.25
    assert result.status is Status.FAILED
    assert [quality.Path(a).name for a in result.artifacts] == ["pytest.xml", "coverage.json"]


def test_pytest_runs_under_coverage_with_junit_and_the_extra_arguments(test_stage):
    run = FakeRunner(run=pytest_run(0), json=coverage_json(90))
    test_stage(run, args=["-x", "-k", "not slow"])
    argv, quiet = run.calls[0]
    assert quiet is False  # the user sees pytest's own output
    assert argv[:4] == [sys.executable, "-m", "coverage", "run"]
    assert "--source=clinic" in argv
    assert argv[argv.index("pytest") :] == [
        "pytest",
        "tests",
        "--junitxml=build/pytest.xml",
        "-o",
        "junit_family=xunit1",
        "-x",
        "-k",
        "not slow",
    ]


def test_coverage_below_the_minimum_fails_the_stage(test_stage):
    result = test_stage(FakeRunner(run=pytest_run(0, xml=PASSING_XML), json=coverage_json(64.5)))
    coverage = result.checks[-1]
    assert (coverage.status, coverage.value, coverage.threshold) == (Status.FAILED, 64.5, 80.0)
    assert coverage.message == "line coverage 64.5%, minimum 80%"
    assert result.status is Status.FAILED


def test_no_minimum_means_coverage_is_reported_but_not_gated(test_stage):
    result = test_stage(FakeRunner(run=pytest_run(1), json=coverage_json(10)), min_coverage=0)
    coverage = result.checks[-1]
    assert coverage.status is Status.PASSED and coverage.threshold is None and coverage.value == 10


def test_collecting_no_tests_fails(test_stage):
    empty = '<testsuites><testsuite name="pytest" tests="0"/></testsuites>'
    result = test_stage(FakeRunner(run=pytest_run(5, xml=empty), json=coverage_json(0)), min_coverage=0)
    assert result.checks[0].status is Status.FAILED
    assert result.checks[0].message == "no tests collected in tests"


def test_pytest_usage_error_is_a_config_error(test_stage):
    run = FakeRunner(run=Completed((), 4, "", "ERROR: file or directory not found: tset\n"))
    with pytest.raises(ConfigError) as caught:
        test_stage(run, paths=["tset"])
    assert str(caught.value) == (
        "pytest refused its arguments: ERROR: file or directory not found: tset; "
        "check ci.test.paths and ci.test.args"
    )


def test_interrupted_run_without_failures_is_still_a_failure(test_stage):
    interrupted = "!!! Interrupted: 1 error during collection !!!\n"
    result = test_stage(
        FakeRunner(run=pytest_run(2, xml=PASSING_XML, stdout=interrupted), json=coverage_json(90))
    )
    stopped = [c for c in result.checks if c.name == "pytest"]
    assert stopped[0].status is Status.FAILED and "Interrupted" in stopped[0].message


def test_no_coverage_data_skips_the_gate_unless_a_minimum_is_set(test_stage, project):
    def no_data(argv):
        return Completed(tuple(argv), 5)

    assert test_stage(FakeRunner(run=no_data), min_coverage=0).checks[-1].status is Status.SKIPPED
    gated = test_stage(FakeRunner(run=no_data), min_coverage=50).checks[-1]
    assert gated.status is Status.FAILED and gated.message == "no coverage data was recorded"


def test_data_of_each_process_is_combined_before_the_report_and_stale_data_removed_first(test_stage, project):
    (project / "build" / ".coverage.old-run.1").write_text("stale")

    def run_in_processes(argv):
        assert not (project / "build" / ".coverage.old-run.1").exists()  # removed before the run
        done = pytest_run(0, xml=PASSING_XML)(argv)
        (project / "build" / ".coverage.vm.pid1.x").write_text("a subprocess's data")
        return done

    runner = FakeRunner(run=run_in_processes, json=coverage_json(91))
    result = test_stage(runner)
    combine = [argv for argv, _ in runner.calls if argv[3] == "combine"]
    data = project / "build" / ".coverage"
    coverage = [sys.executable, "-m", "coverage"]
    assert combine == [
        [*coverage, "combine", "--append", "--quiet", f"--data-file={data}", f"{data}.vm.pid1.x"]
    ]
    assert result.checks[-1].value == 91


def pytest_verdict(result):
    return next(c for c in result.checks if c.name == "pytest")


@pytest.mark.parametrize("exit_code", [-11, 139])  # the process's own code, or a shell's 128 + 11
def test_a_crash_without_junit_fails_with_pytest_s_last_words(test_stage, exit_code):
    crash = pytest_run(exit_code, xml=None)
    runner = FakeRunner(
        run=lambda argv: Completed(crash(argv).argv, exit_code, "", "Fatal Python error: Segm"),
        json=coverage_json(0),
    )
    result = test_stage(runner)
    verdict = pytest_verdict(result)
    assert verdict.status is Status.FAILED and result.status is Status.FAILED
    assert verdict.message == (
        "pytest was killed by SIGSEGV and wrote no JUnit XML (does ci.test.args move --junitxml?): "
        "Fatal Python error: Segm"
    )
    assert result.exit_code == 1


def test_junit_moved_by_the_arguments_fails_even_when_pytest_passed(test_stage):
    result = test_stage(
        FakeRunner(run=pytest_run(0, xml=None, stdout="3 passed in 0.1s"), json=coverage_json(90))
    )
    verdict = pytest_verdict(result)
    assert verdict.status is Status.FAILED
    assert verdict.message.startswith("pytest passed (exit 0) and wrote no JUnit XML")
    assert verdict.message.endswith(": 3 passed in 0.1s")


def test_an_internal_error_fails_even_with_passing_tests_in_the_junit(test_stage):
    run = pytest_run(3, xml=PASSING_XML, stdout="INTERNALERROR> KeyError: 'x'\n")
    result = test_stage(FakeRunner(run=run, json=coverage_json(90)))
    assert (
        pytest_verdict(result).message
        == "pytest hit an internal error (exit 3): INTERNALERROR> KeyError: 'x'"
    )
    assert result.status is Status.FAILED


def test_exit_1_whose_junit_names_no_failure_still_fails(test_stage):
    result = test_stage(FakeRunner(run=pytest_run(1, xml=PASSING_XML), json=coverage_json(90)))
    assert (
        pytest_verdict(result).message
        == "pytest exited 1 (tests failed), but build/pytest.xml names no failing test"
    )
    assert result.status is Status.FAILED


def test_exit_0_with_tests_run_passes_and_adds_no_verdict(test_stage):
    result = test_stage(FakeRunner(run=pytest_run(0, xml=PASSING_XML), json=coverage_json(90)))
    assert result.status is Status.PASSED and all(c.name != "pytest" for c in result.checks)
