"""Dev/prod parity: the golden set scored in development and inside the built image, then compared.

The golden set is a file in the repository. ``record`` scores it in
development and stores the predictions beside it (``<name>.predictions.json``)
with the golden file's sha256 and their own. ``check`` scores it again in
development and inside the image, in a container with the network off that
runs the image's own ``app.py``, then compares: labels identical, scores
within rtol/atol. It also compares the distributions installed in the image
with the development lock in the image's bundle manifest.
"""

from __future__ import annotations

import hashlib
import io
import json
import platform
import tarfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ci.core import files
from ci.core.errors import CheckFailed, ConfigError, DsciError
from ci.core.files import sha256_file
from ci.core.results import Check, StageResult, Status
from ci.core.text import closest, display, first_line, show
from ci.model.loading import Model, load_model, need

RECORD_SUFFIX = ".predictions.json"
RECORD_AGAIN = "re-record with `invoke ci.parity --record`"
# `python -m venv` puts these in every image from the base's Python; nothing imports them at run time.
TOOLING = frozenset({"pip", "setuptools", "wheel"})
# Where the Dockerfile template of ci.image puts the Python and the app.
IMAGE_PYTHON, IMAGE_APP, ROWS_FILE = "/opt/venv/bin/python", "/app/app.py", "/tmp/dsci-golden.json"


@dataclass
class Scored:
    """What one environment predicted for the golden rows, in the serving app's JSON terms."""

    predictions: list[Any]  # labels, or values for a regressor
    probabilities: list[list[float]] | None = None
    classes: list[Any] | None = None

    @classmethod
    def of(cls, data: Mapping[str, Any]) -> Scored:
        return cls(data["predictions"], data.get("probabilities"), data.get("classes"))

    def to_json(self) -> dict[str, Any]:
        return {"predictions": self.predictions, "probabilities": self.probabilities, "classes": self.classes}

    def sha256(self) -> str:
        text = json.dumps(self.to_json(), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(text.encode()).hexdigest()


@dataclass
class Comparison:
    """How far one environment's predictions are from development's."""

    rows: int
    flips: int  # rows whose label differs
    outside: int  # rows with a score outside the tolerance
    max_abs: float  # the largest absolute score difference
    worst: list[dict[str, Any]] = field(default_factory=list)

    @property
    def same(self) -> bool:
        return self.flips == 0 and self.outside == 0

    def describe(self, rtol: float, atol: float) -> str:
        return (
            f"{self.flips} label flips in {self.rows} rows, {self.outside} rows outside the tolerance, "
            f"largest score difference {self.max_abs:.3g} (rtol {rtol:g}, atol {atol:g})"
        )


def record_path(golden: Path) -> Path:
    """Where a golden file's predictions go: ``data/golden.csv`` -> ``data/golden.predictions.json``."""
    return golden.with_name(golden.stem + RECORD_SUFFIX)


# Development ---------------------------------------------------------------


def dev_model(mcfg: Mapping[str, Any], root: Path) -> Model:
    if mcfg["format"] == "hook":
        raise ConfigError("ci.parity needs a model file (ci.model.path): a hook is not in the image")
    return load_model(mcfg["path"], mcfg["format"], method=mcfg["method"], trusted=mcfg["trusted"], root=root)


def write_sample(mcfg: Mapping[str, Any], golden: Path, rows: int, seed: int, root: Path) -> int:
    """Write a deterministic sample of the holdout as the golden set; the number of rows written."""
    if not mcfg["holdout"]:
        raise ConfigError(
            f"ci.parity.golden: {display(golden)} does not exist and ci.model.holdout is not set to sample "
            "it from; set one of them"
        )
    frame = _read(root / mcfg["holdout"], "ci.model.holdout")
    sample = frame.sample(n=min(rows, len(frame)), random_state=seed).sort_index()
    with files.atomic(golden) as f:
        if _is_parquet(golden):
            sample.to_parquet(f, index=False)
        else:
            f.write(sample.to_csv(index=False).encode())
    return len(sample)


def golden_rows(golden: Path, mcfg: Mapping[str, Any], model: Model) -> list[dict[str, Any]]:
    """The golden set's feature columns, in the model's order, as JSON-ready rows."""
    frame = _read(golden, "ci.parity.golden")
    skip = {mcfg["target"], mcfg["segment_by"], *mcfg["drop"]}
    columns = list(mcfg["features"]) or [str(c) for c in frame.columns if c not in skip]
    present = [str(c) for c in frame.columns]
    for column in mcfg["features"]:
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
        p = model.score(pd.DataFrame(rows))
    except DsciError:
        raise
    except Exception as error:
        raise ConfigError(f"{model.source} could not score {display(golden)}: {first_line(error)}") from None
    return Scored(
        p.labels.tolist(),
        None if p.scores is None else p.scores.tolist(),
        None if p.classes is None else p.classes.tolist(),
    )


def environment() -> dict[str, str]:
    return {"python": platform.python_version(), "platform": platform.platform()}


def record(pcfg: Mapping[str, Any], mcfg: Mapping[str, Any], *, root: Path) -> StageResult:
    """Score the golden set in development and store the predictions beside it (sampling it if missing)."""
    golden = root / pcfg["golden"]
    checks = []
    if not golden.is_file():
        written = write_sample(mcfg, golden, int(pcfg["sample"]), int(pcfg["seed"]), root)
        message = f"wrote {display(golden)}: {written} rows of {mcfg['holdout']} (seed {pcfg['seed']})"
        checks.append(Check("golden", Status.PASSED, message))
    model = dev_model(mcfg, root)
    rows = golden_rows(golden, mcfg, model)
    scored = score_dev(model, rows, golden)
    target = record_path(golden)
    content = {
        "golden": {"path": pcfg["golden"], "sha256": sha256_file(golden)[0], "rows": len(rows)},
        "model": {"path": mcfg["path"], "sha256": sha256_file(root / mcfg["path"])[0]},
        "recorded": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        **environment(),
        **scored.to_json(),
        "sha256": scored.sha256(),
    }
    files.write_text(target, json.dumps(content, indent=1) + "\n")
    message = f"wrote {display(target)}: {len(rows)} predictions; commit it with {display(golden)}"
    checks.append(Check("recorded", Status.PASSED, message))
    return StageResult("parity", checks, [str(golden), str(target)])


def read_record(golden: Path) -> dict[str, Any]:
    """The stored predictions of the golden file, refused when either no longer matches its sha256."""
    if not golden.is_file():
        raise ConfigError(
            f"ci.parity.golden: {display(golden)}: no such file; `invoke ci.parity --record` writes one "
            "from a sample of ci.model.holdout, or fix the path"
        )
    stored = record_path(golden)
    if not stored.is_file():
        raise ConfigError(
            f"{display(golden)} has no recorded predictions ({display(stored)}); record them with "
            "`invoke ci.parity --record` and commit the file"
        )
    try:
        data = json.loads(stored.read_text(encoding="utf-8"))
        scored, digest, recorded_golden = Scored.of(data), data["sha256"], data["golden"]["sha256"]
        if not isinstance(data["model"]["sha256"], str):
            raise TypeError("model.sha256 is not a string")
    except (ValueError, KeyError, TypeError) as error:
        raise ConfigError(f"{display(stored)}: not a predictions record ({error}); {RECORD_AGAIN}") from None
    if scored.sha256() != digest:
        raise ConfigError(
            f"{display(stored)}: its predictions do not match their sha256 (edited by hand?); {RECORD_AGAIN}"
        )
    actual = sha256_file(golden)[0]
    if actual != recorded_golden:
        raise ConfigError(
            f"{display(golden)} changed since its predictions were recorded (sha256 {actual[:12]}…, recorded "
            f"{recorded_golden[:12]}…); restore it, or {RECORD_AGAIN}"
        )
    return data


# The image -----------------------------------------------------------------


def score_in_image(
    engine: Any, image: str, rows: list[dict[str, Any]], timeout: float, name: str = ""
) -> dict[str, Any]:
    """Run the image's own app on the rows in a container with the network off; what it printed.

    ``image`` is the id to run (a tag could move meanwhile); ``name`` is what messages call it."""
    name = name or image
    import requests

    container = engine.containers.create(
        image, [IMAGE_PYTHON, IMAGE_APP, "parity", ROWS_FILE], network_mode="none", entrypoint=[]
    )
    try:
        container.put_archive(
            str(Path(ROWS_FILE).parent), _tar(Path(ROWS_FILE).name, json.dumps(rows).encode())
        )
        container.start()
        try:
            code = container.wait(timeout=timeout)["StatusCode"]
        except (requests.exceptions.ReadTimeout, requests.exceptions.ConnectionError):
            raise CheckFailed(
                f"{name} did not finish scoring the golden set within {timeout:g} s (ci.parity.timeout)"
            ) from None
        if code != 0:
            said = " | ".join(last_lines(container.logs(stdout=False, stderr=True))) or "nothing"
            raise CheckFailed(
                f"{name} exited with {code} while scoring the golden set; its last lines: {said}"
            )
        output = container.logs(stdout=True, stderr=False)
    finally:
        container.remove(force=True)
    try:
        return json.loads(output)
    except ValueError:
        raise CheckFailed(
            f"{name} printed no parity result: its app.py predates `app.py parity`; rebuild it with "
            "`invoke ci.image`"
        ) from None


def last_lines(log: bytes, count: int = 3) -> list[str]:
    """A container's last words, without the lines of carets Python puts under a traceback's code."""
    lines = [line.strip() for line in log.decode(errors="replace").splitlines()]
    return [line for line in lines if line.strip("^~ ")][-count:]


def find_image(engine: Any, reference: str, built_by: str) -> str:
    """The image's id, or ConfigError saying which task builds it."""
    import docker

    try:
        return engine.images.get(reference).id
    except docker.errors.ImageNotFound:
        raise ConfigError(f"image {reference} is not in the Docker engine; {built_by}") from None


def _tar(name: str, data: bytes) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        info = tarfile.TarInfo(name)
        info.size, info.mode = len(data), 0o644
        tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


# Comparing -----------------------------------------------------------------


def compare(
    dev: Scored, other: Scored, rtol: float, atol: float, worst: int = 5, other_name: str = "the image"
) -> Comparison:
    """Labels must be identical and scores within ``atol + rtol * |dev|``; the worst rows first."""
    np = need("numpy")
    rows = len(dev.predictions)
    if len(other.predictions) != rows:
        raise CheckFailed(f"development scored {rows} golden rows, {other_name} {len(other.predictions)}")
    if dev.classes != other.classes:
        raise CheckFailed(
            f"the model's classes differ: {dev.classes} in development, {other.classes} in {other_name}"
        )
    classifier = dev.classes is not None
    if classifier:
        flipped = np.array(
            [a != b for a, b in zip(dev.predictions, other.predictions, strict=True)], dtype=bool
        )
        both = dev.probabilities is not None and other.probabilities is not None
        ours = np.asarray(dev.probabilities, dtype=float) if both else np.zeros((rows, 0))
        theirs = np.asarray(other.probabilities, dtype=float) if both else np.zeros((rows, 0))
    else:
        flipped = np.zeros(rows, dtype=bool)
        ours = np.asarray(dev.predictions, dtype=float).reshape(rows, -1)
        theirs = np.asarray(other.predictions, dtype=float).reshape(rows, -1)
    with np.errstate(invalid="ignore"):
        diff = np.abs(ours - theirs)
    nan_ours, nan_theirs = np.isnan(ours), np.isnan(theirs)
    diff = np.where(nan_ours & nan_theirs, 0.0, np.where(nan_ours | nan_theirs, np.inf, diff))
    if diff.size:
        outside, row_diff = (diff > atol + rtol * np.abs(np.nan_to_num(ours))).any(axis=1), diff.max(axis=1)
    else:  # no scores to compare (or no rows): the labels say it all
        outside, row_diff = np.zeros(rows, dtype=bool), np.zeros(rows)
    differing = [i for i in range(rows) if flipped[i] or row_diff[i] > 0]
    ranked = sorted(differing, key=lambda i: (not flipped[i], -row_diff[i]))[:worst]
    return Comparison(
        rows=rows,
        flips=int(flipped.sum()),
        outside=int(outside.sum()),
        max_abs=float(row_diff.max()) if rows else 0.0,
        worst=[_row(i, dev, other, diff, classifier) for i in ranked],
    )


def _row(i: int, dev: Scored, other: Scored, diff: Any, classifier: bool) -> dict[str, Any]:
    row: dict[str, Any] = {"row": i, "development": dev.predictions[i], "image": other.predictions[i]}
    if diff.shape[1]:
        column = int(diff[i].argmax())
        row["difference"] = float(diff[i, column])
        if classifier:
            row["class"] = dev.classes[column]
            row["development_score"] = dev.probabilities[i][column]
            row["image_score"] = other.probabilities[i][column]
    return row


def library_drift(lock: Sequence[str], installed: Mapping[str, str], project: str) -> tuple[list[dict], int]:
    """(differences, distributions compared): the image's distributions against the development lock.

    The venv's own tooling is left out; so is the project itself when development runs it from source."""
    from packaging.utils import canonicalize_name

    dev = {}
    for pin in lock:
        name, _, version = pin.partition("==")
        dev[canonicalize_name(name)] = version
    differences, compared = [], 0
    for name, version in sorted(installed.items(), key=lambda item: canonicalize_name(item[0])):
        key = canonicalize_name(name)
        if key in TOOLING or (key not in dev and key == canonicalize_name(project or "-")):
            continue
        compared += 1
        if dev.get(key) != version:
            differences.append({"package": name, "development": dev.get(key), "image": version})
    return differences, compared


def describe_drift(differences: Sequence[Mapping[str, Any]]) -> str:
    return "; ".join(
        f"{d['package']} {d['development'] or 'not installed'} in development, {d['image']} in the image"
        for d in differences
    )


# The stage -----------------------------------------------------------------


def check(
    pcfg: Mapping[str, Any], mcfg: Mapping[str, Any], *, root: Path, report_dir: Path, image: str,
    built_by: str, project: str, engine: Any,
) -> StageResult:  # fmt: skip
    """Score the golden set in development and in ``image`` (and the matrix's images), and judge."""
    golden = root / pcfg["golden"]
    stored = read_record(golden)
    rtol, atol, worst, timeout = (
        float(pcfg["rtol"]),
        float(pcfg["atol"]),
        int(pcfg["worst"]),
        float(pcfg["timeout"]),
    )
    image_id = find_image(engine, image, built_by)
    model = dev_model(mcfg, root)
    model_sha = sha256_file(root / mcfg["path"])[0]
    rows = golden_rows(golden, mcfg, model)
    dev = score_dev(model, rows, golden)
    here = environment()
    checks = [Check("golden", Status.PASSED, f"{display(golden)}: {len(rows)} rows, as recorded")]
    against_record = _against_record(stored, dev, model_sha, pcfg, worst)
    checks.append(against_record)

    found = score_in_image(engine, image_id, rows, timeout, image)
    if found["model"]["sha256"] != model_sha:
        raise ConfigError(
            f"{image} serves {found['model']['path']} with sha256 {found['model']['sha256'][:12]}…, but "
            f"{mcfg['path']} is {model_sha[:12]}…: rebuild the image (`invoke ci.package ci.image`)"
        )
    result = _judge(image, dev, found, here, project, rtol, atol, worst)
    checks += result.pop("checks")
    matrix = []
    for other in pcfg["matrix"]:
        other_id = find_image(engine, other, "build it, or fix ci.parity.matrix")
        seen = score_in_image(engine, other_id, rows, timeout, other)
        judged = _judge(other, dev, seen, here, project, rtol, atol, worst)
        checks += [_as_warning(c) for c in judged.pop("checks")]
        matrix.append(judged)
    details = {
        "golden": {"path": pcfg["golden"], "rows": len(rows), "sha256": stored["golden"]["sha256"]},
        "model": {"path": mcfg["path"], "sha256": model_sha},
        "development": here,
        "recorded": {"status": against_record.status.value, "message": against_record.message},
        "tolerance": {"rtol": rtol, "atol": atol},
        "image": result,
        "matrix": matrix,
    }
    written = files.write_text(report_dir / "parity" / "parity.json", json.dumps(details, indent=2) + "\n")
    return StageResult("parity", checks, [str(written)], summary=summary(details))


def _against_record(
    stored: Mapping[str, Any], dev: Scored, model_sha: str, pcfg: Mapping[str, Any], worst: int
) -> Check:
    """Development against the record: the same bits from the same model; within a tolerance when retrained.

    Training is not bit-reproducible across CPUs and BLAS kernels, so a model retrained from this very
    commit on another machine scores the golden set a few ulps away from the record."""
    when = stored["recorded"]
    if stored["model"]["sha256"] == model_sha:
        against = compare(Scored.of(stored), dev, float(pcfg["rtol"]), float(pcfg["atol"]), worst)
        if against.same:
            return Check("recorded", Status.PASSED, f"development predicts what was recorded on {when}")
        return Check(
            "recorded",
            Status.FAILED,
            f"development no longer predicts what this same model did when recorded on {when} "
            f"(Python {stored.get('python')}): {against.describe(pcfg['rtol'], pcfg['atol'])}; "
            "did its libraries change?",
            value=against.max_abs,
            threshold=pcfg["atol"],
            details=against.__dict__,
        )
    retrained = pcfg["retrained"]
    rtol, atol = float(retrained["rtol"]), float(retrained["atol"])
    try:
        against = compare(dev, Scored.of(stored), rtol, atol, worst, "the record")
    except CheckFailed as error:  # another set of classes: nothing to compare row by row
        return Check("recorded", _beyond(retrained), f"retrained since {when}: {error}; {RECORD_AGAIN}")
    if against.same:
        return Check(
            "recorded",
            Status.PASSED,
            f"retrained since the record of {when}; reproduces the recorded predictions within "
            f"atol {atol:g}, rtol {rtol:g} (largest difference {against.max_abs:.3g})",
            value=against.max_abs,
            threshold=atol,
            details=against.__dict__,
        )
    rows = ", ".join(f"row {w['row']} ({w.get('difference', 0):.3g})" for w in against.worst)
    return Check(
        "recorded",
        _beyond(retrained),
        f"retrained since the record of {when}, and predicts differently: {against.describe(rtol, atol)}; "
        f"most: {rows}; if the change is meant, {RECORD_AGAIN}",
        value=against.max_abs,
        threshold=atol,
        details=against.__dict__,
    )


def _beyond(retrained: Mapping[str, Any]) -> Status:
    return Status.FAILED if retrained["beyond"] == "fail" else Status.WARNED


def _judge(
    image: str, dev: Scored, found: Mapping[str, Any], here: Mapping[str, str], project: str,
    rtol: float, atol: float, worst: int,
) -> dict[str, Any]:  # fmt: skip
    comparison = compare(dev, Scored.of(found), rtol, atol, worst)
    differences, compared = library_drift(found["lock"], found["distributions"], project)
    status = Status.PASSED if comparison.same else Status.FAILED
    checks = [
        Check(
            f"predictions in {image}",
            status,
            comparison.describe(rtol, atol),
            value=comparison.max_abs,
            threshold=atol,
            details=comparison.__dict__,
        ),
        Check(
            f"libraries in {image}",
            Status.FAILED if differences else Status.PASSED,
            describe_drift(differences)
            if differences
            else f"{compared} runtime distributions at their development versions",
            details={"differences": differences, "compared": compared},
        ),
    ]
    theirs = {"python": found["python"], "platform": found["platform"]}
    checks.append(_runtime_check(image, here, theirs))
    return {
        "image": image,
        **theirs,
        "comparison": comparison.__dict__,
        "libraries": {"differences": differences, "compared": compared},
        "checks": checks,
    }


def _runtime_check(image: str, here: Mapping[str, str], theirs: Mapping[str, str]) -> Check:
    """Python and platform side by side: another minor version or platform warns; a patch release is noted."""
    unlike = [f"{k} {here[k]} in development, {theirs[k]} in the image" for k in here if here[k] != theirs[k]]
    if not unlike:
        return Check(
            f"python in {image}", Status.PASSED, f"Python {here['python']} on {here['platform']}, as here"
        )
    minor = here["python"].split(".")[:2] != theirs["python"].split(".")[:2]
    serious = minor or here["platform"] != theirs["platform"]
    return Check(f"python in {image}", Status.WARNED if serious else Status.PASSED, "; ".join(unlike))


def _as_warning(check: Check) -> Check:
    """A matrix image shows what would change, it does not gate: its failures warn."""
    if check.status is Status.FAILED:
        check.status = Status.WARNED
    check.group = "parity matrix"
    return check


def summary(details: Mapping[str, Any]) -> str:
    """The comparison as Markdown: environments side by side, library differences, the worst rows."""
    golden, tolerance = details["golden"], details["tolerance"]
    images = [details["image"], *details["matrix"]]

    def row(name: str, cells: Sequence[str], dev: str = "–") -> str:
        return f"| {name} | {dev} | " + " | ".join(cells) + " |"

    lines = [
        f"Golden set `{golden['path']}` ({golden['rows']} rows) scored by `{details['model']['path']}`; "
        f"tolerance rtol {tolerance['rtol']:g}, atol {tolerance['atol']:g}.",
        "",
        "| | development | " + " | ".join(f"`{i['image']}`" for i in images) + " |",
        "| --- | --- |" + " --- |" * len(images),
        row("Python", [i["python"] for i in images], details["development"]["python"]),
        row("platform", [i["platform"] for i in images], details["development"]["platform"]),
        row("label flips", [str(i["comparison"]["flips"]) for i in images]),
        row("rows outside tolerance", [str(i["comparison"]["outside"]) for i in images]),
        row("largest score difference", [f"{i['comparison']['max_abs']:.3g}" for i in images]),
        row("library differences", [str(len(i["libraries"]["differences"])) for i in images]),
        "",
        f"Recorded predictions ({details['recorded']['status']}): {details['recorded']['message']}.",
    ]
    for i in images:
        if i["libraries"]["differences"]:
            lines += ["", f"Libraries in `{i['image']}` that differ from development:", ""]
            lines += ["| package | development | image |", "| --- | --- | --- |"]
            for d in i["libraries"]["differences"]:
                lines.append(f"| {d['package']} | {d['development'] or 'not installed'} | {d['image']} |")
        if i["comparison"]["worst"]:
            lines += ["", f"Rows that differ most in `{i['image']}` (0-based):", ""]
            lines += ["| row | development | image | difference |", "| --- | --- | --- | --- |"]
            for w in i["comparison"]["worst"]:
                ours, theirs = _cell(w, "development"), _cell(w, "image")
                lines.append(f"| {w['row']} | {ours} | {theirs} | {w.get('difference', 0):.3g} |")
    return "\n".join(lines) + "\n"


def _cell(worst: Mapping[str, Any], side: str) -> str:
    """A label with the score that differs most (full precision, so the difference shows), or a value."""
    if "class" not in worst:
        return repr(worst[side])
    return f"{worst[side]} (p[{worst['class']}] = {worst[f'{side}_score']!r})"


def _read(file: Path, key: str) -> Any:
    pd = need("pandas")
    if not file.is_file():
        raise ConfigError(f"{key}: {display(file)}: no such file")
    try:
        return pd.read_parquet(file) if _is_parquet(file) else pd.read_csv(file)
    except Exception as error:
        raise ConfigError(f"{display(file)}: cannot be read: {first_line(error)}") from None


def _is_parquet(file: Path) -> bool:
    return file.suffix.lower() in (".parquet", ".pq")
