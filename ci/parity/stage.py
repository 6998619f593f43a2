"""The parity stage: the golden set scored in development and in the image (and the matrix's), judged."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ci.core import files, settings
from ci.core.errors import ConfigError, DsciError
from ci.core.files import sha256_file
from ci.core.results import Check, StageResult, Status
from ci.core.text import closest, display, first_line, show
from ci.model.loading import Model, feature_columns, load_model, need, read_table
from ci.parity.container import find_image, score_in_image
from ci.parity.judge import against_record, as_warning, judge
from ci.parity.record import Scored, environment, read_record, record_path, write_sample
from ci.parity.report import summary


def dev_model(mcfg: settings.Model, root: Path) -> Model:
    """The model as the model stage loads it (and as the image's app does, with the same code)."""
    return load_model(
        mcfg.path,
        mcfg.format,
        hook=mcfg.hook,
        method=mcfg.method,
        trusted=mcfg.trusted,
        root=root,
    )


def golden_rows(golden: Path, mcfg: settings.Model, model: Model) -> list[dict[str, Any]]:
    """The golden set's feature columns, in the model's order, as JSON-ready rows."""
    if not golden.is_file():
        raise ConfigError(f"ci.parity.golden: {display(golden)}: no such file")
    frame = read_table(golden)
    leave_out = (mcfg.target, mcfg.segment_by, *mcfg.drop)
    columns = [str(c) for c in feature_columns(frame.columns, features=mcfg.features, leave_out=leave_out)]
    present = [str(c) for c in frame.columns]
    for column in mcfg.features:
        if column not in present:
            raise ConfigError(f"{display(golden)} has no column {show(column)} (ci.model.features)")
    expected = getattr(model.estimator, "feature_names_in_", None)
    if expected is not None:
        expected = [str(c) for c in expected]
        unknown = [c for c in columns if c not in expected]
        if unknown:
            close = closest(unknown[0], [c for c in expected if c not in columns])
            hint = f"; did you mean {show(close)}?" if close else "; leave it out with ci.model.drop"
            more = f" (and {len(unknown) - 1} more)" if len(unknown) > 1 else ""
            raise ConfigError(
                f"{display(golden)}: column {show(unknown[0])}{more} is unknown to {model.source}{hint}"
            )
        missing = [c for c in expected if c not in columns]
        if missing:
            more = f" (and {len(missing) - 1} more)" if len(missing) > 1 else ""
            raise ConfigError(
                f"{display(golden)} lacks column {show(missing[0])}{more}, which {model.source} needs"
            )
        columns = expected
    # Through JSON, as the image gets them: both sides score the very same values (floats round-trip).
    return json.loads(json.dumps(frame[columns].to_dict(orient="records"), default=str))


def score_dev(model: Model, rows: list[dict[str, Any]], golden: Path) -> Scored:
    """The rows scored in development, framed as the serving app frames them."""
    pd = need("pandas")
    try:
        return Scored.of(model.score(pd.DataFrame(rows)).to_json())
    except DsciError:
        raise
    except Exception as error:
        raise ConfigError(f"{model.source} could not score {display(golden)}: {first_line(error)}") from None


def record(pcfg: settings.Parity, mcfg: settings.Model, *, root: Path) -> StageResult:
    """Score the golden set in development and store the predictions beside it (sampling it if missing)."""
    golden = root / pcfg.golden
    checks = []
    if not golden.is_file():
        written = write_sample(mcfg, golden, pcfg.sample, pcfg.seed, root)
        message = f"wrote {display(golden)}: {written} rows of {mcfg.holdout} (seed {pcfg.seed})"
        checks.append(Check("golden", Status.PASSED, message))
    model = dev_model(mcfg, root)
    rows = golden_rows(golden, mcfg, model)
    scored = score_dev(model, rows, golden)
    target = root / pcfg.record if pcfg.record else record_path(golden)
    content = {
        "golden": {"path": pcfg.golden, "sha256": sha256_file(golden)[0], "rows": len(rows)},
        "model": {"path": mcfg.path, "sha256": sha256_file(root / mcfg.path)[0]},
        "recorded": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        **environment(),
        **scored.to_json(),
        "sha256": scored.sha256(),
    }
    files.write_text(target, json.dumps(content, indent=1) + "\n")
    message = f"wrote {display(target)}: {len(rows)} predictions; commit it with {display(golden)}"
    checks.append(Check("recorded", Status.PASSED, message))
    return StageResult("parity", checks, [str(golden), str(target)])


def check(
    pcfg: settings.Parity, mcfg: settings.Model, *, root: Path, report_dir: Path, image: str,
    built_by: str, project: str, engine: Any, identity: str = "",
) -> StageResult:  # fmt: skip
    """Score the golden set in development and in ``image`` (and the matrix's images), and judge.

    ``identity`` (an age identity's text) is mounted into each container to open an encrypted bundle."""
    golden = root / pcfg.golden
    stored = read_record(golden, root / pcfg.record if pcfg.record else None)
    rtol, atol, worst, timeout = (
        pcfg.rtol,
        pcfg.atol,
        pcfg.worst,
        pcfg.timeout,
    )
    image_id = find_image(engine, image, built_by)
    model = dev_model(mcfg, root)
    model_sha = sha256_file(root / mcfg.path)[0]
    rows = golden_rows(golden, mcfg, model)
    dev = score_dev(model, rows, golden)
    here = environment()
    checks = [Check("golden", Status.PASSED, f"{display(golden)}: {len(rows)} rows, as recorded")]
    recorded = against_record(stored, dev, model_sha, pcfg, worst)
    checks.append(recorded)

    found = score_in_image(engine, image_id, rows, timeout, image, identity)
    if found["model"]["sha256"] != model_sha:
        raise ConfigError(
            f"{image} serves {found['model']['path']} with sha256 {found['model']['sha256'][:12]}…, but "
            f"{mcfg.path} is {model_sha[:12]}…: rebuild the image (`invoke ci.package ci.image`)"
        )
    result = judge(image, dev, found, here, project, rtol, atol, worst)
    checks += result.pop("checks")
    matrix = []
    for other in pcfg.matrix:
        other_id = find_image(engine, other, "build it, or fix ci.parity.matrix")
        seen = score_in_image(engine, other_id, rows, timeout, other, identity)
        judged = judge(other, dev, seen, here, project, rtol, atol, worst)
        checks += [as_warning(c) for c in judged.pop("checks")]
        matrix.append(judged)
    details = {
        "golden": {"path": pcfg.golden, "rows": len(rows), "sha256": stored["golden"]["sha256"]},
        "model": {"path": mcfg.path, "sha256": model_sha},
        "development": here,
        "recorded": {"status": recorded.status.value, "message": recorded.message},
        "tolerance": {"rtol": rtol, "atol": atol},
        "image": result,
        "matrix": matrix,
    }
    written = files.write_text(report_dir / "parity" / "parity.json", json.dumps(details, indent=2) + "\n")
    return StageResult("parity", checks, [str(written)], summary=summary(details))
