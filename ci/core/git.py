"""What git says of the work tree: the build stamp every artifact carries."""

from __future__ import annotations

from typing import Any

from ci.core.process import Runner


def git_state(run: Runner) -> dict[str, Any]:
    """The commit, whether the work tree differs from it, and the commit's time (for reproducible builds)."""
    commit = run(["git", "rev-parse", "HEAD"])
    if not commit.ok:
        return {"commit": None, "dirty": None, "time": None}
    status = run(["git", "status", "--porcelain", "--untracked-files=no"])
    when = run(["git", "log", "-1", "--format=%ct"])
    return {
        "commit": commit.stdout.strip(),
        "dirty": bool(status.stdout.strip()),
        "time": int(when.stdout.strip()) if when.ok and when.stdout.strip().isdigit() else None,
    }
