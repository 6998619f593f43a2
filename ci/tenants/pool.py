"""Tenants' pipelines side by side: one process each, at most ``jobs`` at once, a log each.

A tenant runs as ``invoke ci.all --tenant NAME`` in a process of its own: its
model, bundle and identity are never in another tenant's process, and its
failure or crash stops no other. Its output goes to its own log, never
interleaved; its report is read back when it ends, with its wall time and
the peak resident memory of the largest process it ran (itself, or its
training command).
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path

from ci.core import reports
from ci.core.results import StageResult

LOG = "ci.log"
_MAXRSS_UNIT = 1 if sys.platform == "darwin" else 1024  # ru_maxrss: bytes on macOS, KiB on Linux
# A tenant's own summary stays in its folder: the step summary of the CI gets the combined one.
UNSHARED = ("GITHUB_STEP_SUMMARY",)


@dataclass
class Outcome:
    """How one tenant's run ended."""

    name: str
    code: int
    seconds: float
    peak_bytes: int  # the largest resident set of one process: its own, or one it ran and waited for
    log: Path
    stages: list[StageResult] = field(default_factory=list)

    @property
    def peak_mib(self) -> float:
        return self.peak_bytes / 2**20


def jobs(setting: int) -> int:
    """Tenants at once: the setting, else one per core this process may use."""
    if setting:
        return setting
    if hasattr(os, "sched_getaffinity"):  # Linux: the cores this process may use
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def run(
    names: Sequence[str],
    *,
    root: Path,
    report_dir: Callable[[str], Path],
    args: Sequence[str],
    env: Mapping[str, str],
    jobs: int,
    say: Callable[[str], None],
) -> list[Outcome]:
    """Run ``invoke ci.all --tenant NAME *args`` for every name, ``jobs`` at once, with ``env`` added to
    the environment; outcomes in ``names``' order."""
    outcomes = {}
    with ThreadPoolExecutor(max_workers=max(1, min(jobs, len(names)))) as pool:
        started = {pool.submit(_one, name, root, report_dir(name), args, env): name for name in names}
        for future in as_completed(started):
            outcome = future.result()
            outcomes[outcome.name] = outcome
            say(_line(outcome, root))
    return [outcomes[name] for name in names]


def _one(name: str, root: Path, folder: Path, args: Sequence[str], added: Mapping[str, str]) -> Outcome:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "report.json").unlink(missing_ok=True)  # what it reports is this run's, or nothing
    log = folder / LOG
    argv = [sys.executable, "-m", "invoke", "--search-root", str(root), "ci.all", "--tenant", name, *args]
    env = {**{k: v for k, v in os.environ.items() if k not in UNSHARED}, **added}
    clock = time.perf_counter()
    with log.open("wb") as out:
        process = subprocess.Popen(
            argv, cwd=root, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT, env=env
        )
        _, status, usage = os.wait4(process.pid, 0)
        process.returncode = os.waitstatus_to_exitcode(status)
    seconds = round(time.perf_counter() - clock, 3)
    code = process.returncode if process.returncode > 0 else (1 if process.returncode else 0)  # a signal: 1
    outcome = Outcome(name, code, seconds, usage.ru_maxrss * _MAXRSS_UNIT, log)
    stages = reports.load(folder).stages
    if not stages:  # it stopped before its report: its settings, or a crash (whose lines stay in its log)
        said = _error_line(log) or f"exited with {process.returncode} before its report; see {log.name}"
        stages = [StageResult("run", error=said, error_code=code or 1)]
    for stage in stages:
        stage.name = f"{name}/{stage.name}"
        for check in stage.checks:  # JUnit's class names stay apart between tenants
            check.group = check.group and check.group.replace("dsci.", f"dsci.{name}.", 1)
    outcome.stages = stages
    return outcome


def _line(outcome: Outcome, root: Path) -> str:
    verdict = "passed" if outcome.code == 0 else f"failed (exit {outcome.code})"
    log = os.path.relpath(outcome.log, root)
    took = f"{outcome.seconds:.1f} s, peak {outcome.peak_mib:.0f} MiB"
    return f"tenant {outcome.name} {verdict} in {took}; log: {log}"


def _error_line(log: Path) -> str:
    """dsci's one-line error, the last in the log, without its prefix; "" when there is none."""
    lines = log.read_text(encoding="utf-8", errors="replace").splitlines()
    return next((line[len("error: ") :] for line in reversed(lines) if line.startswith("error: ")), "")
