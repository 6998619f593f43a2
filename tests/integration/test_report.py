"""ci.report.publish: one comment per pull request, updated in place, through the templates' own step.

Neither GitHub nor Azure DevOps can run here: the look-alikes in tests/servers
answer the endpoints used, over real HTTP, to the unchanged clients."""

import json
import os
import re
import subprocess

import pytest
import yaml

from tests.integration.conftest import INVOKE, PROVIDER_VARIABLES, REPO, git
from tests.servers.azure import FakeAzureDevOps
from tests.servers.github import FakeGitHub

TOKEN = "ghs-secret-7f3a"
PAT = "pat-secret-91c2"


def template_step(path, name):
    """The shell command of a template's step, by its name (GitHub) or display name (Azure)."""
    document = yaml.safe_load((REPO / path).read_text())
    steps = document["runs"]["steps"] if "runs" in document else document["steps"]
    step = next(s for s in steps if name in (s.get("name"), s.get("displayName")))
    return step.get("run") or step["script"]


def run_step(command, folder, **env):
    """A template's step as the CI runs it: bash, in the project, invoke on the PATH."""
    environ = {k: v for k, v in os.environ.items() if k not in PROVIDER_VARIABLES}
    environ["PATH"] = f"{os.path.dirname(INVOKE)}:{environ['PATH']}"
    return subprocess.run(["bash", "-c", command], cwd=folder, env={**environ, **env},
                          capture_output=True, text=True, timeout=300)  # fmt: skip


def github_build(hub, tmp_path, number=7, token=TOKEN):
    event = tmp_path / "event.json"
    event.write_text(json.dumps({"pull_request": {"number": number, "base": {"ref": "main"}}}))
    return {"GITHUB_ACTIONS": "true", "GITHUB_EVENT_PATH": str(event), "GITHUB_REPOSITORY": hub.repository,
            "GITHUB_API_URL": hub.url, "GITHUB_SERVER_URL": "https://github.test", "GITHUB_RUN_ID": "42",
            "GITHUB_WORKFLOW": "dsci", "GITHUB_BASE_REF": "main", "GITHUB_TOKEN": token}  # fmt: skip


def azure_build(devops, number=7, token=PAT):
    return {"TF_BUILD": "True", "SYSTEM_PULLREQUEST_PULLREQUESTID": str(number),
            "SYSTEM_COLLECTIONURI": devops.url + "/", "SYSTEM_TEAMPROJECT": devops.project,
            "BUILD_REPOSITORY_PROVIDER": "TfsGit", "BUILD_REPOSITORY_NAME": devops.project,
            "BUILD_REPOSITORY_ID": devops.repositories[devops.project],
            "SYSTEM_PULLREQUEST_TARGETBRANCH": "refs/heads/main", "BUILD_DEFINITIONNAME": "clinic",
            "BUILD_BUILDID": "42", "SYSTEM_ACCESSTOKEN": token}  # fmt: skip


def shown(text):
    """A CI log as it shows: the lines that register a secret with the CI are read by it, not shown."""
    registering = ("::add-mask::", "##vso[task.setvariable")
    return "\n".join(line for line in text.splitlines() if not line.startswith(registering))


GITHUB_STEP = ("github-actions/action.yml", "Publish the report to the pull request")
AZURE_STEP = ("azure-pipelines/templates/steps.yml", "Publish the report to the pull request")


@pytest.fixture
def judged(example, invoke):
    """The example with its model judged: build/ci holds the model stage's report."""
    done = invoke(example, "train", "ci.model")
    assert (example / "build" / "ci" / "summary.md").is_file(), done.stdout[-2000:] + done.stderr[-2000:]
    return example


def two_runs(step, folder, invoke, build):
    """The template's publish step after the model stage, twice: the second time with the recall gate
    lowered to 0.8, so the comment must hold that run's numbers."""
    first = run_step(template_step(*step), folder, **build)
    assert first.returncode == 0, first.stderr
    assert "dsci: created the report on pull request #7 of " in first.stdout
    settings = folder / "invoke.yaml"
    settings.write_text(settings.read_text().replace("recall: {min: 0.85", "recall: {min: 0.8"))
    invoke(folder, "ci.model")
    second = run_step(template_step(*step), folder, **build)
    assert second.returncode == 0, second.stderr
    assert "dsci: updated the report on pull request #7 of " in second.stdout
    return first.stdout + first.stderr + second.stdout + second.stderr


def test_two_runs_of_the_github_step_leave_one_comment_with_the_second_runs_numbers(judged, invoke, tmp_path):
    with FakeGitHub(token=TOKEN) as hub:
        hub.open_pull(7)
        hub.comment_as_person(7, "Looks good once the gates pass.")
        said = two_runs(GITHUB_STEP, judged, invoke, github_build(hub, tmp_path))
        ours = [c for c in hub.on(7) if c["user"] == "dsci"]
        assert len(ours) == 1 and len(hub.on(7)) == 2
        body = ours[0]["body"]
        assert "| recall | " in body and "≥ 0.8 |" in body and "≥ 0.85" not in body
        assert body.startswith("<!-- dsci report: dsci -->")
        assert "https://github.test/clinic/readmission/actions/runs/42" in body
        assert hub.on(7)[0]["body"] == "Looks good once the gates pass."
        assert "![" not in body  # no image leaves the project: the plots are linked in the run's artifacts
        assert "[roc curve](https://github.test/clinic/readmission/actions/runs/42)" in body
        assert [w[0] for w in hub.writes] == ["create", "update"]
    assert (
        TOKEN not in shown(said) and f"::add-mask::{TOKEN}" in said
    )  # GitHub reads that line, never shows it


def test_two_runs_of_the_azure_step_leave_one_thread_with_the_second_runs_numbers(judged, invoke):
    with FakeAzureDevOps(token=PAT) as devops:
        devops.open_pull(7)
        said = two_runs(AZURE_STEP, judged, invoke, azure_build(devops))
        threads = devops.threads[7]
        assert len(threads) == 1 and len(threads[0]["comments"]) == 1
        body = threads[0]["comments"][0]["content"]
        assert body.startswith("<!-- dsci report: clinic -->") and "≥ 0.8 |" in body and "≥ 0.85" not in body
        assert "/clinic/_build/results?buildId=42" in body
        plots = sorted(devops.attachments[7])
        assert [p.split("-")[0] for p in plots] == ["confusion_matrix", "roc_curve"]
        assert devops.attachments[7][plots[1]] == (judged / "build/ci/model/roc_curve.png").read_bytes()
        assert f"![roc curve]({devops.url}/clinic/_apis/git/repositories/" in body and plots[1] in body
        assert [w[0] for w in devops.writes].count("attachment") == 2  # an unchanged plot is not sent again
    assert PAT not in shown(said) and f"issecret=true]{PAT}" in said  # Azure reads that line, never shows it


def publish(folder, invoke, build, *args):
    return invoke(folder, "ci.report.publish", *args, **build)


def test_a_token_that_may_not_comment_exits_2_naming_the_scope(judged, invoke, tmp_path):
    with FakeGitHub(token=TOKEN) as hub:
        hub.open_pull(7)
        hub.read_only_tokens.add("ghs-read-only")
        done = publish(judged, invoke, github_build(hub, tmp_path, token="ghs-read-only"))
        assert done.returncode == 2
        assert done.stderr.strip() == (
            "error: the token in GITHUB_TOKEN may not comment on pull request #7 of clinic/readmission: "
            "give it `pull-requests: write` (the workflow's permissions) or, for a personal token, "
            "the `repo` scope (`public_repo` for a public repository)"
        )
        assert "ghs-read-only" not in shown(done.stdout + done.stderr) and not hub.writes


def test_a_host_that_keeps_failing_exits_3_and_the_report_stays(judged, invoke, tmp_path):
    with FakeGitHub(token=TOKEN) as hub:
        hub.open_pull(7)
        hub.faults = ["503", "drop", "503", "503"]
        done = publish(judged, invoke, {**github_build(hub, tmp_path), "INVOKE_CI_REPORT_RETRIES": "3"})
        assert done.returncode == 3, done.stdout + done.stderr
        assert done.stderr.strip().startswith("error: GitHub, reading the pull request on pull request #7")
        assert (judged / "build" / "ci" / "summary.md").is_file() and not hub.writes


def test_5xx_dropped_connections_and_a_rate_limit_are_waited_out(judged, invoke, tmp_path):
    with FakeGitHub(token=TOKEN) as hub:
        hub.open_pull(7)
        hub.faults = ["503", "drop", "rate-limit"]
        done = publish(judged, invoke, {**github_build(hub, tmp_path), "INVOKE_CI_REPORT_RETRIES": "4"})
        assert done.returncode == 0, done.stderr
        assert len(hub.on(7)) == 1


def test_a_closed_pull_request_gets_no_comment(judged, invoke, tmp_path):
    with FakeGitHub(token=TOKEN) as hub:
        hub.open_pull(7, state="closed")
        done = publish(judged, invoke, github_build(hub, tmp_path))
        assert done.returncode == 0
        closed = "dsci: pull request #7 of clinic/readmission is closed: nothing published"
        assert shown(done.stdout).strip() == closed
        assert not hub.writes


def test_a_comment_whose_marker_a_person_removed_is_left_to_them(judged, invoke, tmp_path):
    with FakeGitHub(token=TOKEN) as hub:
        hub.open_pull(7)
        for n in range(130):  # over one page of a hundred
            hub.comment_as_person(7, f"comment {n}")
        build = github_build(hub, tmp_path)
        assert publish(judged, invoke, build).returncode == 0
        ours = hub.on(7)[-1]
        assert publish(judged, invoke, build).returncode == 0
        assert [w[0] for w in hub.writes] == ["create", "update"]  # found again beyond the first page
        ours["body"] = ours["body"].replace("<!-- dsci report: dsci -->", "") + "\nI disagree."
        ours["user"] = "a-person"
        kept = ours["body"]
        assert publish(judged, invoke, build).returncode == 0
        assert [w[0] for w in hub.writes] == ["create", "update", "create"]
        assert ours["body"] == kept and len(hub.on(7)) == 132


def test_outside_a_pull_request_nothing_is_published_and_dry_run_shows_the_comment(judged, invoke):
    done = invoke(judged, "ci.report.publish")
    assert done.returncode == 0
    assert done.stdout.strip() == "dsci: this build runs for no pull request (terminal): nothing to publish"
    shown = invoke(judged, "ci.report.publish", "--dry-run")
    assert shown.returncode == 0
    assert shown.stdout.startswith("<!-- dsci report: dsci -->\n## dsci: ")
    assert "| metric | baseline | current | delta | threshold | verdict |" in shown.stdout


def test_no_report_yet_is_one_line_exit_2(example, invoke):
    done = invoke(example, "ci.report.publish")
    assert done.returncode == 2
    assert done.stderr.strip() == "error: no report in build/ci: run `invoke ci.all` first"


def test_an_azure_token_refused_exits_2_and_a_closed_pull_request_gets_nothing(judged, invoke):
    with FakeAzureDevOps(token=PAT) as devops:
        devops.open_pull(7)
        refused = publish(judged, invoke, azure_build(devops, token="pat-wrong"))
        assert refused.returncode == 2
        assert refused.stderr.strip().startswith("error: Azure DevOps at ")
        assert "SYSTEM_ACCESSTOKEN" in refused.stderr and "pat-wrong" not in shown(
            refused.stdout + refused.stderr
        )
        devops.open_pull(8, status="abandoned")
        closed = publish(judged, invoke, azure_build(devops, number=8))
        assert closed.returncode == 0 and "is abandoned: nothing published" in closed.stdout
        assert not devops.threads.get(8)


def test_azure_devops_answering_503_is_tried_again_then_exits_3(judged, invoke):
    with FakeAzureDevOps(token=PAT) as devops:
        devops.open_pull(7)
        devops.faults = ["503", "500", "429"]  # no body, Azure's JSON error, throttling
        done = publish(judged, invoke, azure_build(devops))
        assert done.returncode == 0, done.stderr
        assert len(devops.threads[7]) == 1
        devops.faults = ["503"] * 1000
        failed = publish(judged, invoke, {**azure_build(devops), "INVOKE_CI_REPORT_RETRIES": "2"})
        assert failed.returncode == 3, failed.stderr
        said = "error: Azure DevOps, connecting on pull request #7 of clinic, failed 2 times, last: "
        assert failed.stderr.strip().startswith(said)


def test_the_baseline_follows_the_pull_requests_target_and_a_push_to_main_compares_with_the_commit_before(
    example, invoke
):
    baseline = example / "metrics" / "baseline.json"
    main = git(example, "rev-parse", "HEAD").strip()
    git(example, "checkout", "--quiet", "-b", "release")
    baseline.write_text(baseline.read_text().replace('"roc_auc": 0.9881', '"roc_auc": 0.9781'))
    git(example, "commit", "--quiet", "--all", "--message", "the release's baseline")
    release = git(example, "rev-parse", "HEAD").strip()
    git(example, "checkout", "--quiet", "-b", "feature")
    (example / "NOTES.md").write_text("a change under review\n")
    git(example, "add", "NOTES.md")
    git(example, "commit", "--quiet", "--message", "a feature")

    def source(**build):
        invoke(example, "train", "ci.model", **build)
        return json.loads((example / "build" / "ci" / "metrics.json").read_text())["baseline"]

    assert source() == f"metrics/baseline.json at {main[:7]}"  # a terminal: where HEAD left main
    assert source(GITHUB_BASE_REF="release") == f"metrics/baseline.json at {release[:7]}"
    assert (
        source(SYSTEM_PULLREQUEST_TARGETBRANCH="refs/heads/release")
        == f"metrics/baseline.json at {release[:7]}"
    )
    git(example, "checkout", "--quiet", "main")
    git(example, "merge", "--quiet", "--ff-only", "feature")
    pushed = {"GITHUB_EVENT_NAME": "push", "GITHUB_REF": "refs/heads/main"}
    before = git(example, "rev-parse", "HEAD^").strip()
    assert source(**pushed) == f"metrics/baseline.json at {before[:7]}"


def test_a_comment_stored_without_an_answer_is_not_posted_twice(judged, invoke, tmp_path):
    with FakeGitHub(token=TOKEN) as hub:
        hub.open_pull(7)
        hub.drop_after_writes = 1  # GitHub keeps the comment, the answer is lost
        done = publish(judged, invoke, github_build(hub, tmp_path))
        assert done.returncode == 0, done.stderr
        assert [w[0] for w in hub.writes] == ["create", "update"] and len(hub.on(7)) == 1
    with FakeAzureDevOps(token=PAT) as devops:
        devops.open_pull(7)
        devops.drop_after_writes = 3  # both plots and the thread
        done = publish(judged, invoke, {**azure_build(devops), "INVOKE_CI_REPORT_RETRIES": "4"})
        assert done.returncode == 0, done.stderr
        assert len(devops.threads[7]) == 1 and len(devops.attachments[7]) == 2


def test_a_rate_limit_that_resets_later_than_a_minute_exits_3(judged, invoke, tmp_path):
    with FakeGitHub(token=TOKEN) as hub:
        hub.open_pull(7)
        hub.faults = ["rate-limit-long"]
        done = publish(judged, invoke, github_build(hub, tmp_path))
        assert done.returncode == 3
        said = r"error: GitHub, reading the pull request: rate limit exhausted for 3\d{3} s more; "
        assert re.fullmatch(said + "run the step later", done.stderr.strip())


def test_a_summary_longer_than_a_comment_is_cut_and_posted(judged, invoke, tmp_path):
    summary = judged / "build" / "ci" / "summary.md"
    summary.write_text(summary.read_text() + "".join(f"| row {n} | ✅ {'x' * 60} |\n" for n in range(2000)))
    with FakeGitHub(token=TOKEN) as hub:  # it answers 422 to a body over 65,536 characters, as GitHub does
        hub.open_pull(7)
        done = publish(judged, invoke, github_build(hub, tmp_path))
        assert done.returncode == 0, done.stderr
        body = hub.on(7)[0]["body"]
        assert len(body.encode()) <= 65_536 and "… cut here: the whole summary has " in body


def test_an_azure_token_that_may_not_comment_exits_2_naming_the_permission(judged, invoke):
    with FakeAzureDevOps(token=PAT) as devops:
        devops.open_pull(7)
        devops.read_only_tokens.add("pat-read")
        done = publish(judged, invoke, azure_build(devops, token="pat-read"))
        assert done.returncode == 2
        assert "You need the Git 'PullRequestContribute' permission" in done.stderr
        assert len(done.stderr.strip().splitlines()) == 1 and "pat-read" not in shown(
            done.stdout + done.stderr
        )
        assert not devops.threads.get(7)
