"""The releases branch with real git: written beside a working tree it never touches, by two writers at
once without losing a record, and shared through a remote as a CI agent and a laptop share it."""

from __future__ import annotations

import pytest

from ci.core.errors import ConfigError, EnvError
from ci.deploy.history import Branch
from tests.integration.conftest import git

pytestmark = pytest.mark.tool("git")


@pytest.fixture
def repository(tmp_path):
    folder = tmp_path / "project"
    folder.mkdir()
    git(folder, "init", "--quiet", "--initial-branch=main")
    (folder / "train.py").write_text("print('train')\n")
    git(folder, "add", "train.py")
    git(folder, "commit", "--quiet", "--message", "start")
    return folder


def test_a_record_leaves_the_work_tree_the_index_and_head_alone(repository):
    (repository / "train.py").write_text("print('changed, not staged')\n")
    (repository / "new.py").write_text("staged = True\n")
    git(repository, "add", "new.py")
    before = (git(repository, "status", "--porcelain"), git(repository, "rev-parse", "HEAD"))
    branch = Branch(repository, "dsci/releases").check()
    branch.commit(lambda read: {"clinic/staging/releases.jsonl": b'{"number": 1}\n'}, "staging: release 1")
    assert (git(repository, "status", "--porcelain"), git(repository, "rev-parse", "HEAD")) == before
    assert git(repository, "branch", "--show-current").strip() == "main"
    assert branch.read("clinic/staging/releases.jsonl") == b'{"number": 1}\n'
    assert branch.list("clinic") == ["clinic/staging/releases.jsonl"]
    assert git(repository, "log", "--format=%s", "dsci/releases").strip() == "staging: release 1"


def test_two_writers_at_once_keep_both_records(repository):
    ours, theirs = Branch(repository, "dsci/releases"), Branch(repository, "dsci/releases")
    path = "clinic/staging/releases.jsonl"
    moved = []

    def append(line: bytes):
        def make(read):
            if not moved:  # another run records between our read and our update-ref
                moved.append(theirs.commit(lambda read: {path: (read(path) or b"") + b"theirs\n"}, "theirs"))
            return {path: (read(path) or b"") + line}

        return make

    ours.commit(append(b"ours\n"), "ours")
    assert ours.read(path) == b"theirs\nours\n"
    assert git(repository, "log", "--format=%s", "dsci/releases").split() == ["ours", "theirs"]


def test_the_branch_travels_through_the_remote(repository, tmp_path):
    remote = tmp_path / "remote.git"
    git(tmp_path, "init", "--quiet", "--bare", str(remote))
    git(repository, "remote", "add", "origin", str(remote))
    laptop = tmp_path / "laptop"
    git(tmp_path, "clone", "--quiet", str(remote), str(laptop))
    Branch(laptop, "dsci/releases", "origin").fetch()  # nothing there yet: no error
    signed = Branch(laptop, "dsci/releases", "origin")
    signed.record(lambda read: {"clinic/signoffs/production/qa/k.intoto.json": b"{}\n"}, "qa approves")
    agent = Branch(repository, "dsci/releases", "origin")
    agent.fetch()
    assert agent.read("clinic/signoffs/production/qa/k.intoto.json") == b"{}\n"
    agent.record(lambda read: {"clinic/production/releases.jsonl": b"{}\n"}, "production: release 1")
    signed.fetch()
    assert signed.read("clinic/production/releases.jsonl") == b"{}\n"


def test_two_agents_pushing_at_once_keep_both_records(repository, tmp_path):
    """Two CI agents, each in its own clone, record a release at once: the one whose push is refused
    makes its record again on top of the other's."""
    remote = tmp_path / "remote.git"
    git(tmp_path, "init", "--quiet", "--bare", str(remote))
    git(repository, "remote", "add", "origin", str(remote))
    git(repository, "push", "--quiet", "origin", "main")
    other = tmp_path / "other"
    git(tmp_path, "clone", "--quiet", str(remote), str(other))
    path = "clinic/staging/releases.jsonl"
    first, second = Branch(repository, "dsci/releases", "origin"), Branch(other, "dsci/releases", "origin")
    first.fetch()
    second.fetch()
    first.record(lambda read: {path: (read(path) or b"") + b"first\n"}, "first")
    second.record(lambda read: {path: (read(path) or b"") + b"second\n"}, "second")  # refused, then again
    first.fetch()
    assert first.read(path) == second.read(path) == b"first\nsecond\n"


def test_a_push_that_is_refused_says_the_record_stays_local(repository, tmp_path):
    git(repository, "remote", "add", "origin", str(tmp_path / "nowhere.git"))
    branch = Branch(repository, "dsci/releases", "origin")
    with pytest.raises(EnvError) as raised:
        branch.record(lambda read: {"a": b"1"}, "one")
    assert (
        "git push origin dsci/releases failed" in raised.value.message
        and "push it by hand" in raised.value.message
    )
    assert branch.read("a") == b"1"  # kept on the local branch


def test_outside_a_repository_the_history_has_nowhere_to_live(tmp_path):
    with pytest.raises(
        ConfigError, match=r"not in a git repository, and the release history lives on a branch"
    ):
        Branch(tmp_path, "dsci/releases").check()
