"""The stage cache on the example, for real: an unchanged project restores every cached stage and deploys
nothing; one input of each stage changed reruns that stage and what depends on it, and nothing else."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.integration.conftest import copy_example, git, registry_env, releases, run_invoke

pytestmark = pytest.mark.tool("docker-engine", "registry", "podman", "ssh-keygen")

CACHED = ("lint", "test", "notebooks", "data", "model", "onnx", "package", "sign", "image", "parity")
# A new bundle is encrypted anew (age is randomised): the signature, the image and its parity follow.
PACKAGED = {"package", "sign", "image", "parity"}


@pytest.fixture(scope="module")
def warm(tmp_path_factory, keys):
    """The example once through ci.all, every stage stored in its cache."""
    folder = copy_example(tmp_path_factory.mktemp("cache") / "clinic", keys)
    done = run_invoke(folder, "ci.all", env=registry_env(), timeout=900)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    return folder


def outcome(folder: Path, *args: str, **env: str) -> tuple[set[str], set[str], str]:
    """(stages restored from the cache, stages that ran, the output) of one ci.all."""
    done = run_invoke(folder, "ci.all", *args, env={**registry_env(), **env})
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    report = json.loads((folder / "build/ci/report.json").read_text())
    stages = {s["name"]: s for s in report["stages"] if s["name"] in CACHED and s["status"] != "skipped"}
    cached = {name for name, stage in stages.items() if stage["cached"]}
    return cached, set(stages) - cached, done.stdout


def test_an_unchanged_project_is_restored_and_deploys_nothing(warm):
    before = releases(warm, "staging")
    cached, ran, out = outcome(warm)
    assert ran == set() and cached == set(CACHED)
    assert "✔ model cached: 8 passed; ran " in out  # its checks replayed, with their verdicts
    assert "already serves" in out and "nothing to deploy" in out
    assert releases(warm, "staging") == before  # no new release for the same build
    summary = (warm / "build/ci/summary.md").read_text()
    assert "| roc_auc | 0.9881 |" in summary or "roc_auc" in summary  # the model's table, as it was
    assert "| model | ✅ passed, cached (" in summary


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, f"{path.name}: {old!r}"
    path.write_text(text.replace(old, new, 1))


def new_signing_key(folder: Path) -> None:
    """A new signing key where the settings find it (and it trusted): the bundle need not change."""
    settings = (folder / "invoke.yaml").read_text()
    key = Path(settings.split("key_file: ", 1)[1].split()[0])
    key.unlink()
    key.with_suffix(".pub").unlink()
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "ci@clinic.example", "-f", str(key)],
                   check=True)  # fmt: skip


def forget_image(folder: Path) -> None:
    built = json.loads((folder / "build/ci/image/image.json").read_text())
    subprocess.run(["docker", "rmi", "--force", *built["tags"]], check=True, capture_output=True)


# (what changes, the stage it is an input of, every stage that must rerun, what the rerun says)
CHANGES = [
    ("a test file", lambda f: edit(f / "tests/test_data.py", "from pathlib", '"""Edited."""\n\nfrom pathlib'),
     "test", {"lint", "test"} | PACKAGED, "tests/test_data.py changed"),  # the sdist holds the tests
    ("a lint setting", {"INVOKE_CI_LINT_FORMAT": "0"}, "lint", {"lint"} | PACKAGED, "ci.lint changed"),
    ("a notebooks setting", {"INVOKE_CI_NOTEBOOKS_TIMEOUT": "601"}, "notebooks", {"notebooks"} | PACKAGED,
     "ci.notebooks changed"),
    ("a data setting", {"INVOKE_CI_DATA_SAMPLES": "7"}, "data", {"data"} | PACKAGED, "ci.data changed"),
    ("a model setting", {"INVOKE_CI_MODEL_PLOTS": "0"}, "model", {"model", "onnx"} | PACKAGED,
     "ci.model.plots changed"),
    ("an onnx setting", {"INVOKE_CI_MODEL_ONNX_TOLERANCE": "2e-5"}, "onnx", {"onnx"} | PACKAGED,
     "ci.model changed"),
    ("the signing key", new_signing_key, "sign", {"sign", "image", "parity"}, "/signing changed"),
    ("the image, gone from the engine", forget_image, "image", {"image", "parity"},
     "its cache entry cannot be used: the Docker engine no longer has the image sha256:"),
]  # fmt: skip


def test_each_stage_reruns_when_its_input_changes_and_only_what_depends_on_it(warm):
    """Changes one input of each cached stage in turn: that stage and the stages that read its outputs
    rerun, and every other stage is restored."""
    skip = ("--skip", "push,deploy")
    outcome(warm, *skip)  # settled: every stage restored
    for what, change, stage, rerun, said in CHANGES:
        env = change if isinstance(change, dict) else {}
        if callable(change):
            change(warm)
        cached, ran, out = outcome(warm, *skip, **env)
        assert stage in ran, f"{what}: {stage} did not rerun"
        assert ran == rerun, f"{what}: reran {sorted(ran)}, expected {sorted(rerun)}"
        assert cached == set(CACHED) - rerun
        assert f"{stage}: running: " in out and said in out.split(f"{stage}: running: ", 1)[1].splitlines()[0]
        if env:  # the setting back as it was: its entries are still there
            cached, ran, _ = outcome(warm, *skip)
            assert ran == set(), f"{what}: back as it was, yet {sorted(ran)} reran"


def test_a_cache_carried_to_another_folder_hits_there(warm, tmp_path):
    """Keys depend on content only: another agent with the same commit checked out elsewhere (the cache
    restored by the CI's own cache step) restores every stage."""
    outcome(warm, "--skip", "push,deploy")
    elsewhere = tmp_path / "agent" / "clinic"
    shutil.copytree(warm, elsewhere, symlinks=True)
    git(elsewhere, "status")  # the index refreshed for the new paths
    cached, ran, _ = outcome(elsewhere, "--skip", "push,deploy")
    assert ran == set() and cached == set(CACHED)


def test_no_cache_runs_every_stage_and_an_unwritable_cache_warns(warm):
    cached, ran, out = outcome(warm, "--only", "lint,data", "--no-cache")
    assert cached == set() and ran == {"lint", "data"}
    assert "data: running: --no-cache" in out
    cached, ran, _ = outcome(warm, "--only", "lint,data")  # stored anew
    assert cached == {"lint", "data"}
    cached, ran, out = outcome(warm, "--only", "lint,data", INVOKE_CI_CACHE_DIR="invoke.yaml/cache")
    assert ran == {"lint", "data"}
    assert ("warning: the stage cache invoke.yaml/cache cannot be written (not a directory); the run goes "
            "on uncached (ci.cache.dir)") in out  # fmt: skip
    cached, ran, _ = outcome(warm, "--only", "lint,data", INVOKE_CI_CACHE_ENABLED="0")
    assert cached == set()
