"""Verdicts: development against the record, and against each image (predictions, libraries, Python)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ci.core import settings
from ci.core.errors import CheckFailed
from ci.core.results import Check, Status, group
from ci.parity.compare import compare, describe_drift, library_drift
from ci.parity.record import RECORD_AGAIN, Scored


def against_record(
    stored: Mapping[str, Any], dev: Scored, model_sha: str, pcfg: settings.Parity, worst: int
) -> Check:
    """Development against the record: the same bits from the same model; within a tolerance when retrained.

    Training is not bit-reproducible across CPUs and BLAS kernels, so a model retrained from this very
    commit on another machine scores the golden set a few ulps away from the record."""
    when = stored["recorded"]
    if stored["model"]["sha256"] == model_sha:
        against = compare(Scored.of(stored), dev, pcfg.rtol, pcfg.atol, worst)
        if against.same:
            return Check("recorded", Status.PASSED, f"development predicts what was recorded on {when}")
        return Check(
            "recorded",
            Status.FAILED,
            f"development no longer predicts what this same model did when recorded on {when} "
            f"(Python {stored.get('python')}): {against.describe(pcfg.rtol, pcfg.atol)}; "
            "did its libraries change?",
            value=against.max_abs,
            threshold=pcfg.atol,
            details=against.__dict__,
        )
    retrained = pcfg.retrained
    rtol, atol = retrained.rtol, retrained.atol
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


def _beyond(retrained: settings.Retrained) -> Status:
    return Status.FAILED if retrained.beyond == "fail" else Status.WARNED


def judge(
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
    checks.append(runtime_check(image, here, theirs))
    return {
        "image": image,
        **theirs,
        "comparison": comparison.__dict__,
        "libraries": {"differences": differences, "compared": compared},
        "checks": checks,
    }


def runtime_check(image: str, here: Mapping[str, str], theirs: Mapping[str, str]) -> Check:
    """Python and platform side by side: another minor version or platform warns; a patch release is noted."""
    unlike = [f"{k} {here[k]} in development, {theirs[k]} in the image" for k in here if here[k] != theirs[k]]
    if not unlike:
        return Check(
            f"python in {image}", Status.PASSED, f"Python {here['python']} on {here['platform']}, as here"
        )
    minor = here["python"].split(".")[:2] != theirs["python"].split(".")[:2]
    serious = minor or here["platform"] != theirs["platform"]
    return Check(f"python in {image}", Status.WARNED if serious else Status.PASSED, "; ".join(unlike))


def as_warning(check: Check) -> Check:
    """A matrix image shows what would change, it does not gate: its failures warn."""
    if check.status is Status.FAILED:
        check.status = Status.WARNED
    check.group = group("parity", "matrix")
    return check
