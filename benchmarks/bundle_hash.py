"""Hashing a 2 GiB model file: dsci's streamed sha256 against `sha256sum` and plain hashlib.

Paired runs (rotating the order), medians; the file is read once first so that
every contender reads it from the page cache. Targets: at least 1.2 GB/s, and
at least 90% of hashlib's own `hashlib.file_digest`. Run from the repository root:

    .venv/bin/python -m benchmarks.bundle_hash [--gib 2] [--runs 5] [--write FILE]
"""

from __future__ import annotations

import argparse
import hashlib
import os
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

from benchmarks._common import machine, publish
from ci.core.files import sha256_file

TARGET_SPEED, TARGET_SHARE = 1.2e9, 0.9


def make_file(path: Path, size: int) -> None:
    block = os.urandom(64 << 20)
    with open(path, "wb") as f:
        for _ in range(size // len(block)):
            f.write(block)


def contenders(path: Path) -> dict[str, object]:
    def with_hashlib() -> str:
        with open(path, "rb") as f:
            return hashlib.file_digest(f, "sha256").hexdigest()

    def with_sha256sum() -> str:
        return subprocess.run(
            ["sha256sum", str(path)], check=True, capture_output=True, text=True
        ).stdout.split()[0]

    return {"dsci": lambda: sha256_file(path)[0], "hashlib": with_hashlib, "sha256sum": with_sha256sum}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--gib", type=float, default=2.0)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--write", type=Path)
    options = parser.parse_args()
    size = int(options.gib * (1 << 30))
    times: dict[str, list[float]] = {}
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "model.bin"
        make_file(path, size)
        size = path.stat().st_size
        runners = contenders(path)
        digests = {name: run() for name, run in runners.items()}  # warms the cache, and checks agreement
        assert len(set(digests.values())) == 1, digests
        names = list(runners)
        for i in range(max(options.runs, 3)):
            for name in names[i % len(names) :] + names[: i % len(names)]:
                start = time.perf_counter()
                runners[name]()
                times.setdefault(name, []).append(time.perf_counter() - start)
    speed = {name: size / statistics.median(values) for name, values in times.items()}
    share = speed["dsci"] / speed["hashlib"]
    rows = "".join(
        f"| {name} | {statistics.median(times[name]):.2f} s | {speed[name] / 1e9:.2f} GB/s | "
        f"{speed[name] / speed['hashlib']:.0%} |\n"
        for name in names
    )
    met = speed["dsci"] >= TARGET_SPEED and share >= TARGET_SHARE
    command = f"python -m benchmarks.bundle_hash --gib {options.gib:g} --runs {max(options.runs, 3)}"
    report = f"""# Bundle hashing

Command: `.venv/bin/{command} --write {options.write}`

Machine: {machine()}

sha256 of a {size / (1 << 30):.1f} GiB file from the page cache, median of paired runs:

| tool | time | throughput | of hashlib |
| --- | --- | --- | --- |
{rows}
Targets: at least {TARGET_SPEED / 1e9:.1f} GB/s and at least {TARGET_SHARE:.0%} of hashlib.
Result: {"meets" if met else "misses"} the targets ({speed["dsci"] / 1e9:.2f} GB/s, {share:.0%} of hashlib).
"""
    publish(report, options.write)


if __name__ == "__main__":
    main()
