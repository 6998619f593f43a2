"""The `tool` marker: skipped where the tool is missing, a failure when CI is set."""

from pathlib import Path

import pytest

pytest_plugins = ["pytester"]

CONFTEST = (Path(__file__).parents[1] / "conftest.py").read_text()
TEST_FILE = """
import pytest

@pytest.mark.tool("no-such-tool-anywhere")
def test_needs_it():
    pass

@pytest.mark.tool("pytest")
def test_has_it():
    pass
"""


@pytest.fixture
def marked(pytester):
    pytester.makeconftest(CONFTEST)
    pytester.makepyfile(TEST_FILE)
    return pytester


def test_missing_tool_skips_outside_ci(marked, monkeypatch):
    monkeypatch.delenv("CI", raising=False)
    marked.runpytest("-p", "no:cacheprovider").assert_outcomes(passed=1, skipped=1)


def test_missing_tool_fails_when_ci_is_set(marked, monkeypatch):
    monkeypatch.setenv("CI", "true")
    result = marked.runpytest("-p", "no:cacheprovider", "-rE")
    result.assert_outcomes(passed=1, errors=1)  # failed in set-up: the run fails
    result.stdout.fnmatch_lines(["*needs no-such-tool-anywhere, and CI is set*"])


def test_a_folder_of_the_repository_is_not_an_installed_module(pytester, monkeypatch):
    """``jenkins/`` or ``build/`` beside the tests import as namespaces: the marker must not count them."""
    monkeypatch.delenv("CI", raising=False)
    pytester.makeconftest(CONFTEST)
    pytester.mkdir("not_installed_anywhere")  # a folder without __init__.py, on sys.path
    pytester.makepyfile(
        """
import pytest

@pytest.mark.tool("not_installed_anywhere")
def test_folder():
    pass

@pytest.mark.tool("no_such_parent.devops")
def test_missing_parent():
    pass
"""
    )
    pytester.runpytest("-p", "no:cacheprovider").assert_outcomes(skipped=2)
