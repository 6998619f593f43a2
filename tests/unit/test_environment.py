import io
import sys
import time

import pytest

from ci.core import environment
from ci.core.results import Check, StageResult, Status

FAILED = Check("F401", Status.FAILED, "`os` imported, 100% unused\nsecond", file="a.py", line=3)
WARNED = Check("null_fraction", Status.WARNED, "6% nulls; 5% allowed")


@pytest.mark.parametrize(
    ("variables", "provider"),
    [
        ({"GITHUB_ACTIONS": "true"}, environment.GitHubActions),
        ({"TF_BUILD": "True"}, environment.AzurePipelines),
        ({"JENKINS_URL": "http://jenkins.local/"}, environment.Jenkins),
        ({"JENKINS_HOME": "/var/lib/jenkins"}, environment.Jenkins),
        ({}, environment.Provider),
        ({"CI": "true"}, environment.Provider),
    ],
)
def test_detects_provider_from_its_variables(variables, provider):
    assert type(environment.detect(variables)) is provider


def output(provider_class, act, **env):
    out = io.StringIO()
    provider = provider_class(env, out)
    act(provider)
    return out.getvalue()


def test_github_annotations_are_workflow_commands_with_escapes():
    text = output(environment.GitHubActions, lambda p: (p.annotate(FAILED), p.annotate(WARNED)))
    assert text.splitlines() == [
        "::error file=a.py,line=3,title=F401::`os` imported, 100%25 unused%0Asecond",
        "::warning title=null_fraction::6%25 nulls; 5%25 allowed",
    ]


def test_azure_annotations_are_logissue_commands_with_escapes():
    text = output(environment.AzurePipelines, lambda p: p.annotate(FAILED))
    assert text == (
        "##vso[task.logissue type=error;sourcepath=a.py;linenumber=3;code=F401]"
        "`os` imported, 100%AZP25 unused%0Asecond\n"
    )


def test_terminal_and_jenkins_annotations_read_like_compiler_messages():
    for provider in (environment.Provider, environment.Jenkins):
        text = output(provider, lambda p: (p.annotate(FAILED), p.annotate(WARNED)))
        assert text.splitlines()[0] == "a.py:3: error: F401: `os` imported, 100% unused"
        assert text.splitlines()[-1] == "warning: null_fraction: 6% nulls; 5% allowed"


@pytest.mark.parametrize(
    ("provider", "begin", "end"),
    [
        (environment.GitHubActions, "::group::[1/2] lint", "::endgroup::"),
        (environment.AzurePipelines, "##[group][1/2] lint", "##[endgroup]"),
        (environment.Jenkins, "──────── [1/2] lint ────────", None),
        (environment.Provider, "── [1/2] lint", None),
    ],
)
def test_stage_output_is_grouped(provider, begin, end):
    def act(p):
        with p.stage("lint", 1, 2):
            p.write("inside")

    lines = output(provider, act).splitlines()
    assert lines[:2] == [begin, "inside"]
    assert lines[2:] == ([end] if end else [])


def test_stage_report_annotates_failures_then_says_the_outcome():
    result = StageResult("lint", [FAILED, Check("ruff format", Status.PASSED)], duration=0.42)
    lines = output(environment.Provider, lambda p: p.report_stage(result)).splitlines()
    assert lines[-1] == "✘ lint failed: 1 passed, 1 failed in 0.4 s"


def test_github_summary_is_appended_to_the_step_summary_file(tmp_path):
    summary_file = tmp_path / "step_summary.md"
    summary_file.write_text("earlier step\n")
    text = output(
        environment.GitHubActions,
        lambda p: p.publish_summary("## dsci: passed\n", tmp_path / "summary.md"),
        GITHUB_STEP_SUMMARY=str(summary_file),
    )
    assert summary_file.read_text() == "earlier step\n## dsci: passed\n"
    assert text == f"summary: {tmp_path / 'summary.md'}\n"


def test_azure_summary_is_uploaded_by_absolute_path(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    text = output(environment.AzurePipelines, lambda p: p.publish_summary("x", environment.Path("s.md")))
    assert text == f"##vso[task.uploadsummary]{tmp_path / 's.md'}\n"


def test_terminal_prints_the_summary_itself():
    text = output(
        environment.Provider, lambda p: p.publish_summary("## dsci: passed\n", environment.Path("s"))
    )
    assert text == "\n## dsci: passed\n"


def test_errors_go_to_stderr_and_to_the_ci_annotation(capsys):
    out = io.StringIO()
    environment.GitHubActions({}, out).error("invoke.yaml:3: ci.test.paths must be a list")
    assert out.getvalue() == "::error::invoke.yaml:3: ci.test.paths must be a list\n"
    assert capsys.readouterr().err == "error: invoke.yaml:3: ci.test.paths must be a list\n"


class FakeTty(io.StringIO):
    def isatty(self):
        return True


def test_progress_spins_on_a_terminal_and_clears_itself(monkeypatch):
    tty = FakeTty()
    monkeypatch.setattr(sys, "stderr", tty)
    provider = environment.Provider({})
    provider.tick = 0.001
    with provider.progress("lint"):
        time.sleep(0.1)
    drawn = tty.getvalue()
    assert "\r⠋ lint" in drawn and "\r⠙ lint" in drawn
    assert drawn.endswith("\r\033[K")


def test_progress_draws_nothing_when_not_a_terminal(monkeypatch):
    pipe = io.StringIO()
    monkeypatch.setattr(sys, "stderr", pipe)
    with environment.Provider({}).progress("lint"):
        pass
    assert pipe.getvalue() == ""
