import hashlib
import json
import tarfile

import pytest

from ci import package
from ci.core import files
from ci.core.errors import ConfigError
from ci.core.git import git_state
from ci.core.process import Completed
from ci.core.results import Status
from ci.core.settings import Package


@pytest.fixture
def model_files(project):
    (project / "models").mkdir()
    (project / "models" / "model.joblib").write_bytes(b"weights" * 1000)
    (project / "models" / "vocab.txt").write_text("a\nb\n")
    return project


def git(commit="0123456789abcdef", dirty="", when="1700000000"):
    answers = {
        "rev-parse": Completed((), 0, commit + "\n"),
        "status": Completed((), 0, dirty),
        "log": Completed((), 0, when),
    }

    def run(argv, *, quiet=True):
        return answers[argv[1]]

    return run


def test_streamed_hash_equals_hashlib(tmp_path):
    data = bytes(range(256)) * 10_000
    (tmp_path / "f").write_bytes(data)
    assert files.sha256_file(tmp_path / "f") == (hashlib.sha256(data).hexdigest(), len(data))


def test_bundle_is_deterministic_whatever_the_files_times(model_files):
    files = package.bundle_files(["models/*"], model_files)
    content = {"name": "x", "files": []}
    first = package.write_bundle(model_files / "a.tar", files, content, mtime=1700000000)
    for _, path in files:
        path.touch()
    second = package.write_bundle(model_files / "b.tar", files, content, mtime=1700000000)
    assert first.read_bytes() == second.read_bytes()
    with tarfile.open(first) as tar:
        members = tar.getmembers()
    assert [m.name for m in members] == ["manifest.json", "models/model.joblib", "models/vocab.txt"]
    assert {(m.uid, m.gid, m.uname, m.gname, m.mode, m.mtime) for m in members} == {
        (0, 0, "", "", 0o644, 1700000000)
    }


def test_a_crash_while_writing_leaves_no_partial_bundle(model_files, monkeypatch):
    files = package.bundle_files(["models/*"], model_files)

    def crash(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(tarfile.TarFile, "addfile", crash)
    with pytest.raises(OSError):
        package.write_bundle(model_files / "dist" / "x.tar", files, {}, mtime=0)
    assert list((model_files / "dist").iterdir()) == []


def test_manifest_records_files_git_python_lock_metrics_and_config(model_files):
    files = package.bundle_files(["models/model.joblib"], model_files)
    state = git_state(git(dirty=" M tasks.py\n"))
    content = package.manifest(
        files,
        name="clinic",
        git=state,
        built=package.build_time(state),
        metrics={"metrics": {"auc": 0.9}},
        config_digest="c0ffee",
    )
    assert content["files"] == [
        {"path": "models/model.joblib", "sha256": hashlib.sha256(b"weights" * 1000).hexdigest(), "size": 7000}
    ]
    assert content["git"] == {"commit": "0123456789abcdef", "dirty": True}
    assert content["built"] == 1700000000
    assert any(line.startswith("invoke==") for line in content["lock"])
    names = [line.split("==")[0].lower().replace("_", "-") for line in content["lock"]]
    assert names == sorted(names)
    assert content["metrics"] == {"metrics": {"auc": 0.9}} and content["config_sha256"] == "c0ffee"


def test_source_date_epoch_wins_over_the_commit_time(monkeypatch):
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1234")
    assert package.build_time({"time": 99}) == 1234
    monkeypatch.delenv("SOURCE_DATE_EPOCH")
    assert package.build_time({"time": 99}) == 99
    assert package.build_time({"time": None}) == 0


def test_outside_git_the_manifest_says_so():
    def run(argv, *, quiet=True):
        return Completed((), 128, "", "fatal: not a git repository")

    assert git_state(run) == {"commit": None, "dirty": None, "time": None}


def test_a_pattern_that_matches_nothing_is_a_config_error(model_files):
    with pytest.raises(ConfigError) as caught:
        package.bundle_files(["models/*.onnx"], model_files)
    assert str(caught.value) == (
        "ci.package.bundle: models/*.onnx matches no file; train the model first or fix the pattern"
    )


def settings(**overrides):
    return Package(**{"wheel": "false", **overrides})


def test_package_stage_writes_the_bundle_and_its_checksum(model_files):
    (model_files / "build").mkdir()
    (model_files / "build" / "metrics.json").write_text(
        json.dumps({"metrics": {"auc": 0.9}, "verdict": "pass"})
    )
    metrics = model_files / "build" / "metrics.json"
    result = package.package(
        settings(name="clinic"), run=git(), root=model_files, out=model_files / "dist",
        metrics_file=metrics, config_digest="d", model_path="models/model.joblib",
    )  # fmt: skip
    assert result.status is Status.PASSED
    bundle = model_files / "dist" / "clinic-0123456.bundle.tar"
    digest = hashlib.sha256(bundle.read_bytes()).hexdigest()
    assert (
        model_files / "dist" / "clinic-0123456.bundle.tar.sha256"
    ).read_text() == f"{digest}  {bundle.name}\n"
    with tarfile.open(bundle) as tar:
        manifest = json.load(tar.extractfile("manifest.json"))
    assert manifest["metrics"] == {"metrics": {"auc": 0.9}, "segments": None}


def test_nothing_to_package_skips_the_stage(project):
    result = package.package(
        settings(), run=git(), root=project, out=project / "dist", metrics_file=project / "m.json",
        config_digest="d", model_path="",
    )  # fmt: skip
    assert result.status is Status.SKIPPED


def test_is_package_reads_pyproject(project):
    assert not package.is_package(project)
    (project / "pyproject.toml").write_text('[project]\nname = "x"\n')
    assert package.is_package(project)
    (project / "pyproject.toml").write_text("[project\n")
    with pytest.raises(ConfigError, match=r"^pyproject.toml: not valid TOML"):
        package.is_package(project)
    (project / "setup.cfg").write_text("[metadata]\nname = x\n")
    assert package.is_package(project)


def test_distributions_are_stamped_with_the_commits_time(project):
    calls = []

    def run(argv, *, quiet=True, env=None):
        calls.append((list(argv), env))
        return Completed(tuple(argv), 0)

    package.build_distributions(run, project, project / "dist", True, 1700000000)
    package.build_distributions(run, project, project / "dist", False)
    (isolated, stamped), (installed, unstamped) = calls
    assert stamped == {"SOURCE_DATE_EPOCH": "1700000000"} and unstamped is None
    assert "--no-isolation" not in isolated and "--no-isolation" in installed
