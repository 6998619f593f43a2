"""ci.lint and ci.test: ruff, and pytest with coverage."""

from __future__ import annotations

from typing import Any

from invoke import task

from ci.tasks import _inputs
from ci.tasks._stage import Stage


def lint_stage(s: Any, paths: str | None = None, check_format: str | None = None) -> Any:
    from ci import quality

    return quality.lint(
        s.get("lint.paths", paths, "--paths"),
        check_format=s.get("lint.format", check_format, "--format"),
        run=s.runner(),
        root=s.root,
    )


def test_stage(
    s: Any, paths: str | None = None, args: str | None = None, min_coverage: str | None = None
) -> Any:
    from ci import quality

    return quality.test(
        s.get("test.paths", paths, "--paths"),
        args=s.get("test.args", args, "--args"),
        min_coverage=s.get("test.min_coverage", min_coverage, "--min-coverage"),
        coverage_source=s.get("test.coverage_source"),
        report_dir=s.report_dir,
        run=s.runner(),
        root=s.root,
    )


LINT = Stage("lint", lint_stage, inputs=_inputs.lint, needs=("git",))
TEST = Stage("test", test_stage, quiet=False, inputs=_inputs.test, needs=("git",))


@task(
    optional=["format"],
    help={
        "tenant": "Run with this tenant's settings (ci.tenants).",
        "paths": "Comma-separated files and folders to check (ci.lint.paths).",
        "format": "Also run `ruff format --check` (ci.lint.format); --format=false to skip it.",
    },
)
def lint(c, paths=None, format=None, tenant=None):  # noqa: A002 - the flag reads best as --format
    """Lint with ruff: every finding a check, annotated in CI."""
    from ci.tasks._boundary import run_stages

    run_stages(c, [LINT.given(paths=paths, check_format=format)], tenant=tenant)


@task(
    help={
        "tenant": "Run with this tenant's settings (ci.tenants).",
        "paths": "Comma-separated test files and folders (ci.test.paths).",
        "args": "Extra pytest arguments as one quoted string, e.g. \"-x -k 'not slow'\" (ci.test.args).",
        "min_coverage": "Fail below this line coverage, in percent (ci.test.min_coverage).",
    }
)
def test(c, paths=None, args=None, min_coverage=None, tenant=None):
    """Run pytest under coverage: JUnit XML, coverage reports, a coverage gate."""
    from ci.tasks._boundary import run_stages

    run_stages(c, [TEST.given(paths=paths, args=args, min_coverage=min_coverage)], tenant=tenant)
