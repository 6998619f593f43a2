"""The one result model that every stage returns, and the run that collects them."""

from __future__ import annotations

import enum
from dataclasses import asdict, dataclass, field
from typing import Any

from ci.core.errors import CHECK_FAILED, PASSED


class Status(enum.StrEnum):
    PASSED = "passed"
    WARNED = "warned"
    FAILED = "failed"
    SKIPPED = "skipped"


def group(stage: str, part: str) -> str:
    """The JUnit class name of a part of a stage's checks: ``dsci.<stage>.<part>`` (``dsci.data.train``)."""
    return f"dsci.{stage}.{part}"


@dataclass
class Check:
    """One verdict inside a stage: a lint finding, a test, a gate, a data check."""

    name: str
    status: Status
    message: str = ""
    value: Any = None
    threshold: Any = None
    group: str | None = None  # JUnit classname (``group(stage, part)``); the stage's name when None
    file: str | None = None
    line: int | None = None
    output: str = ""  # long text: a traceback, a diff, failing rows
    duration: float = 0.0
    details: dict[str, Any] = field(default_factory=dict)  # every number behind the verdict

    @property
    def measured(self) -> bool:
        return self.threshold is not None

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Check:
        return cls(**{**data, "status": Status(data["status"])})


@dataclass
class StageResult:
    """What one stage found. Its status follows from its checks, never set by hand."""

    name: str
    checks: list[Check] = field(default_factory=list)
    artifacts: list[str] = field(default_factory=list)
    duration: float = 0.0
    started: str = ""
    skipped: str | None = None  # the reason, when the stage did not run
    error: str | None = None  # the message of an error that stopped the stage
    error_code: int | None = None
    summary: str = ""  # Markdown of the stage's own, in summary.md instead of the table of checks
    # Restored from the stage cache (ci/core/cache.py): {"key", "age" (s since it ran), "ran" (its time)}
    cached: dict[str, Any] | None = None

    NOTHING_CHECKED = "nothing was checked"

    def __post_init__(self) -> None:
        # A stage that ran and checked nothing did not pass: it is skipped, and says why.
        if (
            self.error is None
            and self.skipped is None
            and all(c.status is Status.SKIPPED for c in self.checks)
        ):
            reasons = dict.fromkeys(c.message for c in self.checks if c.message)
            self.skipped = "; ".join(reasons) or self.NOTHING_CHECKED

    @property
    def status(self) -> Status:
        if self.skipped is not None:
            return Status.SKIPPED
        if self.error is not None:
            return Status.FAILED
        statuses = {check.status for check in self.checks}
        for status in (Status.FAILED, Status.WARNED):
            if status in statuses:
                return status
        return Status.PASSED

    @property
    def exit_code(self) -> int:
        if self.error_code is not None:
            return self.error_code
        return CHECK_FAILED if self.status is Status.FAILED else PASSED

    def count(self, status: Status) -> int:
        return sum(check.status is status for check in self.checks)

    @property
    def cases(self) -> list[Check]:
        """The checks as test cases; a stage with neither checks nor error still counts as one."""
        if self.checks or self.error is not None:
            return self.checks
        return [Check(self.name, self.status, message=self.skipped or "", duration=self.duration)]

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["status"] = self.status.value
        data["checks"] = [{**asdict(c), "status": c.status.value} for c in self.checks]
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> StageResult:
        fields = {k: v for k, v in data.items() if k != "status"}
        fields["checks"] = [Check.from_dict(c) for c in data.get("checks", [])]
        return cls(**fields)


@dataclass
class Run:
    """The stages of one pipeline run, in pipeline order."""

    stages: list[StageResult] = field(default_factory=list)

    @property
    def status(self) -> Status:
        statuses = {stage.status for stage in self.stages}
        for status in (Status.FAILED, Status.WARNED, Status.PASSED):
            if status in statuses:
                return status
        return Status.SKIPPED

    @property
    def exit_code(self) -> int:
        """The gravest code among the stages: a security error outranks a failed test."""
        return max((stage.exit_code for stage in self.stages), default=PASSED)

    def tally(self) -> str:
        """A closing line any CI can read: ``N passed, N failed, N skipped``, as junit.xml counts."""
        cases = [case.status for stage in self.stages for case in stage.cases]
        passed = cases.count(Status.PASSED) + cases.count(Status.WARNED)
        failed = cases.count(Status.FAILED) + sum(s.error is not None for s in self.stages)
        return f"{passed} passed, {failed} failed, {cases.count(Status.SKIPPED)} skipped"
