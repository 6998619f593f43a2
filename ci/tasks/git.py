"""ci.git: the repository a build starts from (submodules, large files, conflict markers, the build stamp)."""

from __future__ import annotations

from typing import Any

from invoke import task

from ci.tasks._stage import Stage


def git_stage(s: Any) -> Any:
    from ci import repository
    from ci.core.environment import detect
    from ci.pullrequest.find import built_branch

    branch = built_branch(detect().environ)  # for `branch = .` in .gitmodules, on a detached checkout
    return repository.check(s.section("git"), run=s.runner(), root=s.root, stamp=s.stamp(), branch=branch)


GIT = Stage("git", git_stage, needs=())


@task(name="git", help={"tenant": "Run with this tenant's settings (ci.tenants)."})
def git_(c, tenant=None):
    """Check the repository: submodules at their pins and on their branches, large files in LFS, no
    conflict markers."""
    from ci.tasks._boundary import run_stages

    run_stages(c, [GIT], tenant=tenant)
