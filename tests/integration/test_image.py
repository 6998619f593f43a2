"""ci.image on the example: built with the network off, run, and asked for predictions over HTTP.

Needs the services of `dsci services up` (a Docker engine, the offline base image).
"""

import io
import json
import re
import socket
import tarfile
import time
import urllib.error
import urllib.request

import joblib
import pandas as pd
import pytest

from tests.integration.conftest import run_with, stage_report

pytestmark = pytest.mark.tool("invoke", "git", "build", "docker", "docker-engine")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def serving(built, keys):
    """The built image serving on a port, its bundle's age identity mounted as a Secret would be."""
    import docker

    from ci.image import mounted

    folder, image = built
    port = free_port()
    with mounted((keys / "model.age").read_text()) as secret:
        container = docker.from_env().containers.run(
            image["tags"][0], detach=True, ports={"8000/tcp": ("127.0.0.1", port)}, remove=False, **secret
        )
        base = f"http://127.0.0.1:{port}"
        try:
            for _ in range(120):
                try:
                    urllib.request.urlopen(f"{base}/health", timeout=1)
                    break
                except (urllib.error.URLError, ConnectionError, OSError):
                    time.sleep(0.25)
            yield base, folder
        finally:
            container.remove(force=True)


def call(url, body=None):
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def test_the_image_serves_health_readiness_metadata_and_predictions(serving, built):
    base, folder = serving
    assert call(f"{base}/health") == (200, {"status": "ok"})
    assert call(f"{base}/ready")[1]["status"] == "ready"
    status, metadata = call(f"{base}/metadata")
    assert status == 200 and metadata["name"] == "clinic" and metadata["git"]["dirty"] is False
    holdout = pd.read_csv(folder / "data" / "holdout.csv")
    features = holdout.drop(columns=["patient_id", "clinic", "malignant"])
    status, answer = call(f"{base}/predict", {"rows": features.head(20).to_dict(orient="records")})
    assert status == 200
    local = joblib.load(folder / "models" / "model.joblib")
    assert answer["predictions"] == local.predict(features.head(20)).tolist()
    assert (
        answer["probabilities"] == local.predict_proba(features.head(20)).tolist()
    )  # the same wheels, bit for bit


@pytest.mark.parametrize(
    "body", [{"rows": "nope"}, {"rows": []}, {"rows": [{"mean_radius": 1.0}]}, ["not", "rows"]]
)
def test_a_malformed_request_gets_422_and_a_message(serving, body):
    base, _ = serving
    status, answer = call(f"{base}/predict", body)
    assert status == 422 and answer["error"]


def test_rows_reach_the_model_as_an_array_and_a_bad_one_is_named(serving, built):
    """The example's features are all numbers: the image serves them as one float array (and says so in
    serving.json); a row with a missing column or a word gets 422 naming it."""
    base, folder = serving
    served = json.loads((folder / "build/ci/image/context/app/serving.json").read_text())
    assert served["features"][:2] == ["mean_radius", "mean_texture"] and len(served["features"]) == 30
    row = dict.fromkeys(served["features"], 1.0)
    assert call(f"{base}/predict", {"rows": [row]})[0] == 200
    status, answer = call(f"{base}/predict", {"rows": [{**row, "mean_radius": "big"}]})
    assert (
        status == 422 and answer["error"] == "every value must be a number: the model's columns are numeric"
    )
    del row["worst_area"]
    status, answer = call(f"{base}/predict", {"rows": [row]})
    assert status == 422 and answer["error"].startswith(
        "missing column worst_area: the model takes mean_radius"
    )


def test_a_body_over_the_limit_gets_413_naming_it(serving):
    """Refused from its Content-Length, before the body is read: the client that waits hears why."""
    base, _ = serving
    host, port = base.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as connection:
        connection.sendall(b"POST /predict HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                           b"Content-Length: 20000000\r\n\r\n" + b"{" * 1000)  # fmt: skip
        answer = b""
        while b"}" not in answer:
            answer += connection.recv(4096) or b"}"
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 413 ")
    assert json.loads(body) == {
        "error": "the request body is 20000000 bytes, over the limit of 10000000 (ci.image.max_body)"
    }


def test_frames_serve_as_before_and_the_server_takes_its_settings(built, invoke):
    folder, _ = built
    done = invoke(folder, "ci.image", INVOKE_CI_IMAGE_PREDICT="frames", INVOKE_CI_IMAGE_WORKERS="3")
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    assert json.loads((folder / "build/ci/image/context/app/serving.json").read_text())["features"] == []
    dockerfile = (folder / "build/ci/image/context/Dockerfile").read_text()
    assert 'ENV GUNICORN_CMD_ARGS="--workers 3 --threads 4 --worker-class gthread --timeout 60' in dockerfile
    assert invoke(folder, "ci.image").returncode == 0  # as the session built it, from the stage cache


def test_the_image_has_labels_a_user_and_a_healthcheck(built):
    import docker

    _, image = built
    config = docker.from_env().images.get(image["id"]).attrs["Config"]
    assert config["User"] == "serve"
    assert config["Labels"]["dev.dsci.bundle.sha256"] == image["bundle_sha256"]
    assert len(config["Labels"]["org.opencontainers.image.revision"]) == 40
    assert config["Healthcheck"]["Test"][0] == "CMD"


def test_a_missing_base_image_exits_3_saying_how_to_get_one(built, invoke):
    folder, _ = built
    done = run_with(
        folder, invoke, "base: dsci/python-base:3.11-bookworm", "base: dsci/no-such-base:1", "ci.image"
    )
    assert done.returncode == 3
    assert done.stderr.strip() == (
        "error: base image dsci/no-such-base:1 is not available: `docker pull dsci/no-such-base:1`, "
        "or build one offline with `dsci services up`; or leave the stages that need it out "
        "(ci.all.skip: [image, push, parity])"
    )


def registry_env():
    from tests.integration.conftest import REPO

    text = (REPO / "build" / "services" / "registry.env").read_text()
    return dict(line.split("=", 1) for line in text.split())


@pytest.mark.tool("registry")
def test_push_with_credentials_and_the_registry_serves_the_same_digest(built, invoke):
    import docker
    import requests

    folder, image = built
    credentials = registry_env()
    done = invoke(folder, "ci.push", **credentials)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr
    assert credentials["DSCI_REGISTRY_PASSWORD"] not in done.stdout + done.stderr
    report = json.loads((folder / "build" / "ci" / "report.json").read_text())
    pushed = next(s for s in report["stages"] if s["name"] == "push")["checks"][0]["details"]
    registry, user, password = (
        credentials[k] for k in ("DSCI_REGISTRY", "DSCI_REGISTRY_USER", "DSCI_REGISTRY_PASSWORD")
    )
    tags = requests.get(f"http://{registry}/v2/clinic/tags/list", auth=(user, password), timeout=10).json()
    assert pushed["tag"] in tags["tags"]
    client = docker.from_env()
    client.images.remove(f"{registry}/clinic:{pushed['tag']}", force=True)
    pulled = client.images.pull(
        f"{registry}/clinic", tag=pushed["tag"], auth_config={"username": user, "password": password}
    )
    assert f"{registry}/clinic@{pushed['digest']}" in pulled.attrs["RepoDigests"]
    assert pulled.id == image["id"]


@pytest.mark.tool("registry")
def test_a_push_without_credentials_is_refused_and_said_so(built, invoke):
    folder, _ = built
    done = invoke(folder, "ci.push", DSCI_REGISTRY_USER="", DSCI_REGISTRY_PASSWORD="")
    assert done.returncode == 2
    assert done.stderr.strip() == (
        "error: 127.0.0.1:5000 refused the push: no basic auth credentials; "
        "set DSCI_REGISTRY_USER and DSCI_REGISTRY_PASSWORD"
    )


@pytest.mark.tool("registry")
def test_a_wrong_password_says_so_without_printing_it(built, invoke):
    folder, _ = built
    secret = "not-the-password-4711"
    done = invoke(folder, "ci.push", DSCI_REGISTRY_USER="dsci", DSCI_REGISTRY_PASSWORD=secret)
    assert done.returncode == 2
    assert done.stderr.strip() == (
        "error: login to 127.0.0.1:5000 as dsci was refused (401 Unauthorized); check DSCI_REGISTRY_PASSWORD"
    )
    written = "".join(
        p.read_text() for p in (folder / "build" / "ci").glob("*.*") if p.suffix in (".json", ".md", ".xml")
    )
    assert secret not in done.stdout + done.stderr + written


def test_a_registry_that_does_not_answer_is_an_environment_error(built, invoke):
    folder, _ = built
    done = run_with(
        folder, invoke, "registry: 127.0.0.1:5000", "registry: 127.0.0.1:5999\n    retries: 2", "ci.push",
        DSCI_REGISTRY_USER="dsci", DSCI_REGISTRY_PASSWORD="x",
    )  # fmt: skip
    assert done.returncode == 3
    assert done.stderr.strip().startswith("error: login to 127.0.0.1:5999 failed 2 times, last: ")


MOTO = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": "us-east-1"}


@pytest.mark.tool("moto-server", "ecr-registry", "boto3")
def test_ecr_creates_the_repository_fetches_the_token_and_pushes_with_it(built, invoke):
    """moto's ECR has no registry endpoint: the push goes to a local registry that stands in for it,
    configured with the credentials moto's (fixed) token decodes to, AWS:123456789012-auth-token."""
    import boto3
    import requests

    folder, _ = built
    ecr = {
        "INVOKE_CI_PUSH_KIND": "ecr",
        "INVOKE_CI_PUSH_REGISTRY": "127.0.0.1:5002",
        "INVOKE_CI_PUSH_AWS_ENDPOINT_URL": "http://127.0.0.1:5001",
        "INVOKE_CI_PUSH_REPOSITORY": "team/clinic",
    }
    done = invoke(folder, "ci.push", **MOTO, **ecr)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr
    client = boto3.client("ecr", region_name="us-east-1", endpoint_url="http://127.0.0.1:5001", **{
        "aws_access_key_id": "testing", "aws_secret_access_key": "testing",
    })  # fmt: skip
    names = [r["repositoryName"] for r in client.describe_repositories()["repositories"]]
    assert "team/clinic" in names
    report = json.loads((folder / "build" / "ci" / "report.json").read_text())
    pushed = next(s for s in report["stages"] if s["name"] == "push")["checks"][0]["details"]
    assert pushed["kind"] == "ecr" and pushed["repository"] == "127.0.0.1:5002/team/clinic"
    tags = requests.get(
        "http://127.0.0.1:5002/v2/team/clinic/tags/list", auth=("AWS", "123456789012-auth-token"), timeout=10
    ).json()
    assert pushed["tag"] in tags["tags"]
    assert "123456789012-auth-token" not in done.stdout + done.stderr


@pytest.mark.tool("registry")
def test_no_credential_ends_up_in_the_image(built, tmp_path):
    import docker

    _, image = built
    secret = registry_env()["DSCI_REGISTRY_PASSWORD"].encode()
    saved = tmp_path / "image.tar"
    with open(saved, "wb") as f:
        for chunk in docker.from_env().images.get(image["id"]).save(named=False):
            f.write(chunk)
    with tarfile.open(saved) as outer:
        for member in outer.getmembers():
            if member.isfile():
                assert secret not in outer.extractfile(member).read(), member.name


def test_a_base_with_another_python_is_refused_before_the_build(built, invoke):
    import docker

    folder, _ = built
    fake = (
        "FROM dsci/python-base:3.11-bookworm\n"
        "RUN printf '#!/bin/sh\\necho 3.12\\n' > /usr/local/bin/python3 && chmod +x /usr/local/bin/python3\n"
    )
    docker.from_env().images.build(
        fileobj=io.BytesIO(fake.encode()), tag="dsci/fake-python:3.12", network_mode="none"
    )
    done = run_with(
        folder, invoke, "base: dsci/python-base:3.11-bookworm", "base: dsci/fake-python:3.12", "ci.image"
    )
    assert done.returncode == 2
    assert done.stderr.strip().startswith(
        "error: ci.image.base: dsci/fake-python:3.12 runs Python 3.12, but dsci runs under 3.11"
    )


def test_an_image_over_its_size_budget_fails_naming_its_largest_layers_and_distributions(built, invoke):
    folder, _ = built
    over = invoke(folder, "ci.image", INVOKE_CI_IMAGE_MAX_SIZE="100MB")
    assert over.returncode == 1, over.stdout[-2000:] + over.stderr[-2000:]
    checks, _ = stage_report(folder, "image")
    said = checks["image size"]["message"]
    assert re.match(
        r"\d+ MiB is over ci.image.max_size 100MB; largest layers: \d+ MiB COPY /opt/venv", said
    ), said
    distributions = dict(checks["image size"]["details"]["distributions"])
    assert (
        "scikit-learn" in said.split("largest distributions: ")[1] and distributions["scikit-learn"] > 2**20
    )
    assert not (folder / "build/ci/image/image.json").exists()  # nothing for push to push

    bad = invoke(folder, "ci.image", INVOKE_CI_IMAGE_MAX_SIZE="3 gigs")
    assert bad.returncode == 2
    assert bad.stderr.strip() == (
        "error: ci.image.max_size: '3 gigs' is not a size; write it as 800MB, 1.5GB or 700MiB"
    )

    within = invoke(folder, "ci.image", INVOKE_CI_IMAGE_MAX_SIZE="2GB")
    assert within.returncode == 0
    assert "within ci.image.max_size 2GB" in stage_report(folder, "image")[0]["image size"]["message"]
    back = invoke(folder, "ci.image")  # as the session built it: restored from the stage cache
    assert back.returncode == 0 and "✔ image cached" in back.stdout
    assert (folder / "build/ci/image/image.json").is_file()


@pytest.mark.tool("registry")
def test_an_azure_style_token_pushes_through_the_generic_path(built, invoke):
    """An ACR token is a user name and a password like any other: only the variables' names differ."""
    folder, _ = built
    credentials = registry_env()
    done = invoke(
        folder,
        "ci.push",
        INVOKE_CI_PUSH_USERNAME_ENV="ACR_TOKEN_NAME",
        INVOKE_CI_PUSH_PASSWORD_ENV="ACR_TOKEN_PASSWORD",
        ACR_TOKEN_NAME=credentials["DSCI_REGISTRY_USER"],
        ACR_TOKEN_PASSWORD=credentials["DSCI_REGISTRY_PASSWORD"],
        DSCI_REGISTRY_USER="",
        DSCI_REGISTRY_PASSWORD="",
    )
    assert done.returncode == 0, done.stderr


def test_system_packages_must_come_with_the_base_because_the_build_is_offline(built, invoke):
    folder, _ = built
    base = "base: dsci/python-base:3.11-bookworm"
    with_packages = f"{base}\n    system_packages: [ca-certificates, libgomp1]"
    done = run_with(folder, invoke, base, with_packages, "ci.image")
    assert done.returncode == 2
    assert done.stderr.strip() == (
        "error: ci.image.system_packages: libgomp1 not in the base image dsci/python-base:3.11-bookworm, "
        "and the build is offline; build a base with them (`DSCI_BASE_PACKAGES=libgomp1 "
        "DSCI_BASE_IMAGE=<tag> dsci services up`) and set ci.image.base to it"
    )
