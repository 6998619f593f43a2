"""ci.deploy for real: podman runs the rendered manifests, the image pulled from the registry; broken builds
roll back by themselves; ci.rollback; production's sign-offs; the manifests against kubectl kustomize."""

from __future__ import annotations

import io
import json
import re
import shutil
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
import yaml

from tests.integration.conftest import git, registry_env, releases, run_invoke

pytestmark = pytest.mark.tool("docker-engine", "registry", "podman")

KUBECTL = str(Path(sys.executable).parent / "kubectl")


@pytest.fixture(scope="module")
def project(built, keys, tmp_path_factory):
    """The built example, copied, with environments of its own (no other test's pods clash with its
    pods), a qa key trusted for production's sign-off, and its image pushed."""
    source, _ = built
    folder = tmp_path_factory.mktemp("deploy") / "clinic"
    shutil.copytree(source, folder, symlinks=True)
    people = tmp_path_factory.mktemp("people")
    for person in ("qa", "stranger"):
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", f"{person}@clinic.example",
                        "-f", str(people / person)], check=True)  # fmt: skip
    settings = folder / "invoke.yaml"
    text = settings.read_text().replace(f"{keys}/qa.pub", str(people / "qa.pub"))
    assert str(people / "qa.pub") in text
    copy = uuid.uuid4().hex[:4]  # namespaces of this copy's own, not those of the built example's
    text = re.sub(r"namespace: (\w+-\w+)-\w+\n", lambda found: f"namespace: {found[1]}-{copy}\n", text)
    environments = yaml.safe_load(text)["ci"]["deploy"]["environments"]
    spaces = {name: environments[name]["namespace"] for name in ("staging", "production")}
    settings.write_text(text)
    git(folder, "commit", "--quiet", "--all", "--message", "environments of the deploy tests")
    env = registry_env()
    done = run_invoke(folder, "ci.push", env=env)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    return folder, spaces, people, env


def serving(project) -> dict:
    """The release of staging that serves, deployed first when none does (a test alone needs one)."""
    folder, _, _, env = project
    if not any(r["status"] == "live" for r in releases(folder, "staging")):
        done = run_invoke(folder, "ci.deploy", env=env)
        assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    return [r for r in releases(folder, "staging") if r["status"] == "live"][-1]


def serves(namespace: str, replicas: int = 1) -> list[dict]:
    """What each pod of the environment answers to /predict for one golden row, asked at its address."""
    from ci.deploy.local import address_of, request

    answers = []
    for index in range(replicas):
        address = address_of(f"{namespace}-clinic-pod-{index}")
        assert address, f"{namespace}-clinic-pod-{index} has no address: it does not run"
        status, answer = request(f"http://{address}:8000/ready")
        assert status == 200, answer
        answers.append(answer)
    return answers


def variant(folder: Path, env: dict[str, str], tag: str, dockerfile: str) -> None:
    """A broken build of the good image (one more layer), pushed as the candidate by ci.push."""
    import docker

    work = folder / "build" / "ci" / "image" / "image.json"
    good = json.loads(work.read_text())
    engine = docker.from_env()
    built = dockerfile.format(base=good["tags"][0])
    engine.images.build(fileobj=io.BytesIO(built.encode()), tag=tag, network_mode="none", rm=True)
    work.write_text(json.dumps({**good, "tags": [tag]}))
    try:
        done = run_invoke(folder, "ci.push", env=env)
        assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    finally:
        work.write_text(json.dumps(good))


def good_candidate(folder: Path, env: dict[str, str]) -> None:
    done = run_invoke(folder, "ci.push", env=env)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]


@pytest.mark.tool("kubernetes_validate")
def test_the_rendered_manifests_are_kustomizes_and_valid(project):
    folder, spaces, _, env = project
    for name in ("staging", "production"):  # without an autoscaler, and with one
        done = run_invoke(folder, "ci.deploy.render", "--env", name, env=env)
        assert done.returncode == 0, done.stdout + done.stderr
        ours = list(yaml.safe_load_all((folder / f"build/ci/deploy/{name}.yaml").read_text()))
        overlay = folder / f"build/ci/deploy/kustomize/overlays/{name}"
        theirs = subprocess.run(
            [KUBECTL, "kustomize", str(overlay)], capture_output=True, text=True, check=True
        )
        assert list(yaml.safe_load_all(theirs.stdout)) == ours
        assert len(ours) == (4 if name == "staging" else 5)
    assert [d["kind"] for d in ours] == [
        "Service", "Deployment", "PodDisruptionBudget", "HorizontalPodAutoscaler", "NetworkPolicy"
    ]  # fmt: skip
    deployment = ours[1]
    pushed = json.loads((folder / "build/ci/push/push.json").read_text())
    pod = deployment["spec"]["template"]["spec"]
    container = pod["containers"][0]
    assert container["image"] == f"{pushed['repository']}@{pushed['digest']}"
    assert (
        deployment["metadata"]["namespace"] == spaces["production"] and "replicas" not in deployment["spec"]
    )
    assert container["readinessProbe"]["httpGet"]["path"] == "/ready"
    assert container["livenessProbe"]["httpGet"]["path"] == "/health"
    assert (
        container["securityContext"]["readOnlyRootFilesystem"] is True
        and pod["securityContext"]["runAsNonRoot"]
    )
    assert {"name": "identity", "secret": {"secretName": "clinic-identity", "optional": False}} in pod[
        "volumes"
    ]
    assert ours[3]["spec"]["minReplicas"] == 2 and ours[3]["spec"]["maxReplicas"] == 6
    # The validator's own command line, strict, on the file dsci wrote.
    validated = subprocess.run(
        [str(Path(sys.executable).parent / "kubernetes-validate"), "--strict", "-k", "1.33.0",
         str(folder / "build/ci/deploy/production.yaml")], capture_output=True, text=True,
    )  # fmt: skip
    assert validated.returncode == 0, validated.stdout + validated.stderr


def test_a_deploy_serves_and_is_recorded(project):
    folder, spaces, _, env = project
    done = run_invoke(folder, "ci.deploy", env=env)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "release 1 of staging serves" in done.stdout
    assert "smoke-tested" in done.stdout
    (first,) = releases(folder, "staging")
    pushed = json.loads((folder / "build/ci/push/push.json").read_text())
    assert first["status"] == "live" and first["candidate"]["digest"] == pushed["digest"]
    assert first["candidate"]["bundle_sha256"] and first["candidate"]["provenance_sha256"]
    assert first["commit"] == git(folder, "rev-parse", "HEAD").strip()
    assert first["smoke"]["rows"] == 20 and first["smoke"]["predictions"]["predictions"]
    assert serves(spaces["staging"])
    listed = run_invoke(folder, "ci.releases", "--env", "staging", env=env)
    assert listed.returncode == 0 and "* release 1 of staging (live)" in listed.stdout


BROKEN = {
    # A model that predicts otherwise: the features scaled before they reach it.
    "answers wrongly": (
        "FROM {base}\nUSER root\n"
        "RUN printf '\\n_score = SCORE\\nSCORE = lambda frame: _score(frame * 1.5)\\n' >> /app/app.py\n"
        "USER serve\n",
        "predicts otherwise than development",
    ),
    "crashes at start": (
        "FROM {base}\nUSER root\nRUN rm /app/dsci_formats.py\nUSER serve\n",
        "stopped at start",
    ),
    "never becomes ready": (
        'FROM {base}\nCMD ["/opt/venv/bin/python", "-c", "import time; time.sleep(3600)"]\n',
        "was not ready within 8 s",
    ),
}


@pytest.mark.parametrize("fault", list(BROKEN))
def test_a_broken_build_rolls_back_by_itself(project, fault):
    folder, spaces, _, env = project
    dockerfile, said = BROKEN[fault]
    before = serving(project)
    variant(folder, env, f"clinic:broken-{fault.replace(' ', '-')}", dockerfile)
    try:
        done = run_invoke(folder, "ci.deploy", env={**env, "INVOKE_CI_DEPLOY_TIMEOUT": "8"})
    finally:
        good_candidate(folder, env)
    assert done.returncode == 1, done.stdout[-3000:] + done.stderr[-3000:]
    (line,) = [line for line in done.stderr.splitlines() if line.startswith("error:")]
    assert said in line
    assert f"rolled back by itself: release {before['number']}" in line and "serves again" in line
    latest = releases(folder, "staging")[-1]
    assert latest["status"] == "failed" and said in latest["note"]
    never = run_invoke(folder, "ci.rollback", "--env", "staging", "--to", str(latest["number"]), env=env)
    assert never.returncode == 2 and f"release {latest['number']} of staging never served" in never.stderr
    # The release that served before answers /predict again.
    from ci.deploy.local import address_of, request

    address = address_of(f"{spaces['staging']}-clinic-pod-0")
    status, answer = request(f"http://{address}:8000/predict", {"rows": [golden_row(folder)]})
    assert status == 200 and answer["predictions"], answer
    container = f"{spaces['staging']}-clinic-pod-0-model"
    image = subprocess.run(["podman", "container", "inspect", "--format", "{{.ImageName}}", container],
                           capture_output=True, text=True)  # fmt: skip
    assert image.stdout.strip() == f"{before['candidate']['repository']}@{before['candidate']['digest']}"


def golden_row(folder: Path) -> dict:
    import csv

    with open(folder / "data" / "golden.csv", newline="") as f:
        row = next(csv.DictReader(f))
    drop = {"patient_id", "clinic", "malignant"}
    return {k: float(v) for k, v in row.items() if k not in drop}


def test_faults_before_the_rollout_leave_the_release_serving(project):
    folder, spaces, _, env = project
    before = serving(project)
    count = len(releases(folder, "staging"))
    # The registry does not answer: the pull fails before anything stops.
    pushed_file = folder / "build/ci/push/push.json"
    pushed = json.loads(pushed_file.read_text())
    pushed_file.write_text(json.dumps({**pushed, "repository": "127.0.0.1:5999/clinic"}))
    try:
        down = run_invoke(folder, "ci.deploy", env=env)
    finally:
        pushed_file.write_text(json.dumps(pushed))
    assert down.returncode == 3, down.stdout[-2000:] + down.stderr[-2000:]
    assert "podman could not pull 127.0.0.1:5999/clinic@" in down.stderr
    assert "the release serving now was left as it is" in down.stderr
    # No identity for the Secret.
    missing = run_invoke(folder, "ci.deploy", "--force", env={**env, "INVOKE_CI_SECURITY_IDENTITY_FILE": "",
                                                           "DSCI_AGE_IDENTITY": ""})  # fmt: skip
    assert missing.returncode == 2, missing.stdout[-2000:] + missing.stderr[-2000:]
    assert (
        "makes the Secret clinic-identity from an age identity: set ci.security.identity_file"
        in missing.stderr
    )
    # An environment that does not exist.
    unknown = run_invoke(folder, "ci.deploy", "--env", "prodution", env=env)
    assert unknown.returncode == 2
    assert "--env: no environment 'prodution'; did you mean 'production'?" in unknown.stderr
    assert len(releases(folder, "staging")) == count  # nothing recorded, nothing touched
    assert serves(spaces["staging"])
    assert [r for r in releases(folder, "staging") if r["status"] == "live"][-1] == before


def running_image(pod: str) -> str:
    shown = subprocess.run(["podman", "container", "inspect", "--format", "{{.ImageName}}", f"{pod}-model"],
                           capture_output=True, text=True)  # fmt: skip
    return shown.stdout.strip()


# Another good build: the same app and bundle, one more label, so another digest.
RELABELLED = "FROM {base}\nLABEL dev.dsci.test=another-build\n"


def test_rollback_to_an_earlier_release(project):
    folder, spaces, _, env = project
    earlier = serving(project)
    variant(folder, env, "clinic:another-build", RELABELLED)
    try:
        newer = run_invoke(folder, "ci.deploy", env=env)  # a second good release, of another digest
    finally:
        good_candidate(folder, env)
    assert newer.returncode == 0, newer.stdout[-2000:] + newer.stderr[-2000:]
    pod = f"{spaces['staging']}-clinic-pod-0"
    now = releases(folder, "staging")[-1]["candidate"]
    assert now["digest"] != earlier["candidate"]["digest"] and running_image(pod).endswith(now["digest"])
    back = run_invoke(folder, "ci.rollback", "--env", "staging", "--to", str(earlier["number"]), env=env)
    assert back.returncode == 0, back.stdout[-2000:] + back.stderr[-2000:]
    latest = releases(folder, "staging")[-1]
    assert latest["rollback_of"] == earlier["number"] and latest["status"] == "live"
    assert latest["candidate"] == earlier["candidate"]
    assert running_image(pod).endswith(earlier["candidate"]["digest"])  # the earlier digest runs again
    assert "smoke-tested" in back.stdout and serves(spaces["staging"])
    unknown = run_invoke(folder, "ci.rollback", "--env", "staging", "--to", "99", env=env)
    assert unknown.returncode == 2
    assert "--to 99: staging has no release 99; releases that served: " in unknown.stderr


def test_production_needs_the_sign_offs(project):
    folder, spaces, people, env = project
    pushed = json.loads((folder / "build/ci/push/push.json").read_text())
    image = f"{pushed['repository']}@{pushed['digest']}"
    refused = run_invoke(folder, "ci.deploy", "--env", "production", env=env)
    assert refused.returncode == 4, refused.stdout[-2000:] + refused.stderr[-2000:]
    assert f"production needs sign-offs for {image}: qa: no sign-off" in refused.stderr
    assert "invoke ci.signoff --env production --role ROLE --image" in refused.stderr

    def signoff(person: str, *more: str) -> subprocess.CompletedProcess[str]:
        key = str(people / person)
        return run_invoke(
            folder, "ci.signoff", "--role", "qa", "--env", "production", "--key", key, *more, env=env
        )

    assert signoff("stranger", "--comment", "looks fine").returncode == 0
    untrusted = run_invoke(folder, "ci.deploy", "--env", "production", env=env)
    assert untrusted.returncode == 4 and "which is not a trusted key" in untrusted.stderr
    other = f"{pushed['repository']}@sha256:{'0' * 64}"
    assert signoff("qa", "--image", other).returncode == 0
    elsewhere = run_invoke(folder, "ci.deploy", "--env", "production", env=env)
    assert elsewhere.returncode == 4 and "qa@clinic.example signed off other digests" in elsewhere.stderr
    rejected = signoff("qa", "--verdict", "reject", "--comment", "recall too low on the east clinic")
    assert rejected.returncode == 0
    no = run_invoke(folder, "ci.deploy", "--env", "production", env=env)
    assert no.returncode == 4 and "rejected it: recall too low on the east clinic" in no.stderr
    assert subprocess.run(["podman", "pod", "exists", f"{spaces['production']}-clinic-pod-0"]).returncode == 1

    assert signoff("qa", "--comment", "checked on the east clinic").returncode == 0
    done = run_invoke(folder, "ci.deploy", "--env", "production", env=env)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    assert "2 pods ready and smoke-tested" in done.stdout
    (release,) = releases(folder, "production")
    assert [s["role"] for s in release["signoffs"]] == ["qa"] and release["signoffs"][0][
        "signer"
    ] == "qa@clinic.example"
    assert len(serves(spaces["production"], replicas=2)) == 2
    listed = run_invoke(folder, "ci.releases", "--env", "production", env=env)
    assert "signed off: qa by qa@clinic.example" in listed.stdout
    # Promotion: what serves in staging (another build by now) goes to production, by its digests.
    serving(project)
    variant(folder, env, "clinic:another-build", RELABELLED)
    try:
        assert run_invoke(folder, "ci.deploy", env=env).returncode == 0
    finally:
        good_candidate(folder, env)
    staging = [r for r in releases(folder, "staging") if r["status"] == "live"][-1]["candidate"]
    assert staging["digest"] != pushed["digest"]
    promote = ["--image", f"{staging['repository']}@{staging['digest']}", "--bundle", staging["bundle"],
               "--bundle-sha256", staging["bundle_sha256"]]  # fmt: skip
    unsigned = run_invoke(folder, "ci.deploy", "--env", "production", "--from", "staging", env=env)
    assert unsigned.returncode == 4 and "qa@clinic.example signed off other digests" in unsigned.stderr
    assert signoff("qa", *promote).returncode == 0
    promoted = run_invoke(folder, "ci.deploy", "--env", "production", "--from", "staging", env=env)
    assert promoted.returncode == 0, promoted.stdout[-2000:] + promoted.stderr[-2000:]
    latest = releases(folder, "production")[-1]
    assert latest["candidate"] == staging and latest["status"] == "live"
    for index in range(2):
        assert running_image(f"{spaces['production']}-clinic-pod-{index}").endswith(staging["digest"])
