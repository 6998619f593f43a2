"""The model stage: score the holdout, compute metrics, judge the gates, write metrics and plots."""

from __future__ import annotations

import json
import shlex
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ci.core import files, settings
from ci.core.errors import ConfigError
from ci.core.process import Runner
from ci.core.results import Check, StageResult, Status
from ci.core.text import display, first_line
from ci.model import baseline as baselines
from ci.model import gates as gating
from ci.model import metrics as metric_lib
from ci.model import onnx, plots
from ci.model.loading import Model, Predictions, load_holdout, load_model, onnx_model

_ICONS = {gating.PASS: "✅", gating.FAIL: "❌", gating.NOT_BETTER: "⚠️"}


def configured(cfg: settings.Model) -> bool:
    return bool(cfg.path) or cfg.format == "hook"


def evaluate(
    cfg: settings.Model,
    *,
    run: Runner,
    root: Path,
    report_dir: Path,
    mode: str | None = None,
    update_baseline: bool = False,
    train_env: Mapping[str, str] | None = None,
) -> StageResult:
    """Metrics and gates on the holdout; ``mode`` (from the command line) overrides every gate's.

    ``train_env`` is given to the training command: where its data is and where the model goes."""
    if not configured(cfg):
        return StageResult("model", skipped="no model configured (ci.model.path)")
    checks = []
    if cfg.train:
        (root / cfg.path).parent.mkdir(parents=True, exist_ok=True)
        trained = run(shlex.split(cfg.train), quiet=False, env=train_env or {})
        if not trained.ok:
            message = f"`{cfg.train}` (ci.model.train) exited with {trained.exited}"
            return StageResult("model", [Check("train", Status.FAILED, message)])
        checks.append(Check("train", Status.PASSED, f"`{cfg.train}`"))
    model, holdout, predictions = score_holdout(cfg, root)
    chosen = metric_lib.choose(cfg.task, cfg.metrics, predictions.scores is not None)
    gates = gating.gates_from_settings(cfg.gates, [m.name for m in chosen], cfg.mode, mode)
    scores = metric_lib.compute(chosen, holdout.target, predictions, holdout.segments)
    b = cfg.baseline
    base = baselines.read(b.path, b.rev, b.branch, run=run, root=root)
    judged = _judge(gates, scores, base)
    checks += [gating.to_check(j, gate) for j, gate in judged]
    enforced = [j for j, gate in judged if gate.mode != "disabled"]
    verdict = gating.overall_verdict(enforced)
    if not enforced:  # metrics alone stop nothing: say so rather than pass
        message = "metrics measured, but no gate judges them; declare ci.model.gates so a worse model fails"
        checks.append(Check("gates", Status.WARNED, message))
    out = report_dir / "model"
    record = {
        **scores.to_json(),
        "verdict": verdict,
        "baseline": base.source,
        "model": model.source,
        "holdout": cfg.holdout,
        "undefined": {f"{m}[{s}]" if s else m: why for (m, s), why in scores.why.items()},
        "gates": [j.__dict__ for j, _ in judged],
    }
    artifacts = [files.write_text(report_dir / "metrics.json", json.dumps(record, indent=2) + "\n")]
    if cfg.plots:
        artifacts += _plots(cfg.task, holdout.target, predictions, out)
    if update_baseline:
        written = baselines.write(root / b.path, scores.to_json())
        checks.append(
            Check("baseline", Status.PASSED, f"wrote {display(written)}: commit it to make it the baseline")
        )
    summary = _summary(
        scores, judged, base, verdict, [Path(a).relative_to(report_dir) for a in artifacts[1:]]
    )
    return StageResult("model", checks, [str(a) for a in artifacts], summary=summary)


def score_holdout(cfg: settings.Model, root: Path) -> tuple[Model, Any, Predictions]:
    """Load the model and the holdout, and score it: the part the model and ONNX stages share."""
    model = load_model(cfg.path, cfg.format, hook=cfg.hook, method=cfg.method, trusted=cfg.trusted, root=root)
    holdout = load_holdout(
        cfg.holdout,
        target=cfg.target,
        features=cfg.features,
        drop=cfg.drop,
        segment_by=cfg.segment_by,
        root=root,
    )
    try:
        predictions = model.score(holdout.features)
    except ConfigError:
        raise
    except Exception as error:
        raise ConfigError(f"{model.source} could not score {cfg.holdout}: {first_line(error)}") from None
    _check_task(cfg.task, predictions, model.source)
    metric_lib.check_labels(holdout.target, predictions, cfg.holdout)
    return model, holdout, predictions


def _check_task(task: str, p: Predictions, source: str) -> None:
    classes = None if p.classes is None else len(p.classes)
    if task == "regression" and classes:
        raise ConfigError(f"ci.model.task is regression, but {source} is a classifier with {classes} classes")
    if task == "binary" and classes and classes != 2:
        raise ConfigError(
            f"ci.model.task is binary, but {source} has {classes} classes; set it to multiclass"
        )


def _judge(
    gates: list[gating.Gate], scores: metric_lib.Scores, base: baselines.Baseline
) -> list[tuple[gating.Judgement, gating.Gate]]:
    judged = []
    for gate in gates:
        segments = [None, *scores.segments] if gate.segments else [None]
        for segment in segments:
            values = scores.overall if segment is None else scores.segments[segment]
            judgement = gating.judge(
                gate,
                values[gate.metric],
                base.value(gate.metric, segment),
                segment=segment,
                undefined=scores.why.get((gate.metric, segment), ""),
            )
            judged.append((judgement, gate))
    return judged


def _plots(task: str, y: Any, p: Predictions, out: Path) -> list[Path]:
    if task == "regression":
        return [plots.predicted_vs_actual(y, p, out / "predicted_vs_actual.png")]
    made = [plots.confusion_matrix(y, p, out / "confusion_matrix.png")]
    if p.scores is not None:
        made.insert(0, plots.roc_curve(y, p, out / "roc_curve.png"))
    return made


def _summary(
    scores: metric_lib.Scores,
    judged: list[tuple[gating.Judgement, gating.Gate]],
    base: baselines.Baseline,
    verdict: str,
    pictures: list[Path],
) -> str:
    by_key = {(j.metric, j.segment): (j, gate) for j, gate in judged}
    lines = [
        f"Verdict: **{verdict}**. Baseline: {base.source}.",
        "",
        "| metric | baseline | current | delta | threshold | verdict |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    rows = [(m, None) for m in scores.overall] + [k for k in by_key if k[1] is not None]
    for metric, segment in rows:
        values = scores.overall if segment is None else scores.segments[segment]
        current, before = values[metric], base.value(metric, segment)
        j, gate = by_key.get((metric, segment), (None, None))
        delta = "" if current is None or before is None else f"{current - before:+.4f}"
        shown = "undefined" if current is None else f"{current:.4f}"
        verdict_cell = "" if j is None else f"{_ICONS[j.verdict]} {j.verdict}"
        if gate is not None and gate.mode != "enforce":
            verdict_cell += f" ({gate.mode})"
        name = metric if segment is None else f"{metric} [{segment}]"
        before_cell = "" if before is None else f"{before:.4f}"
        threshold = gate.describe() if gate else ""
        lines.append(f"| {name} | {before_cell} | {shown} | {delta} | {threshold} | {verdict_cell} |")
    if scores.why:
        lines += [
            "",
            *(f"- {metric}{f' [{s}]' if s else ''}: {why}" for (metric, s), why in scores.why.items()),
        ]
    if pictures:
        lines += ["", " ".join(f"![{p.stem.replace('_', ' ')}]({p.as_posix()})" for p in pictures)]
    return "\n".join(lines)


def export_onnx(
    cfg: settings.Model, *, root: Path, report_dir: Path, double: bool, tolerance: float
) -> StageResult:
    """Export to ONNX, score the holdout with both runtimes, and compare."""
    if not configured(cfg):
        return StageResult("onnx", skipped="no model configured (ci.model.path)")
    model, holdout, python = score_holdout(cfg, root)
    if model.estimator is None:
        raise ConfigError(
            f"ci.model.format: {model.source} is not a scikit-learn model that can be exported to ONNX"
        )
    out = report_dir / "model"
    onnx_file = onnx.export(model.estimator, holdout.features, out / "model.onnx", double=double)
    exported = onnx_model(onnx_file).score(holdout.features)
    result = onnx.parity(python, exported)
    note = onnx.java_note(
        out / "JAVA.md",
        onnx_file,
        list(holdout.features.columns),
        double=double,
        result=result,
        tolerance=tolerance,
    )
    return StageResult("onnx", onnx.to_checks(result, tolerance), [str(onnx_file), str(note)])
