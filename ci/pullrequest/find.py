"""Which pull request a CI build runs for, read from the CI's own variables.

GitHub Actions: the event payload (``GITHUB_EVENT_PATH``). Azure Pipelines:
``SYSTEM_PULLREQUEST_*``, for Azure Repos or a GitHub repository. Jenkins
multibranch: ``CHANGE_ID`` and ``CHANGE_URL``, the pull request's address on
GitHub or Azure Repos. Anywhere else, or on a push, there is none.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from urllib.parse import unquote, urlsplit

import msgspec

from ci.core.environment import AzurePipelines, GitHubActions
from ci.core.errors import ConfigError
from ci.core.settings import Baseline
from ci.model.baseline import MERGE_BASE

GITHUB_API = "https://api.github.com"


@dataclass(frozen=True)
class PullRequest:
    host: str  # "github" or "azure"
    number: int
    target: str  # the branch it merges into
    repository: str  # GitHub: owner/name; Azure Repos: the repository's id or name
    api: str  # GitHub: its REST API; Azure DevOps: the organization's URL
    project: str = ""  # Azure DevOps: the project
    run_url: str = ""  # the CI run, for the comment's links
    pipeline: str = ""  # whose comment it is: one per pipeline

    def describe(self) -> str:
        return f"pull request #{self.number} of {self.repository}"


def find(environ: Mapping[str, str]) -> PullRequest | None:
    """The pull request this build runs for; None on a push, or outside CI.

    Its ``pipeline`` names whose comment it is: the CI's pipeline, and the tenant when a job runs one
    (a settings file layered through INVOKE_RUNTIME_CONFIG), so each tenant keeps a comment of its own."""
    if environ.get("GITHUB_ACTIONS") == "true":
        found = _github_actions(environ)
    elif environ.get("TF_BUILD", "").lower() == "true":
        found = _azure_pipelines(environ)
    elif environ.get("JENKINS_URL") and environ.get("CHANGE_ID"):
        found = _jenkins(environ)
    else:
        return None
    tenant = Path(environ.get("INVOKE_RUNTIME_CONFIG", "")).stem
    if found is None or tenant in ("", "invoke"):
        return found
    return replace(found, pipeline=f"{found.pipeline} / {tenant}".lstrip(" /"))


def target_branch(environ: Mapping[str, str]) -> str:
    """The branch the build's pull request merges into, from the CI's variables; "" outside one."""
    for name in ("GITHUB_BASE_REF", "SYSTEM_PULLREQUEST_TARGETBRANCH", "CHANGE_TARGET"):
        if environ.get(name):
            return environ[name].removeprefix("refs/heads/")
    return ""


def built_branch(environ: Mapping[str, str]) -> str:
    """The branch a CI build checked out (detached, as CIs check out): its pull request's source branch,
    else the branch pushed; "" outside CI."""
    for name in ("GITHUB_HEAD_REF", "SYSTEM_PULLREQUEST_SOURCEBRANCH", "CHANGE_BRANCH", "GITHUB_REF_NAME",
                 "BUILD_SOURCEBRANCH", "BRANCH_NAME"):  # fmt: skip
        if environ.get(name):
            return environ[name].removeprefix("refs/heads/")
    return ""


def pushed_branch(environ: Mapping[str, str]) -> str:
    """The branch a CI build of a push (not of a pull request) builds; "" for any other build."""
    if environ.get("GITHUB_EVENT_NAME") == "push":
        return environ.get("GITHUB_REF", "").removeprefix("refs/heads/")
    if environ.get("BUILD_REASON") in ("IndividualCI", "BatchedCI"):
        return environ.get("BUILD_SOURCEBRANCH", "").removeprefix("refs/heads/")
    if environ.get("JENKINS_URL") and not environ.get("CHANGE_ID"):
        return environ.get("BRANCH_NAME", "")
    return ""


def follow_build(baseline: Baseline, environ: Mapping[str, str]) -> Baseline:
    """The model's baseline for this build: at the merge base with the pull request's target branch, or on a
    push to the main branch at the commit before; any other build keeps the settings as they are."""
    if baseline.rev != MERGE_BASE:
        return baseline
    target = target_branch(environ)
    if target:
        return msgspec.structs.replace(baseline, branch=target)
    if pushed_branch(environ) == baseline.branch:
        return msgspec.structs.replace(baseline, rev="HEAD^")
    return baseline


def _github_actions(environ: Mapping[str, str]) -> PullRequest | None:
    path = environ.get("GITHUB_EVENT_PATH", "")
    try:
        with open(path, encoding="utf-8") as f:
            event = json.load(f)
    except (OSError, ValueError) as error:
        raise ConfigError(f"GITHUB_EVENT_PATH: cannot read the event {path!r}: {error}") from None
    pull = event.get("pull_request")
    if not pull:
        return None
    return PullRequest(
        "github",
        int(pull["number"]),
        pull["base"]["ref"],
        environ.get("GITHUB_REPOSITORY", ""),
        environ.get("GITHUB_API_URL", GITHUB_API),
        run_url=GitHubActions(environ).run_url(),
        pipeline=environ.get("GITHUB_WORKFLOW", ""),
    )


def _azure_pipelines(environ: Mapping[str, str]) -> PullRequest | None:
    if not environ.get("SYSTEM_PULLREQUEST_PULLREQUESTID"):
        return None
    collection = environ.get("SYSTEM_COLLECTIONURI", "").rstrip("/")
    project = environ.get("SYSTEM_TEAMPROJECT", "")
    run_url = AzurePipelines(environ).run_url()
    pipeline, target = environ.get("BUILD_DEFINITIONNAME", ""), target_branch(environ)
    if environ.get("BUILD_REPOSITORY_PROVIDER", "").startswith("GitHub"):
        number = environ.get("SYSTEM_PULLREQUEST_PULLREQUESTNUMBER", "")
        repository = environ.get("BUILD_REPOSITORY_NAME", "")
        return PullRequest(
            "github", int(number), target, repository, GITHUB_API, run_url=run_url, pipeline=pipeline
        )
    number = environ["SYSTEM_PULLREQUEST_PULLREQUESTID"]
    repository = environ.get("BUILD_REPOSITORY_NAME") or environ.get("BUILD_REPOSITORY_ID", "")
    return PullRequest("azure", int(number), target, repository, collection, project, run_url, pipeline)


def _jenkins(environ: Mapping[str, str]) -> PullRequest:
    url, number = environ.get("CHANGE_URL", ""), int(environ["CHANGE_ID"])
    target, run_url = environ.get("CHANGE_TARGET", ""), environ.get("BUILD_URL", "")
    pipeline = environ.get("JOB_NAME", "").rpartition("/")[0]  # the multibranch job, not its PR-5 branch
    parts = urlsplit(url)
    if found := re.fullmatch(r"/([^/]+)/([^/]+)/pull/\d+/?", parts.path):
        api = GITHUB_API if parts.netloc == "github.com" else f"{parts.scheme}://{parts.netloc}/api/v3"
        return PullRequest("github", number, target, f"{found[1]}/{found[2]}", api,
                           run_url=run_url, pipeline=pipeline)  # fmt: skip
    if found := re.fullmatch(r"(/.+?)?/([^/]+)/_git/([^/]+)/pullrequest/\d+/?", parts.path):
        organization = f"{parts.scheme}://{parts.netloc}{found[1] or ''}"  # or a server's collection
        project, repository = unquote(found[2]), unquote(found[3])  # the SDK quotes them itself
        return PullRequest("azure", number, target, repository, organization, project, run_url, pipeline)
    raise ConfigError(
        f"CHANGE_URL: {url!r} is neither a GitHub nor an Azure Repos pull request; "
        "dsci comments only on those"
    )
