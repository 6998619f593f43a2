"""What users install: a wheel with the schema inside, and a collection that loads light."""

import json
import subprocess
import sys
import zipfile

import pytest

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
