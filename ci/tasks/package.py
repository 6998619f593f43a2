"""ci.package: the project's wheel and sdist, and the model bundle with its manifest."""

from __future__ import annotations

from typing import Any

from invoke import task

from ci.tasks import _inputs
from ci.tasks._stage import Stage


def package_stage(s: Any) -> Any:
    from ci import package
    from ci.tasks.security import age_recipients, settings_digest

    return package.package(
        s.get("package"),
        run=s.runner(),
        root=s.root,
        out=s.root / s.get("package.out"),
        metrics_file=s.report_dir / "metrics.json",
        config_digest=settings_digest(s),
        model_path=s.get("model.path"),
        git=s.stamp(),
        recipients=age_recipients(s),
    )


PACKAGE = Stage("package", package_stage, quiet=False, inputs=_inputs.package, needs=("model",))


@task(help={"tenant": "Run with this tenant's settings (ci.tenants)."})
def package(c, tenant=None):
    """Build the wheel and sdist, and the model bundle with its manifest (encrypted to
    ci.security.recipients when set), into ci.package.out."""
    from ci.tasks._boundary import run_stages

    run_stages(c, [PACKAGE], tenant=tenant)
