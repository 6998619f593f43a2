"""The baseline: metrics JSON from a git revision (by default where HEAD left the main branch) or a path."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ci.core import files
from ci.core.errors import ConfigError, EnvError
from ci.core.process import Runner
from ci.core.text import display

MERGE_BASE = "merge-base"


@dataclass
class Baseline:
    metrics: dict[str, Any]
    segments: dict[str, dict[str, Any]]
    source: str  # e.g. "metrics/baseline.json at 1a2b3c4", or why there is none

    def value(self, metric: str, segment: str | None) -> float | None:
        values = self.metrics if segment is None else self.segments.get(segment, {})
        found = values.get(metric)
        return float(found) if isinstance(found, (int, float)) and not isinstance(found, bool) else None


def none(source: str) -> Baseline:
    return Baseline({}, {}, source)


def read(path: str, rev: str, branch: str, *, run: Runner, root: Path) -> Baseline:
    """The baseline metrics; an empty baseline (saying why) when the file does not exist there."""
    if not path:
        return none("no baseline configured (ci.model.baseline.path)")
    if not rev:
        file = root / path
        if not file.is_file():
            return none(f"no baseline yet: {display(file)} does not exist")
        return _parse(file.read_text(encoding="utf-8"), display(file))
    commit = _resolve(rev, branch, run)
    shown = run(["git", "show", f"{commit}:./{path}"])
    if not shown.ok:
        return none(f"no baseline yet: {path} is not in {commit[:7]}")
    return _parse(shown.stdout, f"{path} at {commit[:7]}")


def _resolve(rev: str, branch: str, run: Runner) -> str:
    """The commit to read the baseline from, or EnvError with the exact `git fetch` to run."""
    if not run(["git", "rev-parse", "--git-dir"]).ok:
        raise ConfigError(
            "ci.model.baseline.rev: this project is not in a git repository; "
            'set ci.model.baseline.rev to "" to read the baseline file as it is'
        )
    shallow = run(["git", "rev-parse", "--is-shallow-repository"]).stdout.strip() == "true"
    if rev != MERGE_BASE:
        found = run(["git", "rev-parse", "--verify", "--quiet", f"{rev}^{{commit}}"])
        if not found.ok:
            fetch = "git fetch --unshallow origin" if shallow else f"git fetch origin {rev}"
            raise EnvError(f"ci.model.baseline.rev: revision {rev} is not in this clone; run `{fetch}`")
        return found.stdout.strip()
    for ref in (f"refs/remotes/origin/{branch}", f"refs/heads/{branch}"):
        if run(["git", "rev-parse", "--verify", "--quiet", ref]).ok:
            break
    else:
        raise EnvError(
            f"ci.model.baseline.branch: no branch {branch} in this clone to find the baseline on; "
            f"run `git fetch origin {branch}:refs/remotes/origin/{branch}`"
        )
    base = run(["git", "merge-base", "HEAD", ref])
    if not base.ok:
        fetch = f"git fetch --unshallow origin {branch}" if shallow else f"git fetch origin {branch}"
        why = "the clone is shallow" if shallow else f"HEAD shares no history with {branch}"
        raise EnvError(f"cannot find where HEAD left {branch}: {why}; run `{fetch}`")
    return base.stdout.strip()


def _parse(text: str, source: str) -> Baseline:
    try:
        data = json.loads(text)
    except ValueError as error:
        raise ConfigError(f"baseline {source}: not valid JSON: {error}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"baseline {source}: must hold a JSON object of metrics")
    if "metrics" in data:  # as dsci writes it: {"metrics": {...}, "segments": {...}}
        return Baseline(data.get("metrics") or {}, data.get("segments") or {}, source)
    return Baseline(data, {}, source)  # a flat {"metric": value} file, as other tools write


def write(path: Path, metrics: dict[str, Any]) -> Path:
    return files.write_text(path, json.dumps(metrics, indent=2, sort_keys=True) + "\n")
