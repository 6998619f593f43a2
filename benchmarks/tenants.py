"""`invoke ci.all --tenants all` with 20 tenants of the example's size: side by side (a process each,
one per core) against one after another (ci.tenants.jobs 1), in the same run.

Each tenant is the whole example (its 426 training, 143 holdout and 143 golden rows, its own patients)
under a clinic name of its own, with an age identity of its own. Each runs the stages a tenant runs
without Docker: isolation, data, model (training included), onnx, package (encrypted) and sign; the
project's wheel is built once, before the tenants, in both modes. Paired rounds, alternating which goes
first; medians, their ratio, and each worker's peak memory (its process and what it ran). From the
repository root:

    .venv/bin/python -m benchmarks.tenants [--tenants 20] [--runs 3] [--write benchmarks/results/tenants.md]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

from benchmarks._common import machine, paired, publish

REPO = Path(__file__).resolve().parents[1]
EXAMPLE = REPO / "examples" / "clinic"
INVOKE = str(Path(sys.executable).parent / "invoke")
STAGES = "isolation,data,model,onnx,package,sign"


def project(folder: Path, tenants: int) -> list[str]:
    """The example with ``tenants`` copies of its data, each a clinic with patients of its own."""
    import polars as pl

    shutil.copytree(EXAMPLE, folder, ignore=shutil.ignore_patterns("build", "models", "dist", "__pycache__"))
    names = [f"t{i:02d}" for i in range(1, tenants + 1)]
    for table in ("train", "holdout", "golden"):
        source = pl.read_csv(EXAMPLE / "data" / f"{table}.csv", infer_schema_length=None)
        copies = [
            source.with_columns(
                pl.lit(name).alias("clinic"),
                (pl.lit(f"P{i:02d}") + pl.col("patient_id").str.slice(1)).alias("patient_id"),
            )
            for i, name in enumerate(names)
        ]
        pl.concat(copies).write_csv(folder / "data" / f"{table}.csv")
    keys = folder.parent / "keys"
    for name in names:
        (keys / name).mkdir(parents=True)
        subprocess.run(["age-keygen", "-o", str(keys / name / "model.age")], check=True, capture_output=True)
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(keys / "signing")], check=True)
    settings = yaml.safe_load((folder / "invoke.yaml").read_text())
    ci = settings["ci"]
    for dataset in ci["data"]["datasets"]:
        for check in dataset["checks"]:
            if check.get("column") == "clinic" and check["type"] == "allowed":
                check["values"] = names
            if check.get("column") == "patient_id" and check["type"] == "regex":
                check["pattern"] = "^P[0-9]{6}$"
            if check["type"] == "row_count":
                check["max"] = 10**6
    ci["security"].update(key_file=str(keys / "signing"), trusted=[str(keys / "signing.pub")])
    ci["tenants"]["list"] = []  # the example's per-clinic gates name its own clinics
    ci["tenants"]["settings"]["security"] = {"recipients": [f"{keys}/{{tenant}}/model.age.pub"]}
    for name in names:
        public = subprocess.run(["age-keygen", "-y", str(keys / name / "model.age")], capture_output=True,
                                check=True, text=True)  # fmt: skip
        (keys / name / "model.age.pub").write_text(public.stdout)
    (folder / "invoke.yaml").write_text(yaml.safe_dump(settings, sort_keys=False))
    for args in (
        ["init", "--quiet", "--initial-branch=main"],
        ["add", "--all"],
        ["commit", "--quiet", "-m", "bench"],
    ):
        subprocess.run(["git", *args], cwd=folder, check=True,
                       env={**os.environ, "GIT_AUTHOR_NAME": "bench", "GIT_AUTHOR_EMAIL": "b@b",
                            "GIT_COMMITTER_NAME": "bench", "GIT_COMMITTER_EMAIL": "b@b"})  # fmt: skip
    return names


def run(folder: Path, jobs: int, peaks: list[float] | None = None) -> float:
    env = {**os.environ, "INVOKE_CI_TENANTS_JOBS": str(jobs), "INVOKE_CI_CACHE_ENABLED": "0"}
    start = time.perf_counter()
    done = subprocess.run([INVOKE, "ci.all", "--tenants", "all", "--only", STAGES], cwd=folder, env=env,
                          capture_output=True, text=True)  # fmt: skip
    took = time.perf_counter() - start
    if done.returncode:
        raise SystemExit(f"ci.all --tenants all failed:\n{done.stdout[-3000:]}{done.stderr[-2000:]}")
    if peaks is not None:
        report = json.loads((folder / "build" / "ci" / "report.json").read_text())
        overview = next(s for s in report["stages"] if s["name"] == "tenants")
        peaks.extend(c["details"]["peak_bytes"] / 2**20 for c in overview["checks"])
    return took


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tenants", type=int, default=20)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--write", type=Path)
    args = parser.parse_args()
    cores = len(os.sched_getaffinity(0))
    peaks: list[float] = []
    with tempfile.TemporaryDirectory() as temporary:
        folder = Path(temporary) / "clinic"
        names = project(folder, args.tenants)
        run(folder, cores)  # warm: bytecode, the wheel's build environment, the page cache
        rounds = paired(args.runs, parallel=lambda: run(folder, cores, peaks), serial=lambda: run(folder, 1))
    parallel = statistics.median(r["parallel"] for r in rounds)
    serial = statistics.median(r["serial"] for r in rounds)
    publish(
        "\n".join([
            f"# ci.all --tenants all: {len(names)} tenants side by side, against one after another",
            "",
            f"Command: `.venv/bin/python -m benchmarks.tenants --tenants {args.tenants} --runs {args.runs}`",
            "",
            f"Machine: {machine()}",
            "",
            f"{len(names)} tenants, each the whole example (426 training, 143 holdout and 143 golden rows,",
            "patients of its own) under a clinic name of its own, with an age identity of its own; each runs",
            f"`{STAGES}` (training, ONNX export and parity, an encrypted bundle,",
            "a signed provenance) in a process of its own. The project's wheel is built once before the",
            "tenants in both modes. Paired rounds, alternating which goes first.",
            "",
            "| measure | median |",
            "| --- | --- |",
            f"| side by side, {cores} at a time (ci.tenants.jobs 0: one per core) | {parallel:.1f} s |",
            f"| one after another (ci.tenants.jobs 1) | {serial:.1f} s |",
            f"| ratio, side by side / one after another | {parallel / serial:.2f}x |",
            f"| a worker's peak memory (its largest process: itself or its training), median of {len(peaks)} "
            f"| {statistics.median(peaks):.0f} MiB |",
            f"| a worker's peak memory, largest | {max(peaks):.0f} MiB |",
            "",
            "Every round (side by side/one after another, s): "
            + ", ".join(f"{r['parallel']:.1f}/{r['serial']:.1f}" for r in rounds),
            "",
        ]),
        args.write,
    )  # fmt: skip


if __name__ == "__main__":
    main()
