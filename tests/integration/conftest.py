"""Integration tests run the real `invoke` command on copies of the example project."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

REPO = Path(__file__).parents[2]
EXAMPLE = REPO / "examples" / "clinic"
INVOKE = str(Path(sys.executable).parent / "invoke")
PROVIDER_VARIABLES = ("GITHUB_ACTIONS", "GITHUB_STEP_SUMMARY", "TF_BUILD", "JENKINS_URL", "JENKINS_HOME")


GIT_IDENTITY = {
    "GIT_AUTHOR_NAME": "dsci tests",
    "GIT_AUTHOR_EMAIL": "tests@dsci.invalid",
    "GIT_COMMITTER_NAME": "dsci tests",
    "GIT_COMMITTER_EMAIL": "tests@dsci.invalid",
}


def git(folder: Path, *args: str) -> str:
    done = subprocess.run(
        ["git", *args],
        cwd=folder,
        env={**os.environ, **GIT_IDENTITY},
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout


EXAMPLE_KEYS = "~/.config/dsci/clinic/"  # where the example's invoke.yaml finds its keys
RUN = uuid.uuid4().hex[:6]  # in the name of every pod, volume and Secret this session deploys


@pytest.fixture(scope="session", autouse=True)
def local_releases():
    """The session's deploys (the local target's pods, volumes and Secrets) removed at its end."""
    yield
    if shutil.which("podman") is None:
        return
    for kind in ("pod", "volume", "secret"):
        listed = subprocess.run(
            ["podman", kind, "ls", "--format", "{{.Name}}"], capture_output=True, text=True
        )
        for name in listed.stdout.split():
            if f"-{RUN}-" in name:
                force = [] if kind == "secret" else ["--force"]  # podman 4.3's secret rm has no --force
                subprocess.run(["podman", kind, "rm", *force, name], capture_output=True, check=False)


@pytest.fixture(scope="session")
def keys(tmp_path_factory):
    """Keys as a team makes them: a signing key with ssh-keygen, an age identity with age-keygen
    (dsci's own `ci.keys.create` where those tools are missing), in the layout of the example."""
    folder = tmp_path_factory.mktemp("keys")
    make_keys(folder)
    return folder


CLINICS = ("east", "north", "south", "west")  # the example's tenants, each with an age identity of its own


def make_keys(folder: Path) -> None:
    """signing, signing.pub, model.age and model.age.pub in ``folder`` (and each clinic's model.age in
    ``folder/CLINIC``), made by ssh-keygen and age-keygen; where they are missing, by dsci's own
    `ci.keys.create`, except under CI."""
    folder.mkdir(parents=True, exist_ok=True)
    ages = [folder / "model.age", *(folder / clinic / "model.age" for clinic in CLINICS)]
    if shutil.which("ssh-keygen") and shutil.which("age-keygen"):
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "ci@clinic.example",
                        "-f", str(folder / "signing")], check=True)  # fmt: skip
        for age in ages:
            age.parent.mkdir(exist_ok=True)
            subprocess.run(["age-keygen", "-o", str(age)], check=True, capture_output=True)
            public = subprocess.run(["age-keygen", "-y", str(age)], capture_output=True, check=True)
            age.with_name("model.age.pub").write_bytes(public.stdout)
        return
    if os.environ.get("CI"):
        pytest.fail("ssh-keygen and age-keygen are missing, and CI is set: install them (scripts/bootstrap)")
    from ci.security import keys

    keys.create(folder / "signing", "signing", "ci@clinic.example", would_commit=False)
    for age in ages:
        keys.create(age, "age", "", would_commit=False)


def copy_example(target: Path, keys: Path) -> Path:
    """examples/clinic as a user's repository with its keys in ``keys``: a git repository on main."""
    shutil.copytree(
        EXAMPLE,
        target,
        ignore=shutil.ignore_patterns(
            "build", "models", "dist", "__pycache__", ".ruff_cache", ".pytest_cache"
        ),
    )
    settings = target / "invoke.yaml"
    text = settings.read_text().replace(EXAMPLE_KEYS, f"{keys}/")
    copy = uuid.uuid4().hex[:4]
    for environment in ("staging", "production"):  # pods of their own: no other copy replaces them
        block = f"      {environment}:\n        target: local\n"
        assert block in text, f"examples/clinic/invoke.yaml: no {environment} environment"
        text = text.replace(block, f"{block}        namespace: {environment}-{RUN}-{copy}\n")
    settings.write_text(text)
    git(target, "init", "--quiet", "--initial-branch=main")
    git(target, "add", "--all")
    git(target, "commit", "--quiet", "--message", "the clinic project")
    return target


@pytest.fixture
def example(tmp_path, keys):
    """A fresh copy of examples/clinic as a user's repository: a git repository on main, all committed."""
    return copy_example(tmp_path / "clinic", keys)


def run_invoke(folder: Path, *args: str, env: dict[str, str] | None = None, timeout: float = 600):
    """Run the real `invoke` CLI in a folder, as from a terminal (no CI variables)."""
    environ = {k: v for k, v in os.environ.items() if k not in PROVIDER_VARIABLES}
    return subprocess.run([INVOKE, *args], cwd=folder, env={**environ, **(env or {})}, capture_output=True,
                           text=True, stdin=subprocess.DEVNULL, timeout=timeout)  # fmt: skip


@pytest.fixture
def invoke():
    """``run_invoke`` with the variables as keywords: ``invoke(folder, "ci.lint", TF_BUILD="True")``."""

    def run(folder: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
        return run_invoke(folder, *args, env=env, timeout=300)

    return run


def registry_env() -> dict[str, str]:
    """The credentials of the registry of `dsci services up`, as a CI's secrets would give them."""
    text = (REPO / "build" / "services" / "registry.env").read_text()
    return dict(line.split("=", 1) for line in text.split())


def releases(folder: Path, environment: str) -> list[dict]:
    """The releases of the example's ``environment`` on the folder's branch dsci/releases."""
    shown = subprocess.run(["git", "show", f"dsci/releases:clinic/{environment}/releases.jsonl"], cwd=folder,
                           capture_output=True, text=True, check=False)  # fmt: skip
    return [json.loads(line) for line in shown.stdout.splitlines()]


@pytest.fixture(scope="session")
def built(tmp_path_factory, keys):
    """The example with its model trained, packaged (encrypted), signed and its image built, once for the
    session: (folder, image.json).

    Tests that change the project undo it (``run_with``), so the next test finds it as built."""
    folder = copy_example(tmp_path_factory.mktemp("image") / "clinic", keys)

    env = {k: v for k, v in os.environ.items() if k not in PROVIDER_VARIABLES}
    done = subprocess.run(
        [INVOKE, "train", "ci.package", "ci.sign", "ci.image"],
        cwd=folder,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return folder, json.loads((folder / "build" / "ci" / "image" / "image.json").read_text())


def commit(folder: Path, message: str = "a change") -> None:
    """Everything in the work tree, committed."""
    git(folder, "add", "--all")
    git(folder, "commit", "--quiet", "--message", message)


def stage_report(folder: Path, name: str) -> tuple[dict, dict]:
    """({check name: check}, the stage) of one stage in the folder's report.json."""
    found = json.loads((folder / "build" / "ci" / "report.json").read_text())
    stage = next(s for s in found["stages"] if s["name"] == name)
    return {c["name"]: c for c in stage["checks"]}, stage


def run_with(folder, invoke, old, new, *tasks, **env):
    """Run tasks with one edit to the shared project's invoke.yaml, and undo it afterwards."""
    settings = folder / "invoke.yaml"
    original = settings.read_text()
    settings.write_text(original.replace(old, new))
    try:
        return invoke(folder, *tasks, **env)
    finally:
        settings.write_text(original)
