"""Which pull request a build runs for, and the comment's marker and size."""

import json

import pytest

from ci.core.errors import ConfigError
from ci.core.settings import Baseline
from ci.pullrequest import comment, find
from ci.pullrequest.find import PullRequest


def test_github_actions_reads_the_pull_request_from_the_event(tmp_path):
    event = tmp_path / "event.json"
    event.write_text(json.dumps({"pull_request": {"number": 12, "base": {"ref": "release"}}}))
    environ = {"GITHUB_ACTIONS": "true", "GITHUB_EVENT_PATH": str(event), "GITHUB_REPOSITORY": "o/r",
               "GITHUB_RUN_ID": "9", "GITHUB_WORKFLOW": "ci"}  # fmt: skip
    assert find.find(environ) == PullRequest(
        "github", 12, "release", "o/r", "https://api.github.com",
        run_url="https://github.com/o/r/actions/runs/9", pipeline="ci",
    )  # fmt: skip
    event.write_text(json.dumps({"ref": "refs/heads/main"}))  # a push
    assert find.find(environ) is None


def test_an_unreadable_event_names_the_variable(tmp_path):
    with pytest.raises(ConfigError, match=r"^GITHUB_EVENT_PATH: cannot read the event '.*nope.json'"):
        find.find({"GITHUB_ACTIONS": "true", "GITHUB_EVENT_PATH": str(tmp_path / "nope.json")})


def test_azure_pipelines_on_azure_repos_and_on_github():
    environ = {"TF_BUILD": "True", "SYSTEM_PULLREQUEST_PULLREQUESTID": "31", "SYSTEM_COLLECTIONURI":
               "https://dev.azure.com/contoso/", "SYSTEM_TEAMPROJECT": "clinic", "BUILD_REPOSITORY_ID": "abc",
               "BUILD_REPOSITORY_PROVIDER": "TfsGit", "SYSTEM_PULLREQUEST_TARGETBRANCH": "refs/heads/main",
               "BUILD_DEFINITIONNAME": "clinic-ci", "BUILD_BUILDID": "77"}  # fmt: skip
    assert find.find(environ) == PullRequest(
        "azure", 31, "main", "abc", "https://dev.azure.com/contoso", "clinic",
        "https://dev.azure.com/contoso/clinic/_build/results?buildId=77", "clinic-ci",
    )  # fmt: skip
    on_github = {
        **environ,
        "BUILD_REPOSITORY_PROVIDER": "GitHub",
        "BUILD_REPOSITORY_NAME": "o/r",
        "SYSTEM_PULLREQUEST_PULLREQUESTNUMBER": "5",
        "SYSTEM_PULLREQUEST_TARGETBRANCH": "main",
    }
    found = find.find(on_github)
    assert (found.host, found.number, found.repository, found.target) == ("github", 5, "o/r", "main")
    assert find.find({"TF_BUILD": "True"}) is None  # a push


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://github.com/o/r/pull/4", ("github", "o/r", "https://api.github.com", "")),
        ("https://ghe.example.com/o/r/pull/4", ("github", "o/r", "https://ghe.example.com/api/v3", "")),
        ("https://dev.azure.com/contoso/clinic/_git/models/pullrequest/4",
         ("azure", "models", "https://dev.azure.com/contoso", "clinic")),
        ("https://contoso.visualstudio.com/clinic/_git/models/pullrequest/4",
         ("azure", "models", "https://contoso.visualstudio.com", "clinic")),
        ("https://tfs.example.com/tfs/DefaultCollection/Clinic%20Models/_git/risk%20model/pullrequest/4",
         ("azure", "risk model", "https://tfs.example.com/tfs/DefaultCollection", "Clinic Models")),
    ],
)  # fmt: skip
def test_jenkins_multibranch_reads_the_host_from_the_change_url(url, expected):
    environ = {"JENKINS_URL": "https://ci/", "CHANGE_ID": "4", "CHANGE_URL": url, "CHANGE_TARGET": "main",
               "JOB_NAME": "clinic/PR-4", "BUILD_URL": "https://ci/job/clinic/job/PR-4/3/"}  # fmt: skip
    found = find.find(environ)
    assert (found.host, found.repository, found.api, found.project) == expected
    assert (found.number, found.target, found.pipeline) == (4, "main", "clinic")


def test_jenkins_on_another_host_says_so():
    environ = {
        "JENKINS_URL": "https://ci/",
        "CHANGE_ID": "4",
        "CHANGE_URL": "https://gitlab.com/o/r/-/merge_requests/4",
    }
    with pytest.raises(ConfigError, match=r"^CHANGE_URL: 'https://gitlab.com/.*' is neither a GitHub nor"):
        find.find(environ)


def test_the_target_and_the_pushed_branch_come_from_each_ci():
    assert find.target_branch({"GITHUB_BASE_REF": "release"}) == "release"
    assert find.target_branch({"SYSTEM_PULLREQUEST_TARGETBRANCH": "refs/heads/dev"}) == "dev"
    assert find.target_branch({"CHANGE_TARGET": "main"}) == "main"
    assert find.target_branch({"GITHUB_BASE_REF": ""}) == ""
    assert find.pushed_branch({"GITHUB_EVENT_NAME": "push", "GITHUB_REF": "refs/heads/main"}) == "main"
    assert (
        find.pushed_branch({"BUILD_REASON": "IndividualCI", "BUILD_SOURCEBRANCH": "refs/heads/main"})
        == "main"
    )
    assert find.pushed_branch({"JENKINS_URL": "x", "BRANCH_NAME": "main"}) == "main"
    assert find.pushed_branch({"JENKINS_URL": "x", "BRANCH_NAME": "PR-4", "CHANGE_ID": "4"}) == ""
    assert find.pushed_branch({"BUILD_REASON": "PullRequest"}) == ""


def test_a_summary_too_long_for_the_host_is_cut_at_a_line_with_a_note():
    pr = PullRequest("github", 1, "main", "o/r", "", run_url="https://ci/run/1", pipeline="ci")
    summary = "\n".join(f"| row {n} | {'x' * 80} |" for n in range(2000))
    body = comment.render(summary, pr)
    assert len(body) <= comment.LIMITS["github"]
    assert body.startswith("<!-- dsci report: ci -->\n**ci**\n\n| row 0 |")
    assert "… cut here: the whole summary has 190,889 characters, more than a comment holds." in body
    kept = body.split("\n\n… cut here")[0].splitlines()
    assert kept[-1].endswith("|")  # whole rows only
    assert body.endswith(
        "[The CI run](https://ci/run/1): its artifacts hold report.json, junit.xml and the plots."
    )
    assert comment.render("short", pr).count("short") == 1


def test_the_baseline_follows_the_build_only_when_read_at_the_merge_base():
    pull = {"GITHUB_BASE_REF": "release"}
    push = {"GITHUB_EVENT_NAME": "push", "GITHUB_REF": "refs/heads/main"}
    assert find.follow_build(Baseline(), pull) == Baseline(branch="release")
    assert find.follow_build(Baseline(), push) == Baseline(rev="HEAD^")
    assert find.follow_build(Baseline(), {**push, "GITHUB_REF": "refs/heads/topic"}) == Baseline()
    assert find.follow_build(Baseline(), {}) == Baseline()
    assert find.follow_build(Baseline(rev="v1.2"), pull) == Baseline(rev="v1.2")  # a revision the user chose


def test_each_tenant_keeps_a_comment_of_its_own():
    environ = {"TF_BUILD": "True", "SYSTEM_PULLREQUEST_PULLREQUESTID": "3", "BUILD_DEFINITIONNAME": "clinic"}
    north = find.find({**environ, "INVOKE_RUNTIME_CONFIG": "tenants/north.yaml"})
    assert north.pipeline == "clinic / north"
    assert comment.marker(north) == "<!-- dsci report: clinic / north -->"
    assert find.find({**environ, "INVOKE_RUNTIME_CONFIG": "invoke.yaml"}).pipeline == "clinic"
