"""What every benchmark shares: a description of the machine, and where results go."""

from __future__ import annotations

import os
import platform
from collections.abc import Callable
from pathlib import Path


def machine() -> str:
    """One line: cores, CPU, memory, kernel, Python and invoke versions."""
    cpu = next(
        (line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
         if line.startswith("model name")),
        platform.processor() or "unknown CPU",
    )  # fmt: skip
    memory_kib = int(Path("/proc/meminfo").read_text().split()[1])
    import invoke

    return (
        f"{os.cpu_count()} cores ({cpu}), {memory_kib / 2**20:.0f} GiB, "
        f"{platform.system()} {platform.release()}, "
        f"Python {platform.python_version()}, invoke {invoke.__version__}"
    )


def paired(runs: int, **measures: Callable[[], float]) -> list[dict[str, float]]:
    """``runs`` rounds of every measure, alternating which goes first: a noisy machine's drift falls on
    both sides alike. Each round is {name: seconds}."""
    rounds = []
    for i in range(runs):
        order = list(measures.items())
        if i % 2:
            order.reverse()
        rounds.append({name: measure() for name, measure in order})
    return rounds


def verdict(met: bool) -> str:
    """A target's verdict in a results table."""
    return "met" if met else "missed"


def publish(report: str, path: Path | None) -> None:
    """Print the Markdown report, and write it to ``path`` when one is given."""
    print(report)
    if path:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(report)
