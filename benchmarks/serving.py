"""The example's image answering /predict: one row per request, on one connection and on eight.

Two images of the same bundle, built by the project's own `ci.image`:

- anchor: the request path as it was (`ci.image.predict: frames`, a DataFrame per request) under the
  server as it was (gunicorn, 2 sync workers: GUNICORN_CMD_ARGS="--workers 2");
- dsci: as it serves now (`ci.image.predict: arrays`: the row as a float array in the model's order;
  2 gthread workers of 4 threads, connections kept alive).

The load generator is plain sockets on loopback, HTTP/1.1, a connection reopened whenever the server
closes it; bounded by a count (one connection) or a time (eight connections). Paired rounds, alternating
which image goes first. Needs `dsci services up`. From the repository root:

    .venv/bin/python -m benchmarks.serving [--runs 3] [--write benchmarks/results/serving.md]
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import tempfile
import threading
import time
from pathlib import Path

from benchmarks._common import machine, publish, verdict
from tests.integration.conftest import INVOKE, copy_example, make_keys

SINGLE_REQUESTS = 3000
CONCURRENT_SECONDS = 10.0
CONNECTIONS = 8
ANCHOR_RPS = 203  # the measure of the path as it was, at 8 connections
TARGETS = {"p50_ms": 2.0, "throughput_x": 4.0}


def build(folder: Path, **settings: str) -> str:
    environ = {**os.environ, **{f"INVOKE_CI_IMAGE_{k.upper()}": v for k, v in settings.items()}}
    done = subprocess.run([INVOKE, "ci.image"], cwd=folder, env=environ, capture_output=True, text=True)
    if done.returncode:
        raise SystemExit(f"ci.image failed:\n{done.stdout[-3000:]}{done.stderr[-2000:]}")
    return json.loads((folder / "build/ci/image/image.json").read_text())["id"]


class Client:
    """One keep-alive connection; reopened when the server closes it."""

    def __init__(self, port: int, request: bytes) -> None:
        self.port, self.request, self.sock, self.buffer = port, request, None, b""

    def call(self) -> float:
        start = time.perf_counter()
        if self.sock is None:
            self.sock = socket.create_connection(("127.0.0.1", self.port))
            self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            self.buffer = b""
        self.sock.sendall(self.request)
        while b"\r\n\r\n" not in self.buffer:
            self.buffer += self._recv()
        head, _, rest = self.buffer.partition(b"\r\n\r\n")
        headers = head.decode("latin-1").lower()
        if not headers.startswith("http/1.1 200"):
            raise SystemExit(f"/predict answered {headers.splitlines()[0]}")
        length = int(headers.split("content-length:")[1].split("\r\n")[0])
        while len(rest) < length:
            rest += self._recv()
        self.buffer = rest[length:]
        if "connection: close" in headers:
            self.sock.close()
            self.sock = None
        return time.perf_counter() - start

    def _recv(self) -> bytes:
        data = self.sock.recv(65536)
        if not data:
            raise SystemExit("the server closed the connection mid-answer")
        return data

    def close(self) -> None:
        if self.sock is not None:
            self.sock.close()


def serve(image_id: str, identity: str, environment: dict[str, str]):
    import docker

    from ci.image import mounted

    engine = docker.from_env()
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    context = mounted(identity)
    options = context.__enter__()
    options["environment"] = {**options.get("environment", {}), **environment}
    container = engine.containers.run(image_id, detach=True, ports={"8000/tcp": ("127.0.0.1", port)},
                                      **options)  # fmt: skip
    for _ in range(600):
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1) as probe:
                probe.sendall(b"GET /ready HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                if probe.recv(100).startswith(b"HTTP/1.1 200"):
                    break
        except OSError:
            pass
        time.sleep(0.1)
    else:
        raise SystemExit(f"{image_id[:19]} never became ready: {container.logs()[-1000:]!r}")

    def stop() -> None:
        container.remove(force=True)
        context.__exit__(None, None, None)

    return port, stop


def measure(port: int, request: bytes) -> dict[str, float]:
    warm = Client(port, request)
    for _ in range(300):
        warm.call()
    warm.close()
    single = Client(port, request)
    start = time.perf_counter()
    latencies = [single.call() for _ in range(SINGLE_REQUESTS)]
    single_rps = SINGLE_REQUESTS / (time.perf_counter() - start)
    single.close()
    results: list[list[float]] = [[] for _ in range(CONNECTIONS)]
    deadline = time.perf_counter() + CONCURRENT_SECONDS

    def load(into: list[float]) -> None:
        client = Client(port, request)
        while time.perf_counter() < deadline:
            into.append(client.call())
        client.close()

    start = time.perf_counter()
    threads = [threading.Thread(target=load, args=(into,)) for into in results]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - start
    together = [latency for into in results for latency in into]
    return {
        "p50_ms": statistics.median(latencies) * 1000,
        "p99_ms": statistics.quantiles(latencies, n=100)[98] * 1000,
        "single_rps": single_rps,
        "concurrent_rps": len(together) / elapsed,
        "concurrent_p50_ms": statistics.median(together) * 1000,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--write", type=Path)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as temporary:
        keys = Path(temporary) / "keys"
        make_keys(keys)
        folder = copy_example(Path(temporary) / "clinic", keys)
        done = subprocess.run([INVOKE, "train", "ci.package", "ci.sign"], cwd=folder, capture_output=True)
        if done.returncode:
            raise SystemExit(done.stdout.decode()[-3000:])
        images = {"anchor": build(folder, predict="frames"), "dsci": build(folder, predict="arrays")}
        environments = {"anchor": {"GUNICORN_CMD_ARGS": "--workers 2"}, "dsci": {}}
        golden = json.loads((folder / "build/ci/image/context/app/serving.json").read_text())["features"]
        import polars as pl

        row = pl.read_csv(folder / "data/golden.csv").select(golden).row(0, named=True)
        body = json.dumps({"rows": [row]}).encode()
        request = (b"POST /predict HTTP/1.1\r\nHost: bench\r\nContent-Type: application/json\r\n"
                   b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body)  # fmt: skip
        identity = (keys / "model.age").read_text()
        rounds = []
        for number in range(args.runs):
            measured = {}
            for name in ("anchor", "dsci") if number % 2 == 0 else ("dsci", "anchor"):
                port, stop = serve(images[name], identity, environments[name])
                try:
                    measured[name] = measure(port, request)
                finally:
                    stop()
            rounds.append(measured)
    median = {name: {k: statistics.median(r[name][k] for r in rounds) for k in rounds[0][name]}
              for name in ("anchor", "dsci")}  # fmt: skip
    a, d = median["anchor"], median["dsci"]
    throughput_x = d["concurrent_rps"] / a["concurrent_rps"]
    publish(
        "\n".join([
            "# Serving: the example's image answering /predict, one row per request",
            "",
            f"Command: `.venv/bin/python -m benchmarks.serving --runs {args.runs}"
            f"{f' --write {args.write}' if args.write else ''}`",
            "",
            f"Machine: {machine()}",
            "",
            "Both images hold the same bundle (encrypted, signed) and are built by `ci.image`; the load",
            "generator runs on the same 2 cores, over loopback. One connection: "
            f"{SINGLE_REQUESTS} requests after 300 to warm up. Eight connections: {CONCURRENT_SECONDS:g} s.",
            f"Medians of {args.runs} paired rounds.",
            "",
            "| measure | anchor: DataFrame per request, 2 sync workers | dsci: float array, 2x4 gthread "
            "| dsci / anchor |",
            "| --- | --- | --- | --- |",
            f"| one connection, p50 | {a['p50_ms']:.2f} ms | {d['p50_ms']:.2f} ms | "
            f"{d['p50_ms'] / a['p50_ms']:.2f}x |",
            f"| one connection, p99 | {a['p99_ms']:.2f} ms | {d['p99_ms']:.2f} ms | "
            f"{d['p99_ms'] / a['p99_ms']:.2f}x |",
            f"| one connection, requests/s | {a['single_rps']:.0f} | {d['single_rps']:.0f} | "
            f"{d['single_rps'] / a['single_rps']:.2f}x |",
            f"| {CONNECTIONS} connections, requests/s | {a['concurrent_rps']:.0f} "
            f"| {d['concurrent_rps']:.0f} | {throughput_x:.2f}x |",
            f"| {CONNECTIONS} connections, p50 | {a['concurrent_p50_ms']:.2f} ms "
            f"| {d['concurrent_p50_ms']:.2f} ms | {d['concurrent_p50_ms'] / a['concurrent_p50_ms']:.2f}x |",
            "",
            "| target | measured | verdict |",
            "| --- | --- | --- |",
            f"| one-row p50 at most {TARGETS['p50_ms']:g} ms on one connection | {d['p50_ms']:.2f} ms "
            f"| {verdict(d['p50_ms'] <= TARGETS['p50_ms'])} |",
            f"| at {CONNECTIONS} connections at least {TARGETS['throughput_x']:g}x the anchor measured here "
            f"| {throughput_x:.2f}x | {verdict(throughput_x >= TARGETS['throughput_x'])} |",
            f"| at {CONNECTIONS} connections at least {TARGETS['throughput_x']:g}x the issue's {ANCHOR_RPS} "
            f"requests/s | {d['concurrent_rps'] / ANCHOR_RPS:.2f}x "
            f"| {verdict(d['concurrent_rps'] >= TARGETS['throughput_x'] * ANCHOR_RPS)} |",
            "",
            "Every round (p50 ms and requests/s at 8 connections, anchor / dsci): "
            + ", ".join(f"{r['anchor']['p50_ms']:.2f}/{r['dsci']['p50_ms']:.2f} ms, "
                        f"{r['anchor']['concurrent_rps']:.0f}/{r['dsci']['concurrent_rps']:.0f}"
                        for r in rounds),
            "",
        ]),
        args.write,
    )  # fmt: skip


if __name__ == "__main__":
    main()
