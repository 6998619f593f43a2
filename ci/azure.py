"""Azure DevOps: the pipeline definition that runs the repository's azure-pipelines.yml, and queuing a run.

With the azure-devops SDK: the pipeline is created when missing (Pipelines
API); when it exists but runs another YAML file or repository, its build
definition is updated (Build API, the Pipelines API has no update); when it
matches, nothing is written. The personal access token comes from an
environment variable and is never printed.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar

from ci.core import settings
from ci.core.errors import ConfigError, EnvError
from ci.core.text import first_line


@dataclass
class Synced:
    action: str  # created, updated, unchanged
    pipeline_id: int
    name: str
    message: str
    run: str = ""  # the queued run: its id, state and URL


CHECK_TOKEN = (
    "check the variable ci.azure.token_env names, and that the token may read code and manage pipelines"
)


class Clients:
    """The SDK's git, pipelines and build clients for one organization (each made when first used), with
    dsci's errors. A refused ``token`` is named as ``credential``, and the message says what to ``check``."""

    def __init__(
        self,
        organization: str,
        token: str,
        *,
        credential: str = "personal access token",
        check: str = CHECK_TOKEN,
    ) -> None:
        try:
            from azure.devops.connection import Connection
            from msrest.authentication import BasicAuthentication
        except ImportError:
            raise EnvError(
                "the azure-devops SDK is not installed; install it with `pip install 'dsci[azure]'`"
            ) from None
        self.organization = organization.rstrip("/")
        self.credential, self.check = credential, check
        _errors_carry_status()
        connection = Connection(base_url=self.organization, creds=BasicAuthentication("", token))
        self._factory = connection.clients_v7_1

    @functools.cached_property
    def git(self) -> Any:
        return self.call("connecting", self._factory.get_git_client)

    @functools.cached_property
    def pipelines(self) -> Any:
        return self.call("connecting", self._factory.get_pipelines_client)

    @functools.cached_property
    def build(self) -> Any:
        return self.call("connecting", self._factory.get_build_client)

    def call(self, what: str, action: Callable[[], Any]) -> Any:
        from azure.devops import exceptions
        from msrest.exceptions import ClientRequestError

        try:
            return action()
        except exceptions.AzureDevOpsAuthenticationError:
            refused = f"refused the {self.credential} while {what}"
            raise ConfigError(f"Azure DevOps at {self.organization} {refused}: {self.check}") from None
        except (exceptions.AzureDevOpsServiceError, exceptions.AzureDevOpsClientRequestError) as error:
            status = getattr(error, "status_code", None)  # None: no answer came
            if status is None:
                refusal = isinstance(error, exceptions.AzureDevOpsServiceError)
            else:  # a 4xx is the request's fault; a 5xx or throttling (429) may pass on another try
                refusal = 400 <= status < 500 and status != 429
            if refusal:
                raise ConfigError(f"Azure DevOps, {what}: {first_line(error)}") from None
            raise EnvError(
                f"Azure DevOps at {self.organization} did not answer while {what}: {first_line(error)}"
            ) from None
        except ClientRequestError as error:
            raise EnvError(
                f"Azure DevOps at {self.organization} did not answer while {what}: {first_line(error)}"
            ) from None


@functools.cache
def _errors_carry_status() -> None:
    """The SDK's errors carry the HTTP status from now on (its exceptions drop it), so that a 5xx or a 429
    is told apart from a refusal; every client of the SDK, its discovery of the endpoints included."""
    from azure.devops.client import Client

    handle = Client._handle_error

    def handled(self: Any, request: Any, response: Any) -> None:
        try:
            handle(self, request, response)
        except Exception as error:
            error.status_code = response.status_code  # type: ignore[attr-defined]
            raise

    Client._handle_error = handled


def sync(cfg: settings.Azure, token: str, *, queue: bool = False) -> Synced:
    """Create or update the pipeline for ``cfg.yaml``; with ``queue``, start a run of ``cfg.branch``."""
    for key in ("organization", "project"):
        if not getattr(cfg, key):
            raise ConfigError(f"ci.azure.{key} is not set")
    project, repository = cfg.project, cfg.repository or cfg.project
    name = cfg.pipeline or repository
    clients = Clients(cfg.organization, token)
    repo = clients.call(
        f"reading the repository {repository}",
        lambda: clients.git.get_repository(repository_id=repository, project=project),
    )
    existing = clients.call(
        f"listing the pipelines of {project}", lambda: clients.pipelines.list_pipelines(project)
    )
    found = next((p for p in existing if p.name == name and (p.folder or "\\") == cfg.folder), None)
    if found is None:
        created = clients.call(f"creating the pipeline {name}", lambda: _create(clients, cfg, name, repo.id))
        synced = Synced("created", created.id, name, f"created pipeline {name} (id {created.id}): {cfg.yaml}")
    else:
        synced = _update(clients, cfg, found, repo.id)
    if queue:
        synced.run = clients.call(
            f"queuing a run of {name}", lambda: _queue(clients, cfg, synced.pipeline_id)
        )
    return synced


def _create(clients: Clients, cfg: settings.Azure, name: str, repository_id: str) -> Any:
    from azure.devops.v7_1.pipelines.models import (
        CreatePipelineConfigurationParameters,
        CreatePipelineParameters,
    )

    class YamlConfiguration(CreatePipelineConfigurationParameters):
        """The SDK's model knows only ``type``; the API also takes the YAML file and its repository."""

        _attribute_map: ClassVar[dict[str, dict[str, str]]] = {
            **CreatePipelineConfigurationParameters._attribute_map,
            "path": {"key": "path", "type": "str"},
            "repository": {"key": "repository", "type": "object"},
        }

        def __init__(self, path: str, repository: dict[str, str]) -> None:
            super().__init__(type="yaml")
            self.path, self.repository = path, repository

    configuration = YamlConfiguration(cfg.yaml, {"id": repository_id, "type": "azureReposGit"})
    parameters = CreatePipelineParameters(configuration=configuration, folder=cfg.folder, name=name)
    return clients.pipelines.create_pipeline(parameters, cfg.project)


def _update(clients: Clients, cfg: settings.Azure, found: Any, repository_id: str) -> Synced:
    project = cfg.project
    definition = clients.call(
        f"reading the pipeline {found.name}", lambda: clients.build.get_definition(project, found.id)
    )
    process = dict(definition.process or {})
    current_repo = getattr(definition.repository, "id", None)
    if process.get("yamlFilename") == cfg.yaml and current_repo == repository_id:
        return Synced(
            "unchanged", found.id, found.name, f"pipeline {found.name} (id {found.id}) runs {cfg.yaml}"
        )
    was = process.get("yamlFilename")
    definition.process = {**process, "type": 2, "yamlFilename": cfg.yaml}
    if current_repo != repository_id:
        definition.repository.id = repository_id
    clients.call(
        f"updating the pipeline {found.name}",
        lambda: clients.build.update_definition(definition, project, found.id),
    )
    return Synced(
        "updated",
        found.id,
        found.name,
        f"updated pipeline {found.name} (id {found.id}): {was} -> {cfg.yaml}",
    )


def _queue(clients: Clients, cfg: settings.Azure, pipeline_id: int) -> str:
    from azure.devops.v7_1.pipelines.models import (
        RepositoryResourceParameters,
        RunPipelineParameters,
        RunResourcesParameters,
    )

    branch = RepositoryResourceParameters(ref_name=f"refs/heads/{cfg.branch}")
    parameters = RunPipelineParameters(resources=RunResourcesParameters(repositories={"self": branch}))
    run = clients.pipelines.run_pipeline(parameters, cfg.project, pipeline_id)
    return f"run {run.id} ({run.state}): {run.url}"
