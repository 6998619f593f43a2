"""Jenkins: pipeline jobs seeded from a YAML file with python-jenkins, and a digest of the failing ones.

The jobs file lists each job (name, folder, repository, branch, Jenkinsfile,
cron schedule, mail recipients). ``seed`` renders each job's config.xml (a
pipeline job from SCM), creates the missing jobs, updates those whose
rendered XML differs from the live one, leaves the rest untouched (no write
call), and with ``prune`` deletes the jobs dsci manages (marked in their
description) that left the file. ``plan`` says what would change and changes
nothing.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ci.core.config import ListOf, Record, Str, complaint, locate
from ci.core.errors import ConfigError, EnvError
from ci.core.retries import Transient, with_retries
from ci.core.text import display, first_line

MARK = "Managed by dsci (ci.jenkins.seed): change the jobs file, not this page."
MAIL_PARAMETER = "DSCI_MAIL_TO"  # a job parameter: ci.notify mails these recipients too

JOB = Record(
    {
        "name": Str(),
        "folder": Str(),
        "repository": Str(),
        "branch": Str(),
        "jenkinsfile": Str(),
        "cron": Str(),
        "recipients": ListOf(Str()),
        "credentials": Str(),
        "description": Str(),
    },
    expected="a job",
    required=("name", "repository"),
)
JOBS_FILE = Record({"jobs": ListOf(JOB)}, expected="a mapping with a list of jobs", required=("jobs",))


@dataclass(frozen=True)
class Job:
    name: str
    repository: str
    folder: str = ""
    branch: str = "main"
    jenkinsfile: str = "Jenkinsfile"
    cron: str = ""
    recipients: tuple[str, ...] = ()
    credentials: str = ""
    description: str = ""

    @property
    def full_name(self) -> str:
        return f"{self.folder}/{self.name}" if self.folder else self.name


@dataclass
class Plan:
    """What seeding changes: jobs to create, update and delete, and those left as they are."""

    create: list[str] = field(default_factory=list)
    update: list[str] = field(default_factory=list)
    delete: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    folders: list[str] = field(default_factory=list)  # folders to create first


# The jobs file ----------------------------------------------------------------

_CRON_ALIASES = {"@yearly", "@annually", "@monthly", "@weekly", "@daily", "@midnight", "@hourly"}
_CRON_FIELDS = (
    ("minute", 0, 59),
    ("hour", 0, 23),
    ("day of month", 1, 31),
    ("month", 1, 12),
    ("day of week", 0, 7),
)
_CRON_TERM = re.compile(r"^(?:\*|H(?:\((\d+)-(\d+)\))?|(\d+)(?:-(\d+))?)(?:/(\d+))?$")


def cron_problem(spec: str) -> str | None:
    """What is wrong with a Jenkins cron spec (one schedule per line, H for a hashed value), or None."""
    for line in spec.splitlines():
        line = line.split("#", 1)[0].strip()
        if not line or line in _CRON_ALIASES:
            continue
        fields = line.split()
        if len(fields) != 5:
            return (
                f"{line!r} has {len(fields)} fields, not 5 (minute hour day month weekday), nor is it @daily"
            )
        for text, (what, low, high) in zip(fields, _CRON_FIELDS, strict=True):
            for term in text.split(","):
                match = _CRON_TERM.match(term)
                if not match:
                    return f"{what} {term!r} is not *, H, H(a-b), a number or a range, with an optional /step"
                numbers = [int(n) for n in match.groups()[:4] if n is not None]
                if any(n < low or n > high for n in numbers):
                    return f"{what} {term!r} is out of range {low}-{high}"
                if match.group(5) is not None and int(match.group(5)) == 0:
                    return f"{what} {term!r} has a step of 0"
    return None


def read_jobs(path: Path) -> list[Job]:
    """The jobs of a jobs file; ConfigError naming the file, line and key for anything wrong."""
    import yaml

    if not path.is_file():
        raise ConfigError(
            f"ci.jenkins.jobs: {display(path)}: no such file; `invoke ci.init --provider jenkins` writes one"
        )
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark
        at = f":{mark.line + 1}" if mark else ""
        raise ConfigError(f"{display(path)}{at}: not valid YAML: {error.problem}") from None
    except (yaml.YAMLError, UnicodeDecodeError) as error:
        raise ConfigError(f"{display(path)}: cannot be read as YAML: {error}") from None

    def where(keys: tuple[str, ...]) -> str:
        return locate(path, keys)

    found = JOBS_FILE.problem(data)
    if found:
        raise complaint(found, data, where, root="")
    jobs, seen = [], {}
    for index, entry in enumerate(data["jobs"]):
        job = Job(**{k: tuple(v) if k == "recipients" else v for k, v in entry.items()})
        at = ("jobs", f"[{index}]")
        for key, value in (("name", job.name), ("folder", job.folder)):
            bad = [part for part in value.split("/") if not part or part in {".", ".."}] if value else []
            if (key == "name" and ("/" in value or not value.strip())) or bad:
                raise ConfigError(
                    f"{where((*at, key))}: jobs[{index}].{key} {value!r} is not a Jenkins item name"
                )
        if job.full_name in seen:
            raise ConfigError(
                f"{where(at)}: jobs[{index}] is a second job named {job.full_name!r} "
                f"(the first is jobs[{seen[job.full_name]}])"
            )
        seen[job.full_name] = index
        problem = cron_problem(job.cron)
        if problem:
            raise ConfigError(f"{where((*at, 'cron'))}: jobs[{index}].cron: {problem}")
        jobs.append(job)
    return jobs


# config.xml -------------------------------------------------------------------


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


# The server -------------------------------------------------------------------


class Server:
    """python-jenkins with dsci's errors: one line for 401/403/404, bounded retries for 5xx and drops."""

    def __init__(self, url: str, user: str, token: str, *, retries: int = 3, timeout: float = 30) -> None:
        try:
            import jenkins
        except ImportError:
            raise EnvError(
                "python-jenkins is not installed; install it with `pip install 'dsci[jenkins]'`"
            ) from None
        self.url, self.retries = url, retries
        self._jenkins = jenkins
        self.api = _client(jenkins)(url, username=user, password=token, timeout=timeout, retries=0)

    def call(self, what: str, action: Callable[[], Any]) -> Any:
        return with_retries(
            lambda: self._guarded(what, action), tries=self.retries, what=f"{what} on {self.url}"
        )

    def _guarded(self, what: str, action: Callable[[], Any]) -> Any:
        import requests

        try:
            return action()
        except _Refused as error:  # as for registries: fix the credentials' variables
            raise ConfigError(
                f"Jenkins at {self.url} refused {what} ({error}): check the user and API token in "
                "ci.jenkins.user_env and ci.jenkins.token_env, and that the user may configure jobs"
            ) from None
        except (requests.ConnectionError, self._jenkins.TimeoutException) as error:
            raise Transient(f"no answer ({type(error).__name__})") from None
        except self._jenkins.NotFoundException:
            raise EnvError(
                f"Jenkins at {self.url} answered 404 to {what}: is ci.jenkins.url the root URL of a Jenkins?"
            ) from None
        except self._jenkins.JenkinsException as error:
            raise EnvError(f"Jenkins at {self.url}, {what}: {first_line(error)}") from None
        except requests.HTTPError as error:  # another 4xx: say what Jenkins said
            said = (error.response.text or "").strip().splitlines()[:1] or [error.response.reason]
            raise EnvError(
                f"Jenkins at {self.url} answered {error.response.status_code} to {what}: {said[0]}"
            ) from None

    def check(self) -> str:
        """Who we are on Jenkins: proves the URL and the credentials before any change."""
        return self.call("whoAmI", lambda: self.api.get_whoami())["id"]

    def config(self, name: str) -> str | None:
        def get() -> str | None:
            try:
                return self.api.get_job_config(name)
            except self._jenkins.NotFoundException:
                return None

        return self.call(f"reading {name}", get)

    def create(self, name: str, xml: str) -> None:
        folder, _, short = name.rpartition("/")
        url = self.api._build_url(f"{_folder_url(folder)}createItem?name={_quote(short)}")
        self.call(f"creating {name}", lambda: self._post(url, xml))

    def update(self, name: str, xml: str) -> None:
        folder, _, short = name.rpartition("/")
        url = self.api._build_url(f"{_folder_url(folder)}job/{_quote(short)}/config.xml")
        self.call(f"updating {name}", lambda: self._post(url, xml))

    def delete(self, name: str) -> None:
        self.call(f"deleting {name}", lambda: self.api.delete_job(name))

    def jobs(self) -> list[dict[str, Any]]:
        return self.call("listing the jobs", lambda: self.api.get_all_jobs())

    def info(self, name: str) -> dict[str, Any] | None:
        def get() -> dict[str, Any] | None:
            try:
                return self.api.get_job_info(name)
            except self._jenkins.JenkinsException:  # python-jenkins' word for a job that is not there
                return None

        return self.call(f"reading {name}", get)

    def build(self, name: str, number: int) -> dict[str, Any]:
        return self.call(f"reading {name} #{number}", lambda: self.api.get_build_info(name, number))

    def _post(self, url: str, xml: str) -> None:
        import requests

        headers = {"Content-Type": "text/xml; charset=utf-8"}
        self.api.jenkins_open(requests.Request("POST", url, data=xml.encode("utf-8"), headers=headers))


class _Refused(Exception):
    pass


def _client(jenkins: Any) -> type:
    """python-jenkins' client, with answers sorted before it lumps 401, 403 and 500 into one exception."""

    class Client(jenkins.Jenkins):
        def _response_handler(self, response: Any) -> Any:
            status = response.status_code
            if status >= 500:
                raise Transient(f"{status} {response.reason}")
            if status in (401, 403):
                raise _Refused(f"{status} {response.reason}")
            return super()._response_handler(response)

    return Client


def _folder_url(folder: str) -> str:
    return "".join(f"job/{_quote(part)}/" for part in folder.split("/") if part)


def _quote(part: str) -> str:
    from urllib.parse import quote

    return quote(part, safe="")


# Seeding ----------------------------------------------------------------------


def plan(server: Server, jobs: Sequence[Job], *, prune: bool = False) -> tuple[Plan, dict[str, str]]:
    """What seeding would change, and each job's rendered XML; reads only."""
    result, rendered = Plan(), {}
    listed = {job["fullname"]: job for job in server.jobs()}
    folders = sorted({f for job in jobs if job.folder for f in _parents(job.folder)})
    result.folders = [folder for folder in folders if folder not in listed]
    for job in jobs:
        xml = rendered[job.full_name] = render(job)
        live = server.config(job.full_name) if job.full_name in listed else None
        if live is None:
            result.create.append(job.full_name)
        elif same(xml, live):
            result.unchanged.append(job.full_name)
        else:
            result.update.append(job.full_name)
    if prune:  # jobs only: a folder ("jobs" in its listing) stays, whatever it holds
        wanted = {job.full_name for job in jobs}
        for name, item in sorted(listed.items()):
            if name in wanted or "jobs" in item:
                continue
            if MARK in ((server.info(name) or {}).get("description") or ""):
                result.delete.append(name)
    return result, rendered


def apply(
    server: Server, planned: Plan, rendered: Mapping[str, str], on_change: Callable[[str], None]
) -> None:
    for folder in planned.folders:
        server.create(folder, folder_xml())
        on_change(f"created folder {folder}")
    for name in planned.create:
        server.create(name, rendered[name])
        on_change(f"created {name}")
    for name in planned.update:
        server.update(name, rendered[name])
        on_change(f"updated {name}")
    for name in planned.delete:
        server.delete(name)
        on_change(f"deleted {name}")


def _parents(folder: str) -> Iterable[str]:
    parts = folder.split("/")
    return ("/".join(parts[: i + 1]) for i in range(len(parts)))


# Failing jobs -----------------------------------------------------------------


@dataclass
class Failure:
    """A managed job whose last completed build failed, and since when."""

    job: str
    number: int
    result: str
    url: str
    since_number: int  # the first build of the failing streak
    since: float  # its start, seconds since the epoch


def failing(server: Server, jobs: Sequence[Job]) -> tuple[list[Failure], list[str]]:
    """The jobs whose last completed build failed (or is unstable), and the jobs Jenkins does not have."""
    found, missing = [], []
    for job in jobs:
        info = server.info(job.full_name)
        if info is None:
            missing.append(job.full_name)
            continue
        last = info.get("lastCompletedBuild")
        if not last:
            continue
        build = server.build(job.full_name, last["number"])
        if build.get("result") not in ("FAILURE", "UNSTABLE"):
            continue
        good = info.get("lastSuccessfulBuild")
        first = good["number"] + 1 if good else 1
        started = build if first == last["number"] else server.build(job.full_name, first)
        found.append(
            Failure(
                job.full_name,
                last["number"],
                build["result"],
                build["url"],
                first,
                started["timestamp"] / 1000,
            )
        )
    return found, missing


def digest(failures: Sequence[Failure], managed: int, url: str, now: float) -> str:
    """The failing jobs as a Markdown table, the longest streak first."""
    from datetime import UTC, datetime

    lines = [
        f"{len(failures)} of the {managed} jobs dsci manages on {url} are failing.",
        "",
        "| job | last build | failing since | for | link |",
        "| --- | --- | --- | --- | --- |",
    ]
    for f in sorted(failures, key=lambda f: f.since):
        when = datetime.fromtimestamp(f.since, UTC).strftime("%Y-%m-%d %H:%M UTC")
        since = f"#{f.since_number}, {when}"
        lines.append(f"| {f.job} | #{f.number} {f.result} | {since} | {_age(now - f.since)} | {f.url} |")
    return "\n".join(lines) + "\n"


def _age(seconds: float) -> str:
    minutes = int(max(seconds, 0) // 60)
    days, hours, minutes = minutes // 1440, minutes // 60 % 24, minutes % 60
    if days:
        return f"{days} d {hours} h"
    return f"{hours} h {minutes} min" if hours else f"{minutes} min"
