"""`invoke ci.all` on the example, every stage through deploy: uncached one stage after another, uncached
with stages side by side, a no-op with a warm stage cache, and a run after one changed test file.

Each round, in the same project (a git repository with keys of its own, deploying to podman):

- serial: `ci.all --no-cache --jobs 1`, every stage run (the bundle is encrypted anew, so the image, its
  push and the deploy are new too);
- parallel: `ci.all --no-cache --jobs 0` (one at a time per core), the same work;
- no-op: `ci.all` right after, nothing changed: every cached stage restored, push and deploy asked;
- one test file changed: `ci.all` after a comment is added to tests/test_data.py, which the tests, the
  lint and the sdist (so the bundle, its signature, the image and its parity) read.

Serial and parallel alternate which goes first. Needs `dsci services up` (Docker, the registry, podman).
From the repository root:

    .venv/bin/python -m benchmarks.pipeline [--runs 5] [--write benchmarks/results/pipeline.md]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

from benchmarks._common import machine, publish, verdict
from tests.integration.conftest import INVOKE, RUN, copy_example, make_keys, registry_env

CACHED = ("lint", "test", "notebooks", "data", "model", "onnx", "package", "sign", "image", "parity")
TARGETS = {"parallel": 0.75, "noop": 1.0}


def ci_all(folder: Path, *args: str) -> tuple[float, set[str]]:
    """Seconds of one `invoke ci.all` (process start to exit), the stages that ran (not restored), and
    each stage's seconds as the report says."""
    environ = {k: v for k, v in os.environ.items() if k not in ("GITHUB_ACTIONS", "TF_BUILD", "JENKINS_URL")}
    start = time.perf_counter()
    done = subprocess.run([INVOKE, "ci.all", *args], cwd=folder, env={**environ, **registry_env()},
                          capture_output=True, text=True)  # fmt: skip
    took = time.perf_counter() - start
    if done.returncode:
        raise SystemExit(f"ci.all {' '.join(args)} failed:\n{done.stdout[-3000:]}{done.stderr[-2000:]}")
    report = json.loads((folder / "build/ci/report.json").read_text())
    stages = {s["name"]: s for s in report["stages"] if s["name"] in CACHED and s["status"] != "skipped"}
    seconds = {s["name"]: s["duration"] or 0.0 for s in report["stages"] if s["status"] != "skipped"}
    return took, {name for name, stage in stages.items() if not stage["cached"]}, seconds


def longest_chain(seconds: dict[str, float]) -> tuple[float, list[str]]:
    """The stages that must run one after another, by what each needs (ci/tasks/pipeline.py), whose
    seconds add up the most: no number of cores runs the pipeline faster than they take."""
    from ci.tasks._boundary import _needs
    from ci.tasks.pipeline import STAGES

    ran = [stage for stage in STAGES if stage.name in seconds]
    ends: dict[str, tuple[float, list[str]]] = {}
    for index, stage in enumerate(ran):
        before = [earlier.name for earlier in ran[:index]]
        after = max((ends[name] for name in _needs(stage, before)), default=(0.0, []))
        ends[stage.name] = (after[0] + seconds[stage.name], [*after[1], stage.name])
    return max(ends.values())


def remove_pods() -> None:
    listed = subprocess.run(["podman", "pod", "ls", "--format", "{{.Name}}"], capture_output=True, text=True)
    for name in listed.stdout.split():
        if f"-{RUN}-" in name:
            subprocess.run(["podman", "pod", "rm", "--force", name], capture_output=True, check=False)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--write", type=Path)
    args = parser.parse_args()
    rounds = []
    with tempfile.TemporaryDirectory() as temporary:
        keys = Path(temporary) / "keys"
        make_keys(keys)
        folder = copy_example(Path(temporary) / "clinic", keys)
        try:
            ci_all(folder, "--no-cache")  # warm: bytecode, the wheelhouse, Docker's layers, the pods
            for number in range(args.runs):
                measured = {}
                order = ["serial", "parallel"] if number % 2 == 0 else ["parallel", "serial"]
                for mode in order:
                    measured[mode] = ci_all(folder, "--no-cache", "--jobs", "1" if mode == "serial" else "0")
                    measured["noop"] = ci_all(folder)  # after either: nothing changed since
                test_file = folder / "tests/test_data.py"
                test_file.write_text(test_file.read_text() + f"# round {number}\n")
                measured["changed"] = ci_all(folder)
                rounds.append(measured)
        finally:
            remove_pods()
    median = {mode: statistics.median(r[mode][0] for r in rounds) for mode in rounds[0]}
    chains = [longest_chain(r["serial"][2]) for r in rounds]
    chain = statistics.median(seconds for seconds, _ in chains)
    chain_stages = chains[0][1]
    ratio = median["parallel"] / median["serial"]
    reran = sorted(set.union(*(r["changed"][1] for r in rounds)))
    noop_ran = sorted(set.union(*(r["noop"][1] for r in rounds)))
    cores = len(os.sched_getaffinity(0))
    publish(
        "\n".join([
            "# ci.all on the example: stage cache and stages side by side",
            "",
            f"Command: `.venv/bin/python -m benchmarks.pipeline --runs {args.runs}"
            f"{f' --write {args.write}' if args.write else ''}`",
            "",
            f"Machine: {machine()}",
            "",
            "The example through every stage: git, lint, test, notebooks, data, model, onnx, package",
            "(encrypted), sign, image, push (to the registry of `dsci services up`), parity and deploy",
            "(podman).",
            "Wall time of the `invoke` process, start to exit. Medians of the rounds; serial and parallel",
            "alternate which goes first.",
            "",
            "| run | median | against the uncached serial run |",
            "| --- | --- | --- |",
            f"| uncached, one stage after another (`--no-cache --jobs 1`) | {median['serial']:.2f} s "
            "| 1.00x |",
            f"| uncached, side by side (`--no-cache --jobs 0`: {cores} at once) | {median['parallel']:.2f} s "
            f"| {ratio:.2f}x |",
            f"| no-op, warm cache (`ci.all`) | {median['noop']:.2f} s "
            f"| {median['noop'] / median['serial']:.3f}x |",
            f"| one test file changed (`ci.all`) | {median['changed']:.2f} s "
            f"| {median['changed'] / median['serial']:.2f}x |",
            "",
            f"The no-op ran none of the cached stages ({', '.join(noop_ran) or 'none ran'}); push found the",
            "image in the registry and deploy found the release serving, ready.",
            f"After one changed test file these reran: {', '.join(reran)}; the others were restored.",
            "",
            f"Side by side can do no better than the longest chain of stages that need each other: "
            f"{' → '.join(chain_stages)}",
            f"took {chain:.2f} s of the serial run (median), {chain / median['serial']:.2f}x its wall time; "
            "the rest of the serial run is",
            "the stages beside that chain, and the start-up and report that both runs pay.",
            "",
            "| target | measured | verdict |",
            "| --- | --- | --- |",
            f"| uncached side by side at most {TARGETS['parallel']}x of one after another | {ratio:.2f}x "
            f"| {verdict(ratio <= TARGETS['parallel'])} |",
            f"| no-op with a warm cache under {TARGETS['noop']:.0f} s | {median['noop']:.2f} s "
            f"| {verdict(median['noop'] < TARGETS['noop'])} |",
            "",
            "Every round (serial / parallel / no-op / changed, s): "
            + ", ".join("/".join(f"{r[mode][0]:.2f}" for mode in ("serial", "parallel", "noop", "changed"))
                        for r in rounds),
            "",
        ]),
        args.write,
    )  # fmt: skip


if __name__ == "__main__":
    main()
