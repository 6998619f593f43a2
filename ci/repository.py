"""The git stage: the repository a build starts from, checked before any stage reads it.

Submodules initialised, at the commit the superproject pins, and that commit on
the submodule's remote branch (asked of the remote with ls-remote, never
fetched); no file over a size limit kept in git rather than LFS; no
merge-conflict markers; and the build stamp (commit, dirty) that every later
artifact of the run carries.
"""

from __future__ import annotations

import shlex
from pathlib import Path
from typing import Any

from ci.core import settings
from ci.core.errors import EnvError
from ci.core.process import Runner
from ci.core.results import Check, StageResult, Status, group
from ci.core.text import first_line

CONFLICT = r"^(<<<<<<<|>>>>>>>) "  # the lines git writes around a conflict; ======= alone is too common
MB = 1_000_000


def check(
    cfg: settings.Git, *, run: Runner, root: Path, stamp: dict[str, Any], branch: str = ""
) -> StageResult:
    """The git stage; ``branch`` is the one the CI builds (its checkout is detached), for ``branch = .``."""
    if not run(["git", "rev-parse", "--git-dir"]).ok:
        return StageResult("git", skipped="not a git repository")
    checks = [_stamp(stamp)]
    if cfg.submodules:
        checks += submodules(run, root, branch)
    if cfg.max_file_mb:
        checks += large_files(run, cfg.max_file_mb)
    if cfg.conflict_markers:
        checks += conflict_markers(run)
    return StageResult("git", checks)


def _stamp(stamp: dict[str, Any]) -> Check:
    commit = stamp.get("commit")
    if not commit:
        return Check("stamp", Status.WARNED, "no commit yet: artifacts carry no revision", details=stamp)
    dirty = ", with uncommitted changes (artifacts are marked dirty)" if stamp.get("dirty") else ""
    return Check("stamp", Status.PASSED, f"building {commit[:12]}{dirty}", details=stamp)


def submodules(run: Runner, root: Path, built: str = "") -> list[Check]:
    """Each submodule: initialised, at the pinned commit, the pinned commit on its remote branch."""
    listed = run(["git", "submodule", "status", "--recursive"])
    if not listed.ok:
        why = first_line(listed.stderr)
        raise EnvError(f"git submodule status failed: {why}; the git stage did not check the submodules")
    checks = []
    for line in filter(None, listed.stdout.splitlines()):
        mark, commit, path = _status(line)
        common = {"group": group("git", "submodules"), "file": path}
        parent, inner = _parent(root, path)
        if mark == "-":
            fix = "run `git submodule update --init --recursive`"
            checks.append(Check(path, Status.FAILED, f"not initialised; {fix}", **common))
        elif mark == "+":
            pinned = run(["git", "-C", str(parent), "rev-parse", f"HEAD:{inner}"]).stdout.strip()
            within = "" if parent == root else f"-C {shlex.quote(str(parent.relative_to(root)))} "
            add = f"git {within}add {shlex.quote(inner)}"
            message = (
                f"checked out at {commit[:12]}, but the superproject pins {pinned[:12]}; run "
                f"`git submodule update --recursive`, or commit the new pin with `{add}`"
            )
            checks.append(Check(path, Status.FAILED, message, **common))
        elif mark == "U":
            checks.append(Check(path, Status.FAILED, "has merge conflicts; resolve them first", **common))
        else:
            checks.append(_on_branch(run, root, path, commit, common, built))
    return checks


def _status(line: str) -> tuple[str, str, str]:
    """(mark, commit, path) of a `git submodule status` line, e.g. ``+<sha> my lib (heads/main)``: the
    path may hold spaces; a checked-out submodule's line ends with what `git describe` says of it."""
    mark, (commit, _, rest) = line[0], line[1:].partition(" ")
    if mark in (" ", "+") and rest.endswith(")") and " (" in rest:
        rest = rest[: rest.rindex(" (")]
    return mark, commit, rest


def _on_branch(run: Runner, root: Path, path: str, pinned: str, common: dict[str, Any], built: str) -> Check:
    """Whether the pinned commit is on the submodule's branch at its remote: ls-remote, never a fetch."""
    in_sub = ["git", "-C", str(root / path)]
    branch = _branch(run, root, path, built)
    ref = f"refs/heads/{branch}" if branch else "HEAD"
    on = f"origin/{branch}" if branch else "origin's default branch"
    remote = run([*in_sub, "ls-remote", "origin", ref])
    if not remote.ok:
        url = run([*in_sub, "remote", "get-url", "origin"]).stdout.strip()
        why = (remote.stderr.strip().splitlines() or [f"exit code {remote.exited}"])[-1]
        raise EnvError(f"submodule {path}: cannot reach its remote {url}: {why}; the git stage did not check")
    if not remote.stdout.strip():
        message = f"its remote has no {on.removeprefix('origin/')} branch; fix `branch` in .gitmodules"
        return Check(path, Status.FAILED, message, **common)
    tip = remote.stdout.split()[0]
    if tip == pinned or run([*in_sub, "merge-base", "--is-ancestor", pinned, tip]).ok:
        return Check(path, Status.PASSED, f"at {pinned[:12]}, on {on}", **common)
    if not run([*in_sub, "cat-file", "-e", f"{tip}^{{commit}}"]).ok:
        fix = f"`git -C {shlex.quote(path)} fetch origin {branch or 'HEAD'}` and run the stage again"
        unknown = f"its tip {tip[:12]} is not in this clone"
        message = f"cannot tell whether {pinned[:12]} is on {on}: {unknown}; {fix}"
        return Check(path, Status.WARNED, message, **common)
    quoted = shlex.quote(path)
    fix = f"pin a commit of it: `git -C {quoted} checkout {tip[:12]} && git add {quoted}`"
    message = f"pinned at {pinned[:12]}, which is not on {on} (tip {tip[:12]}): a stale or lost pin; {fix}"
    return Check(path, Status.FAILED, message, **common)


def _branch(run: Runner, root: Path, path: str, built: str = "") -> str:
    """The branch .gitmodules names for the submodule at ``path`` ("" when it names none). ``.`` is the
    superproject's own branch: the checked-out one, or ``built`` (the CI's) where the checkout is detached,
    as in CI. A nested submodule's is in its parent's .gitmodules."""
    parent, inner = _parent(root, path)
    in_parent = ["git", "-C", str(parent), "config", "-f", ".gitmodules"]
    listed = run([*in_parent, "-z", "--get-regexp", r"\.path$"])  # a name or path may hold spaces
    entries = dict(item.split("\n", 1) for item in listed.stdout.split("\0") if "\n" in item)
    key = next((k for k, v in entries.items() if v == inner), "")
    if not key:
        return ""
    branch = run([*in_parent, "--get", key.removesuffix(".path") + ".branch"]).stdout.strip()
    if branch == ".":
        current = run(["git", "-C", str(parent), "rev-parse", "--abbrev-ref", "HEAD"]).stdout.strip()
        return current if current != "HEAD" else built
    return branch


def _parent(root: Path, path: str) -> tuple[Path, str]:
    """The repository that holds the submodule at ``path`` (the deepest one above it), and its path there."""
    parts = Path(path).parts
    for cut in range(len(parts) - 1, 0, -1):
        if (root / Path(*parts[:cut]) / ".git").exists():
            return root / Path(*parts[:cut]), str(Path(*parts[cut:]))
    return root, path


def large_files(run: Runner, limit_mb: float) -> list[Check]:
    """Files of HEAD over the limit that git keeps itself rather than LFS (an LFS pointer is tiny)."""
    listed = run(["git", "ls-tree", "-r", "-l", "-z", "HEAD"])
    if not listed.ok:
        if not run(["git", "rev-parse", "--verify", "--quiet", "HEAD"]).ok:
            return [Check("large files", Status.SKIPPED, "no commit yet")]
        why = first_line(listed.stderr)
        raise EnvError(f"git ls-tree failed: {why}; the git stage did not check file sizes")
    checks = []
    for entry in filter(None, listed.stdout.split("\0")):
        meta, _, path = entry.partition("\t")
        size = meta.split()[3]
        if not size.isdigit() or int(size) <= limit_mb * MB:  # a submodule's commit has no size
            continue
        pattern = f"*{Path(path).suffix}" if Path(path).suffix else path
        quoted = shlex.quote(path)
        readd = f"git rm --cached {quoted} && git add .gitattributes {quoted}"
        fix = f"`git lfs track {shlex.quote(pattern)}`, then `{readd}`"
        over = f"{int(size) / MB:.1f} MB in git, over {limit_mb:g} MB (ci.git.max_file_mb)"
        checks.append(Check(
            path, Status.FAILED, f"{over}: keep it in LFS: {fix}", value=round(int(size) / MB, 1),
            threshold=limit_mb, group=group("git", "large-files"), file=path,
        ))  # fmt: skip
    if not checks:
        checks.append(Check("large files", Status.PASSED, f"no file over {limit_mb:g} MB outside LFS"))
    return checks


def conflict_markers(run: Runner) -> list[Check]:
    """Lines that git writes around a conflict, left in a tracked text file."""
    found = run(["git", "-c", "core.quotePath=off", "grep", "-n", "-z", "-I", "-E", CONFLICT])
    if found.exited not in (0, 1):  # 1: no line matched
        why = first_line(found.stderr)
        raise EnvError(f"git grep failed: {why}; the git stage did not check for conflict markers")
    checks = []
    for line in found.stdout.splitlines():
        file, number, _ = line.split("\0", 2)
        checks.append(Check(
            f"{file}:{number}", Status.FAILED, "a merge-conflict marker: resolve the conflict",
            group=group("git", "conflicts"), file=file, line=int(number),
        ))  # fmt: skip
    if not checks:
        checks.append(Check("conflict markers", Status.PASSED, "none in tracked files"))
    return checks
