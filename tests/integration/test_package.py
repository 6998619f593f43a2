"""What users install: a wheel with the schema inside, a collection that loads light, the imports a stage
pays kept cheap, and a project's wheel built alike from one commit."""

import hashlib
import json
import os
import subprocess
import sys
import zipfile

import pytest

from ci import package
from ci.core.process import Completed
from tests.integration.conftest import EXAMPLE, REPO

HEAVY = {"sklearn", "pandas", "numpy", "polars", "matplotlib", "docker", "boto3", "jenkins", "azure", "scipy"}


def test_loading_the_example_tasks_imports_nothing_heavy():
    probe = (
        "import json, sys\n"
        "from invoke import FilesystemLoader\n"
        f"FilesystemLoader(start={str(EXAMPLE)!r}).load()\n"
        "print(json.dumps(sorted({m.split('.')[0] for m in sys.modules})))\n"
    )
    loaded = set(
        json.loads(subprocess.run([sys.executable, "-c", probe], capture_output=True, check=True).stdout)
    )
    assert not loaded & HEAVY


@pytest.mark.tool("pip")
def test_wheel_ships_the_package_and_its_schema(tmp_path):
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "-w", str(tmp_path), str(REPO)],
        check=True,
        timeout=300,
    )
    (wheel,) = tmp_path.glob("dsci-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    assert "ci/resources/config.schema.json" in names
    assert {"ci/__init__.py", "ci/core/config.py", "ci/tasks/pipeline.py", "ci/quality.py"} <= names
    assert not any(name.startswith(("tests/", "examples/")) for name in names)


@pytest.mark.tool("rfc3987_syntax", "nbformat", "kubernetes_validate")
def test_jsonschema_comes_without_the_iri_grammar_which_stays_importable():
    probe = (
        "import sys, time\n"
        "from ci.core import imports\n"
        "start = time.perf_counter()\n"
        "imports.jsonschema()\n"
        "import nbformat, kubernetes_validate\n"
        "print('rfc3987_syntax' in sys.modules)\n"
        "import rfc3987_syntax\n"
        "print(rfc3987_syntax.is_valid_syntax('iri', 'https://example.org/a'))\n"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, cwd=REPO, timeout=60)
    assert done.stdout.split() == ["False", "True"], done.stderr


def test_one_commit_builds_the_same_wheel_every_time(example, tmp_path):
    def run(argv, *, quiet=True, env=None):
        done = subprocess.run(
            argv, cwd=example, capture_output=True, text=True, env={**os.environ, **(env or {})}
        )
        return Completed(tuple(argv), done.returncode, done.stdout, done.stderr)

    digests = []
    for number in range(2):
        built = package.build_distributions(run, example, tmp_path / str(number), True, 1700000000)
        (wheel,) = [p for p in built if p.suffix == ".whl"]
        digests.append(hashlib.sha256(wheel.read_bytes()).hexdigest())
    assert digests[0] == digests[1]  # so the image's code layer comes from Docker's cache
