"""Unit tests are fast and touch nothing: real subprocesses and sockets fail loudly."""

from __future__ import annotations

import contextlib
import socket
import subprocess

import pytest
from invoke import Config, MockContext

from ci.core import config


class RealWorldTouched(AssertionError):
    pass


@pytest.fixture(autouse=True, scope="session")
def font_cache():
    """matplotlib asks fontconfig (``fc-list``) for fonts the first time it runs on a machine, and
    caches the answer: let it do so once, before subprocesses are refused."""
    with contextlib.suppress(ImportError):
        import matplotlib.font_manager  # noqa: F401 - imported to build the cache


def _refuse(*args, **kwargs):
    raise RealWorldTouched(f"a unit test tried to reach the real world: {args!r}")


@pytest.fixture(autouse=True)
def no_real_world(monkeypatch):
    monkeypatch.setattr(subprocess.Popen, "__init__", _refuse)
    monkeypatch.setattr(socket.socket, "connect", _refuse)
    monkeypatch.setattr("invoke.runners.Local.start", _refuse)


@pytest.fixture(autouse=True)
def no_stage_cache(monkeypatch):
    """Stages run: the stage cache asks git for the project's files (tests/unit/test_cache.py tests it)."""
    monkeypatch.setenv("INVOKE_CI_CACHE_ENABLED", "0")


@pytest.fixture(autouse=True)
def plain_terminal(monkeypatch):
    """No CI variables leak in from the machine running the tests."""
    for name in ("GITHUB_ACTIONS", "GITHUB_STEP_SUMMARY", "TF_BUILD", "JENKINS_URL", "JENKINS_HOME"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def project(tmp_path, monkeypatch):
    """A project folder as the current directory."""
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.fixture
def invoke_config(project):
    """An Invoke config as the CLI builds it: dsci's defaults, the project's invoke.yaml, INVOKE_*."""

    def make(yaml_text: str = "ci: {}\n") -> Config:
        (project / "invoke.yaml").write_text(yaml_text)
        cfg = Config(project_location=str(project))
        cfg.load_project()
        cfg.load_collection({"ci": config.defaults()})
        cfg.load_shell_env()
        return cfg

    return make


@pytest.fixture
def context(invoke_config):
    """A MockContext over a project config; ``run`` maps commands to Results."""

    def make(yaml_text: str = "ci: {}\n", run=None) -> MockContext:
        return MockContext(config=invoke_config(yaml_text), run=run or {})

    return make
