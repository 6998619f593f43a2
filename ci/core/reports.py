"""Writers for report.json, junit.xml and summary.md, all from one ``Run``.

A single stage run alone (``invoke ci.lint``) merges its result into the
report already in the folder, so a CI that calls one stage per step still
ends with one report covering all of them; ``ci.all`` starts afresh.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ci.core import files, secrets
from ci.core.results import Check, Run, StageResult, Status
from ci.core.text import age, plain

REPORT_FORMAT = 1
MAX_ROWS = 50  # checks listed per stage in summary.md; report.json has all

_ICONS = {
    Status.PASSED: "✅",
    Status.WARNED: "⚠️",
    Status.FAILED: "❌",
    Status.SKIPPED: "⏭️",
}
_XML_ILLEGAL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def load(report_dir: Path) -> Run:
    """The run recorded in ``report_dir``; an empty one when there is none or it is unreadable."""
    try:
        data = json.loads((report_dir / "report.json").read_text(encoding="utf-8"))
        if data.get("format") != REPORT_FORMAT:
            return Run()
        return Run([StageResult.from_dict(stage) for stage in data["stages"]])
    except (OSError, ValueError, KeyError, TypeError):
        return Run()


def merge(run: Run, result: StageResult, order: Sequence[str]) -> Run:
    """``run`` with ``result`` replacing any earlier result of its stage, in pipeline order; a
    tenant's stages (``north/data``) after the common ones, tenant by tenant."""
    stages = {stage.name: stage for stage in run.stages}
    stages[result.name] = result
    rank = {name: i for i, name in enumerate(order)}

    def position(stage: StageResult) -> tuple[bool, str, int]:
        tenant, _, name = stage.name.rpartition("/")
        return bool(tenant), tenant, rank.get(name, len(rank))

    return Run(sorted(stages.values(), key=position))


def write(run: Run, report_dir: Path) -> dict[str, Path]:
    """Write the three reports atomically, every secret masked; return their paths by kind."""
    return {
        "json": files.write_text(report_dir / "report.json", secrets.mask(render_json(run))),
        "junit": files.write_text(report_dir / "junit.xml", secrets.mask(render_junit(run))),
        "summary": files.write_text(report_dir / "summary.md", secrets.mask(render_summary(run))),
    }


def render_json(run: Run) -> str:
    data: dict[str, Any] = {
        "format": REPORT_FORMAT,
        "status": run.status.value,
        "exit_code": run.exit_code,
        "stages": [stage.to_dict() for stage in run.stages],
    }
    return json.dumps(data, indent=2, default=str) + "\n"


# JUnit -----------------------------------------------------------------------


def render_junit(run: Run) -> str:
    """One <testsuite> per stage, one <testcase> per check, as Jenkins' JUnit plugin reads them."""
    from xml.etree import ElementTree as ET

    root = ET.Element("testsuites", name="dsci")
    totals = dict.fromkeys(("tests", "failures", "errors", "skipped"), 0)
    for stage in run.stages:
        suite = ET.SubElement(root, "testsuite", name=stage.name)
        cases = stage.cases
        counts = {
            "tests": len(cases) + int(stage.error is not None),
            "failures": sum(c.status is Status.FAILED for c in cases),
            "errors": int(stage.error is not None),
            "skipped": sum(c.status is Status.SKIPPED for c in cases),
        }
        suite.attrib.update({k: str(v) for k, v in counts.items()})
        suite.set("time", f"{stage.duration:.3f}")
        if stage.started:
            suite.set("timestamp", stage.started)
        for check in cases:
            suite.append(_testcase(stage, check))
        if stage.error is not None:
            case = ET.SubElement(suite, "testcase", classname=f"dsci.{stage.name}", name=stage.name)
            error = ET.SubElement(case, "error", message=_xml_text(stage.error), type="error")
            error.text = _xml_text(stage.error)
        for key in totals:
            totals[key] += counts[key]
    root.attrib.update({k: str(v) for k, v in totals.items()})
    root.set("time", f"{sum(s.duration for s in run.stages):.3f}")
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


def _testcase(stage: StageResult, check: Check) -> Any:
    from xml.etree import ElementTree as ET

    case = ET.Element(
        "testcase",
        classname=check.group or f"dsci.{stage.name}",
        name=_xml_text(check.name),
        time=f"{check.duration:.3f}",
    )
    if check.file:
        case.set("file", check.file)
    if check.line:
        case.set("line", str(check.line))
    message = _xml_text(_describe(check))
    if check.status is Status.FAILED:
        failure = ET.SubElement(case, "failure", message=message, type="failed")
        failure.text = _xml_text(check.output) or message
    elif check.status is Status.SKIPPED:
        ET.SubElement(case, "skipped", message=message)
    elif check.status is Status.WARNED or check.output:
        out = ET.SubElement(case, "system-out")
        out.text = _xml_text(check.output or f"warning: {message}")
    return case


def _xml_text(text: str) -> str:
    return _XML_ILLEGAL.sub("", plain(text))


# Markdown summary ------------------------------------------------------------


def render_summary(run: Run) -> str:
    """A Markdown page for a PR comment or a step summary: the stages, then what needs a look."""
    lines = [
        f"## dsci: {_ICONS[run.status]} {run.status} ({run.tally()})",
        "",
        "| stage | status | checks | time |",
        "| --- | --- | --- | --- |",
    ]
    for stage in run.stages:
        counts = ", ".join(f"{stage.count(s)} {s}" for s in Status if stage.count(s))
        cached = f", cached ({age(stage.cached['age'])} old)" if stage.cached else ""
        lines.append(
            f"| {stage.name} | {_ICONS[stage.status]} {stage.status}{cached} | {counts or '–'} "
            f"| {stage.duration:.1f} s |"
        )
    for stage in run.stages:
        # A tenant's stage (north/data) shows its details here when it failed or warned; all of them are
        # in the tenant's own summary.
        if "/" not in stage.name or stage.status in (Status.FAILED, Status.WARNED):
            lines.extend(_stage_details(stage))
    return "\n".join(lines) + "\n"


def _stage_details(stage: StageResult) -> list[str]:
    rows = [c for c in stage.checks if c.status in (Status.FAILED, Status.WARNED) or c.measured]
    if not (rows or stage.summary) and stage.error is None and stage.skipped is None:
        return []
    lines = ["", f"### {_ICONS[stage.status]} {stage.name}", ""]
    if stage.skipped is not None:
        lines.append(f"Skipped: {_cell(stage.skipped)}")
    if stage.error is not None:
        lines.append(f"Stopped: {_cell(stage.error)}")
    if stage.summary:
        lines += ["", stage.summary.rstrip()] if len(lines) > 3 else [stage.summary.rstrip()]
    elif rows:
        if len(lines) > 3:
            lines.append("")
        lines += ["| check | status | value | threshold | message |", "| --- | --- | --- | --- | --- |"]
        for check in rows[:MAX_ROWS]:
            lines.append(
                f"| {_cell(_where(check))} | {_ICONS[check.status]} {check.status} "
                f"| {_cell(_fmt(check.value))} | {_cell(_fmt(check.threshold))} | {_cell(check.message)} |"
            )
        if len(rows) > MAX_ROWS:
            lines.append(f"\n… and {len(rows) - MAX_ROWS} more in report.json")
    return lines


def _where(check: Check) -> str:
    if check.file and check.file not in check.name:
        suffix = f":{check.line}" if check.line else ""
        return f"{check.name} ({check.file}{suffix})"
    return check.name


def _describe(check: Check) -> str:
    if check.measured:
        return f"{check.message} (value {_fmt(check.value)}, threshold {_fmt(check.threshold)})".strip()
    return check.message


def _fmt(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def _cell(text: str) -> str:
    first = plain(str(text)).strip().splitlines()[:1]
    return (first[0] if first else "").replace("|", "\\|")[:200]
