"""The notebooks stage (no execution) on 200 notebooks of 50 cells, against nbstripout --verify and nbqa ruff.

Both sides read the same files in a git repository: `invoke ci.notebooks`
(stripped by nbstripout's own logic, personal data in outputs, ruff per cell)
against the anchor a team would otherwise script, `nbstripout --verify` then
`nbqa ruff` over every notebook. Paired runs, alternating which goes first;
medians and their ratio. The target: the stage under 5 s. Needs nbqa for the
anchor (`pip install nbqa`). Run from the repository root:

    .venv/bin/python -m benchmarks.notebooks [--runs 7] [--write benchmarks/results/notebooks.md]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks._common import machine, paired, publish

BIN = Path(sys.executable).parent
NOTEBOOKS, CELLS = 200, 50
TARGET = 5.0
TASKS = "import ci\nfrom invoke import Collection\n\nns = Collection(ci.namespace(__file__))\n"


def generate(folder: Path) -> None:
    """A git repository of stripped notebooks: code cells and markdown, as a team's would be."""
    import nbformat

    kernel = {"name": "python3", "display_name": "Python 3", "language": "python"}
    for n in range(NOTEBOOKS):
        nb = nbformat.v4.new_notebook(metadata={"kernelspec": kernel, "language_info": {"name": "python"}})
        for c in range(CELLS):
            if c % 5 == 0:
                nb.cells.append(nbformat.v4.new_markdown_cell(f"## Step {c}\n\nWhat cell {c} of {n} does."))
            else:
                source = f"values_{c} = [x * {c} for x in range({n + c})]\ntotal_{c} = sum(values_{c})\n"
                nb.cells.append(nbformat.v4.new_code_cell(source))
        for i, cell in enumerate(nb.cells):
            cell.id = str(i)
        path = folder / "notebooks" / f"analysis_{n:03}.ipynb"
        path.parent.mkdir(parents=True, exist_ok=True)
        nbformat.write(nb, path)
    (folder / "tasks.py").write_text(TASKS)
    (folder / "invoke.yaml").write_text("ci:\n  notebooks:\n    paths: [notebooks]\n")
    for argv in (["init", "--quiet"], ["add", "--all"], ["commit", "--quiet", "--message", "notebooks"]):
        identity = ["-c", "user.name=bench", "-c", "user.email=bench@dsci.invalid"]
        subprocess.run(["git", *identity, *argv], cwd=folder, check=True)


def stage(folder: Path) -> float:
    start = time.perf_counter()
    uncached = {**os.environ, "INVOKE_CI_CACHE_ENABLED": "0"}  # the stage's work each time, not a replay
    done = subprocess.run([str(BIN / "invoke"), "ci.notebooks"], cwd=folder, capture_output=True, text=True,
                          env=uncached)  # fmt: skip
    took = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"the notebooks stage failed:\n{done.stdout[-2000:]}{done.stderr[-2000:]}")
    return took


def anchor(folder: Path) -> float:
    files = sorted(str(p) for p in (folder / "notebooks").glob("*.ipynb"))
    start = time.perf_counter()
    stripped = subprocess.run([str(BIN / "nbstripout"), "--verify", *files], capture_output=True)
    linted = subprocess.run([str(BIN / "nbqa"), "ruff", "notebooks"], cwd=folder, capture_output=True)
    took = time.perf_counter() - start
    if stripped.returncode != 0 or linted.returncode != 0:
        raise SystemExit(f"the anchor found problems: {stripped.stdout[-500:]} {linted.stdout[-500:]}")
    return took


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7, help="pairs of runs (at least 3)")
    parser.add_argument("--write", type=Path, help="write the results as Markdown to this file")
    options = parser.parse_args()
    runs = max(options.runs, 3)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        generate(folder)
        stage(folder), anchor(folder)  # warm the file cache
        pairs = paired(runs, stage=lambda: stage(folder), anchor=lambda: anchor(folder))
    stage_median = statistics.median(p["stage"] for p in pairs)
    anchor_median = statistics.median(p["anchor"] for p in pairs)
    verdict = "meets" if stage_median < TARGET else "misses"
    report = f"""# The notebooks stage: {NOTEBOOKS} notebooks of {CELLS} cells, no execution

Command: `.venv/bin/python -m benchmarks.notebooks --runs {runs} --write {options.write}`

Machine: {machine()}

| what | median of {runs} runs |
| --- | --- |
| `invoke ci.notebooks` (stripped, personal data, ruff per cell; start-up included) | {stage_median:.2f} s |
| anchor: `nbstripout --verify` then `nbqa ruff` on the same files | {anchor_median:.2f} s |
| ratio of medians (stage / anchor) | {stage_median / anchor_median:.2f}x |
| median of the paired ratios | {statistics.median(p["stage"] / p["anchor"] for p in pairs):.2f}x |

Target: under {TARGET:g} s. Result: {verdict} the target.
"""
    publish(report, options.write)


if __name__ == "__main__":
    main()
