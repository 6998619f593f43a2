import json

import junitparser
import pytest

from ci.core import reports
from ci.core.results import Check, Run, StageResult, Status


@pytest.fixture
def run():
    return Run(
        [
            StageResult(
                "lint",
                [Check("F401", Status.FAILED, "`os` imported but unused", file="a.py", line=1)],
                duration=0.25,
                started="2026-11-30T06:00:00",
            ),
            StageResult(
                "test",
                [
                    Check("test_ok", Status.PASSED, group="tests.test_a", duration=0.1),
                    Check(
                        "test_auc",
                        Status.FAILED,
                        "assert 0.5 > 0.9",
                        group="tests.test_model",
                        file="tests/test_model.py",
                        line=25,
                        output="E   assert 0.5 > 0.9\x1b[0m\x00",
                    ),
                    Check("test_gpu", Status.SKIPPED, "no GPU", group="tests.test_a"),
                    Check("coverage", Status.PASSED, "line coverage 91.0%", value=91.0, threshold=80.0),
                ],
                duration=3.0,
            ),
            StageResult("data", skipped="left out by --skip"),
            StageResult("model", error="holdout.csv: no column 'target'", error_code=2),
        ]
    )


def test_write_produces_three_reports_atomically(run, tmp_path):
    written = reports.write(run, tmp_path / "ci")
    assert sorted(p.name for p in written.values()) == ["junit.xml", "report.json", "summary.md"]
    assert sorted(p.name for p in (tmp_path / "ci").iterdir()) == ["junit.xml", "report.json", "summary.md"]


def test_report_json_has_every_number_and_round_trips(run, tmp_path):
    reports.write(run, tmp_path)
    data = json.loads((tmp_path / "report.json").read_text())
    assert data["status"] == "failed" and data["exit_code"] == 2
    coverage = data["stages"][1]["checks"][3]
    assert (coverage["value"], coverage["threshold"], coverage["status"]) == (91.0, 80.0, "passed")
    assert reports.load(tmp_path) == run


def test_unreadable_report_loads_as_empty(tmp_path):
    (tmp_path / "report.json").write_text("{not json")
    assert reports.load(tmp_path) == Run()
    assert reports.load(tmp_path / "missing") == Run()


def test_merge_replaces_a_stage_and_keeps_pipeline_order(run):
    again = StageResult("lint", [Check("ruff check", Status.PASSED)])
    merged = reports.merge(run, again, ["lint", "test", "data", "model"])
    assert [s.name for s in merged.stages] == ["lint", "test", "data", "model"]
    assert merged.stages[0] is again


def test_junit_reads_as_jenkins_would(run, tmp_path):
    reports.write(run, tmp_path)
    xml = junitparser.JUnitXml.fromfile(str(tmp_path / "junit.xml"))
    suites = {suite.name: suite for suite in xml}
    assert list(suites) == ["lint", "test", "data", "model"]
    test = suites["test"]
    assert (test.tests, test.failures, test.skipped, test.errors) == (4, 1, 1, 0)
    cases = {case.name: case for case in test}
    failed = cases["test_auc"]
    assert failed.classname == "tests.test_model"
    assert not failed.is_passed and failed.result[0].message == "assert 0.5 > 0.9"
    assert "\x1b" not in failed.result[0].text and "\x00" not in failed.result[0].text
    assert cases["test_gpu"].is_skipped
    assert cases["coverage"].classname == "dsci.test"
    assert suites["data"].skipped == 1
    assert suites["model"].errors == 1
    assert float(test.time) == 3.0
    assert xml.tests == 7 and xml.failures == 2


def test_junit_has_what_jenkins_requires_of_every_testcase(run, tmp_path):
    from xml.etree import ElementTree as ET

    reports.write(run, tmp_path)
    root = ET.parse(tmp_path / "junit.xml").getroot()
    for suite in root.iter("testsuite"):
        assert suite.get("name") and float(suite.get("time")) >= 0
        for case in suite.iter("testcase"):
            assert case.get("classname") and case.get("name")
            float(case.get("time", "0"))  # the plugin rejects a time that is not a number


def test_summary_names_failures_and_gates(run):
    summary = reports.render_summary(run)
    assert summary.startswith("## dsci: ❌ failed (2 passed, 3 failed, 2 skipped)")
    assert "| lint | ❌ failed | 1 failed | 0.2 s |" in summary
    assert "| F401 (a.py:1) | ❌ failed |  |  | `os` imported but unused |" in summary
    assert "test_auc (tests/test_model.py:25)" in summary
    assert "| coverage | ✅ passed | 91 | 80 | line coverage 91.0% |" in summary
    assert "Skipped: left out by --skip" in summary
    assert "Stopped: holdout.csv: no column 'target'" in summary
    assert "test_ok" not in summary  # passing tests are counted, not listed


def test_summary_escapes_table_cells_and_caps_rows():
    checks = [Check(f"c{i}", Status.FAILED, "a | b\nsecond line") for i in range(reports.MAX_ROWS + 5)]
    summary = reports.render_summary(Run([StageResult("lint", checks)]))
    assert "| a \\| b |" in summary and "second line" not in summary
    assert "… and 5 more in report.json" in summary
