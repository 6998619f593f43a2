"""The comment: the run's summary.md under dsci's hidden marker, its plots placed, cut to the host's limit."""

from __future__ import annotations

import re
from collections.abc import Mapping

from ci.pullrequest.find import PullRequest

# What a comment may hold: GitHub refuses a body over 65,536 characters, Azure DevOps one over 150,000.
# dsci counts UTF-8 bytes, never fewer than characters however a host counts its emoji.
LIMITS = {"github": 65_536, "azure": 150_000}
IMAGE = re.compile(r"!\[([^\]]*)\]\(([^)\s]+)\)")  # summary.md's plots, relative to the report folder


def marker(pr: PullRequest) -> str:
    """The hidden line that finds dsci's comment again: one comment per pipeline."""
    return f"<!-- dsci report: {pr.pipeline or 'dsci'} -->"


def images(summary: str) -> list[str]:
    """The plots summary.md shows, as paths relative to the report folder."""
    return [path for _, path in IMAGE.findall(summary) if "://" not in path]


def render(summary: str, pr: PullRequest, placed: Mapping[str, str] | None = None) -> str:
    """summary.md with the marker, the pipeline's name and the CI run's link, within the host's limit.

    A plot is shown from ``placed`` (its URL where the host keeps it private to the project); any other
    becomes a link to the CI run, whose artifacts hold it: no image goes to a third-party host."""
    placed = placed or {}

    def place(found: re.Match[str]) -> str:
        alt, path = found.groups()
        if path in placed:
            return f"![{alt}]({placed[path]})"
        return f"[{alt}]({pr.run_url})" if pr.run_url else found.group(0)

    head = f"{marker(pr)}\n" + (f"**{pr.pipeline}**\n\n" if pr.pipeline else "")
    foot = (
        f"\n\n---\n[The CI run]({pr.run_url}): its artifacts hold report.json, junit.xml and the plots."
        if pr.run_url
        else ""
    )
    room = LIMITS[pr.host] - _size(head) - _size(foot)
    return head + cut(IMAGE.sub(place, summary.rstrip()), room) + foot


def cut(text: str, room: int) -> str:
    """``text`` whole when it fits in ``room`` (UTF-8 bytes); else its first lines and a note saying so."""
    if _size(text) <= room:
        return text
    note = f"\n\n… cut here: the whole summary has {len(text):,} characters, more than a comment holds."
    kept = text.encode()[: max(room - _size(note), 0)].decode(errors="ignore")
    return kept[: kept.rfind("\n") + 1 or len(kept)].rstrip() + note


def _size(text: str) -> int:
    return len(text.encode())
