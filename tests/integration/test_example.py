"""`invoke ci.all` on the example project, end to end: real ruff, pytest and coverage."""

import json
import subprocess

import junitparser
import pytest

pytestmark = pytest.mark.tool(
    "invoke",
    "ruff",
    "git",
    "sklearn",
    "pandas",
    "polars",
    "skl2onnx",
    "onnxruntime",
    "docker-engine",
    "registry",
    "podman",
)


def junit_cases(folder):
    xml = junitparser.JUnitXml.fromfile(str(folder / "build" / "ci" / "junit.xml"))
    return {suite.name: list(suite) for suite in xml}


def test_all_passes_on_the_example_and_prints_its_summary(example, invoke):
    done = invoke(example, "ci.all")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "| lint | ✅ passed |" in done.stdout
    assert "| test | ✅ passed |" in done.stdout
    assert done.stdout.splitlines()[-1].startswith("dsci: ") and " 0 failed" in done.stdout.splitlines()[-1]
    summary = (example / "build" / "ci" / "summary.md").read_text()
    assert summary.startswith("## dsci: ✅ passed")
    report = json.loads((example / "build" / "ci" / "report.json").read_text())
    coverage = next(c for c in report["stages"][2]["checks"] if c["name"] == "coverage")
    assert coverage["status"] == "passed" and coverage["threshold"] == 80 and coverage["value"] >= 80
    cases = junit_cases(example)
    assert list(cases) == [
        "git", "lint", "test", "notebooks", "data", "model", "onnx", "package", "sign", "image", "push",
        "parity", "deploy",
    ]  # fmt: skip
    assert {case.name for case in cases["notebooks"]} >= {
        "notebooks/explore.ipynb",
        "run notebooks/explore.ipynb",
    }
    assert all(case.is_passed for case in cases["notebooks"])  # stripped, linted, and run in a fresh kernel
    assert all(case.is_passed for case in cases["data"]) and len(cases["data"]) == 16
    assert all(case.is_passed for case in cases["test"])
    assert {"test_model_separates_malignant_from_benign", "coverage"} <= {c.name for c in cases["test"]}
    for artifact in ("pytest.xml", "coverage.xml", "coverage.json"):
        assert (example / "build" / "ci" / artifact).exists()
    assert all(case.is_passed for case in cases["parity"])  # scored inside the image, as in development
    assert "| label flips | – | 0 |" in summary and "| library differences | – | 0 |" in summary
    # Deployed to staging for real (podman), smoke-tested, and recorded on the releases branch.
    assert all(case.is_passed for case in cases["deploy"]) and "| deploy | ✅ passed |" in done.stdout
    recorded = subprocess.run(["git", "show", "dsci/releases:clinic/staging/releases.jsonl"], cwd=example,
                              capture_output=True, text=True, check=True).stdout  # fmt: skip
    (release,) = [json.loads(line) for line in recorded.splitlines()]
    assert release["status"] == "live" and release["smoke"]["rows"] == 20


def test_breaking_an_example_test_fails_the_run_and_names_the_test(example, invoke):
    test_file = example / "tests" / "test_model.py"
    test_file.write_text(
        test_file.read_text().replace('metrics["roc_auc"] > 0.95', 'metrics["roc_auc"] > 0.9999')
    )
    done = invoke(example, "ci.all")
    assert done.returncode == 1
    failed = [case for case in junit_cases(example)["test"] if not case.is_passed]
    assert [case.name for case in failed] == ["test_model_separates_malignant_from_benign"]
    assert failed[0].classname == "tests.test_model"
    summary = (example / "build" / "ci" / "summary.md").read_text()
    assert summary.startswith("## dsci: ❌ failed")
    assert "test_model_separates_malignant_from_benign (tests/test_model.py:25)" in summary
    assert "tests/test_model.py:25: error: test_model_separates_malignant_from_benign" in done.stdout


def test_lint_finding_stops_the_pipeline_before_tests(example, invoke):
    (example / "clinic" / "extra.py").write_text("import os\n")
    done = invoke(example, "ci.all", "--jobs", "1")
    assert done.returncode == 1
    assert "clinic/extra.py:1: error: F401" in done.stdout
    report = json.loads((example / "build" / "ci" / "report.json").read_text())
    assert [s["status"] for s in report["stages"]] == ["passed", "failed"] + ["skipped"] * 11


def test_side_by_side_a_lint_finding_lets_what_runs_beside_it_finish_and_starts_nothing_more(example, invoke):
    (example / "clinic" / "extra.py").write_text("import os\n")
    done = invoke(example, "ci.all", "--jobs", "2")
    assert done.returncode == 1
    report = json.loads((example / "build" / "ci" / "report.json").read_text())
    statuses = {s["name"]: (s["status"], s["skipped"]) for s in report["stages"]}
    assert statuses["lint"][0] == "failed" and statuses["test"] == ("passed", None)  # it ran beside lint
    later = ("notebooks", "data", "model", "onnx", "package", "sign", "image", "push", "parity", "deploy")
    assert all(statuses[name] == ("skipped", "not run: stage lint failed") for name in later)
    headers = [line for line in done.stdout.splitlines() if line.startswith("── [")]
    assert headers == ["── [1/13] git", "── [2/13] lint", "── [3/13] test"]  # in pipeline order


def test_in_github_actions_output_is_grouped_annotated_and_summarised(example, invoke, tmp_path):
    (example / "clinic" / "extra.py").write_text("import os\n")
    step_summary = tmp_path / "step-summary.md"
    done = invoke(
        example, "ci.all", "--keep-going", GITHUB_ACTIONS="true", GITHUB_STEP_SUMMARY=str(step_summary)
    )
    assert done.returncode == 1
    lines = done.stdout.splitlines()
    assert "::group::[2/13] lint" in lines and "::group::[3/13] test" in lines
    assert any(line.startswith("::error file=clinic/extra.py,line=1,title=F401::") for line in lines)
    assert step_summary.read_text().startswith("## dsci: ❌ failed")
    report = json.loads((example / "build" / "ci" / "report.json").read_text())
    deploy = next(s for s in report["stages"] if s["name"] == "deploy")  # never a build that failed
    assert deploy["status"] == "skipped" and deploy["skipped"] == "not run: stage lint failed"


def test_in_azure_pipelines_the_summary_is_uploaded(example, invoke):
    done = invoke(example, "ci.lint", TF_BUILD="True")
    assert done.returncode == 0
    assert "##[group][1/1] lint" in done.stdout
    summary = example / "build" / "ci" / "summary.md"
    assert f"##vso[task.uploadsummary]{summary}" in done.stdout


def test_single_stages_accept_options_that_beat_config(example, invoke):
    done = invoke(example, "ci.test", "--min-coverage", "99.9", "--args", "-k data")
    assert done.returncode == 1
    report = json.loads((example / "build" / "ci" / "report.json").read_text())
    coverage = next(c for c in report["stages"][0]["checks"] if c["name"] == "coverage")
    assert coverage["threshold"] == 99.9 and coverage["status"] == "failed"
    names = {c["name"] for c in report["stages"][0]["checks"]}
    assert "test_model_separates_malignant_from_benign" not in names  # -k data left it out
