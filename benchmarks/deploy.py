"""`invoke ci.deploy` on the example, from its start to a ready, smoke-tested, recorded release, against
the bare rollout it wraps: `podman kube play --replace` of the same Deployment and polling its pod's
/ready until it answers 200 (no pull check, no validation, no smoke test, no record, no rollback).

Paired runs, alternating which goes first; medians and their ratio. It needs what `scripts/example`
leaves: the services up, the example built and pushed (build/ci/push/push.json), its keys. Each run
deploys a new release of `staging` and records it on the branch dsci/releases. From the repository root:

    .venv/bin/python -m benchmarks.deploy [--runs 7] [--write benchmarks/results/deploy.md]
"""

from __future__ import annotations

import argparse
import json
import os
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
ANCHOR_NAMESPACE = "bench"


def environment() -> dict[str, str]:
    registry = REPO / "build" / "services" / "registry.env"
    return {**os.environ, **dict(line.split("=", 1) for line in registry.read_text().split())}


def deploy(reports: list[float]) -> float:
    start = time.perf_counter()
    done = subprocess.run(
        [INVOKE, "ci.deploy", "--force"], cwd=EXAMPLE, env=environment(), capture_output=True, text=True
    )
    took = time.perf_counter() - start
    if done.returncode:
        raise SystemExit(f"ci.deploy failed:\n{done.stdout[-2000:]}{done.stderr[-2000:]}")
    stage = next(s for s in json.loads((EXAMPLE / "build/ci/report.json").read_text())["stages"]
                 if s["name"] == "deploy")  # fmt: skip
    reports.append(stage["checks"][0]["details"]["seconds"])
    return took


def bare(played: Path) -> float:
    """The same Deployment played by hand, and its pod polled until /ready answers."""
    from ci.deploy.local import address_of, request

    start = time.perf_counter()
    subprocess.run(["podman", "kube", "play", "--replace", "--quiet", "--tls-verify=false", str(played)],
                   check=True, capture_output=True)  # fmt: skip
    pod = f"{ANCHOR_NAMESPACE}-clinic-pod-0"
    while True:
        address = address_of(pod)
        if address and request(f"http://{address}:8000/ready", timeout=2)[0] == 200:
            return time.perf_counter() - start
        time.sleep(0.05)


def anchor_manifest(folder: Path) -> Path:
    """The staging release's Deployment as the local target plays it, in a namespace of its own, with
    its Secret made as dsci makes it, from the example's identity."""
    from ci.deploy.local import Local, local_documents

    documents = list(yaml.safe_load_all((EXAMPLE / "build/ci/deploy/staging.yaml").read_text()))
    for document in documents:
        document["metadata"]["namespace"] = ANCHOR_NAMESPACE
    volumes = next(d for d in documents if d["kind"] == "Deployment")["spec"]["template"]["spec"]["volumes"]
    secret = next(v["secret"]["secretName"] for v in volumes if "secret" in v)
    identity = Path("~/.config/dsci/clinic/model.age").expanduser().read_text()
    Local("127.0.0.1:5000", None, False).put_secret(ANCHOR_NAMESPACE, secret, {"identity": identity})
    path = folder / "anchor.yaml"
    path.write_text(yaml.safe_dump_all(local_documents(documents), sort_keys=False))
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--write", type=Path)
    args = parser.parse_args()
    reports: list[float] = []
    deploy(reports)  # a first release, so that the manifests exist and the image is in podman's store
    reports.clear()
    with tempfile.TemporaryDirectory() as folder:
        played = anchor_manifest(Path(folder))
        bare(played)
        rounds = paired(args.runs, dsci=lambda: deploy(reports), bare=lambda: bare(played))
        subprocess.run(["podman", "kube", "down", str(played)], capture_output=True)
    dsci = statistics.median(r["dsci"] for r in rounds)
    anchor = statistics.median(r["bare"] for r in rounds)
    inside = statistics.median(reports)
    publish(
        "\n".join([
            "# ci.deploy: start to a ready, smoke-tested, recorded release",
            "",
            f"Command: `.venv/bin/python -m benchmarks.deploy --runs {args.runs}`",
            "",
            f"Machine: {machine()}; podman {podman_version()}",
            "",
            "The example (examples/clinic) deployed to `staging` with the local target: settings, the",
            "development model's predictions of 20 golden rows, render, strict validation, the Secret, the",
            "pull, `podman kube play --replace`, /ready polled, the rows posted to /predict and compared,",
            "the release committed to dsci/releases. The anchor plays the same Deployment by hand and polls",
            "/ready, nothing else. Paired runs, alternating which goes first.",
            "",
            "| measure | median |",
            "| --- | --- |",
            f"| `invoke ci.deploy`, wall time (process start to exit) | {dsci:.2f} s |",
            f"| of which the rollout, as the report says (play, ready, smoke test) | {inside:.2f} s |",
            f"| bare `podman kube play` until /ready answers | {anchor:.2f} s |",
            f"| ratio, ci.deploy / bare | {dsci / anchor:.2f}x |",
            "",
            "Every round (dsci/bare, s): " + ", ".join(f"{r['dsci']:.2f}/{r['bare']:.2f}" for r in rounds),
            "",
            "podman 4.3 takes about 3 s longer to remove a pod that runs than to stop it and remove it",
            "stopped. `kube play --replace` removes it running, mostly: the bare play's rounds fall into two",
            "modes 3 s apart. dsci stops the pods it replaces first, and its rounds fall into one mode:",
            "the ratio of medians swings with how many of the bare play's rounds were fast. Against the",
            "fast ones (about 1.5 s) dsci spends about 2.4 s more: the old pod's stop (1 s), the development",
            "model's predictions of the smoke rows (scikit-learn's import, 1 s), validation and the record.",
            "",
        ]),
        args.write,
    )  # fmt: skip


def podman_version() -> str:
    return subprocess.run(["podman", "--version"], capture_output=True, text=True).stdout.split()[-1]


if __name__ == "__main__":
    main()
