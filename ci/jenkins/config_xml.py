"""A job's config.xml as dsci renders it (a pipeline from SCM), and whether a live one matches it."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from typing import Any

from ci.jenkins.jobs import Job

MARK = "Managed by dsci (ci.jenkins.seed): change the jobs file, not this page."
MAIL_PARAMETER = "DSCI_MAIL_TO"  # a job parameter: ci.notify mails these recipients too


def render(job: Job) -> str:
    """The job's config.xml: a pipeline from SCM, its cron trigger, and the mail recipients as a parameter."""
    root = ET.Element("flow-definition", plugin="workflow-job")
    ET.SubElement(root, "description").text = f"{job.description}\n\n{MARK}".lstrip()
    ET.SubElement(root, "keepDependencies").text = "false"
    properties = ET.SubElement(root, "properties")
    if job.recipients:
        parameters = ET.SubElement(
            ET.SubElement(properties, "hudson.model.ParametersDefinitionProperty"), "parameterDefinitions"
        )
        parameter = ET.SubElement(parameters, "hudson.model.StringParameterDefinition")
        ET.SubElement(parameter, "name").text = MAIL_PARAMETER
        ET.SubElement(parameter, "description").text = "Who `invoke ci.notify` mails when a build fails"
        ET.SubElement(parameter, "defaultValue").text = ",".join(job.recipients)
        ET.SubElement(parameter, "trim").text = "true"
    if job.cron:
        triggers = ET.SubElement(
            ET.SubElement(
                properties, "org.jenkinsci.plugins.workflow.job.properties.PipelineTriggersJobProperty"
            ),
            "triggers",
        )
        ET.SubElement(ET.SubElement(triggers, "hudson.triggers.TimerTrigger"), "spec").text = job.cron
    definition = ET.SubElement(
        root,
        "definition",
        {"class": "org.jenkinsci.plugins.workflow.cps.CpsScmFlowDefinition", "plugin": "workflow-cps"},
    )
    scm = ET.SubElement(definition, "scm", {"class": "hudson.plugins.git.GitSCM", "plugin": "git"})
    ET.SubElement(scm, "configVersion").text = "2"
    remote = ET.SubElement(ET.SubElement(scm, "userRemoteConfigs"), "hudson.plugins.git.UserRemoteConfig")
    ET.SubElement(remote, "url").text = job.repository
    if job.credentials:
        ET.SubElement(remote, "credentialsId").text = job.credentials
    branch = ET.SubElement(ET.SubElement(scm, "branches"), "hudson.plugins.git.BranchSpec")
    ET.SubElement(branch, "name").text = f"*/{job.branch}"
    ET.SubElement(definition, "scriptPath").text = job.jenkinsfile
    ET.SubElement(definition, "lightweight").text = "true"
    ET.SubElement(root, "disabled").text = "false"
    ET.indent(root)
    return "<?xml version='1.1' encoding='UTF-8'?>\n" + ET.tostring(root, encoding="unicode") + "\n"


def folder_xml() -> str:
    return (
        "<?xml version='1.1' encoding='UTF-8'?>\n"
        '<com.cloudbees.hudson.plugins.folder.Folder plugin="cloudbees-folder">\n'
        f"  <description>{MARK}</description>\n"
        "</com.cloudbees.hudson.plugins.folder.Folder>\n"
    )


def same(rendered: str, live: str) -> bool:
    """Whether the live config holds what dsci renders: each element dsci writes, equal once normalized.

    Whitespace between elements and plugin versions (``plugin="git@5.2"``) do
    not count; elements Jenkins adds beside dsci's (``<actions/>``) do not either."""
    try:
        ours, theirs = ET.fromstring(rendered.encode()), ET.fromstring(live.encode())
    except ET.ParseError:
        return False
    if ours.tag != theirs.tag:
        return False
    for child in ours:
        match = theirs.find(child.tag)
        if match is None or _canonical(child) != _canonical(match):
            return False
    return True


def _canonical(element: ET.Element) -> tuple[Any, ...]:
    attributes = tuple(sorted((k, v) for k, v in element.attrib.items() if k != "plugin"))
    text = (element.text or "").strip()
    return (element.tag, attributes, text, tuple(_canonical(child) for child in element))
