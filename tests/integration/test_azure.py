"""ci.azure.sync through the azure-devops SDK, against an Azure DevOps look-alike over HTTP.

No Azure DevOps server can run here; tests/servers/azure.py answers the SDK's
discovery and the endpoints used, with the personal access token enforced.
"""

import pytest

from tests.integration.conftest import run_with
from tests.servers.azure import FakeAzureDevOps

pytestmark = pytest.mark.tool("invoke", "azure.devops")

TOKEN = "pat-123"


def settings(url, tmp_path, token=TOKEN):
    return {
        "INVOKE_CI_AZURE_ORGANIZATION": url,
        "INVOKE_CI_AZURE_PROJECT": "clinic",
        "AZURE_DEVOPS_PAT": token,
        "AZURE_DEVOPS_CACHE_DIR": str(tmp_path / "sdk-cache"),  # the SDK caches discovery answers there
    }


@pytest.fixture
def azure():
    with FakeAzureDevOps(project="clinic", token=TOKEN) as fake:
        yield fake


@pytest.fixture
def sync(example, invoke, azure, tmp_path):
    def run(*args, token=TOKEN, **env):
        return invoke(example, "ci.azure.sync", *args, **settings(azure.url, tmp_path, token), **env)

    return run


def test_sync_creates_the_pipeline_then_leaves_it_and_queues_a_run(sync, azure):
    first = sync()
    assert first.returncode == 0, first.stdout + first.stderr
    assert first.stdout.strip() == "created pipeline clinic (id 1): azure-pipelines/azure-pipelines.yml"
    assert azure.definitions[1]["process"]["yamlFilename"] == "azure-pipelines/azure-pipelines.yml"
    assert azure.definitions[1]["repository"]["id"] == azure.repositories["clinic"]
    second = sync("--run")
    assert second.returncode == 0, second.stdout + second.stderr
    assert second.stdout.splitlines()[0] == "pipeline clinic (id 1) runs azure-pipelines/azure-pipelines.yml"
    assert second.stdout.splitlines()[1].startswith("queued run 1 (inProgress): ")
    assert azure.writes == [("create", "clinic"), ("run", "1")]  # the unchanged pipeline was not written
    assert azure.runs[0]["resources"] == {"repositories": {"self": {"refName": "refs/heads/main"}}}


def test_a_pipeline_on_another_yaml_file_is_updated(sync, azure, example, invoke, tmp_path):
    assert sync().returncode == 0
    edit = ("ci:\n", "ci:\n  azure:\n    yaml: ci/pipeline.yml\n")
    done = run_with(example, invoke, *edit, "ci.azure.sync", **settings(azure.url, tmp_path))
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.strip() == (
        "updated pipeline clinic (id 1): azure-pipelines/azure-pipelines.yml -> ci/pipeline.yml"
    )
    assert azure.definitions[1]["process"]["yamlFilename"] == "ci/pipeline.yml"
    assert azure.definitions[1]["revision"] == 2


def test_a_wrong_token_is_one_line_exit_2_and_never_printed(sync, azure):
    done = sync(token="not-the-pat")
    assert done.returncode == 2, done.stdout + done.stderr
    assert "refused the personal access token" in done.stderr
    assert "not-the-pat" not in done.stdout + done.stderr and "Traceback" not in done.stderr
    assert azure.writes == []


def test_an_unknown_repository_is_named(sync):
    done = sync(INVOKE_CI_AZURE_REPOSITORY="clinc")
    assert done.returncode == 2, done.stdout + done.stderr
    assert (
        "reading the repository clinc: TF401019: The Git repository with name or identifier clinc"
        in done.stderr
    )


def test_a_missing_token_or_organization_says_which(example, invoke):
    done = invoke(
        example, "ci.azure.sync", INVOKE_CI_AZURE_ORGANIZATION="http://127.0.0.1:9/x", AZURE_DEVOPS_PAT=""
    )
    assert done.returncode == 2
    assert "AZURE_DEVOPS_PAT is not set: Azure DevOps needs a personal access token" in done.stderr
    unset = invoke(example, "ci.azure.sync", AZURE_DEVOPS_PAT=TOKEN)
    assert unset.returncode == 2 and "ci.azure.organization is not set" in unset.stderr


def test_an_azure_devops_that_does_not_answer_is_an_environment_error(example, invoke, tmp_path):
    done = invoke(example, "ci.azure.sync", **settings("http://127.0.0.1:9/contoso", tmp_path))
    assert done.returncode == 3, done.stdout + done.stderr
    assert "Azure DevOps at http://127.0.0.1:9/contoso did not answer" in done.stderr
    assert "Traceback" not in done.stderr
