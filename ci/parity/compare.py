"""How far two environments' predictions, and their libraries, are apart."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ci.core.errors import CheckFailed
from ci.model.loading import need
from ci.parity.record import Scored

# `python -m venv` puts these in every image from the base's Python; nothing imports them at run time.
TOOLING = frozenset({"pip", "setuptools", "wheel"})


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
