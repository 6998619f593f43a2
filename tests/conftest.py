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


def _answers(url: str, status: int = 200) -> bool:
    import urllib.error
    import urllib.request

    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return response.status == status
    except urllib.error.HTTPError as error:
        return error.code == status
    except OSError:
        return False


def _registry() -> bool:
    """The registry of `dsci services up`: its credentials file, and an answer asking for them."""
    import pathlib

    settings = pathlib.Path(__file__).parents[1] / "build" / "services" / "registry.env"
    if not settings.is_file():
        return False
    address = dict(line.split("=", 1) for line in settings.read_text().split())["DSCI_REGISTRY"]
    return _answers(f"http://{address}/v2/", 401)


# Services, as opposed to tools found on PATH or as modules.
SERVICES = {
    "docker-engine": _docker_engine,
    "registry": _registry,
    "moto-server": lambda: _answers("http://127.0.0.1:5001/"),
    "ecr-registry": lambda: _answers("http://127.0.0.1:5002/v2/", 401),  # moto's ECR stand-in
}


def _module(name: str) -> bool:
    """An installed module: a folder of this repository (jenkins/, build/) is a namespace, not one."""
    try:
        spec = importlib.util.find_spec(name)
    except ModuleNotFoundError:  # a parent package (``azure`` of ``azure.devops``) is missing
        return False
    return spec is not None and spec.origin not in (None, "namespace")


def _available(name: str) -> bool:
    if name in SERVICES:
        return SERVICES[name]()
    return shutil.which(name) is not None or _module(name)


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
