"""ci.jenkins.seed and ci.jenkins.failures through python-jenkins, against a Jenkins look-alike over HTTP.

No Jenkins server can be installed here; tests/servers/jenkins.py behaves like
Jenkins for the endpoints used (crumbs and basic auth enforced, faults injectable).
"""

import re
import socket
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
import yaml

from ci import jenkins as seeding
from tests.servers.jenkins import FakeJenkins
from tests.servers.smtp import SmtpServer

pytestmark = pytest.mark.tool("invoke", "jenkins", "aiosmtpd")

USER, TOKEN = "seeder", "s3cret-token"


def write_jobs(path, count, changes=None):
    jobs = []
    for i in range(count):
        job = {"name": f"model-{i:03}", "repository": f"https://git.example.com/ds/model-{i:03}.git",
               "cron": "H 2 * * *", "recipients": [f"owner-{i % 3}@example.com"]}  # fmt: skip
        if i % 2:
            job["folder"] = f"team-{i % 4}/nightly"
        job.update((changes or {}).get(i, {}))
        jobs.append(job)
    path.write_text(yaml.safe_dump({"jobs": jobs}))
    return path


@pytest.fixture
def jenkins():
    with FakeJenkins(USER, TOKEN) as fake:
        yield fake


@pytest.fixture
def seed(example, invoke, jenkins, tmp_path):
    jobs = tmp_path / "jobs.yaml"

    def run(*args, token=TOKEN, url=None, **env):
        environ = {"INVOKE_CI_JENKINS_URL": url or jenkins.url, "JENKINS_USER": USER, "JENKINS_TOKEN": token}
        return invoke(example, "ci.jenkins.seed", "--jobs", str(jobs), *args, **environ, **env)

    run.jobs = jobs
    return run


def test_seeding_100_jobs_creates_them_then_a_second_run_writes_nothing(seed, jenkins):
    write_jobs(seed.jobs, 100)
    done = seed()
    assert done.returncode == 0, done.stdout + done.stderr
    assert (
        done.stdout.splitlines()[-1] == "seeded: 104 created, 0 updated, 0 deleted, 0 unchanged"
    )  # 4 folders
    assert len([w for w in jenkins.writes if w[0] == "create"]) == 104
    assert "team-1/nightly/model-001" in jenkins.items and "model-000" in jenkins.items
    writes = len(jenkins.writes)
    again = seed()
    assert again.returncode == 0, again.stdout + again.stderr
    assert again.stdout.splitlines()[-1] == "seeded: 0 created, 0 updated, 0 deleted, 100 unchanged"
    assert len(jenkins.writes) == writes  # no write call at all


def test_plan_after_editing_one_job_shows_exactly_that_job_and_changes_nothing(seed, jenkins):
    write_jobs(seed.jobs, 100)
    assert seed().returncode == 0
    write_jobs(seed.jobs, 100, {7: {"cron": "H 4 * * *"}})
    writes = len(jenkins.writes)
    done = seed("--plan")
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.splitlines() == [
        "would update team-3/nightly/model-007",
        "plan: 0 to create, 1 to update, 0 to delete, 99 unchanged",
    ]
    assert len(jenkins.writes) == writes
    assert seed().stdout.splitlines()[-1] == "seeded: 0 created, 1 updated, 0 deleted, 99 unchanged"
    assert "H 4 * * *" in jenkins.items["team-3/nightly/model-007"].xml


def test_prune_deletes_only_the_jobs_dsci_manages_that_left_the_file(seed, jenkins):
    write_jobs(seed.jobs, 4)
    assert seed().returncode == 0
    jenkins.items["hand-made"] = type(jenkins.items["model-000"])(
        "<flow-definition><description>mine</description></flow-definition>"
    )
    write_jobs(seed.jobs, 3)
    plain = seed()
    assert plain.stdout.splitlines()[-1] == "seeded: 0 created, 0 updated, 0 deleted, 3 unchanged"
    pruned = seed("--prune")
    assert pruned.returncode == 0, pruned.stdout + pruned.stderr
    assert "deleted team-3/nightly/model-003" in pruned.stdout
    assert "team-3/nightly/model-003" not in jenkins.items and "hand-made" in jenkins.items


def test_a_503_and_a_dropped_connection_are_retried(seed, jenkins):
    write_jobs(seed.jobs, 3)
    jenkins.faults = ["503", "drop"]  # three tries a call: the third answers
    done = seed()
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.splitlines()[-1] == "seeded: 5 created, 0 updated, 0 deleted, 0 unchanged"  # 2 folders


def test_a_jenkins_that_keeps_failing_is_an_environment_error_after_bounded_retries(seed, jenkins):
    write_jobs(seed.jobs, 3)
    jenkins.faults = ["503"] * 10
    done = seed(INVOKE_CI_JENKINS_RETRIES="2")
    assert done.returncode == 3, done.stdout + done.stderr
    assert "failed 2 times, last: 503 Service Unavailable" in done.stderr


def test_a_wrong_token_is_refused_in_one_line_without_the_token(seed, jenkins):
    write_jobs(seed.jobs, 3)
    done = seed(token="not-the-token")
    assert done.returncode == 2, done.stdout + done.stderr
    assert "refused whoAmI (401 Unauthorized): check the user and API token" in done.stderr
    assert "not-the-token" not in done.stdout + done.stderr and "Traceback" not in done.stderr
    assert jenkins.writes == []


def test_an_unreachable_jenkins_is_an_environment_error(seed):
    write_jobs(seed.jobs, 3)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    done = seed(url=f"http://127.0.0.1:{port}/", INVOKE_CI_JENKINS_RETRIES="1")
    assert done.returncode == 3, done.stdout + done.stderr
    assert f"whoAmI on http://127.0.0.1:{port}/ failed 1 times, last: no answer" in done.stderr


def test_a_bad_jobs_file_is_refused_before_jenkins_is_called(seed, jenkins):
    write_jobs(seed.jobs, 3, {1: {"cron": "H 2 * *"}})
    done = seed()
    assert done.returncode == 2, done.stdout + done.stderr
    assert "jobs[1].cron: 'H 2 * *' has 4 fields" in done.stderr
    assert jenkins.requests == 0


def test_credentials_must_be_in_the_environment(seed, jenkins):
    write_jobs(seed.jobs, 3)
    done = seed(token="")
    assert done.returncode == 2
    assert done.stderr.strip().splitlines()[-1] == (
        "error: ci.jenkins.token_env: the environment variable JENKINS_TOKEN is not set: "
        "Jenkins needs a user and an API token"
    )


def test_failures_mails_one_digest_of_the_failing_managed_jobs(example, invoke, seed, jenkins):
    write_jobs(seed.jobs, 6)
    assert seed().returncode == 0
    jenkins.add_build("model-000", "SUCCESS", 3 * 86400)
    jenkins.add_build("model-000", "FAILURE", 2 * 86400 + 3600)
    jenkins.add_build("model-000", "FAILURE", 600)
    jenkins.add_build("team-1/nightly/model-001", "FAILURE", 1800)
    jenkins.add_build("model-002", "SUCCESS", 60)
    with SmtpServer() as box:
        env = {"INVOKE_CI_JENKINS_URL": jenkins.url, "JENKINS_USER": USER, "JENKINS_TOKEN": TOKEN,
               "INVOKE_CI_NOTIFY_SMTP_HOST": box.host, "INVOKE_CI_NOTIFY_SMTP_PORT": str(box.port),
               "DSCI_MAIL_TO": "ops@example.com"}  # fmt: skip
        done = invoke(example, "ci.jenkins.failures", "--jobs", str(seed.jobs), **env)
    assert done.returncode == 0, done.stdout + done.stderr
    assert len(box.messages) == 1
    recipients, mail = box.messages[0]
    assert recipients == ["ops@example.com", "owner-0@example.com", "owner-1@example.com"]
    assert mail["Subject"] == "dsci: 2 failing Jenkins jobs"
    body = mail.get_content()
    assert "2 of the 6 jobs dsci manages" in body
    rows = [
        line for line in body.splitlines() if line.startswith("| model-000") or line.startswith("| team-1")
    ]
    assert rows[0].startswith("| model-000 | #3 FAILURE | #2, ") and "| 2 d 1 h |" in rows[0]
    assert rows[1].startswith("| team-1/nightly/model-001 | #1 FAILURE | #1, ")
    assert re.search(r"\| 3[01] min \| ", rows[1]), rows[1]  # under an hour: minutes alone, no "0 h"
    assert f"{jenkins.url}job/model-000/3/" in rows[0]


def test_a_url_that_is_not_jenkins_root_says_so(seed, jenkins):
    write_jobs(seed.jobs, 3)
    done = seed(url=jenkins.url + "wrong/")
    assert done.returncode == 3, done.stdout + done.stderr
    assert "answered 404 to whoAmI: is ci.jenkins.url the root URL of a Jenkins?" in done.stderr


def test_a_user_without_the_configure_permission_is_refused_in_one_line(example, invoke, tmp_path):
    jobs = write_jobs(tmp_path / "jobs.yaml", 2)
    with FakeJenkins(USER, TOKEN, may_configure=False) as reader:
        env = {"INVOKE_CI_JENKINS_URL": reader.url, "JENKINS_USER": USER, "JENKINS_TOKEN": TOKEN}
        done = invoke(example, "ci.jenkins.seed", "--jobs", str(jobs), **env)
    assert done.returncode == 2, done.stdout + done.stderr
    assert "refused creating team-1 (403 seeder is missing the Job/Configure permission)" in done.stderr
    assert done.stderr.rstrip().endswith("and that the user may configure jobs")
    assert reader.items == {}


@pytest.mark.tool("jenkins_jobs")
def test_the_rendered_job_says_what_jenkins_job_builder_says_for_the_same_job(tmp_path):
    """Jenkins Job Builder, widely used to keep Jenkins jobs in YAML, renders the same job the same way."""
    job = seeding.Job(
        name="clinic",
        repository="https://git.example.com/ds/clinic.git",
        branch="release",
        jenkinsfile="ci/Jenkinsfile",
        cron="H 2 * * *",
        recipients=("a@example.com", "b@example.com"),
        credentials="git-readonly",
    )
    (tmp_path / "job.yaml").write_text(yaml.safe_dump([{"job": {
        "name": job.name, "project-type": "pipeline", "triggers": [{"timed": job.cron}],
        "parameters": [{"string": {"name": seeding.MAIL_PARAMETER, "default": ",".join(job.recipients)}}],
        "pipeline-scm": {"script-path": job.jenkinsfile, "lightweight-checkout": True, "scm": [{"git": {
            "url": job.repository, "branches": [f"*/{job.branch}"], "credentials-id": job.credentials}}]},
    }}]))  # fmt: skip
    jjb = Path(sys.executable).parent / "jenkins-jobs"
    done = subprocess.run(
        [str(jjb), "test", str(tmp_path / "job.yaml")], capture_output=True, text=True, check=True
    )
    theirs, ours = ET.fromstring(done.stdout.encode()), ET.fromstring(seeding.render(job).encode())
    paths = [
        "definition/scm/userRemoteConfigs/hudson.plugins.git.UserRemoteConfig/url",
        "definition/scm/userRemoteConfigs/hudson.plugins.git.UserRemoteConfig/credentialsId",
        "definition/scm/branches/hudson.plugins.git.BranchSpec/name",
        "definition/scriptPath",
        "definition/lightweight",
        "properties/org.jenkinsci.plugins.workflow.job.properties.PipelineTriggersJobProperty/triggers/"
        "hudson.triggers.TimerTrigger/spec",
        "properties/hudson.model.ParametersDefinitionProperty/parameterDefinitions/"
        "hudson.model.StringParameterDefinition/name",
        "properties/hudson.model.ParametersDefinitionProperty/parameterDefinitions/"
        "hudson.model.StringParameterDefinition/defaultValue",
    ]
    assert ours.tag == theirs.tag == "flow-definition"
    for tag in ("definition", "definition/scm"):
        assert ours.find(tag).get("class") == theirs.find(tag).get("class"), tag
    for path in paths:
        assert ours.findtext(path) is not None and ours.findtext(path) == theirs.findtext(path), path
