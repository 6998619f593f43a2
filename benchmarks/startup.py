"""`invoke --list` in the example project against a bare two-task tasks.py.

Paired runs, alternating which goes first; medians and their ratio. The
target: the example within 1.25x of the bare tasks.py (no heavy import at
collection load). A third measure, the bare tasks.py beside the example's
invoke.yaml, shows how much of the difference is Invoke reading that file,
which any project with that configuration pays. Run from the repository root:

    .venv/bin/python -m benchmarks.startup [--runs 21] [--write benchmarks/results/startup.md]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks._common import machine, paired, publish

REPO = Path(__file__).resolve().parents[1]
EXAMPLE = REPO / "examples" / "clinic"
INVOKE = str(Path(sys.executable).parent / "invoke")
TARGET = 1.25

BARE_TASKS = '''from invoke import task


@task
def build(c):
    """Build."""


@task
def clean(c):
    """Clean."""
'''


# As on a user's machine, where pip compiled the bytecode at install: a shell
# that sets PYTHONDONTWRITEBYTECODE would make every run compile dsci anew.
ENVIRONMENT = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}


def timed(folder: Path) -> float:
    start = time.perf_counter()
    subprocess.run([INVOKE, "--list"], cwd=folder, check=True, stdout=subprocess.DEVNULL, env=ENVIRONMENT)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=21, help="pairs of runs (at least 5)")
    parser.add_argument("--write", type=Path, help="write the results as Markdown to this file")
    options = parser.parse_args()
    runs = max(options.runs, 5)
    with tempfile.TemporaryDirectory() as bare, tempfile.TemporaryDirectory() as configured:
        Path(bare, "tasks.py").write_text(BARE_TASKS)
        Path(configured, "tasks.py").write_text(BARE_TASKS)
        shutil.copy(EXAMPLE / "invoke.yaml", configured)
        timed(Path(bare)), timed(Path(configured)), timed(EXAMPLE)  # warm the file cache and the bytecode
        pairs = paired(
            runs,
            bare=lambda: timed(Path(bare)),
            configured=lambda: timed(Path(configured)),
            example=lambda: timed(EXAMPLE),
        )
    bare_median = statistics.median(p["bare"] for p in pairs)
    configured_median = statistics.median(p["configured"] for p in pairs)
    example_median = statistics.median(p["example"] for p in pairs)
    ratio = example_median / bare_median
    paired_ratio = statistics.median(p["example"] / p["bare"] for p in pairs)
    verdict = "meets" if ratio <= TARGET else "misses"
    report = f"""# `invoke --list` start-up

Command: `.venv/bin/python -m benchmarks.startup --runs {runs} --write {options.write}`

Machine: {machine()}

| what | median of {runs} runs |
| --- | --- |
| bare two-task tasks.py | {bare_median * 1000:.0f} ms |
| the same tasks.py beside the example's invoke.yaml | {configured_median * 1000:.0f} ms |
| examples/clinic (its own tasks + the `ci` collection) | {example_median * 1000:.0f} ms |
| ratio of medians, example / bare | {ratio:.2f}x |
| median of the paired ratios, example / bare | {paired_ratio:.2f}x |
| ratio of medians, example / bare beside the invoke.yaml | {example_median / configured_median:.2f}x |

Target: at most {TARGET}x the bare tasks.py. Result: {verdict} the target.
Of the {1000 * (example_median - bare_median):.0f} ms between the example and the bare tasks.py,
{1000 * (configured_median - bare_median):.0f} ms are Invoke reading the example's invoke.yaml (PyYAML's
Python loader, whatever the tasks); the rest is importing `ci`, building its collection and the
example's own tasks.
"""
    publish(report, options.write)


if __name__ == "__main__":
    main()
