"""ci.model (evaluate, the default) and ci.model.export: metrics, gates, ONNX parity."""

from __future__ import annotations

from typing import Any

from invoke import task

from ci.tasks import _inputs
from ci.tasks._stage import Stage


def model_stage(s: Any, mode: str | None = None, update_baseline: bool = False, **given: Any) -> Any:
    import msgspec

    from ci.core.environment import detect
    from ci.model import evaluation
    from ci.pullrequest.find import follow_build

    cfg = s.section("model", **given)
    return evaluation.evaluate(
        msgspec.structs.replace(cfg, baseline=follow_build(cfg.baseline, detect().environ)),
        run=s.runner(),
        root=s.root,
        report_dir=s.report_dir,
        mode=None if mode is None else s.get("model.mode", mode, "--mode"),
        update_baseline=update_baseline,
        train_env=training_env(s, cfg),
    )


def training_env(s: Any, cfg: Any) -> dict[str, str]:
    """What the training command (ci.model.train) is told: the tenant, where its data is (each
    dataset as DSCI_DATA_<NAME>, the holdout) and where the model goes. A tenant's are its own."""
    import re

    env = {"DSCI_TENANT": s.tenant, "DSCI_MODEL_PATH": cfg.path, "DSCI_HOLDOUT": cfg.holdout}
    for dataset in s.get("data.datasets"):
        env["DSCI_DATA_" + re.sub(r"[^A-Za-z0-9]", "_", dataset.name).upper()] = dataset.path
    return env


def onnx_stage(s: Any, double: str | None = None, tolerance: str | None = None, force: bool = False) -> Any:
    from ci.core.results import StageResult
    from ci.model import evaluation

    cfg = s.get("model")
    if evaluation.configured(cfg) and not (force or s.get("model.onnx.enabled")):
        return StageResult("onnx", skipped="ci.model.onnx.enabled is false")
    return evaluation.export_onnx(  # skips itself when no model is configured
        cfg,
        root=s.root,
        report_dir=s.report_dir,
        double=s.get("model.onnx.double", double, "--double"),
        tolerance=s.get("model.onnx.tolerance", tolerance, "--tolerance"),
    )


MODEL = Stage("model", model_stage, quiet=False, inputs=_inputs.model, needs=("data", "isolation"))
ONNX = Stage("onnx", onnx_stage, inputs=_inputs.onnx, needs=("model",))


@task(
    default=True,
    help={
        "tenant": "Run with this tenant's settings (ci.tenants).",
        "path": "The model file (ci.model.path).",
        "holdout": "The holdout data, CSV or Parquet (ci.model.holdout).",
        "mode": "enforce, dry-run or disabled, for every gate (beats ci.model.mode and each gate's own).",
        "update_baseline": "Write the metrics to ci.model.baseline.path, to commit as the new baseline.",
    },
)
def evaluate(c, path=None, holdout=None, mode=None, update_baseline=False, tenant=None):
    """Judge the model on the holdout: metrics, gates against thresholds and the baseline, plots."""
    from ci.tasks._boundary import run_stages

    run_stages(
        c,
        [MODEL.given(mode=mode, update_baseline=update_baseline, path=path, holdout=holdout)],
        tenant=tenant,
    )


@task(
    optional=["double"],
    help={
        "tenant": "Run with this tenant's settings (ci.tenants).",
        "format": "The export format: onnx.",
        "double": "Export in double precision (ci.model.onnx.double).",
        "tolerance": "Largest score difference allowed between the runtimes (ci.model.onnx.tolerance).",
    },
)
def export(c, format="onnx", double=None, tolerance=None, tenant=None):  # noqa: A002 - the flag reads best as --format
    """Export the model to ONNX and prove onnxruntime scores the holdout as Python does."""
    from ci.core.errors import ConfigError
    from ci.tasks._boundary import boundary, run_stages

    with boundary():
        if format != "onnx":
            raise ConfigError(f'--format must be "onnx", got "{format}"')
    run_stages(c, [ONNX.given(double=double, tolerance=tolerance, force=True)], tenant=tenant)


@task(help={"tenant": "Run with this tenant's settings (ci.tenants)."})
def onnx(c, tenant=None):
    """The onnx stage of ci.all: export and parity when ci.model.onnx.enabled (ci.model.export forces it)."""
    from ci.tasks._boundary import run_stages

    run_stages(c, [ONNX], tenant=tenant)
