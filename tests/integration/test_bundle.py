"""ci.package on the example: wheel, sdist and a bundle whose bytes depend only on its inputs."""

import hashlib
import json
import tarfile

import pytest

from tests.integration.conftest import commit, git

pytestmark = pytest.mark.tool("invoke", "git", "build", "sklearn")


def bundle_of(example):
    (bundle,) = (example / "dist").glob("*.bundle.tar")
    return bundle


def test_package_builds_distributions_and_a_reproducible_bundle(example, invoke):
    settings = example / "invoke.yaml"  # plain: age encrypts with a new file key each time
    settings.write_text(
        "\n".join(line for line in settings.read_text().splitlines() if "recipients:" not in line)
    )
    commit(example, "no recipients")
    assert invoke(example, "train").returncode == 0
    done = invoke(example, "ci.model", "ci.package")
    assert done.returncode == 0, done.stdout + done.stderr
    head = git(example, "rev-parse", "HEAD").strip()
    bundle = bundle_of(example)
    assert bundle.name == f"clinic-{head[:7]}.bundle.tar"
    assert sorted(p.suffix for p in (example / "dist").iterdir()) == [
        ".gz",
        ".json",
        ".sha256",
        ".tar",
        ".whl",
    ]
    with tarfile.open(bundle) as tar:
        assert tar.getnames() == ["manifest.json", "models/model.joblib"]
        raw = tar.extractfile("manifest.json").read()
        manifest = json.loads(raw)
        model = tar.extractfile("models/model.joblib").read()
    assert manifest["git"] == {"commit": head, "dirty": False}
    assert (example / "dist" / f"clinic-{head[:7]}.manifest.json").read_bytes() == raw  # signed beside it
    assert manifest["files"][0]["sha256"] == hashlib.sha256(model).hexdigest()
    assert manifest["metrics"]["metrics"]["roc_auc"] > 0.95
    assert any(line.startswith("scikit-learn==") for line in manifest["lock"])
    first = hashlib.sha256(bundle.read_bytes()).hexdigest()
    assert (example / "dist" / f"{bundle.name}.sha256").read_text().split()[0] == first

    bundle.unlink()
    (example / "models" / "model.joblib").touch()  # a newer file time must not change the bundle
    assert invoke(example, "ci.package").returncode == 0
    assert hashlib.sha256(bundle_of(example).read_bytes()).hexdigest() == first


def test_a_bundle_pattern_that_matches_nothing_exits_2(example, invoke):
    settings = example / "invoke.yaml"
    settings.write_text(
        settings.read_text().replace("  model:\n", "  package:\n    bundle: [models/*.onnx]\n  model:\n")
    )
    done = invoke(example, "ci.package")
    assert done.returncode == 2
    assert done.stderr.strip() == (
        "error: ci.package.bundle: models/*.onnx matches no file; train the model first or fix the pattern"
    )
