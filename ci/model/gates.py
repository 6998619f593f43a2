"""Gates: absolute thresholds and change against a baseline, with a verdict per metric.

The verdict is ``pass``, ``fail`` (an absolute threshold is missed, or the
metric is undefined) or ``not-better`` (the change against the baseline is
below what the gate asks). A gate's mode decides what the verdict does:
``enforce`` fails the stage, ``dry-run`` only reports, ``disabled`` skips it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

import msgspec

from ci.core import settings
from ci.core.errors import ConfigError
from ci.core.results import Check, Status, group
from ci.core.text import closest
from ci.model.metrics import METRICS

PASS, FAIL, NOT_BETTER = "pass", "fail", "not-better"


@dataclass(frozen=True)
class Gate:
    metric: str
    min: float | None = None
    max: float | None = None
    min_change: float | None = None
    min_relative_change: float | None = None
    mode: str = "enforce"
    segments: bool = True

    def describe(self) -> str:
        """The thresholds as one short phrase: ``≥ 0.95; change ≥ -0.01``."""
        parts = []
        if self.min is not None:
            parts.append(f"≥ {self.min:g}")
        if self.max is not None:
            parts.append(f"≤ {self.max:g}")
        if self.min_change is not None:
            parts.append(f"change ≥ {self.min_change:+g}")
        if self.min_relative_change is not None:
            parts.append(f"change ≥ {self.min_relative_change:+.2%}")
        return "; ".join(parts)


def gates_from_settings(
    configured: Mapping[str, settings.Gate], metrics: list[str], default_mode: str, mode: str | None
) -> list[Gate]:
    """Gates from ``ci.model.gates``; ``mode`` (the command line's) overrides every gate's."""
    gates = []
    for name, declared in configured.items():
        if name not in metrics:
            known = name in METRICS
            close = closest(name, metrics)
            hint = f"; did you mean {close}?" if close else f"; metrics: {', '.join(metrics)}"
            reason = "is not computed (see ci.model.metrics)" if known else "is not a metric"
            raise ConfigError(f"ci.model.gates.{name}: {name} {reason}{hint}")
        fields = {k: v for k, v in msgspec.structs.asdict(declared).items() if v is not None}
        fields["mode"] = mode or fields.get("mode") or default_mode
        gates.append(Gate(name, **fields))
    return gates


@dataclass
class Judgement:
    """A gate's verdict on one metric (overall or in a segment), with every number behind it."""

    metric: str
    segment: str | None
    current: float | None
    baseline: float | None
    verdict: str
    reasons: list[str] = field(default_factory=list)
    delta: float | None = None  # current - baseline
    improvement: float | None = None  # delta, signed so that positive is better
    relative_improvement: float | None = None
    greater_is_better: bool = True
    gate: dict[str, Any] = field(default_factory=dict)


def judge(
    gate: Gate,
    current: float | None,
    baseline: float | None,
    *,
    segment: str | None = None,
    undefined: str = "",
) -> Judgement:
    greater = METRICS[gate.metric].greater_is_better
    j = Judgement(gate.metric, segment, current, baseline, PASS, greater_is_better=greater, gate=asdict(gate))
    if current is None:
        j.verdict, j.reasons = FAIL, [undefined or f"{gate.metric} has no value"]
        return j
    if gate.min is not None and current < gate.min:
        j.verdict = FAIL
        j.reasons.append(f"{current:.4g} is below the minimum {gate.min:g}")
    if gate.max is not None and current > gate.max:
        j.verdict = FAIL
        j.reasons.append(f"{current:.4g} is above the maximum {gate.max:g}")
    if baseline is None:
        if gate.min_change is not None or gate.min_relative_change is not None:
            j.reasons.append("no baseline: the change was not checked")
        return j
    j.delta = current - baseline
    j.improvement = j.delta if greater else -j.delta
    if baseline:
        j.relative_improvement = j.improvement / abs(baseline)
    worse = []
    if gate.min_change is not None and j.improvement < gate.min_change:
        worse.append(
            f"changed by {j.improvement:+.4g} against the baseline; at least {gate.min_change:+g} asked"
        )
    if (
        gate.min_relative_change is not None
        and j.relative_improvement is not None
        and j.relative_improvement < gate.min_relative_change
    ):
        worse.append(
            f"changed by {j.relative_improvement:+.2%} against the baseline; "
            f"at least {gate.min_relative_change:+.2%} asked"
        )
    if worse and j.verdict == PASS:
        j.verdict = NOT_BETTER
    j.reasons += worse
    return j


_STATUS_BY_MODE = {"enforce": Status.FAILED, "dry-run": Status.WARNED}


def to_check(j: Judgement, gate: Gate) -> Check:
    """One check (one JUnit testcase) per gate and segment."""
    name = j.metric if j.segment is None else f"{j.metric} [{j.segment}]"
    if gate.mode == "disabled":
        return Check(name, Status.SKIPPED, "gate disabled", value=j.current, threshold=gate.describe())
    status = Status.PASSED if j.verdict == PASS else _STATUS_BY_MODE[gate.mode]
    message = "; ".join([f"verdict {j.verdict}", *j.reasons])
    if gate.mode == "dry-run" and j.verdict != PASS:
        message += " (dry-run: not enforced)"
    return Check(
        name, status, message, value=j.current, threshold=gate.describe(), group=group("model", "gates"),
        details=asdict(j),
    )  # fmt: skip


def overall_verdict(judgements: list[Judgement]) -> str:
    verdicts = {j.verdict for j in judgements}
    return FAIL if FAIL in verdicts else NOT_BETTER if NOT_BETTER in verdicts else PASS
