"""Bad input through the real CLI: exit 2, one line on stderr that says what and where, no traceback."""

import pytest

pytestmark = pytest.mark.tool("invoke", "git")


def one_error_line(done):
    assert "Traceback" not in done.stderr + done.stdout
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    return lines[0]


@pytest.mark.parametrize(
    ("yaml_text", "expected"),
    [
        ("ci: {test: {paths: 5}}\n", "error: invoke.yaml:1: ci.test.paths must be a list of strings, got 5"),
        ("ci: {tset: {}}\n", "error: invoke.yaml:1: unknown key ci.tset; did you mean ci.test?"),
        (
            "ci:\n  test:\n    min_coverage: high\n",
            'error: invoke.yaml:3: ci.test.min_coverage must be a number between 0 and 100, got "high"',
        ),
        ("ci:\n  test: 5\n", "error: invoke.yaml:2: ci.test must be a mapping of settings, got 5"),
    ],
)
def test_bad_settings_exit_2_with_one_line(example, invoke, yaml_text, expected):
    (example / "invoke.yaml").write_text(yaml_text)
    done = invoke(example, "ci.all")
    assert done.returncode == 2
    assert one_error_line(done) == expected
    assert not (example / "build").exists()


def test_yaml_syntax_error_exits_2_naming_line_and_column(example, invoke):
    (example / "invoke.yaml").write_text("ci:\n  test:\n    paths: [tests\n  lint: {}\n")
    done = invoke(example, "ci.lint")
    assert done.returncode == 2
    line = one_error_line(done)
    assert line.startswith("error: invoke.yaml:4:") and "not valid YAML" in line


def test_unknown_stage_in_only_exits_2(example, invoke):
    done = invoke(example, "ci.all", "--only", "lint,tset")
    assert done.returncode == 2
    stages = (
        "git, lint, test, notebooks, isolation, data, model, onnx, package, sign, image, push, parity, deploy"
    )
    assert (
        one_error_line(done) == f"error: --only: unknown stage 'tset'; did you mean 'test'? stages: {stages}"
    )


def test_bad_option_value_exits_2(example, invoke):
    done = invoke(example, "ci.test", "--min-coverage", "lots")
    assert done.returncode == 2
    assert one_error_line(done) == 'error: --min-coverage must be a number between 0 and 100, got "lots"'


def test_settings_typo_still_lets_invoke_list_tasks(example, invoke):
    (example / "invoke.yaml").write_text("ci: {tset: {}}\n")
    done = invoke(example, "--list")
    assert done.returncode == 0 and "ci.all" in done.stdout


def test_environment_variable_invoke_cannot_cast_exits_2(example, invoke):
    done = invoke(example, "ci.lint", INVOKE_CI_TEST_MIN_COVERAGE="92.5")
    assert done.returncode == 2
    assert one_error_line(done).startswith(
        "error: environment variable INVOKE_CI_TEST_MIN_COVERAGE: ci.test.min_coverage must be"
    )


def test_environment_variable_beats_invoke_yaml(example, invoke):
    done = invoke(example, "ci.test", INVOKE_CI_TEST_MIN_COVERAGE="100")
    assert done.returncode == 1
    assert "line coverage" in done.stdout and "minimum 100%" in done.stdout


@pytest.mark.parametrize("yaml_text", ["ci:\n", "ci:\n  # lint:\n  #   paths: [src]\n", "ci: null\n"])
def test_an_empty_ci_key_is_the_same_as_no_settings(example, invoke, yaml_text):
    (example / "invoke.yaml").write_text(yaml_text)
    done = invoke(example, "ci.lint", "--paths", "tests")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Traceback" not in done.stderr
    report = (example / "build" / "ci" / "report.json").read_text()  # the declared default report_dir
    assert '"name": "lint"' in report


def test_a_key_written_twice_names_both_lines(example, invoke):
    (example / "invoke.yaml").write_text(
        "ci:\n  lint:\n    paths: [clinic]\n  test: {}\n  lint:\n    paths: [tests]\n"
    )
    done = invoke(example, "ci.lint")
    assert done.returncode == 2
    assert one_error_line(done) == "error: invoke.yaml:5: ci.lint is set twice, on lines 2 and 5; keep one"


def test_a_report_dir_that_is_a_file_exits_2_naming_the_setting(example, invoke):
    (example / "build").write_text("not a folder\n")
    done = invoke(example, "ci.lint", INVOKE_CI_REPORT_DIR="build/ci")
    assert done.returncode == 2
    assert one_error_line(done) == (
        "error: environment variable INVOKE_CI_REPORT_DIR: ci.report_dir: build/ci cannot be created: "
        "build is a file; set ci.report_dir to a folder dsci may write"
    )
    (example / "invoke.yaml").write_text("ci:\n  report_dir: tasks.py\n")
    done = invoke(example, "ci.lint")
    assert done.returncode == 2
    assert one_error_line(done) == (
        "error: invoke.yaml:2: ci.report_dir: tasks.py is a file, not a folder; "
        "set ci.report_dir to a folder dsci may write"
    )
