"""The example's serving image: size against its floor, cold build, code-only rebuild, push.

The floor is what the image cannot do without: the base image, the installed
dependencies (the virtualenv layer) and the bundle. Targets: size at most
1.05x the floor; a code-only rebuild under 10 s; the smoke test that every
build ends with (start, /ready, /predict) under 5 s. Needs `dsci services up`
and the registry's credentials in the environment. Run from the repository root:

    .venv/bin/python -m benchmarks.image [--runs 3] [--write FILE]
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

from benchmarks._common import machine, publish

REPO = Path(__file__).resolve().parents[1]
INVOKE = str(Path(sys.executable).parent / "invoke")


def invoke(folder: Path, *tasks: str) -> float:
    start = time.perf_counter()
    subprocess.run(
        [INVOKE, *tasks],
        cwd=folder,
        check=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**os.environ, "INVOKE_CI_CACHE_ENABLED": "0"},  # each stage's work, not the cache's replay
    )
    return time.perf_counter() - start


def git(folder: Path, *args: str) -> None:
    identity = {"GIT_AUTHOR_NAME": "bench", "GIT_AUTHOR_EMAIL": "b@b", "GIT_COMMITTER_NAME": "bench"}
    identity["GIT_COMMITTER_EMAIL"] = "b@b"
    subprocess.run(
        ["git", *args], cwd=folder, check=True, capture_output=True, env={**os.environ, **identity}
    )


def remove_all(client, name: str) -> None:
    """Every image of that name, children (e.g. the tests' derived images) before their parents."""
    import docker

    pending = client.images.list(name=name)
    for _ in range(len(pending)):
        for image in list(pending):
            try:
                client.images.remove(image.id, force=True)
                pending.remove(image)
            except docker.errors.ImageNotFound:
                pending.remove(image)
            except docker.errors.APIError:  # a child still stands: next round
                continue
        if not pending:
            return


def served(folder: Path) -> float:
    """How long the image stage's smoke test took, from the report of the run just made."""
    report = json.loads((folder / "build" / "ci" / "report.json").read_text())
    stage = next(s for s in report["stages"] if s["name"] == "image")
    return next(c["duration"] for c in stage["checks"] if c["name"] == "serves")


def main() -> None:
    import docker

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--write", type=Path)
    options = parser.parse_args()
    client = docker.from_env()
    cold, rebuild, pushes, smoke = [], [], [], []
    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch) / "clinic"
        shutil.copytree(
            REPO / "examples" / "clinic", folder, ignore=shutil.ignore_patterns("build", "dist", "models")
        )
        git(folder, "init", "-q", "-b", "main")
        git(folder, "add", "-A")
        git(folder, "commit", "-qm", "bench")
        invoke(folder, "train", "ci.package")
        for run in range(options.runs):
            client.images.prune(filters={"dangling": True})
            client.api.prune_builds() if hasattr(client.api, "prune_builds") else None
            remove_all(client, "clinic")
            cold.append(invoke(folder, "ci.image"))
            smoke.append(served(folder))
            code = folder / "clinic" / "model.py"
            code.write_text(code.read_text() + f"\n# rebuild {run}\n")
            invoke(folder, "ci.package")
            rebuild.append(invoke(folder, "ci.image"))
            smoke.append(served(folder))
            pushes.append(invoke(folder, "ci.push"))
        image = json.loads((folder / "build" / "ci" / "image" / "image.json").read_text())
    built = client.images.get(image["id"])
    base = client.images.get("dsci/python-base:3.11-bookworm").attrs["Size"]
    layers = client.api.history(image["id"])
    venv = max(
        layer["Size"] for layer in layers if "COPY" in layer["CreatedBy"] or "copy" in layer["CreatedBy"]
    )
    bundle = next(layer["Size"] for layer in layers if "bundle.tar" in layer["CreatedBy"])
    floor = base + venv + bundle
    size = built.attrs["Size"]
    parts = f"{base / 1e6:.0f} + {venv / 1e6:.0f} + {bundle / 1e6:.3f}"
    report = f"""# Serving image

Command: `.venv/bin/python -m benchmarks.image --runs {options.runs} --write {options.write}`

Machine: {machine()}

The example's image (base `dsci/python-base:3.11-bookworm`, built offline), medians of {options.runs} runs:

| what | figure |
| --- | --- |
| image size | {size / 1e6:.0f} MB |
| floor: base + dependencies + bundle | {parts} = {floor / 1e6:.0f} MB |
| size against the floor | {size / floor:.3f}x (target at most 1.05x) |
| cold build (no image cached but the base; wheels from pip's cache) | {statistics.median(cold):.1f} s |
| code-only rebuild (a changed project wheel) | {statistics.median(rebuild):.1f} s (target under 10 s) |
| smoke test in those builds (start, /ready, /predict) | {statistics.median(smoke):.1f} s (target under 5 s) |
| push to the local registry | {statistics.median(pushes):.1f} s |

Every figure is a whole `invoke ci.image` or `invoke ci.push`, start-up and reports included.
"""
    publish(report, options.write)


if __name__ == "__main__":
    main()
