"""The failing jobs dsci manages, as one digest: since which build and for how long."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from ci.jenkins.jobs import Job
from ci.jenkins.server import Server


@dataclass
class Failure:
    """A managed job whose last completed build failed, and since when."""

    job: str
    number: int
    result: str
    url: str
    since_number: int  # the first build of the failing streak
    since: float  # its start, seconds since the epoch


def failing(server: Server, jobs: Sequence[Job]) -> tuple[list[Failure], list[str]]:
    """The jobs whose last completed build failed (or is unstable), and the jobs Jenkins does not have."""
    found, missing = [], []
    for job in jobs:
        info = server.info(job.full_name)
        if info is None:
            missing.append(job.full_name)
            continue
        last = info.get("lastCompletedBuild")
        if not last:
            continue
        build = server.build(job.full_name, last["number"])
        if build.get("result") not in ("FAILURE", "UNSTABLE"):
            continue
        good = info.get("lastSuccessfulBuild")
        first = good["number"] + 1 if good else 1
        started = build if first == last["number"] else server.build(job.full_name, first)
        found.append(
            Failure(
                job.full_name,
                last["number"],
                build["result"],
                build["url"],
                first,
                started["timestamp"] / 1000,
            )
        )
    return found, missing


def digest(failures: Sequence[Failure], managed: int, url: str, now: float) -> str:
    """The failing jobs as a Markdown table, the longest streak first."""

    lines = [
        f"{len(failures)} of the {managed} jobs dsci manages on {url} are failing.",
        "",
        "| job | last build | failing since | for | link |",
        "| --- | --- | --- | --- | --- |",
    ]
    for f in sorted(failures, key=lambda f: f.since):
        when = datetime.fromtimestamp(f.since, UTC).strftime("%Y-%m-%d %H:%M UTC")
        since = f"#{f.since_number}, {when}"
        lines.append(f"| {f.job} | #{f.number} {f.result} | {since} | {_age(now - f.since)} | {f.url} |")
    return "\n".join(lines) + "\n"


def _age(seconds: float) -> str:
    minutes = int(max(seconds, 0) // 60)
    days, hours, minutes = minutes // 1440, minutes // 60 % 24, minutes % 60
    if days:
        return f"{days} d {hours} h"
    return f"{hours} h {minutes} min" if hours else f"{minutes} min"
