"""The ``tool`` marker: a test that needs an external tool or service.

Where the tool is missing the test is skipped, except when the environment
variable CI is set: there a missing tool fails the run, so a green CI means
everything really ran.
"""

from __future__ import annotations

import importlib.util
import os
import shutil

import pytest


def _docker_engine() -> bool:
    try:
        import docker

        docker.from_env().ping()
        return True
    except Exception:
        return False


SERVICES = {"docker-engine": _docker_engine}  # services, as opposed to tools found on PATH or as modules


def _available(name: str) -> bool:
    if name in SERVICES:
        return SERVICES[name]()
    return shutil.which(name) is not None or importlib.util.find_spec(name) is not None


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "tool(*names): needs these tools or services; skipped when absent, a failure when CI is set",
    )


def pytest_runtest_setup(item: pytest.Item) -> None:
    for marker in item.iter_markers("tool"):
        missing = [name for name in marker.args if not _available(name)]
        if missing:
            message = f"needs {', '.join(missing)}"
            if os.environ.get("CI"):
                pytest.fail(f"{message}, and CI is set: install it (scripts/bootstrap)", pytrace=False)
            pytest.skip(message)
