"""ci.parity: the golden set's predictions in development and inside the built image, compared."""

from __future__ import annotations

from typing import Any

from invoke import task

from ci.tasks import _inputs
from ci.tasks._stage import Stage


def parity_stage(s: Any, record: bool = False, image_ref: str | None = None, **given: Any) -> Any:
    from ci import image, parity
    from ci.core.errors import ConfigError
    from ci.core.results import StageResult
    from ci.tasks.security import age_identity

    cfg = s.section("parity", **given)
    if not cfg.golden:
        return StageResult("parity", skipped="no golden set (ci.parity.golden)")
    if not s.get("model.path"):
        return StageResult("parity", skipped="no model file (ci.model.path)")
    if record:
        return parity.record(cfg, s.get("model"), root=s.root)
    reference = s.get("parity.image", image_ref, "--image")
    built_by = "build it with `invoke ci.image`" if not reference else "build it, or fix ci.parity.image"
    identity = age_identity(s)
    if not reference:
        made = image.built(s.report_dir / "image")
        reference = made["tags"][0]
        if made.get("encrypted") and not identity:
            raise ConfigError(
                f"{reference} carries an encrypted bundle, and parity runs its model: give an age "
                "identity that opens it (ci.security.identity_file, or the variable "
                f"{s.get('security.identity_env')}), or leave parity out (ci.all.skip: [parity])"
            )
    return parity.check(
        cfg,
        s.get("model"),
        root=s.root,
        report_dir=s.report_dir,
        image=reference,
        built_by=built_by,
        project=image.project_metadata(s.root).get("name", ""),
        engine=image.client(),
        identity=identity,
    )


PARITY = Stage("parity", parity_stage, inputs=_inputs.parity, needs=("image",))


@task(
    help={
        "tenant": "Run with this tenant's settings (ci.tenants).",
        "record": "Score the golden set here and store its predictions beside it (writing it first from a "
        "sample of ci.model.holdout when it is missing); commit both files.",
        "image": "The image to check (ci.parity.image); default: the one ci.image built last.",
        "rtol": "Relative tolerance for scores (ci.parity.rtol).",
        "atol": "Absolute tolerance for scores (ci.parity.atol).",
    },
)
def parity(c, record=False, image=None, rtol=None, atol=None, tenant=None):
    """Prove the image predicts as development does: the golden set scored in both, libraries compared."""
    from ci.tasks._boundary import run_stages

    stage = PARITY._replace(inputs=None) if image else PARITY  # another image: by a name that may move
    run_stages(c, [stage.given(record=record, image_ref=image, rtol=rtol, atol=atol)], tenant=tenant)
