"""ci.image: the model-serving image, built offline from the package stage's output."""

from __future__ import annotations

import sys
from typing import Any

from invoke import task

from ci.tasks import _inputs
from ci.tasks._stage import Stage


def image_stage(s: Any) -> Any:
    from ci import image
    from ci.core.results import StageResult
    from ci.tasks.security import age_identity, trusted_keys
    from ci.tasks.tenants import image_isolation

    if not (s.get("model.path") or s.get("package.bundle")):
        return StageResult("image", skipped="no model to serve (ci.model.path, ci.package.bundle)")
    index_url = s.secret("image.index_url_env", "") if s.get("image.index_url_env") else None
    run = s.runner()
    # The image must predict a few rows as development does: the golden set's, else the holdout's.
    tables = [s.root / p for p in (s.get("parity.golden"), s.get("model.holdout")) if p]
    built = image.build_image(
        s.get("image"),
        s.get("model"),
        run=run,
        root=s.root,
        dist=s.root / s.get("package.out"),
        work=s.report_dir / "image",
        git=s.stamp(),
        smoke_rows=next((t for t in tables if t.is_file()), None),
        index_url=index_url,
        stream=sys.stdout,
        trusted=trusted_keys(s)[1],
        identity=age_identity(s),
    )
    return image_isolation(s, built)


IMAGE = Stage("image", image_stage, quiet=False, inputs=_inputs.image, needs=("sign",))


@task(help={"tenant": "Run with this tenant's settings (ci.tenants)."})
def image(c, tenant=None):
    """Build the model-serving image with the network off, and prove it serves before it passes."""
    from ci.tasks._boundary import run_stages

    run_stages(c, [IMAGE], tenant=tenant)
