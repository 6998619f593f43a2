"""Seeding: what would change (plan), then the changes (apply), folders first."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from ci.jenkins.config_xml import MARK, folder_xml, render, same
from ci.jenkins.jobs import Job
from ci.jenkins.server import Server


@dataclass
class Plan:
    """What seeding changes: jobs to create, update and delete, and those left as they are."""

    create: list[str] = field(default_factory=list)
    update: list[str] = field(default_factory=list)
    delete: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    folders: list[str] = field(default_factory=list)  # folders to create first


def plan(server: Server, jobs: Sequence[Job], *, prune: bool = False) -> tuple[Plan, dict[str, str]]:
    """What seeding would change, and each job's rendered XML; reads only."""
    result, rendered = Plan(), {}
    listed = {job["fullname"]: job for job in server.jobs()}
    folders = sorted({f for job in jobs if job.folder for f in _parents(job.folder)})
    result.folders = [folder for folder in folders if folder not in listed]
    for job in jobs:
        xml = rendered[job.full_name] = render(job)
        live = server.config(job.full_name) if job.full_name in listed else None
        if live is None:
            result.create.append(job.full_name)
        elif same(xml, live):
            result.unchanged.append(job.full_name)
        else:
            result.update.append(job.full_name)
    if prune:  # jobs only: a folder ("jobs" in its listing) stays, whatever it holds
        wanted = {job.full_name for job in jobs}
        for name, item in sorted(listed.items()):
            if name in wanted or "jobs" in item:
                continue
            if MARK in ((server.info(name) or {}).get("description") or ""):
                result.delete.append(name)
    return result, rendered


def apply(
    server: Server, planned: Plan, rendered: Mapping[str, str], on_change: Callable[[str], None]
) -> None:
    for folder in planned.folders:
        server.create(folder, folder_xml())
        on_change(f"created folder {folder}")
    for name in planned.create:
        server.create(name, rendered[name])
        on_change(f"created {name}")
    for name in planned.update:
        server.update(name, rendered[name])
        on_change(f"updated {name}")
    for name in planned.delete:
        server.delete(name)
        on_change(f"deleted {name}")


def _parents(folder: str) -> Iterable[str]:
    parts = folder.split("/")
    return ("/".join(parts[: i + 1]) for i in range(len(parts)))
