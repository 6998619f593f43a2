"""The jobs file: each job (name, folder, repository, branch, Jenkinsfile, cron, recipients), checked."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

from msgspec import UNSET, Meta, Struct, UnsetType

from ci.core.config import locate, validate
from ci.core.errors import ConfigError
from ci.core.text import display


class JobEntry(Struct, forbid_unknown_fields=True, kw_only=True):
    """One job of the jobs file, as written: a key left out takes the Job's default."""

    name: str
    repository: str
    folder: str | UnsetType = UNSET
    branch: str | UnsetType = UNSET
    jenkinsfile: str | UnsetType = UNSET
    cron: str | UnsetType = UNSET
    recipients: list[str] | UnsetType = UNSET
    credentials: str | UnsetType = UNSET
    description: str | UnsetType = UNSET


class JobsFile(Struct, forbid_unknown_fields=True):
    jobs: list[Annotated[JobEntry, Meta(extra_json_schema={"x-expected": "a job"})]]


@dataclass(frozen=True)
class Job:
    name: str
    repository: str
    folder: str = ""
    branch: str = "main"
    jenkinsfile: str = "Jenkinsfile"
    cron: str = ""
    recipients: tuple[str, ...] = ()
    credentials: str = ""
    description: str = ""

    @property
    def full_name(self) -> str:
        return f"{self.folder}/{self.name}" if self.folder else self.name


_CRON_ALIASES = {"@yearly", "@annually", "@monthly", "@weekly", "@daily", "@midnight", "@hourly"}
_CRON_FIELDS = (
    ("minute", 0, 59),
    ("hour", 0, 23),
    ("day of month", 1, 31),
    ("month", 1, 12),
    ("day of week", 0, 7),
)
_CRON_TERM = re.compile(r"^(?:\*|H(?:\((\d+)-(\d+)\))?|(\d+)(?:-(\d+))?)(?:/(\d+))?$")


def cron_problem(spec: str) -> str | None:
    """What is wrong with a Jenkins cron spec (one schedule per line, H for a hashed value), or None."""
    for line in spec.splitlines():
        line = line.split("#", 1)[0].strip()
        if not line or line in _CRON_ALIASES:
            continue
        fields = line.split()
        if len(fields) != 5:
            return (
                f"{line!r} has {len(fields)} fields, not 5 (minute hour day month weekday), nor is it @daily"
            )
        for text, (what, low, high) in zip(fields, _CRON_FIELDS, strict=True):
            for term in text.split(","):
                match = _CRON_TERM.match(term)
                if not match:
                    return f"{what} {term!r} is not *, H, H(a-b), a number or a range, with an optional /step"
                numbers = [int(n) for n in match.groups()[:4] if n is not None]
                if any(n < low or n > high for n in numbers):
                    return f"{what} {term!r} is out of range {low}-{high}"
                if match.group(5) is not None and int(match.group(5)) == 0:
                    return f"{what} {term!r} has a step of 0"
    return None


def read_jobs(path: Path) -> list[Job]:
    """The jobs of a jobs file; ConfigError naming the file, line and key for anything wrong."""
    import yaml

    if not path.is_file():
        raise ConfigError(
            f"ci.jenkins.jobs: {display(path)}: no such file; `invoke ci.init --provider jenkins` writes one"
        )
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark
        at = f":{mark.line + 1}" if mark else ""
        raise ConfigError(f"{display(path)}{at}: not valid YAML: {error.problem}") from None
    except (yaml.YAMLError, UnicodeDecodeError) as error:
        raise ConfigError(f"{display(path)}: cannot be read as YAML: {error}") from None

    def where(keys: tuple[str, ...]) -> str:
        return locate(path, keys)

    if not isinstance(data, dict):
        raise ConfigError(f"{where(())}: must be a mapping with a list of jobs")
    validate(data, where, declaration=JobsFile, root="")
    jobs, seen = [], {}
    for index, entry in enumerate(data["jobs"]):
        job = Job(**{k: tuple(v) if k == "recipients" else v for k, v in entry.items()})
        at = ("jobs", f"[{index}]")
        for key, value in (("name", job.name), ("folder", job.folder)):
            bad = [part for part in value.split("/") if not part or part in {".", ".."}] if value else []
            if (key == "name" and ("/" in value or not value.strip())) or bad:
                raise ConfigError(
                    f"{where((*at, key))}: jobs[{index}].{key} {value!r} is not a Jenkins item name"
                )
        if job.full_name in seen:
            raise ConfigError(
                f"{where(at)}: jobs[{index}] is a second job named {job.full_name!r} "
                f"(the first is jobs[{seen[job.full_name]}])"
            )
        seen[job.full_name] = index
        problem = cron_problem(job.cron)
        if problem:
            raise ConfigError(f"{where((*at, 'cron'))}: jobs[{index}].cron: {problem}")
        jobs.append(job)
    return jobs
