"""The golden set's recorded predictions: written beside it, read back only while both match their sha256."""

from __future__ import annotations

import hashlib
import json
import platform
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ci.core import files, settings
from ci.core.errors import ConfigError
from ci.core.files import sha256_file
from ci.core.text import display
from ci.model.loading import is_parquet, read_table

RECORD_SUFFIX = ".predictions.json"
RECORD_AGAIN = "re-record with `invoke ci.parity --record`"


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


def record_path(golden: Path) -> Path:
    """Where a golden file's predictions go: ``data/golden.csv`` -> ``data/golden.predictions.json``."""
    return golden.with_name(golden.stem + RECORD_SUFFIX)


def environment() -> dict[str, str]:
    return {"python": platform.python_version(), "platform": platform.platform()}


def write_sample(mcfg: settings.Model, golden: Path, rows: int, seed: int, root: Path) -> int:
    """Write a deterministic sample of the holdout as the golden set; the number of rows written."""
    if not mcfg.holdout:
        raise ConfigError(
            f"ci.parity.golden: {display(golden)} does not exist and ci.model.holdout is not set to sample "
            "it from; set one of them"
        )
    holdout = root / mcfg.holdout
    if not holdout.is_file():
        raise ConfigError(f"ci.model.holdout: {display(holdout)}: no such file")
    frame = read_table(holdout)
    sample = frame.sample(n=min(rows, len(frame)), random_state=seed).sort_index()
    with files.atomic(golden) as f:
        if is_parquet(golden):
            sample.to_parquet(f, index=False)
        else:
            f.write(sample.to_csv(index=False).encode())
    return len(sample)


def read_record(golden: Path, stored: Path | None = None) -> dict[str, Any]:
    """The stored predictions of the golden file (at ``stored``, else beside it), refused when either
    no longer matches its sha256."""
    if not golden.is_file():
        raise ConfigError(
            f"ci.parity.golden: {display(golden)}: no such file; `invoke ci.parity --record` writes one "
            "from a sample of ci.model.holdout, or fix the path"
        )
    stored = stored or record_path(golden)
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
