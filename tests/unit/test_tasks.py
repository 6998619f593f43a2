import json
import shlex
import sys

import pytest
from invoke import Exit, Result

from ci.core.errors import EnvError
from ci.core.results import Check, StageResult, Status
from ci.quality import NOT_NOTEBOOKS
from ci.tasks import collection, pipeline, quality
from ci.tasks._stage import ORDER, Stage

RUFF = [sys.executable, "-m", "ruff"]


def ruff(*args):
    return shlex.join([*RUFF, *args])


def ruff_check(*paths):
    return ruff("check", *NOT_NOTEBOOKS, "--output-format", "json", *paths)


def ruff_format(*paths):
    return ruff("format", "--check", *NOT_NOTEBOOKS, *paths)


def clean():
    """ruff finding nothing; fresh each time, as MockContext consumes what it is given."""
    return {
        ruff_check("."): Result("[]"),
        ruff_format("."): Result(""),
    }


def report(project):
    return json.loads((project / "build" / "ci" / "report.json").read_text())


def test_collection_declares_every_default_and_the_tasks():
    ns = collection()
    assert ns.name == "ci"
    assert ns.task_names == {
        "all": [],
        "git": [],
        "lint": [],
        "test": [],
        "package": [],
        "sign": [],
        "verify": [],
        "keys.create": [],
        "image": [],
        "push": [],
        "parity": [],
        "onnx": [],
        "init": [],
        "notify": [],
        "jenkins.seed": [],
        "jenkins.failures": [],
        "azure.sync": [],
        "data.check": ["data"],
        "data.pii": [],
        "model.evaluate": ["model"],
        "model.export": [],
        "notebooks.check": ["notebooks"],
        "notebooks.setup": [],
        "report.publish": [],
        "deploy.deploy": ["deploy"],
        "deploy.render": [],
        "releases": [],
        "rollback": [],
        "signoff": [],
        "isolation": [],
        "tenants.list": [],
    }
    assert ns.configuration()["ci"]["test"]["paths"] == ["tests"]


def test_stage_list_follows_the_pipeline_order():
    names = [stage.name for stage in pipeline.STAGES]
    assert names == sorted(names, key=ORDER.index)


def test_lint_task_runs_ruff_on_configured_paths_and_writes_reports(context, project, capsys):
    c = context("ci:\n  lint:\n    paths: [src, tests]\n", run={
        ruff_check("src", "tests"): Result("[]"),
        ruff_format("src", "tests"): Result(""),
    })  # fmt: skip
    quality.lint(c)
    data = report(project)
    assert data["status"] == "passed"
    assert [s["name"] for s in data["stages"]] == ["lint"]
    assert capsys.readouterr().out.splitlines()[-1] == "dsci: 2 passed, 0 failed, 0 skipped"


def test_lint_paths_from_the_command_line_beat_config(context, project):
    c = context("ci:\n  lint:\n    paths: [src]\n    format: false\n", run={
        ruff_check("other"): Result("[]"),
    })  # fmt: skip
    quality.lint(c, paths="other")
    assert report(project)["stages"][0]["checks"][0]["message"] == "no findings in other"


def test_format_check_from_the_command_line_beats_config(context, project):
    c = context(
        "ci:\n  lint:\n    format: true\n",
        run={ruff_check("."): Result("[]")},
    )
    quality.lint(c, format="false")  # no `ruff format` command is mocked: it must not run
    assert [c["name"] for c in report(project)["stages"][0]["checks"]] == ["ruff check"]


def test_lint_findings_exit_1_and_annotate(context, project, capsys):
    finding = [
        {"code": "F401", "message": "unused", "filename": str(project / "a.py"), "location": {"row": 2}}
    ]
    c = context(
        run={
            **clean(),
            ruff_check("."): Result(json.dumps(finding), exited=1),
        }
    )
    with pytest.raises(Exit) as caught:
        quality.lint(c)
    assert caught.value.code == 1
    assert "a.py:2: error: F401: unused" in capsys.readouterr().out


def test_a_single_stage_merges_into_the_existing_report(context, project):
    c = context(run=clean())
    reports_dir = project / "build" / "ci"
    reports_dir.mkdir(parents=True)
    earlier = {"format": 1, "stages": [StageResult("test", [Check("t", Status.PASSED)]).to_dict()]}
    (reports_dir / "report.json").write_text(json.dumps(earlier))
    quality.lint(c)
    assert [s["name"] for s in report(project)["stages"]] == ["lint", "test"]


def test_report_dir_is_a_setting(context, project):
    quality.lint(context("ci:\n  report_dir: out/reports\n", run=clean()))
    assert (project / "out" / "reports" / "junit.xml").exists()


def test_invalid_config_exits_2_with_one_line_before_running_anything(context, project, capsys):
    c = context("ci:\n  test:\n    paths: 5\n")
    with pytest.raises(Exit) as caught:
        quality.lint(c)
    assert caught.value.code == 2
    assert capsys.readouterr().err == "error: invoke.yaml:3: ci.test.paths must be a list of strings, got 5\n"
    assert not (project / "build").exists()


def fake(name, result=None, error=None):
    def run(s):
        if error:
            raise error
        return result or StageResult(name, [Check(f"{name} check", Status.PASSED)])

    return Stage(name, run)


@pytest.fixture
def stages(monkeypatch):
    def use(*fakes):
        monkeypatch.setattr(pipeline, "STAGES", fakes)
        monkeypatch.setattr(pipeline, "NAMES", tuple(s.name for s in fakes))

    return use


FAILING_LINT = StageResult("lint", [Check("F401", Status.FAILED, "unused")])


def test_all_stops_at_the_first_failed_stage(context, project, stages):
    stages(fake("lint", FAILING_LINT), fake("test"))
    with pytest.raises(Exit) as caught:
        pipeline.all_(context())
    assert caught.value.code == 1
    assert [(s["name"], s["status"], s["skipped"]) for s in report(project)["stages"]] == [
        ("lint", "failed", None),
        ("test", "skipped", "not run: stage lint failed"),
    ]


def test_keep_going_runs_the_rest(context, project, stages):
    stages(fake("lint", FAILING_LINT), fake("test"))
    with pytest.raises(Exit):
        pipeline.all_(context(), keep_going="true")
    assert [s["status"] for s in report(project)["stages"]] == ["failed", "passed"]


def test_keep_going_from_config_and_command_line_beats_it(context, project, stages):
    stages(fake("lint", FAILING_LINT), fake("test"))
    with pytest.raises(Exit):
        pipeline.all_(context("ci:\n  all:\n    keep_going: true\n"))
    assert report(project)["stages"][1]["status"] == "passed"
    with pytest.raises(Exit):
        pipeline.all_(context("ci:\n  all:\n    keep_going: true\n"), keep_going="false")
    assert report(project)["stages"][1]["status"] == "skipped"


def test_only_and_skip_choose_stages_and_say_why_others_did_not_run(context, project, stages):
    stages(fake("lint"), fake("test"))
    pipeline.all_(context(), only=["test"])
    assert [(s["name"], s["skipped"]) for s in report(project)["stages"]] == [
        ("lint", "not in --only"),
        ("test", None),
    ]
    pipeline.all_(context("ci:\n  all:\n    skip: [test]\n"))
    assert report(project)["stages"][1]["skipped"] == "left out by --skip"


def test_only_takes_comma_separated_and_repeated_names(context, project, stages):
    stages(fake("lint"), fake("test"))
    pipeline.all_(context(), only=["lint,test"])
    assert all(s["skipped"] is None for s in report(project)["stages"])


def test_unknown_stage_in_only_exits_2_with_the_closest_name(context, project, stages, capsys):
    stages(fake("lint"), fake("test"))
    with pytest.raises(Exit) as caught:
        pipeline.all_(context(), only=["tset"])
    assert caught.value.code == 2
    assert (
        capsys.readouterr().err
        == "error: --only: unknown stage 'tset'; did you mean 'test'? stages: lint, test\n"
    )
    assert not (project / "build").exists()


def test_unknown_stage_in_config_skip_names_the_file(context, project, stages, capsys):
    stages(fake("lint"), fake("test"))
    with pytest.raises(Exit):
        pipeline.all_(context("ci:\n  all:\n    skip: [dat]\n"))
    assert capsys.readouterr().err.startswith("error: invoke.yaml:3: ci.all.skip: unknown stage 'dat'")


def test_environment_error_exits_3_and_is_recorded(context, project, stages, capsys):
    stages(fake("lint", error=EnvError("ruff is not installed; install it with `pip install ruff`")))
    with pytest.raises(Exit) as caught:
        pipeline.all_(context())
    assert caught.value.code == 3
    assert capsys.readouterr().err == "error: ruff is not installed; install it with `pip install ruff`\n"
    assert report(project)["stages"][0]["error"].startswith("ruff is not installed")


def test_a_bug_keeps_its_traceback_says_so_and_still_writes_the_report(context, project, stages, capsys):
    stages(fake("lint", error=ZeroDivisionError("division by zero")), fake("test"))
    with pytest.raises(Exit) as caught:
        pipeline.all_(context())
    assert caught.value.code == 1
    said = capsys.readouterr().err
    assert "Traceback (most recent call last)" in said and "ZeroDivisionError: division by zero" in said
    assert "This is a bug in dsci, not in your project" in said
    stage = report(project)["stages"][0]
    assert stage["error"] == "internal error: ZeroDivisionError('division by zero')"


def test_a_bug_s_traceback_masks_the_secrets(context, project, stages, capsys, monkeypatch):
    monkeypatch.setenv("DSCI_REGISTRY_PASSWORD", "hunter2-but-longer")
    stages(fake("lint", error=ValueError("could not log in with hunter2-but-longer")))
    with pytest.raises(Exit):
        pipeline.all_(context())
    said = capsys.readouterr().err
    assert "ValueError: could not log in with ***" in said and "hunter2" not in said
