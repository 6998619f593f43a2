"""Encrypting and decrypting a model bundle: dsci (pyrage, streamed) against Debian's `age` command.

Each contender runs in a process of its own, so that its peak memory (the kernel's
VmHWM for that process) is its alone; every round shuffles the order, medians are
reported. The files live in a tmpfs (where the image decrypts), so no disk decides.
Also measured: what signing and verifying add to a run (the sign stage, and the
checks the image's app makes before it loads a model), in a fresh interpreter so
that the imports count. Targets: at least 500 MB/s each way, peak RSS at most 64 MiB
at any size, signing and verifying under 0.5 s. Run from the repository root:

    .venv/bin/python -m benchmarks.encryption [--gib 2] [--runs 3] [--write FILE]
"""

from __future__ import annotations

import argparse
import contextlib
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks._common import machine, publish

TARGET_SPEED, TARGET_RSS, TARGET_SIGNING = 500e6, 64 << 20, 0.5
ROOT = Path(__file__).resolve().parents[1]

# Each prints the seconds of the operation itself, start-up and imports left out (they are in the
# process's wall time, reported beside it).
ENCRYPT = """
import sys, time
from pathlib import Path
from ci import package
from ci.security import keys
recipients = keys.recipients([sys.argv[3]], Path("."))
start = time.perf_counter()
package.encrypt(Path(sys.argv[1]), Path(sys.argv[2]), recipients)
print(time.perf_counter() - start)
"""
DECRYPT = """
import sys, time
from pathlib import Path
from ci.security import trust
identity = trust.identities(Path(sys.argv[2]).read_text(), "identity")
start = time.perf_counter()
trust.decrypt(Path(sys.argv[1]), identity, Path(sys.argv[3]))
print(time.perf_counter() - start)
"""
# pyrage alone, as the anchor for what dsci adds to it.
RAW_ENCRYPT = """
import sys, time, pyrage
recipient = pyrage.x25519.Recipient.from_str(sys.argv[3])
start = time.perf_counter()
pyrage.encrypt_file(sys.argv[1], sys.argv[2], [recipient])
print(time.perf_counter() - start)
"""
RAW_DECRYPT = """
import sys, time, pyrage
from pathlib import Path
key = next(line for line in Path(sys.argv[2]).read_text().splitlines() if line.startswith("AGE-SECRET-KEY-"))
start = time.perf_counter()
pyrage.decrypt_file(sys.argv[1], sys.argv[3], [pyrage.x25519.Identity.from_str(key)])
print(time.perf_counter() - start)
"""
SIGN_AND_VERIFY = """
import sys, time
from pathlib import Path
start = time.perf_counter()
from datetime import UTC, datetime
from ci.security import keys, signing, trust
folder = Path(sys.argv[1])
key, keyid = keys.signing_key((folder / "signing").read_text(), "key")
facts = dict(git={"commit": "0" * 40, "dirty": False}, settings_sha256="0" * 64, run_url="",
             started=datetime.now(UTC), version="bench")
signers = trust.read_signers((folder / "signing.pub").read_text(), "signing.pub")
signing.sign_build(folder / "dist", signing.Signing(key, keyid, **facts), signers)
signed = time.perf_counter()
bundle = next((folder / "dist").glob("*.bundle.tar.age"))
identity = trust.identities((folder / "model.age").read_text(), "model.age")
trust.open_bundle(bundle, envelopes=signing.provenance_file(bundle), signers=signers, identity=identity,
                  workdir=Path(sys.argv[2]))
print(signed - start, time.perf_counter() - signed)
"""


def measured(argv: list[str]) -> tuple[float, int, float]:
    """(wall seconds, peak RSS in bytes, the seconds it printed, else the wall ones) of one process.
    The peak is the kernel's VmHWM of the process, read every few milliseconds while it runs: its
    ru_maxrss would count this process's own peak, inherited through the fork."""
    start = time.perf_counter()
    process = subprocess.Popen(
        argv, cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)}, stdout=subprocess.PIPE, text=True
    )
    peak = 0
    while process.poll() is None:
        with contextlib.suppress(OSError, ValueError, StopIteration):
            status = Path(f"/proc/{process.pid}/status").read_text().splitlines()
            peak = max(
                peak, int(next(line for line in status if line.startswith("VmHWM:")).split()[1]) * 1024
            )
        time.sleep(0.002)
    took = time.perf_counter() - start
    if process.returncode:
        raise SystemExit(f"{argv[:3]} exited with {process.returncode}")
    said = process.stdout.read().strip()
    return took, peak, float(said) if said else took


def make_file(path: Path, size: int) -> None:
    block = os.urandom(64 << 20)
    with open(path, "wb") as f:
        for _ in range(max(size // len(block), 1)):
            f.write(block)


def sizes_rss(folder: Path, recipient: str, identity: Path) -> dict[str, int]:
    """dsci's peak RSS on a 64 MiB file, to show it does not grow with the size."""
    small = folder / "small.tar"
    make_file(small, 64 << 20)
    _, encrypt, _ = measured(
        [sys.executable, "-c", ENCRYPT, str(small), str(folder / "small.age"), recipient]
    )
    _, decrypt, _ = measured([sys.executable, "-c", DECRYPT, str(folder / "small.age"), str(identity),
                              str(folder / "small.out")])  # fmt: skip
    return {"encrypt": encrypt, "decrypt": decrypt}


def signing_cost(folder: Path, runs: int) -> tuple[float, float]:
    """Medians of (sign, verify and decrypt the example-sized bundle) in a fresh interpreter."""
    from ci import package
    from ci.core.settings import Package
    from ci.security import keys

    project = folder / "project"
    (project / "models").mkdir(parents=True)
    (project / "models" / "model.joblib").write_bytes(os.urandom(2 << 20))
    keys.create(project / "signing", "signing", "bench", would_commit=False)
    keys.create(project / "model.age", "age", "", would_commit=False)
    git = {"commit": "0" * 40, "dirty": False, "time": 0}
    package.package(
        Package(wheel="false"), run=None, root=project, out=project / "dist", metrics_file=project / "none",
        config_digest="", model_path="models/model.joblib", git=git,
        recipients=keys.recipients([str(project / "model.age.pub")], project),
    )  # fmt: skip
    sign, verify = [], []
    for _ in range(runs):
        with tempfile.TemporaryDirectory() as workdir:
            argv = [sys.executable, "-c", SIGN_AND_VERIFY, str(project), workdir]
            done = subprocess.run(argv, cwd=ROOT, capture_output=True, text=True, check=True)
        first, second = map(float, done.stdout.split())
        sign.append(first)
        verify.append(second)
    return statistics.median(sign), statistics.median(verify)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--gib", type=float, default=2.0)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--write", type=Path)
    options = parser.parse_args()
    runs = max(options.runs, 3)
    # In memory, as the image's app decrypts: the disk's write-back would decide otherwise.
    memory = "/dev/shm" if Path("/dev/shm").is_dir() else None
    with tempfile.TemporaryDirectory(dir=memory) as scratch:
        folder = Path(scratch)
        plain, identity = folder / "bundle.tar", folder / "identity.age"
        make_file(plain, int(options.gib * (1 << 30)))
        size = plain.stat().st_size
        subprocess.run(["age-keygen", "-o", str(identity)], check=True, capture_output=True)
        recipient = subprocess.run(["age-keygen", "-y", str(identity)], check=True, capture_output=True,
                                   text=True).stdout.strip()  # fmt: skip
        python, key = [sys.executable, "-c"], str(identity)
        sealed = folder / "sealed.age"  # what every decrypting contender opens: age's own ciphertext
        subprocess.run(["age", "-e", "-r", recipient, "-o", str(sealed), str(plain)], check=True)
        out = {tool: folder / f"{tool}.out" for tool in ("dsci", "pyrage", "age")}
        contenders = {
            ("encrypt", "dsci"): [*python, ENCRYPT, str(plain), str(out["dsci"]), recipient],
            ("encrypt", "pyrage"): [*python, RAW_ENCRYPT, str(plain), str(out["pyrage"]), recipient],
            ("encrypt", "age"): ["age", "-e", "-r", recipient, "-o", str(out["age"]), str(plain)],
            ("decrypt", "dsci"): [*python, DECRYPT, str(sealed), key, str(out["dsci"])],
            ("decrypt", "pyrage"): [*python, RAW_DECRYPT, str(sealed), key, str(out["pyrage"])],
            ("decrypt", "age"): ["age", "-d", "-i", key, "-o", str(out["age"]), str(sealed)],
        }
        results: dict[tuple[str, str], list[tuple[float, int, float]]] = {}
        names = list(contenders)
        for i in range(runs + 1):  # the first round warms the cache and is not counted
            random.Random(i).shuffle(names)  # a new order each round: no contender always follows another
            for name in names:
                for written in out.values():  # every run writes a new file: the tmpfs is memory, kept small
                    written.unlink(missing_ok=True)
                took = measured(contenders[name])
                if name == ("decrypt", "dsci"):
                    same = subprocess.run(["cmp", "-s", str(plain), str(out["dsci"])]).returncode == 0
                    assert same, "dsci's decryption differs from the plaintext"
                if i:
                    results.setdefault(name, []).append(took)
        small = sizes_rss(folder, recipient, identity)
        sign, verify = signing_cost(folder, runs)
    wall = {name: statistics.median(t for t, _, _ in values) for name, values in results.items()}
    median = {name: statistics.median(t for _, _, t in values) for name, values in results.items()}
    peak = {name: max(r for _, r, _ in values) for name, values in results.items()}
    speed = {name: size / seconds for name, seconds in median.items()}
    rows = "".join(
        f"| {way} | {tool} | {median[(way, tool)]:.2f} s | {wall[(way, tool)]:.2f} s | "
        f"{speed[(way, tool)] / 1e6:.0f} MB/s | {speed[(way, tool)] / speed[(way, 'age')]:.2f}x | "
        f"{peak[(way, tool)] / 2**20:.1f} MiB |\n"
        for way, tool in sorted(
            results, key=lambda n: (n[0] == "decrypt", ["dsci", "pyrage", "age"].index(n[1]))
        )
    )
    over = {way: median[(way, "dsci")] / median[(way, "pyrage")] for way in ("encrypt", "decrypt")}
    dsci_speed = min(speed[("encrypt", "dsci")], speed[("decrypt", "dsci")])
    dsci_rss = max(peak[("encrypt", "dsci")], peak[("decrypt", "dsci")], *small.values())
    met = dsci_speed >= TARGET_SPEED and dsci_rss <= TARGET_RSS and sign + verify < TARGET_SIGNING
    command = f"python -m benchmarks.encryption --gib {options.gib:g} --runs {runs} --write {options.write}"
    report = f"""# Bundle encryption

Command: `.venv/bin/{command}`

Machine: {machine()}

A {size / 2**30:.1f} GiB bundle in a tmpfs (where the image's app decrypts; the disk's write-back
would otherwise decide), each contender a process of its own, median of {runs} rounds, the order
shuffled in each.
Time: of the operation (dsci's own clock around `package.encrypt` and `trust.decrypt`; for age
the whole process); wall: the whole process, Python's start-up and imports included. Throughput
from the time; peak RSS is the process's VmHWM. The anchor is Debian's `age`
({_age_version()}), in the same run; `pyrage` is pyrage's own call with nothing of dsci around it.

| way | tool | time | wall | throughput | speed against age | peak RSS |
| --- | --- | --- | --- | --- | --- | --- |
{rows}
dsci's time against pyrage's own call: encrypt {over["encrypt"]:.2f}x, decrypt {over["decrypt"]:.2f}x
(what dsci adds around it).

dsci's peak RSS on a 64 MiB bundle: encrypt {small["encrypt"] / 2**20:.1f} MiB, decrypt
{small["decrypt"] / 2**20:.1f} MiB: it does not grow with the size (it streams).

Signing and verifying, each in a fresh interpreter (imports included), median of {runs}: the sign
stage {sign:.3f} s; the checks the image's app makes before loading (signature, digests,
decryption of a 2 MiB bundle into a folder) {verify:.3f} s; together {sign + verify:.3f} s.

Targets: at least 500 MB/s each way, peak RSS at most 64 MiB at any size, signing and verifying
under 0.5 s together.
Result: {"meets the targets" if met else "MISSES a target"} ({dsci_speed / 1e6:.0f} MB/s at the slower way,
{dsci_rss / 2**20:.1f} MiB at most, {sign + verify:.2f} s to sign and verify).
"""
    publish(report, options.write)


def _age_version() -> str:
    return subprocess.run(["age", "--version"], capture_output=True, text=True).stdout.strip() or "unknown"


if __name__ == "__main__":
    main()
