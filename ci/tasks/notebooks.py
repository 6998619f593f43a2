"""ci.notebooks (check, the default) and ci.notebooks.setup: notebooks kept clean, and a repository set up
to keep them so."""

from __future__ import annotations

from typing import Any

from invoke import task

from ci.tasks import _inputs
from ci.tasks._stage import Stage


def notebooks_stage(s: Any) -> Any:
    from ci.notebooks import check

    return check.check_all(s.section("notebooks"), root=s.root, run=s.runner(), report_dir=s.report_dir)


NOTEBOOKS = Stage("notebooks", notebooks_stage, inputs=_inputs.notebooks, needs=("git",))


@task(default=True, help={"tenant": "Run with this tenant's settings (ci.tenants)."})
def check(c, tenant=None):
    """Check the notebooks git tracks: stripped, no personal data, ruff per cell; run the chosen ones."""
    from ci.tasks._boundary import run_stages

    run_stages(c, [NOTEBOOKS], tenant=tenant)


@task
def setup(c):
    """Set up this repository: nbstripout strips every commit, nbdime shows notebook diffs cell by cell."""
    from ci.notebooks import setup as configuring
    from ci.tasks._boundary import Settings, boundary

    with boundary() as out:
        s = Settings(c).validate()
        done = configuring.configure(s.root, s.runner(), s.get("notebooks.keep_metadata"))
    out.write("\n".join(f"dsci: {line}" for line in done) or "dsci: the repository was set up already")
