"""Lint and unit tests: ruff and pytest with coverage, read into checks."""

from __future__ import annotations

import json
import os
import re
from collections.abc import Sequence
from pathlib import Path

from ci.core.errors import ConfigError
from ci.core.process import Completed, Runner, python_module
from ci.core.results import Check, StageResult, Status, group

RUFF = "pip install ruff"
PYTEST = "pip install pytest"
COVERAGE = "pip install coverage"

# pytest's exit codes (pytest.ExitCode), spelled out to keep pytest unimported
_TESTS_FAILED, _INTERRUPTED, _INTERNAL_ERROR, _USAGE_ERROR, _NO_TESTS = 1, 2, 3, 4, 5


# Notebooks are the notebooks stage's: it lints them too, naming the cell of each finding.
NOT_NOTEBOOKS = ("--extend-exclude", "*.ipynb", "--force-exclude")  # named ones too


def lint(paths: Sequence[str], *, check_format: bool, run: Runner, root: Path) -> StageResult:
    """``ruff check`` (each finding a failed check) and optionally ``ruff format --check``; no notebooks."""
    ruff = python_module("ruff", RUFF)
    found = run([*ruff, "check", *NOT_NOTEBOOKS, "--output-format", "json", *paths])
    refuse_ruff_error(found, "ci.lint.paths")
    findings = json.loads(found.stdout or "[]")
    checks = [_finding(item, root) for item in findings]
    if not checks:
        checks.append(Check("ruff check", Status.PASSED, f"no findings in {', '.join(paths)}"))
    if check_format:
        formatted = run([*ruff, "format", "--check", *NOT_NOTEBOOKS, *paths])
        refuse_ruff_error(formatted, "ci.lint.paths")
        unformatted = [
            line.removeprefix("Would reformat:").strip()
            for line in formatted.stdout.splitlines()
            if line.startswith("Would reformat:")
        ]
        checks += [
            Check("ruff format", Status.FAILED, "would be reformatted by `ruff format`", file=path)
            for path in unformatted
        ]
        if not unformatted:
            checks.append(Check("ruff format", Status.PASSED, "all files formatted"))
    return StageResult("lint", checks)


def refuse_ruff_error(result: Completed, key: str) -> None:
    if result.exited not in (0, 1):
        detail = _last_line(result.stderr or result.stdout) or f"exit code {result.exited}"
        raise ConfigError(f"ruff could not run: {detail}; check {key} and your ruff settings")


def _finding(item: dict, root: Path) -> Check:
    code = item.get("code") or "syntax-error"
    return Check(
        code,
        Status.FAILED,
        item.get("message", ""),
        group=group("lint", "ruff"),
        file=relative(item.get("filename", ""), root),
        line=(item.get("location") or {}).get("row"),
    )


def test(
    paths: Sequence[str],
    *,
    args: Sequence[str],
    min_coverage: float,
    coverage_source: Sequence[str],
    report_dir: Path,
    run: Runner,
    root: Path,
) -> StageResult:
    """pytest under coverage: each test a check, plus a coverage check against the minimum."""
    coverage = python_module("coverage", COVERAGE)
    python_module("pytest", PYTEST)
    report_dir.mkdir(parents=True, exist_ok=True)
    junit = report_dir / "pytest.xml"
    data = report_dir / ".coverage"
    junit.unlink(missing_ok=True)
    for stale in [data, *data.parent.glob(f"{data.name}.*")]:  # a previous run's data, per process too
        stale.unlink(missing_ok=True)
    source = [f"--source={','.join(coverage_source)}"] if coverage_source else []
    result = run(
        [
            *coverage, "run", f"--data-file={relative(data, root)}", *source,
            "-m", "pytest", *paths, f"--junitxml={relative(junit, root)}", "-o", "junit_family=xunit1",
            *args,
        ],
        quiet=False,
    )  # fmt: skip
    if result.exited == _USAGE_ERROR:
        detail = _last_line(result.stderr) or "usage error"
        raise ConfigError(f"pytest refused its arguments: {detail}; check ci.test.paths and ci.test.args")
    checks = read_junit(junit, root) if junit.exists() else []
    verdict = _pytest_verdict(result, checks, relative(junit, root) if junit.exists() else None, paths)
    if verdict is not None:
        checks.append(verdict)
    artifacts = [junit] if junit.exists() else []
    checks.append(_coverage_check(coverage, data, min_coverage, report_dir, run, artifacts))
    return StageResult("test", checks, [str(a) for a in artifacts])


def _pytest_verdict(
    result: Completed, checks: Sequence[Check], junit: str | None, paths: Sequence[str]
) -> Check | None:
    """A failed check unless pytest ran tests and the JUnit XML tells the whole story.

    Exit 0 with tests run, and exit 1 with the failures in the JUnit XML, are told by the tests'
    own checks. Anything else (a crash or signal, an interruption, an internal error, no tests,
    no JUnit XML) fails the stage with pytest's last words."""
    fatal = re.search(r"^Fatal Python error: .*$", result.stderr, flags=re.MULTILINE)
    said = fatal[0] if fatal else _last_line(result.stderr) or _last_line(result.stdout)
    crash = result.stderr[fatal.start() : fatal.start() + 3000] if fatal else result.stderr[-3000:]
    output = (result.stdout[-3000:] + "\n" + crash).strip()
    failed = any(check.status is Status.FAILED for check in checks)
    code = result.exited
    if code == _NO_TESTS or (code == 0 and junit and not checks):
        return Check("pytest", Status.FAILED, f"no tests collected in {', '.join(paths)}")
    if junit is None:
        message = f"pytest {_how_it_ended(code)} and wrote no JUnit XML (does ci.test.args move --junitxml?)"
    elif code == 0 or (code == _TESTS_FAILED and failed):
        return None
    elif code == _TESTS_FAILED:
        message = f"pytest exited 1 (tests failed), but {junit} names no failing test"
    else:
        message = f"pytest {_how_it_ended(code)}"
    return Check("pytest", Status.FAILED, f"{message}: {said}" if said else message, output=output)


def _how_it_ended(code: int) -> str:
    import signal

    if code < 0 or code > 128:  # killed by a signal: -N from the process, 128+N through a shell
        number = -code if code < 0 else code - 128
        try:
            name = signal.Signals(number).name
        except ValueError:
            name = f"signal {number}"
        return f"was killed by {name}"
    meaning = {0: "passed", _TESTS_FAILED: "found failing tests", _INTERRUPTED: "was interrupted",
               _INTERNAL_ERROR: "hit an internal error", _NO_TESTS: "collected no tests"}  # fmt: skip
    return f"{meaning.get(code, 'stopped')} (exit {code})"


def read_junit(path: Path, root: Path) -> list[Check]:
    """pytest's JUnit XML (xunit1, with file and line) as checks, one per test."""
    from xml.etree import ElementTree as ET

    checks = []
    for case in ET.parse(path).getroot().iter("testcase"):
        status, message, output = Status.PASSED, "", ""
        for tag, verdict in (
            ("failure", Status.FAILED),
            ("error", Status.FAILED),
            ("skipped", Status.SKIPPED),
        ):
            element = case.find(tag)
            if element is not None:
                status = verdict
                message = element.get("message", "") or tag
                output = element.text or ""
                break
        file = relative(case.get("file", ""), root) or None
        line = case.get("line")
        checks.append(
            Check(
                case.get("name", "?"),
                status,
                _last_line(message) if status is Status.FAILED else message,
                group=case.get("classname") or None,
                file=file,
                line=_failing_line(output, file) or (int(line) + 1 if line and line.isdigit() else None),
                output=output,
                duration=float(case.get("time") or 0),
            )
        )
    return checks


def _failing_line(output: str, file: str | None) -> int | None:
    """The line that failed, from the ``path.py:25: AssertionError`` that ends pytest's report."""
    if not file:
        return None
    lines = re.findall(rf"^{re.escape(file)}:(\d+): ", output, flags=re.MULTILINE)
    return int(lines[-1]) if lines else None


def _coverage_check(
    coverage: list[str], data: Path, minimum: float, report_dir: Path, run: Runner, artifacts: list[Path]
) -> Check:
    threshold = minimum or None
    parts = sorted(data.parent.glob(f"{data.name}.*"))
    if parts:  # one file per process (coverage's parallel mode, or `patch = subprocess`): one file of all
        run([*coverage, "combine", "--append", "--quiet", f"--data-file={data}", *map(str, parts)])
    if not data.exists():
        status = Status.FAILED if threshold else Status.SKIPPED
        return Check("coverage", status, "no coverage data was recorded", threshold=threshold)
    as_json, as_xml = report_dir / "coverage.json", report_dir / "coverage.xml"
    made = run([*coverage, "json", f"--data-file={data}", "-o", str(as_json), "--fail-under=0"])
    if not made.ok:
        status = Status.FAILED if threshold else Status.SKIPPED
        detail = _last_line(made.stdout + made.stderr)
        return Check("coverage", status, f"coverage could not report: {detail}", threshold=threshold)
    run([*coverage, "xml", f"--data-file={data}", "-o", str(as_xml), "--fail-under=0"])
    artifacts += [p for p in (as_json, as_xml) if p.exists()]
    percent = round(json.loads(as_json.read_text())["totals"]["percent_covered"], 2)
    passed = threshold is None or percent >= threshold
    message = f"line coverage {percent:.1f}%" + (f", minimum {threshold:g}%" if threshold else "")
    return Check(
        "coverage", Status.PASSED if passed else Status.FAILED, message, value=percent, threshold=threshold
    )


def relative(filename: str | Path, root: Path) -> str:
    if not filename:
        return ""
    path = Path(filename)
    if not path.is_absolute():
        return filename
    try:
        return os.path.relpath(path, root)
    except ValueError:
        return filename


def _last_line(text: str) -> str:
    lines = [line.strip() for line in (text or "").splitlines() if line.strip()]
    return lines[-1] if lines else ""
