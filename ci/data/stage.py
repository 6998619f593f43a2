"""The data stage (every declared dataset's checks) and the PII scan, as stage results."""

from __future__ import annotations

from pathlib import Path

from ci.core import settings
from ci.core.errors import ConfigError
from ci.core.process import Runner
from ci.core.results import Check, StageResult, Status, group
from ci.core.text import display
from ci.data import contract, pii
from ci.data.declarations import Dataset

_ICONS = {
    Status.PASSED: "✅ pass",
    Status.WARNED: "⚠️ warn",
    Status.FAILED: "❌ fail",
    Status.SKIPPED: "⏭️ skip",
}
PII_SUFFIXES = (".csv", ".parquet", ".json")


def check_all(cfg: settings.Data, *, root: Path) -> StageResult:
    datasets = cfg.datasets
    if not datasets:
        return StageResult("data", skipped="no datasets declared (ci.data.datasets)")
    _refuse_duplicates(datasets)
    checks, samples = [], []
    for index, spec in enumerate(datasets):
        if not spec.checks:
            message = f"no checks declared (ci.data.datasets[{index}].checks)"
            checks.append(Check(spec.name, Status.SKIPPED, message, details={"dataset": spec.name}))
            continue
        found, sample_md = contract.run_checks(
            spec, f"ci.data.datasets[{index}]", root=root, samples=cfg.samples
        )
        checks += found
        samples.append(sample_md)
    rows = ["| dataset | check | verdict | result |", "| --- | --- | --- | --- |"]
    rows += [
        f"| {c.details['dataset']} | {c.name} | {_ICONS[c.status]} | {c.message.replace('|', '/')} |"
        for c in checks
    ]
    return StageResult("data", checks, summary="\n\n".join(["\n".join(rows), *filter(None, samples)]))


def _refuse_duplicates(datasets: list[Dataset]) -> None:
    seen: set[str] = set()
    for index, spec in enumerate(datasets):
        if spec.name in seen:
            raise ConfigError(f"ci.data.datasets[{index}].name: {spec.name!r} is declared twice")
        seen.add(spec.name)


def scan_pii(cfg: settings.Data, *, root: Path, run: Runner) -> StageResult:
    """Personal data in the declared datasets (bar the columns allowed to hold it), and in git's files."""
    findings: list[pii.Finding] = []
    scanned: set[Path] = set()
    for index, spec in enumerate(cfg.datasets):
        data = contract.open_dataset(spec, f"ci.data.datasets[{index}]", root)
        findings += pii.scan_frame(data.frame, data.shown, skip=spec.pii_allowed)
        scanned.update(f.resolve() for f in data.files)
    if cfg.pii.git:
        for file in _tracked(run, root):
            if file.resolve() not in scanned:
                findings += _scan_file(file)
    if not (cfg.datasets or cfg.pii.git):
        return StageResult(
            "pii", skipped="nothing to scan: no datasets declared and ci.data.pii.git is false"
        )
    checks = [
        Check(
            f"{f.kind} in {f.file}:{f.column}",
            Status.FAILED,
            f.describe(),
            value=f.count,
            threshold=0,
            group=group("data", "pii"),
            file=f.file,
            details=f.__dict__,
        )
        for f in findings
    ]
    return StageResult("pii", checks or [Check("pii", Status.PASSED, "no personal data found")])


def _tracked(run: Runner, root: Path) -> list[Path]:
    listed = run(["git", "ls-files", "-z", "--", *(f"*{s}" for s in PII_SUFFIXES)])
    if not listed.ok:
        raise ConfigError(
            "ci.data.pii.git: this project is not a git repository; set ci.data.pii.git to false"
        )
    return [root / name for name in listed.stdout.split("\0") if name]


def _scan_file(file: Path) -> list[pii.Finding]:
    if file.suffix == ".json":
        return pii.scan_text(file.read_text(encoding="utf-8", errors="replace"), display(file))
    spec = Dataset(name=file.name, path=str(file))
    return pii.scan_frame(contract.open_dataset(spec, display(file), file.parent).frame, display(file))
