"""The jobs file, Jenkins cron specs, the rendered config.xml and its comparison with a live one."""

import xml.etree.ElementTree as ET

import pytest

from ci import jenkins
from ci.core.errors import ConfigError

GOOD = """\
jobs:
  - name: clinic
    folder: data-science
    repository: https://git.example.com/ds/clinic.git
    cron: "H 2 * * *"
    recipients: [team@example.com, ops@example.com]
  - name: fraud
    repository: https://git.example.com/ds/fraud.git
    branch: develop
    jenkinsfile: ci/Jenkinsfile
"""


def jobs_file(project, text):
    path = project / "jobs.yaml"
    path.write_text(text)
    return path


def test_a_jobs_file_gives_its_jobs_with_defaults(project):
    clinic, fraud = jenkins.read_jobs(jobs_file(project, GOOD))
    assert clinic.full_name == "data-science/clinic" and clinic.recipients == (
        "team@example.com",
        "ops@example.com",
    )
    assert (fraud.full_name, fraud.branch, fraud.jenkinsfile, fraud.cron) == (
        "fraud",
        "develop",
        "ci/Jenkinsfile",
        "",
    )
    assert (clinic.branch, clinic.jenkinsfile) == ("main", "Jenkinsfile")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (GOOD.replace("    repository: https://git.example.com/ds/fraud.git\n", ""),
         "jobs.yaml:7: jobs[1] needs repository: a string"),
        (GOOD.replace("name: fraud", "name: clinic\n    folder: data-science"),
         "jobs.yaml:7: jobs[1] is a second job named 'data-science/clinic' (the first is jobs[0])"),
        (GOOD.replace('"H 2 * * *"', '"H 25 * * *"'),
         "jobs.yaml:5: jobs[0].cron: hour '25' is out of range 0-23"),
        (GOOD.replace('"H 2 * * *"', '"every night"'),
         "jobs[0].cron: 'every night' has 2 fields, not 5 (minute hour day month weekday), nor is it @daily"),
        (GOOD.replace("branch: develop", "brnach: develop"),
         "jobs.yaml:9: unknown key jobs[1].brnach; did you mean jobs[1].branch?"),
        (GOOD.replace("name: fraud", "name: a/b"),
         "jobs.yaml:7: jobs[1].name 'a/b' is not a Jenkins item name"),
        ("jobs: {}\n", "jobs.yaml:1: jobs must be a list of jobs"),
        ("jobs: [\n", "jobs.yaml:2: not valid YAML"),
    ],
)  # fmt: skip
def test_a_bad_jobs_file_is_one_line_naming_the_line_and_key(project, text, message):
    with pytest.raises(ConfigError) as caught:
        jenkins.read_jobs(jobs_file(project, text))
    assert message in caught.value.message


def test_a_missing_jobs_file_says_how_to_get_one(project):
    with pytest.raises(ConfigError, match=r"no such file; `invoke ci.init --provider jenkins` writes one"):
        jenkins.read_jobs(project / "nowhere.yaml")


@pytest.mark.parametrize(
    "spec",
    ["H 2 * * *", "H/15 * * * 1-5", "H(0-29) H(1-3) 1,15 * 0", "@daily", "0 0 * * 7\n# comment\n@hourly", ""],
)
def test_jenkins_cron_specs_that_jenkins_takes(spec):
    assert jenkins.cron_problem(spec) is None


@pytest.mark.parametrize(
    "spec", ["* * * *", "60 * * * *", "* * 0 * *", "*/0 * * * *", "H(5) * * * *", "@sometimes"]
)
def test_jenkins_cron_specs_that_jenkins_refuses(spec):
    assert jenkins.cron_problem(spec)


def test_the_rendered_job_is_a_pipeline_from_scm_with_its_trigger_and_recipients(project):
    clinic, fraud = jenkins.read_jobs(jobs_file(project, GOOD))
    root = ET.fromstring(jenkins.render(clinic).encode())
    assert root.tag == "flow-definition"
    assert jenkins.MARK in root.findtext("description")
    assert root.findtext(".//hudson.triggers.TimerTrigger/spec") == "H 2 * * *"
    assert root.findtext(".//hudson.model.StringParameterDefinition/name") == "DSCI_MAIL_TO"
    assert (
        root.findtext(".//hudson.model.StringParameterDefinition/defaultValue")
        == "team@example.com,ops@example.com"
    )
    definition = root.find("definition")
    assert definition.get("class") == "org.jenkinsci.plugins.workflow.cps.CpsScmFlowDefinition"
    assert definition.findtext(".//hudson.plugins.git.UserRemoteConfig/url") == clinic.repository
    assert definition.findtext(".//hudson.plugins.git.BranchSpec/name") == "*/main"
    assert definition.findtext("scriptPath") == "Jenkinsfile"
    bare = ET.fromstring(jenkins.render(fraud).encode())
    assert (
        bare.find(".//hudson.triggers.TimerTrigger") is None
        and bare.find(".//hudson.model.ParametersDefinitionProperty") is None
    )


def test_a_live_config_is_the_same_despite_whitespace_plugin_versions_and_additions(project):
    clinic, _ = jenkins.read_jobs(jobs_file(project, GOOD))
    ours = jenkins.render(clinic)
    live = ours.replace('plugin="git"', 'plugin="git@5.2.1"').replace("  ", "    ")
    live = live.replace("<disabled>false</disabled>", "<actions/>\n<disabled>false</disabled>")
    assert jenkins.same(ours, live)
    assert not jenkins.same(ours, ours.replace("H 2 * * *", "H 3 * * *"))
    assert not jenkins.same(ours, ours.replace("<url>", "<url>x"))
    assert not jenkins.same(ours, "<not-xml")
