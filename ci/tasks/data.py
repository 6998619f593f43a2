"""ci.data (check, the default) and ci.data.pii: the data contract and the personal-data scan."""

from __future__ import annotations

from typing import Any

from invoke import task

from ci.tasks import _inputs
from ci.tasks._stage import Stage


def data_stage(s: Any) -> Any:
    from ci.data import stage

    return stage.check_all(s.section("data"), root=s.root)


def pii_stage(s: Any, git: str | None = None) -> Any:
    from ci.data import stage

    return stage.scan_pii(s.section("data", pii=s.section("data.pii", git=git)), root=s.root, run=s.runner())


DATA = Stage("data", data_stage, inputs=_inputs.data, needs=("git", "isolation"))
PII = Stage("pii", pii_stage)


@task(default=True, help={"tenant": "Run with this tenant's settings (ci.tenants)."})
def check(c, tenant=None):
    """Check every dataset declared under ci.data against its checks."""
    from ci.tasks._boundary import run_stages

    run_stages(c, [DATA], tenant=tenant)


@task(
    optional=["git"],
    help={
        "tenant": "Run with this tenant's settings (ci.tenants).",
        "git": "Also scan every CSV, Parquet and JSON file git tracks (ci.data.pii.git).",
    },
)
def pii(c, git=None, tenant=None):
    """Scan the datasets for personal data: cards, e-mail, phones, IBANs, SSNs; values shown masked."""
    from ci.tasks._boundary import run_stages

    run_stages(c, [PII.given(git=git)], tenant=tenant)
