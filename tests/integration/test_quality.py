"""ci.test through the real CLI: a pytest that crashes, or writes its JUnit XML elsewhere, fails the stage."""

import json

import pytest

pytestmark = pytest.mark.tool("invoke", "git", "sklearn", "pandas")


def stage_of(folder):
    report = json.loads((folder / "build" / "ci" / "report.json").read_text())
    return next(s for s in report["stages"] if s["name"] == "test")


def test_a_test_that_crashes_pytest_fails_the_stage_with_exit_1(example, invoke):
    crash = "import ctypes\n\n\ndef test_reads_address_zero():\n    ctypes.string_at(0)\n"
    (example / "tests" / "test_crash.py").write_text(crash)
    done = invoke(example, "ci.test")
    assert done.returncode == 1, done.stdout[-2000:] + done.stderr[-2000:]
    stage = stage_of(example)
    assert stage["status"] == "failed"
    verdict = next(c for c in stage["checks"] if c["name"] == "pytest")
    assert verdict["status"] == "failed"
    assert verdict["message"] == (
        "pytest was killed by SIGSEGV and wrote no JUnit XML (does ci.test.args move --junitxml?): "
        "Fatal Python error: Segmentation fault"
    )
    assert "test_crash.py" in verdict["output"]  # the crashing test, in faulthandler's traceback
    report = json.loads((example / "build" / "ci" / "report.json").read_text())
    assert report["exit_code"] == 1


def test_junit_moved_by_the_arguments_fails_the_stage(example, invoke):
    done = invoke(example, "ci.test", "--args", "--junitxml=build/elsewhere.xml")
    assert done.returncode == 1, done.stdout[-2000:] + done.stderr[-2000:]
    verdict = next(c for c in stage_of(example)["checks"] if c["name"] == "pytest")
    assert verdict["message"].startswith("pytest passed (exit 0) and wrote no JUnit XML")
