"""The one place that knows which CI runs us, and how output looks there.

Tasks never branch on the provider: they hand results to the provider
returned by ``detect()``, which decides how annotations, log groups, the step
summary and progress appear (GitHub Actions, Azure Pipelines, Jenkins, or a
terminal).
"""

from __future__ import annotations

import contextlib
import itertools
import os
import sys
import threading
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import TextIO

from ci.core.results import Check, StageResult, Status

_MASKED = itertools.count(1)
_MARKS = {
    Status.PASSED: "✔",
    Status.WARNED: "!",
    Status.FAILED: "✘",
    Status.SKIPPED: "-",
}


class Provider:
    """A terminal: plain headers and annotations, a live progress line for quiet stages."""

    name = "terminal"
    annotates_errors = False
    tick = 0.1  # seconds between frames of the progress spinner

    def __init__(self, environ: Mapping[str, str] | None = None, out: TextIO | None = None) -> None:
        self.environ = dict(os.environ if environ is None else environ)
        self.out = out or sys.stdout

    def write(self, line: str) -> None:
        print(line, file=self.out, flush=True)

    # Log groups -----------------------------------------------------------

    def begin_group(self, title: str) -> None:
        self.write(f"── {title}")

    def end_group(self) -> None:
        pass

    @contextlib.contextmanager
    def stage(self, name: str, index: int, total: int, quiet: bool = False) -> Iterator[None]:
        """Wrap one stage's output: a collapsible group in CI, a header and progress here."""
        self.begin_group(f"[{index}/{total}] {name}")
        try:
            with self.progress(name) if quiet else contextlib.nullcontext():
                yield
        finally:
            self.end_group()

    @contextlib.contextmanager
    def progress(self, title: str) -> Iterator[None]:
        """A spinner with elapsed seconds, drawn only on an interactive terminal."""
        stream = sys.stderr
        if not stream.isatty():
            yield
            return
        done = threading.Event()
        start = time.monotonic()

        def spin() -> None:
            frames = "⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏"
            tick = 0
            while not done.wait(self.tick):
                elapsed = time.monotonic() - start
                stream.write(f"\r{frames[tick % len(frames)]} {title} {elapsed:4.0f} s")
                stream.flush()
                tick += 1
            stream.write("\r\033[K")
            stream.flush()

        spinner = threading.Thread(target=spin, daemon=True)
        spinner.start()
        try:
            yield
        finally:
            done.set()
            spinner.join()

    # Results ----------------------------------------------------------------

    def report_stage(self, result: StageResult) -> None:
        """Annotate what failed or warned, then one line with the stage's outcome."""
        for check in result.checks:
            if check.status in (Status.FAILED, Status.WARNED):
                self.annotate(check)
        word = "cached" if result.cached else result.status  # its checks replayed, with their verdicts
        self.write(f"{_MARKS[result.status]} {result.name} {word}: {_outcome(result)}")

    def annotate(self, check: Check) -> None:
        """A failed or warned check, pointing at its file and line where it has them."""
        level = "error" if check.status is Status.FAILED else "warning"
        self.issue(
            level, check.message or check.name, title=check.name, file=check.file or "", line=check.line or 0
        )

    def issue(self, level: str, message: str, *, title: str = "", file: str = "", line: int = 0) -> None:
        """One annotation; here in the compiler style that editors and Jenkins' warnings parsers read."""
        where = f"{file}:{line}: " if file and line else f"{file}: " if file else ""
        text = f"{title}: {message}" if title and title != message else message
        self.write(f"{where}{level}: {text}")

    def error(self, message: str) -> None:
        """An error that stopped a task: one line on stderr, and an annotation where the CI shows them."""
        if self.annotates_errors:
            self.issue("error", message)
        print(f"error: {message}", file=sys.stderr, flush=True)

    def publish_summary(self, markdown: str, path: Path) -> None:
        self.write("")
        self.write(markdown.rstrip())

    # Secrets and provenance -------------------------------------------------

    def secret_command(self, value: str) -> str | None:
        """The line that makes the CI mask ``value`` in its log; a terminal has none."""
        return None

    def run_url(self) -> str:
        """The address of this CI run (for the provenance and the pull request); "" in a terminal."""
        return ""


class GitHubActions(Provider):
    """Workflow commands on stdout and the job summary file."""

    name = "github"
    annotates_errors = True

    def begin_group(self, title: str) -> None:
        self.write(f"::group::{title}")

    def end_group(self) -> None:
        self.write("::endgroup::")

    def issue(self, level: str, message: str, *, title: str = "", file: str = "", line: int = 0) -> None:
        props = {"file": file, "line": line, "title": title}
        fields = ",".join(f"{k}={_gh_escape(str(v), prop=True)}" for k, v in props.items() if v)
        self.write(f"::{level}{' ' if fields else ''}{fields}::{_gh_escape(message)}")

    def publish_summary(self, markdown: str, path: Path) -> None:
        target = self.environ.get("GITHUB_STEP_SUMMARY")
        if target:
            with open(target, "a", encoding="utf-8") as f:
                f.write(markdown.rstrip() + "\n")
        self.write(f"summary: {path}")

    def secret_command(self, value: str) -> str | None:
        return f"::add-mask::{_gh_escape(value)}"

    def run_url(self) -> str:
        server = self.environ.get("GITHUB_SERVER_URL", "https://github.com")
        repository, run = self.environ.get("GITHUB_REPOSITORY", ""), self.environ.get("GITHUB_RUN_ID", "")
        return f"{server}/{repository}/actions/runs/{run}" if repository and run else ""


class AzurePipelines(Provider):
    """Logging commands (##vso[...]) on stdout; the summary is uploaded as a tab."""

    name = "azure"
    annotates_errors = True

    def begin_group(self, title: str) -> None:
        self.write(f"##[group]{title}")

    def end_group(self) -> None:
        self.write("##[endgroup]")

    def issue(self, level: str, message: str, *, title: str = "", file: str = "", line: int = 0) -> None:
        props = {"type": level, "sourcepath": file, "linenumber": line, "code": title}
        fields = ";".join(f"{k}={_vso_escape(str(v), prop=True)}" for k, v in props.items() if v)
        self.write(f"##vso[task.logissue {fields}]{_vso_escape(message)}")

    def publish_summary(self, markdown: str, path: Path) -> None:
        self.write(f"##vso[task.uploadsummary]{path.resolve()}")

    def secret_command(self, value: str) -> str | None:
        # A secret variable of its own per value: the agent masks each one in the rest of the log.
        return (
            f"##vso[task.setvariable variable=DSCI_MASKED_{next(_MASKED)};issecret=true]{_vso_escape(value)}"
        )

    def run_url(self) -> str:
        collection = self.environ.get("SYSTEM_COLLECTIONURI", "").rstrip("/")
        project, build = self.environ.get("SYSTEM_TEAMPROJECT", ""), self.environ.get("BUILD_BUILDID", "")
        return f"{collection}/{project}/_build/results?buildId={build}" if collection and build else ""


class Jenkins(Provider):
    """Plain lines: the stage view groups the log, the Jenkinsfile archives the summary."""

    name = "jenkins"

    def begin_group(self, title: str) -> None:
        self.write(f"──────── {title} ────────")

    def publish_summary(self, markdown: str, path: Path) -> None:
        self.write(f"summary: {path}")

    def run_url(self) -> str:
        return self.environ.get("BUILD_URL", "")


def detect(environ: Mapping[str, str] | None = None) -> Provider:
    """The provider whose environment variables are set; a terminal when none are."""
    env = os.environ if environ is None else environ
    if env.get("GITHUB_ACTIONS") == "true":
        return GitHubActions(env)
    if env.get("TF_BUILD", "").lower() == "true":
        return AzurePipelines(env)
    if env.get("JENKINS_URL") or env.get("JENKINS_HOME"):
        return Jenkins(env)
    return Provider(env)


def _outcome(result: StageResult) -> str:
    if result.skipped is not None:
        return result.skipped
    counts = [f"{result.count(s)} {s}" for s in Status if result.count(s)]
    text = ", ".join(counts) or "no checks"
    if result.error:
        text = f"{text}; stopped: {result.error}"
    if result.cached:
        from ci.core.text import age

        cached = result.cached
        return f"{text}; ran {age(cached['age'])} ago in {cached['ran']:.1f} s (key {cached['key'][:12]})"
    return f"{text} in {result.duration:.1f} s"


def _gh_escape(text: str, prop: bool = False) -> str:
    text = text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")
    if prop:
        text = text.replace(":", "%3A").replace(",", "%2C")
    return text


def _vso_escape(text: str, prop: bool = False) -> str:
    text = text.replace("%", "%AZP25").replace("\r", "%0D").replace("\n", "%0A")
    if prop:
        text = text.replace(";", "%3B").replace("]", "%5D")
    return text
