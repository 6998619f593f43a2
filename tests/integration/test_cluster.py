"""The kubernetes target: the official client, unchanged, over real HTTP to a look-alike of the API
server (tests/servers/kubernetes.py; no API server can run here). The Service's proxy reaches a real
model server: the built image, run with its identity mounted."""

from __future__ import annotations

import json
import re
import shutil
import time
import urllib.request
from pathlib import Path

import pytest
import yaml

from tests.integration.conftest import git, registry_env, releases, run_invoke
from tests.servers.kubernetes import FakeKubernetes

pytestmark = pytest.mark.tool("docker-engine", "registry", "kubernetes")


@pytest.fixture(scope="module")
def backend(built, keys):
    """The built image serving on a loopback port, as a pod of the cluster would."""
    import docker

    from ci import image

    tag = built[1]["tags"][0]
    engine = docker.from_env()
    identity = (keys / "model.age").read_text()
    with image.mounted(identity) as options:
        published = {"8000/tcp": ("127.0.0.1", None)}
        container = engine.containers.run(tag, detach=True, ports=published, **options)
        try:
            container.reload()
            url = f"http://127.0.0.1:{container.ports['8000/tcp'][0]['HostPort']}"
            for _ in range(120):
                try:
                    with urllib.request.urlopen(url + "/ready", timeout=2):
                        break
                except OSError:
                    time.sleep(0.5)
            yield url
        finally:
            container.remove(force=True)


@pytest.fixture
def cluster(backend, tmp_path):
    with FakeKubernetes() as fake:
        fake.backend = backend
        fake.add_secret("ml-staging", "clinic-identity")
        kubeconfig = tmp_path / "kubeconfig"
        kubeconfig.write_text(yaml.safe_dump({
            "apiVersion": "v1", "kind": "Config", "current-context": "lab",
            "clusters": [{"name": "lab", "cluster": {"server": fake.url}}],
            "users": [{"name": "ci", "user": {"token": fake.token}}],
            "contexts": [{"name": "lab", "context": {"cluster": "lab", "user": "ci"}}],
        }))  # fmt: skip
        yield fake, {"KUBECONFIG": str(kubeconfig)}


@pytest.fixture
def project(built, tmp_path):
    """The built example, its staging on a cluster, its image pushed."""
    folder = tmp_path / "clinic"
    shutil.copytree(built[0], folder, symlinks=True)
    settings = folder / "invoke.yaml"
    text = settings.read_text()
    staging = next(line for line in text.splitlines() if line.startswith("        namespace: staging-"))
    text = text.replace(
        f"        target: local\n{staging}\n",
        "        target: kubernetes\n        namespace: ml-staging\n",
        1,
    )
    assert "namespace: ml-staging" in text
    text = re.sub(r"\n        autoscale: false.*", "", text, count=1)  # with an autoscaler, on a cluster
    settings.write_text(text)
    git(folder, "commit", "--quiet", "--all", "--message", "staging on the cluster")
    done = run_invoke(folder, "ci.push", env=registry_env())
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    return folder


def deploy(folder: Path, environ: dict, **more: str):
    return run_invoke(folder, "ci.deploy", env={**registry_env(), **environ, **more})


def test_a_release_is_applied_server_side_rolled_out_and_smoke_tested_through_the_service(project, cluster):
    fake, environ = cluster
    done = deploy(project, environ)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "release 1 of staging serves" in done.stdout
    applied = [r for r in fake.requests if r["method"] == "PATCH"]
    assert {r["content_type"] for r in applied} == {"application/apply-patch+yaml"}
    assert all(r["query"] == {"fieldManager": ["dsci"], "force": ["true"]} for r in applied)
    rendered = list(yaml.safe_load_all((project / "build/ci/deploy/staging.yaml").read_text()))
    assert [json.loads(r["body"]) for r in applied] == rendered  # the very documents kustomize renders
    assert [r["path"] for r in applied] == [
        "/api/v1/namespaces/ml-staging/services/clinic",
        "/apis/apps/v1/namespaces/ml-staging/deployments/clinic",
        "/apis/policy/v1/namespaces/ml-staging/poddisruptionbudgets/clinic",
        "/apis/autoscaling/v2/namespaces/ml-staging/horizontalpodautoscalers/clinic",
        "/apis/networking.k8s.io/v1/namespaces/ml-staging/networkpolicies/clinic",
    ]
    smoke = [r for r in fake.requests if r["path"].endswith(":http/proxy/predict")]
    assert len(smoke) == 1 and len(json.loads(smoke[0]["body"])["rows"]) == 20
    (release,) = releases(project, "staging")
    assert release["status"] == "live"


@pytest.mark.parametrize(
    ("rollout", "said"),
    [
        ("crash", "clinic-7d9f-x2x4q: CrashLoopBackOff: back-off 10s restarting failed container"),
        ("pull", "clinic-7d9f-x2x4q: ErrImagePull: failed to pull image"),
        (
            "never",
            "ml-staging/clinic was not ready within 4 s (ci.deploy.timeout): 1 of 1 updated, 0 available",
        ),
        ("lie", "the release predicts otherwise than development: 20 label flips in 20 rows"),
    ],
)
def test_a_failed_rollout_is_undone_with_the_previous_release(project, cluster, rollout, said):
    fake, environ = cluster
    assert deploy(project, environ).returncode == 0
    fake.rollouts = [rollout]
    done = run_invoke(project, "ci.deploy", "--force", env={**registry_env(), **environ,
                                                             "INVOKE_CI_DEPLOY_TIMEOUT": "4"})  # fmt: skip
    assert done.returncode == 1, done.stdout[-3000:] + done.stderr[-3000:]
    (line,) = [line for line in done.stderr.splitlines() if line.startswith("error:")]
    assert said in line and "rolled back by itself: release 1" in line and "serves again" in line
    # The previous release's manifests applied again: the Deployment says release 1, and it answers.
    deployment = fake.deployment("ml-staging", "clinic")
    assert deployment["metadata"]["annotations"]["dsci.dev/release"] == "1"
    assert [r["status"] for r in releases(project, "staging")] == ["live", "failed"]


def test_a_missing_secret_stops_before_anything_is_applied(project, cluster):
    fake, environ = cluster
    fake.objects.clear()
    done = deploy(project, environ)
    assert done.returncode == 2, done.stdout[-2000:] + done.stderr[-2000:]
    assert (
        "the Secret clinic-identity is missing in the namespace ml-staging of " in done.stderr
        and "kubectl -n ml-staging create secret generic clinic-identity --from-file=identity=model.age"
        in done.stderr
    )
    assert not [r for r in fake.requests if r["method"] == "PATCH"]


def test_no_cluster_is_an_environment_error(project, tmp_path):
    missing = deploy(project, {"KUBECONFIG": str(tmp_path / "no-such-kubeconfig")})
    assert missing.returncode == 3 and "the kubernetes target needs a kubeconfig: none at " in missing.stderr
    with FakeKubernetes() as fake:
        address = fake.url
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(yaml.safe_dump({
        "apiVersion": "v1", "kind": "Config", "current-context": "gone",
        "clusters": [{"name": "gone", "cluster": {"server": address}}],
        "users": [{"name": "ci", "user": {"token": "t"}}],
        "contexts": [{"name": "gone", "context": {"cluster": "gone", "user": "ci"}}],
    }))  # fmt: skip
    down = deploy(project, {"KUBECONFIG": str(kubeconfig)})
    assert down.returncode == 3 and f"the Kubernetes API at {address} does not answer" in down.stderr
    # A kubeconfig given in the CI's secret that is no kubeconfig: said, never another cluster tried.
    wrong = deploy(project, {"DSCI_KUBECONFIG": "apiVersion: v1\nclusters: 5\n"})
    assert wrong.returncode == 2, wrong.stdout[-2000:] + wrong.stderr[-2000:]
    assert "the kubeconfig in ci.deploy.kubeconfig_env's variable: " in wrong.stderr
