"""The git stage on real repositories: submodules, large files (with Debian's git-lfs), conflict markers."""

import shutil

import pytest

from tests.integration.conftest import commit, git, stage_report

MARKER = "<" * 7  # written out here, a conflict marker would be one in this very file


def report(folder):
    return stage_report(folder, "git")


def test_the_example_passes_and_the_stamp_is_the_one_every_artifact_carries(example, invoke):
    done = invoke(example, "ci.git")
    assert done.returncode == 0, done.stdout[-2000:]
    checks, _ = report(example)
    head = git(example, "rev-parse", "HEAD").strip()
    assert checks["stamp"]["message"] == f"building {head[:12]}"
    assert checks["large files"]["status"] == "passed" and checks["conflict markers"]["status"] == "passed"
    (example / "clinic" / "__init__.py").write_text("# changed, not committed\n")
    assert invoke(example, "train").returncode == 0
    assert invoke(example, "ci.all", "--only", "git,package").returncode == 0
    checks, _ = report(example)
    assert (
        checks["stamp"]["message"]
        == f"building {head[:12]}, with uncommitted changes (artifacts are marked dirty)"
    )
    assert list((example / "dist").glob(f"clinic-{head[:7]}-dirty.bundle.tar*"))  # the same stamp


@pytest.mark.tool("git-lfs")
def test_a_20_mb_csv_outside_lfs_fails_with_the_fix_and_passes_once_in_lfs(example, invoke):
    big = example / "data" / "scans.csv"
    row = "patient,value\n" + "1234567,0.123456789\n" * 1_000_000
    big.write_text(row)
    commit(example, "a large csv")
    done = invoke(example, "ci.git")
    assert done.returncode == 1
    checks, _ = report(example)
    assert checks["data/scans.csv"]["message"] == (
        "20.0 MB in git, over 10 MB (ci.git.max_file_mb): keep it in LFS: `git lfs track '*.csv'`, then "
        "`git rm --cached data/scans.csv && git add .gitattributes data/scans.csv`"
    )
    git(example, "lfs", "install", "--local")
    git(example, "lfs", "track", "*.csv")
    git(example, "rm", "--quiet", "--cached", "data/scans.csv")
    git(example, "add", ".gitattributes", "data/scans.csv")
    git(example, "commit", "--quiet", "--message", "the csv files in LFS")
    assert "data/scans.csv" in git(example, "lfs", "ls-files", "--name-only").split()
    assert invoke(example, "ci.git").returncode == 0


def test_conflict_markers_fail_with_file_and_line(example, invoke):
    (example / "clinic" / "notes.py").write_text(f"x = 1\n{MARKER} HEAD\ny = 2\n")
    commit(example)
    assert invoke(example, "ci.git").returncode == 1
    checks, _ = report(example)
    assert checks["clinic/notes.py:2"]["message"] == "a merge-conflict marker: resolve the conflict"


@pytest.fixture
def superproject(tmp_path, example):
    """The example with a submodule `vendor/lib` whose remote has main and a side branch."""
    lib = tmp_path / "lib"
    lib.mkdir()
    git(lib, "init", "--quiet", "--initial-branch=main")
    (lib / "lib.py").write_text("VERSION = 1\n")
    commit(lib, "lib 1")
    git(lib, "checkout", "--quiet", "-b", "experiment")
    (lib / "lib.py").write_text("VERSION = 2  # never merged\n")
    commit(lib, "an experiment")
    git(lib, "checkout", "--quiet", "main")
    git(example, "-c", "protocol.file.allow=always", "submodule", "add", "--quiet", "-b", "main", str(lib),
        "vendor/lib")  # fmt: skip
    commit(example, "the lib as a submodule")
    return example, lib


def test_a_submodule_on_its_branch_passes_and_behind_an_unfetched_tip_warns_with_the_fetch(
    superproject, invoke
):
    example, lib = superproject
    sub = example / "vendor" / "lib"
    pinned = git(sub, "rev-parse", "HEAD").strip()
    assert invoke(example, "ci.git").returncode == 0
    checks, _ = report(example)
    assert checks["vendor/lib"]["message"] == f"at {pinned[:12]}, on origin/main"
    (lib / "lib.py").write_text("VERSION = 1.1\n")
    commit(lib, "lib 1.1, not pinned yet")
    tip, refs = git(lib, "rev-parse", "main").strip(), git(sub, "for-each-ref")
    assert invoke(example, "ci.git").returncode == 0
    checks, _ = report(example)
    assert checks["vendor/lib"]["status"] == "warned"
    assert checks["vendor/lib"]["message"] == (
        f"cannot tell whether {pinned[:12]} is on origin/main: its tip {tip[:12]} is not in this clone; "
        "`git -C vendor/lib fetch origin main` and run the stage again"
    )
    assert git(sub, "for-each-ref") == refs  # asked with ls-remote, never fetched
    git(sub, "fetch", "--quiet", "origin", "main")
    assert invoke(example, "ci.git").returncode == 0
    checks, _ = report(example)
    assert checks["vendor/lib"]["message"] == f"at {pinned[:12]}, on origin/main"  # behind the tip, on it


def test_a_submodule_pinned_to_a_commit_not_on_its_branch_fails_with_the_fix(superproject, invoke):
    example, lib = superproject
    side = git(lib, "rev-parse", "experiment").strip()
    tip = git(lib, "rev-parse", "main").strip()
    git(example / "vendor" / "lib", "checkout", "--quiet", side)
    commit(example, "pin the experiment")
    assert invoke(example, "ci.git").returncode == 1
    checks, _ = report(example)
    assert checks["vendor/lib"]["message"] == (
        f"pinned at {side[:12]}, which is not on origin/main (tip {tip[:12]}): a stale or lost pin; pin a "
        f"commit of it: `git -C vendor/lib checkout {tip[:12]} && git add vendor/lib`"
    )


def test_a_submodule_not_initialised_or_not_at_its_pin_fails(superproject, invoke, tmp_path):
    example, _ = superproject
    clone = tmp_path / "clone"
    git(tmp_path, "clone", "--quiet", str(example), str(clone))
    assert invoke(clone, "ci.git").returncode == 1
    checks, _ = report(clone)
    assert checks["vendor/lib"]["message"] == "not initialised; run `git submodule update --init --recursive`"
    sub = example / "vendor" / "lib"
    (sub / "lib.py").write_text("VERSION = 3\n")
    commit(sub, "moved on, not pinned")
    assert invoke(example, "ci.git").returncode == 1
    checks, _ = report(example)
    assert checks["vendor/lib"]["message"].startswith("checked out at ")
    assert (
        "run `git submodule update --recursive`, or commit the new pin with `git add vendor/lib`"
        in (checks["vendor/lib"]["message"])
    )


def test_a_submodule_whose_remote_cannot_be_reached_is_exit_3_and_not_a_pass(superproject, invoke):
    example, lib = superproject
    shutil.rmtree(lib)
    done = invoke(example, "ci.git")
    assert done.returncode == 3
    assert done.stderr.strip().startswith(f"error: submodule vendor/lib: cannot reach its remote {lib}: ")
    assert done.stderr.strip().endswith("; the git stage did not check")
    _, stage = report(example)
    assert stage["status"] == "failed"


def test_a_submodule_path_with_spaces_and_branch_dot_on_a_detached_ci_checkout(tmp_path, example, invoke):
    lib = tmp_path / "lib"
    lib.mkdir()
    git(lib, "init", "--quiet", "--initial-branch=main")
    (lib / "lib.py").write_text("VERSION = 1\n")
    commit(lib, "lib 1")
    git(example, "-c", "protocol.file.allow=always", "submodule", "add", "--quiet", str(lib), "vendor/my lib")
    git(example, "config", "-f", ".gitmodules", "submodule.vendor/my lib.branch", ".")  # the superproject's
    commit(example, "the lib, following our branch")
    git(example, "checkout", "--quiet", "--detach")  # as a CI checks out
    done = invoke(example, "ci.git", GITHUB_HEAD_REF="main")
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr
    checks, _ = report(example)
    pinned = git(example / "vendor" / "my lib", "rev-parse", "HEAD").strip()
    assert checks["vendor/my lib"]["message"] == f"at {pinned[:12]}, on origin/main"
    git(example / "vendor" / "my lib", "commit", "--quiet", "--allow-empty", "--message", "local, unpinned")
    assert invoke(example, "ci.git", GITHUB_HEAD_REF="main").returncode == 1
    checks, _ = report(example)
    assert checks["vendor/my lib"]["message"].endswith("commit the new pin with `git add 'vendor/my lib'`")
